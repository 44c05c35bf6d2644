#include "transports/zone_transfer_client.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "transports/unique_fd.h"

namespace sextant::transports {

namespace {

using Clock = std::chrono::steady_clock;

using Fd = UniqueFd;

// Waits for `events` until the deadline; false on timeout or cancellation.
bool wait_for(int fd, short events, Clock::time_point deadline, const std::atomic<bool>* cancel) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || (cancel && cancel->load())) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 200)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;  // the next call reports the error
  }
}

}  // namespace

StreamExchangeResult stream_exchange(const SocketAddress& server, std::span<const uint8_t> query,
                                     const StreamExchangeLimits& limits,
                                     const std::function<bool(std::span<const uint8_t>)>& on_message) {
  StreamExchangeResult out;
  const auto deadline = Clock::now() + limits.timeout;
  auto timed_out = [&](const char* during) {
    out.error = limits.cancel && limits.cancel->load()
                    ? std::string("cancelled")
                    : fmt::format("timed out after {} ms ({})", limits.timeout.count(), during);
    return out;
  };
  if (query.size() > 65535) {
    out.error = "query too large";
    return out;
  }
  Fd fd(::socket(server.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    out.error = fmt::format("socket: {}", std::strerror(errno));
    return out;
  }
  if (::connect(fd.get(), server.get(), server.size()) != 0) {
    if (errno != EINPROGRESS) {
      out.error = fmt::format("connect to {}: {}", server.to_string(), std::strerror(errno));
      return out;
    }
    if (!wait_for(fd.get(), POLLOUT, deadline, limits.cancel)) return timed_out("connect");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      out.error = fmt::format("connect to {}: {}", server.to_string(), std::strerror(err));
      return out;
    }
  }
  std::vector<uint8_t> framed(query.size() + 2);
  framed[0] = static_cast<uint8_t>(query.size() >> 8);
  framed[1] = static_cast<uint8_t>(query.size());
  std::memcpy(framed.data() + 2, query.data(), query.size());
  for (size_t sent = 0; sent < framed.size();) {
    ssize_t n = ::send(fd.get(), framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd.get(), POLLOUT, deadline, limits.cancel)) return timed_out("send");
      continue;
    }
    out.error = fmt::format("send to {}: {}", server.to_string(), std::strerror(errno));
    return out;
  }
  // Reads exactly `size` octets into `dst`; 0 ok, 1 clean close before any, -1 error (set).
  auto read_exact = [&](uint8_t* dst, size_t size, bool at_boundary) -> int {
    for (size_t got = 0; got < size;) {
      ssize_t n = ::recv(fd.get(), dst + got, size - got, 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
        continue;
      }
      if (n == 0) {
        if (got == 0 && at_boundary) return 1;
        out.error = fmt::format("{} closed the connection inside a message", server.to_string());
        return -1;
      }
      if (errno == EAGAIN || errno == EINTR) {
        if (!wait_for(fd.get(), POLLIN, deadline, limits.cancel)) {
          timed_out("receive");
          return -1;
        }
        continue;
      }
      out.error = fmt::format("receive from {}: {}", server.to_string(), std::strerror(errno));
      return -1;
    }
    return 0;
  };
  std::vector<uint8_t> message;
  for (;;) {
    uint8_t len[2];
    int r = read_exact(len, 2, true);
    if (r == 1) {
      out.closed = true;
      return out;
    }
    if (r < 0) return out;
    size_t size = (size_t{len[0]} << 8) | len[1];
    if (size == 0) {
      out.error = "a zero-length message";
      return out;
    }
    if (out.bytes + size > limits.max_bytes) {
      out.error = fmt::format("more than {} octets", limits.max_bytes);
      return out;
    }
    message.resize(size);
    if (read_exact(message.data(), size, false) < 0) return out;
    out.bytes += size;
    ++out.messages;
    if (on_message(message)) {
      out.ok = true;
      return out;
    }
  }
}

}  // namespace sextant::transports
