// Test helpers shared by the encrypted front-ends (DoT, DoH, DoQ): a handler
// that answers by echoing the query with one A record, a loop thread hosting
// a listener, a throw-away certificate, blocking loopback sockets and a
// command runner for the real clients (kdig, dig, curl, dnsperf). The
// clients that speak TLS, HTTP/2 and QUIC are in their own headers
// (tls_test_client.h, h2_test_client.h, doq_test_client.h).
//
// The answer bytes are built by hand: the tests must not depend on the wire
// library being finished.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tests/transports/dns_query_bytes.h"
#include "transports/listener.h"
#include "transports/query_handler.h"

namespace sextant::transports::test {

// Clients and servers in these tests write to sockets the other side may
// have closed; like the daemon, the test process ignores SIGPIPE.
inline const bool kSigpipeIgnored = (std::signal(SIGPIPE, SIG_IGN), true);

// A loopback address: clients that go on to connect to it (curl --doh-url)
// must not send packets off the machine.
inline const uint8_t kEchoAddress[4] = {127, 0, 0, 53};

// A query for `name` (presentation form, no trailing dot needed), RD set.
inline std::vector<uint8_t> make_query(std::string_view name, uint16_t type = 1, uint16_t id = 0x1234) {
  return build_query(id, name, type);
}

// Offset just past the question's QTYPE/QCLASS, or 0 if malformed.
inline size_t question_end(std::span<const uint8_t> query) {
  if (query.size() < 12 || query[4] != 0 || query[5] != 1) return 0;
  size_t offset = 12;
  while (offset < query.size()) {
    uint8_t length = query[offset];
    if (length == 0) break;
    if (length > 63) return 0;  // no compression in questions we accept
    offset += 1 + length;
  }
  if (offset >= query.size()) return 0;
  offset += 1 + 4;
  return offset <= query.size() ? offset : 0;
}

// The question name of a query as text ("a.example"), empty if malformed.
inline std::string question_name(std::span<const uint8_t> query) {
  if (question_end(query) == 0) return {};
  std::string name;
  size_t offset = 12;
  while (query[offset] != 0) {
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(query.data()) + offset + 1, query[offset]);
    offset += 1 + query[offset];
  }
  return name;
}

// Echo of the header and question with QR=1, RA=1, plus one A record
// (127.0.0.53, TTL 300) for the question name. FORMERR for a malformed query.
inline std::vector<uint8_t> make_echo_answer(std::span<const uint8_t> query, uint32_t ttl = 300) {
  size_t end = question_end(query);
  if (end == 0) {
    std::vector<uint8_t> formerr(12, 0);
    if (query.size() >= 2) {
      formerr[0] = query[0];
      formerr[1] = query[1];
    }
    formerr[2] = 0x80;
    formerr[3] = 0x01;
    return formerr;
  }
  std::vector<uint8_t> answer(query.begin(), query.begin() + static_cast<ptrdiff_t>(end));
  answer[2] |= 0x80;  // QR
  answer[3] = 0x80;   // RA, RCODE 0
  answer[6] = 0;
  answer[7] = 1;  // ANCOUNT
  answer[8] = answer[9] = answer[10] = answer[11] = 0;
  const uint8_t record[] = {0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01,
                            static_cast<uint8_t>(ttl >> 24), static_cast<uint8_t>(ttl >> 16),
                            static_cast<uint8_t>(ttl >> 8), static_cast<uint8_t>(ttl),
                            0x00, 0x04, kEchoAddress[0], kEchoAddress[1], kEchoAddress[2], kEchoAddress[3]};
  answer.insert(answer.end(), std::begin(record), std::end(record));
  return answer;
}

// True when `answer` is our echo answer for `query`.
inline bool is_echo_answer(std::span<const uint8_t> answer, std::span<const uint8_t> query) {
  auto expected = make_echo_answer(query);
  return answer.size() == expected.size() && std::equal(answer.begin(), answer.end(), expected.begin());
}

// Answers every query with make_echo_answer. Names starting with "slow"
// are answered after `slow_ms` from a loop timer (out-of-order tests);
// names starting with "drop" are abandoned.
class EchoHandler final : public QueryHandler {
 public:
  explicit EchoHandler(unsigned slow_ms = 300) : slow_ms_(slow_ms) {}

  void handle(const Request& request, Responder responder) override {
    ++handled;
    {
      std::lock_guard lock(mutex_);
      transports_.push_back(request.transport);
      sockaddr_storage peer{};
      if (request.peer) {
        std::memcpy(&peer, request.peer,
                    request.peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
      }
      peers_.push_back(peer);
    }
    std::string name = question_name(request.query);
    if (name.rfind("drop", 0) == 0) {
      responder.drop();
      return;
    }
    auto answer = make_echo_answer(request.query);
    if (name.rfind("slow", 0) == 0 && loop_) {
      auto* pending = new Pending{uv_timer_t{}, std::move(responder), std::move(answer)};
      uv_timer_init(loop_, &pending->timer);
      pending->timer.data = pending;
      uv_timer_start(
          &pending->timer,
          [](uv_timer_t* t) {
            auto* p = static_cast<Pending*>(t->data);
            p->responder.respond(p->answer);
            uv_close(reinterpret_cast<uv_handle_t*>(t),
                     [](uv_handle_t* h) { delete static_cast<Pending*>(h->data); });
          },
          slow_ms_, 0);
      return;
    }
    responder.respond(answer);
  }

  void set_loop(uv_loop_t* loop) { loop_ = loop; }
  std::vector<Transport> transports() const {
    std::lock_guard lock(mutex_);
    return transports_;
  }
  std::vector<sockaddr_storage> peers() const {
    std::lock_guard lock(mutex_);
    return peers_;
  }

  std::atomic<int> handled{0};

 private:
  struct Pending {
    uv_timer_t timer;
    Responder responder;
    std::vector<uint8_t> answer;
  };
  unsigned slow_ms_;
  uv_loop_t* loop_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<Transport> transports_;
  std::vector<sockaddr_storage> peers_;
};

inline std::string address_text(const sockaddr_storage& address) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, buffer, sizeof buffer);
  } else if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, buffer, sizeof buffer);
  }
  return buffer;
}

// A worker loop in its own thread hosting one listener. `create` runs on
// that thread and reports the port it bound.
class ServerThread {
 public:
  using Create = std::function<std::unique_ptr<Listener>(const WorkerContext&, uint16_t& port)>;

  ServerThread(Create create, EchoHandler& handler) {
    // A peer that closes while we write must not kill the test process
    // (the daemon ignores SIGPIPE the same way).
    std::signal(SIGPIPE, SIG_IGN);
    std::promise<void> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, create = std::move(create), &handler, &ready]() mutable {
      uv_loop_init(&loop_);
      uv_async_init(&loop_, &stop_, [](uv_async_t* a) { static_cast<ServerThread*>(a->data)->on_stop(); });
      stop_.data = this;
      handler.set_loop(&loop_);
      WorkerContext context{&loop_, 0, &handler};
      try {
        listener_ = create(context, port_);
      } catch (const std::exception& e) {
        error_ = e.what();
      }
      ready.set_value();
      if (!listener_) {
        uv_close(reinterpret_cast<uv_handle_t*>(&stop_), nullptr);
      }
      uv_run(&loop_, UV_RUN_DEFAULT);
      listener_.reset();
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_loop_close(&loop_);
    });
    started.wait();
    if (!error_.empty()) {
      thread_.join();
      throw std::runtime_error(error_);
    }
  }
  ~ServerThread() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    uv_async_send(&stop_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  void on_stop() {
    listener_->shutdown(500, [this] { uv_close(reinterpret_cast<uv_handle_t*>(&stop_), nullptr); });
  }

  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::unique_ptr<Listener> listener_;
  uint16_t port_ = 0;
  std::string error_;
  std::thread thread_;
};

inline std::string make_temp_dir(const char* tag) {
  std::string pattern = std::string("/tmp/sextant-") + tag + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (!mkdtemp(buffer.data())) throw std::runtime_error("mkdtemp failed");
  return buffer.data();
}

// A directory under /tmp, removed with everything in it when the object
// goes, also when a test fails half-way.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const char* tag) : path_(make_temp_dir(tag)) {}
  TemporaryDirectory(TemporaryDirectory&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TemporaryDirectory& operator=(TemporaryDirectory&&) = delete;
  ~TemporaryDirectory() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A throw-away certificate for "localhost" (scripts/make-test-cert.sh) in
// a temporary directory of its own.
struct TestCert {
  explicit TestCert(const char* tag) : dir(tag), cert(dir.file("cert.pem")), key(dir.file("key.pem")) {
    std::string command = std::string(SEXTANT_SOURCE_DIR) + "/scripts/make-test-cert.sh " + dir.path() + " >/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("make-test-cert.sh failed");
  }

  TemporaryDirectory dir;
  std::string cert, key;
};

inline TestCert make_test_cert(const char* tag = "cert") { return TestCert(tag); }

// A query file for dnsperf ("name type" lines) in a temporary directory.
struct DnsperfQueryFile {
  explicit DnsperfQueryFile(const std::string& lines) : dir("dnsperf"), path(dir.file("qfile")) {
    std::ofstream(path) << lines;
  }

  TemporaryDirectory dir;
  std::string path;
};

inline bool have_program(const char* name) {
  std::string command = std::string("command -v ") + name + " >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// For the tests of real clients: true, after a warning, when `program` is
// not installed (the test then skips itself).
inline bool missing_program(const char* program) {
  if (have_program(program)) return false;
  WARN(program << " not installed: skipped");
  return true;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` through sh with a hard time limit.
inline CommandResult run_command(const std::string& command, unsigned timeout_s = 20) {
  CommandResult result;
  std::string full = "timeout " + std::to_string(timeout_s) + " sh -c '" + command + "' 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline void write_file(const std::string& path, std::span<const uint8_t> data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> data;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return data;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) data.insert(data.end(), buffer, buffer + n);
  std::fclose(f);
  return data;
}

// A blocking TCP socket to 127.0.0.1:port with receive/send timeouts.
inline int connect_tcp(uint16_t port, unsigned timeout_ms = 3000) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{static_cast<time_t>(timeout_ms / 1000), static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the peer closes `fd` (read returns 0 or an error other than a
// timeout) within `timeout_ms`.
inline bool wait_for_close(int fd, unsigned timeout_ms) {
  timeval tv{static_cast<time_t>(timeout_ms / 1000), static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buffer[4096];
  while (true) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

// base64url without padding, for GET requests built in tests.
inline std::string base64url(std::span<const uint8_t> data) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(data[i]) << 16 | static_cast<uint32_t>(data[i + 1]) << 8 | data[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  if (data.size() - i == 1) {
    uint32_t v = static_cast<uint32_t>(data[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (data.size() - i == 2) {
    uint32_t v = static_cast<uint32_t>(data[i]) << 16 | static_cast<uint32_t>(data[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

}  // namespace sextant::transports::test
