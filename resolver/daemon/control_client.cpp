#include "resolver/daemon/control_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "transports/unique_fd.h"

namespace sextant::resolver {

using Fd = transports::UniqueFd;

ControlReply send_control_command(const std::string& socket_path, const std::string& command,
                                  int timeout_ms) {
  auto failed = [&](const std::string& why) {
    return ControlReply{false, fmt::format("cannot use the control socket {}: {}", socket_path, why)};
  };
  sockaddr_un sun{};
  if (socket_path.empty() || socket_path.size() >= sizeof(sun.sun_path)) return failed("bad path");
  if (command.find('\n') != std::string::npos) return failed("a command is one line");
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return failed(std::strerror(errno));
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, socket_path.c_str(), socket_path.size());
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0) {
    int e = errno;
    return failed(e == ENOENT || e == ECONNREFUSED
                      ? fmt::format("{} (is sextant running with control.socket set to it?)", std::strerror(e))
                      : std::strerror(e));
  }
  std::string line = command + "\n";
  for (size_t sent = 0; sent < line.size();) {
    ssize_t n = send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed(std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  shutdown(fd.get(), SHUT_WR);
  std::string reply;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buffer[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return failed("no complete reply in time");
    pollfd p{fd.get(), POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return failed(r == 0 ? "no complete reply in time" : std::strerror(errno));
    ssize_t n = recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(std::strerror(errno));
    if (n == 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  bool ok = reply.rfind("error:", 0) != 0;
  return ControlReply{ok, std::move(reply)};
}

std::string write_file_atomically(const std::string& path, const std::string& bytes) {
  std::string tmp = fmt::format("{}.tmp.{}", path, getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (fd.get() < 0) return std::strerror(errno);
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      ::unlink(tmp.c_str());
      return why;
    }
    done += static_cast<size_t>(n);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return why;
  }
  return {};
}

}  // namespace sextant::resolver
