// The control socket and the /metrics listener, through real sockets.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "transports/admin_server.h"

using namespace sextant::transports;

namespace {

std::string temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "sextant-admin-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

int connect_unix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int connect_tcp(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0);
  return fd;
}

void send_all(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    sent += static_cast<size_t>(n);
  }
}

// Everything until the server closes (bounded: 5 s).
std::string read_to_eof(int fd) {
  std::string out;
  char buffer[65536];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
  FAIL("the server did not close the connection within 5 s");
  return out;
}

std::string exchange_unix(const std::string& path, const std::string& request, bool half_close) {
  int fd = connect_unix(path);
  REQUIRE(fd >= 0);
  send_all(fd, request);
  if (half_close) shutdown(fd, SHUT_WR);
  std::string reply = read_to_eof(fd);
  close(fd);
  return reply;
}

std::string exchange_tcp(uint16_t port, const std::string& request, bool half_close = false) {
  int fd = connect_tcp(port);
  send_all(fd, request);
  if (half_close) shutdown(fd, SHUT_WR);
  std::string reply = read_to_eof(fd);
  close(fd);
  return reply;
}

AdminHandlers echo_handlers(std::string* metrics_body) {
  return AdminHandlers{
      .control = [](std::string_view command) { return "you said: " + std::string(command) + "\n"; },
      .metrics = [metrics_body] { return *metrics_body; }};
}

}  // namespace

TEST_CASE("admin: control commands over the Unix socket", "[admin]") {
  std::string dir = temp_dir();
  std::string body = "m 1\n";
  AdminServerConfig config;
  config.control_socket = dir + "/control.sock";
  config.max_command_bytes = 64;
  AdminServer admin(config, echo_handlers(&body));
  admin.start();

  struct stat st {};
  REQUIRE(stat(config.control_socket.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);

  CHECK(exchange_unix(config.control_socket, "stats\n", false) == "you said: stats\n");
  CHECK(exchange_unix(config.control_socket, "flush example.com\r\n", false) == "you said: flush example.com\n");
  // Without a newline, the end of the client's input ends the command.
  CHECK(exchange_unix(config.control_socket, "status", true) == "you said: status\n");
  CHECK(exchange_unix(config.control_socket, std::string(100, 'x') + "\n", false) ==
        "error: command longer than 64 octets\n");
  CHECK(admin.commands_served() == 3);
  CHECK(admin.bad_requests() == 1);

  // A second server cannot take a socket that is being served.
  AdminServer second(config, echo_handlers(&body));
  CHECK_THROWS_WITH(second.start(), Catch::Contains("another process is serving it"));

  admin.stop();
  CHECK_FALSE(std::filesystem::exists(config.control_socket));
  std::filesystem::remove_all(dir);
}

TEST_CASE("admin: a socket file left by a crash is replaced, a regular file is not touched", "[admin]") {
  std::string dir = temp_dir();
  std::string body;
  AdminServerConfig config;
  config.control_socket = dir + "/control.sock";
  {
    // A bound socket nobody listens on: what a killed daemon leaves.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", config.control_socket.c_str());
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) == 0);
    close(fd);
  }
  {
    AdminServer admin(config, echo_handlers(&body));
    admin.start();
    CHECK(exchange_unix(config.control_socket, "help\n", false) == "you said: help\n");
  }
  std::ofstream(config.control_socket) << "not a socket";
  AdminServer admin(config, echo_handlers(&body));
  CHECK_THROWS_WITH(admin.start(), Catch::Contains("exists and is not a socket"));
  CHECK(std::filesystem::is_regular_file(config.control_socket));

  AdminServerConfig missing;
  missing.control_socket = dir + "/no/such/dir/control.sock";
  AdminServer nowhere(missing, echo_handlers(&body));
  CHECK_THROWS_WITH(nowhere.start(), Catch::Contains(missing.control_socket));
  std::filesystem::remove_all(dir);
}

TEST_CASE("admin: GET /metrics, HEAD, wrong path, wrong method, garbage", "[admin]") {
  std::string body = "# TYPE sextant_queries_total counter\nsextant_queries_total 5\n";
  AdminServerConfig config;
  config.metrics.push_back(SocketAddress::ipv4_loopback(0));
  AdminServer admin(config, echo_handlers(&body));
  admin.start();
  uint16_t port = admin.metrics_port(0);
  REQUIRE(port != 0);

  std::string ok = exchange_tcp(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(ok.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
  CHECK(ok.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  CHECK(ok.substr(ok.size() - body.size()) == body);

  std::string head = exchange_tcp(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");  // no body

  CHECK(exchange_tcp(port, "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404 ", 0) == 0);
  std::string post = exchange_tcp(port, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  CHECK(post.rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(post.find("Allow: GET, HEAD\r\n") != std::string::npos);
  CHECK(exchange_tcp(port, std::string("\x16\x03\x01\x02\x00\x01\x00\n\n", 9)).rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(exchange_tcp(port, "GET /metrics HTTP/2.0\r\n\r\n").rfind("HTTP/1.1 505 ", 0) == 0);
  // A client that goes away mid-request is simply closed.
  CHECK(exchange_tcp(port, "GET /met", true).empty());
  CHECK(admin.scrapes_served() == 2);
  CHECK(admin.bad_requests() == 4);
}

TEST_CASE("admin: a large reply arrives whole even when the client half-closes at once", "[admin]") {
  std::string body;
  for (int i = 0; body.size() < 3'000'000; ++i) body += "sextant_line_" + std::to_string(i) + " 1\n";
  AdminServerConfig config;
  config.metrics.push_back(SocketAddress::ipv4_loopback(0));
  AdminServer admin(config, echo_handlers(&body));
  admin.start();
  std::string reply = exchange_tcp(admin.metrics_port(0), "GET /metrics HTTP/1.0\r\n\r\n", true);
  REQUIRE(reply.size() > body.size());
  CHECK(reply.substr(reply.size() - body.size()) == body);
}

TEST_CASE("admin: idle connections are closed, the connection limit holds", "[admin]") {
  std::string body = "x 1\n";
  AdminServerConfig config;
  config.metrics.push_back(SocketAddress::ipv4_loopback(0));
  config.idle_timeout_ms = 200;
  config.max_connections = 2;
  AdminServer admin(config, echo_handlers(&body));
  admin.start();
  uint16_t port = admin.metrics_port(0);
  auto started = std::chrono::steady_clock::now();
  int a = connect_tcp(port);
  int b = connect_tcp(port);
  int c = connect_tcp(port);  // over the limit: closed at once
  CHECK(read_to_eof(c).empty());
  CHECK(read_to_eof(a).empty());  // idle: closed after 200 ms
  CHECK(read_to_eof(b).empty());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
  close(a);
  close(b);
  close(c);
  // Still serving afterwards.
  CHECK(exchange_tcp(port, "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 OK", 0) == 0);
}

TEST_CASE("admin: a metrics address in use is an error naming it", "[admin]") {
  std::string body;
  AdminServerConfig config;
  config.metrics.push_back(SocketAddress::ipv4_loopback(0));
  AdminServer first(config, echo_handlers(&body));
  first.start();
  AdminServerConfig clash;
  clash.metrics.push_back(SocketAddress::ipv4_loopback(first.metrics_port(0)));
  AdminServer second(clash, echo_handlers(&body));
  CHECK_THROWS_WITH(second.start(), Catch::Contains("127.0.0.1@" + std::to_string(first.metrics_port(0))));
}
