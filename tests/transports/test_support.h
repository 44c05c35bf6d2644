// Helpers for the plain-DNS transport tests (UDP, TCP, upstream, workers):
// hand-written DNS bytes (no dependency on wire/ messages), an echo handler,
// and blocking loopback clients with timeouts. Everything here stays on
// 127.0.0.1 / ::1.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/transports/dns_query_bytes.h"
#include "transports/loop_clock.h"
#include "transports/query_handler.h"
#include "transports/socket_util.h"
#include "transports/stream_framing.h"

#if defined(__SANITIZE_ADDRESS__)
// Part of every sanitizer runtime (sanitizer/allocator_interface.h, which
// g++ 12 does not ship): calls the hooks on every malloc/free.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

namespace sextant::transports::plain_test {

// Counts heap allocations made by the calling thread while active (only in
// sanitizer builds, where the runtime offers allocation hooks).
struct AllocationCounter {
  static inline thread_local bool active = false;
  static inline thread_local size_t count = 0;

  // False where allocations cannot be counted (a build without ASan).
  static bool available() {
#if defined(__SANITIZE_ADDRESS__)
    static const bool installed = __sanitizer_install_malloc_and_free_hooks(&on_malloc, &on_free) != 0;
    return installed;
#else
    return false;
#endif
  }
  // True, after a warning, where allocations cannot be counted: the test
  // then skips itself.
  static bool unavailable() {
    if (available()) return false;
    WARN("allocation hooks need a sanitizer build; skipped");
    return true;
  }
  // Turns `loop` until `done()` (at most 100000 turns), counting into
  // `count` the allocations made meanwhile.
  template <typename Done>
  static void count_while_running(uv_loop_t* loop, Done done) {
    count = 0;
    active = true;
    for (int spins = 0; !done() && spins < 100000; ++spins) uv_run(loop, UV_RUN_NOWAIT);
    active = false;
  }
  static void on_malloc(const volatile void*, size_t) {
    if (active) ++count;
  }
  static void on_free(const volatile void*) {}
};

// Answers inside handle() from a stack buffer: allocates nothing itself
// (for the tests that count the listeners' allocations).
struct StackEchoHandler final : QueryHandler {
  void handle(const Request& request, Responder responder) override {
    std::array<uint8_t, 512> answer;
    const size_t n = std::min(request.query.size(), answer.size());
    std::copy_n(request.query.begin(), n, answer.begin());
    answer[2] |= 0x80;
    responder.respond({answer.data(), n});
    ++handled;
  }
  size_t handled = 0;
};

using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

inline uint64_t ms_since(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

// A query: ID, RD=1, one question (name, type, class IN), nothing else.
inline Bytes make_query(uint16_t id, std::string_view name = "example.com", uint16_t type = 1) {
  return test::build_query(id, name, type);
}

// The echo answer: the query with QR=1 (and RA=1).
inline Bytes echo_answer(std::span<const uint8_t> query) {
  Bytes a(query.begin(), query.end());
  if (a.size() >= 4) {
    a[2] |= 0x80;
    a[3] |= 0x80;
  }
  return a;
}

inline uint16_t message_id(std::span<const uint8_t> m) {
  return m.size() >= 2 ? static_cast<uint16_t>((m[0] << 8) | m[1]) : 0;
}

inline bool is_echo_of(std::span<const uint8_t> answer, std::span<const uint8_t> query) {
  Bytes want = echo_answer(query);
  return answer.size() == want.size() && std::equal(answer.begin(), answer.end(), want.begin());
}

// Echoes every query with QR=1. delay(query) gives the answer delay in ms:
// 0 answers inside handle() (the cache-hit path), more answers later from a
// timer on the worker's loop (found through LoopClock::current()). Safe to
// share between workers.
class EchoHandler final : public QueryHandler {
 public:
  using DelayFn = std::function<unsigned(std::span<const uint8_t> query)>;
  static constexpr unsigned kMaxWorkers = 16;

  explicit EchoHandler(DelayFn delay = {}) : delay_(std::move(delay)) {}

  void handle(const Request& request, Responder responder) override {
    handled.fetch_add(1);
    if (request.worker < kMaxWorkers) per_worker[request.worker].fetch_add(1);
    last_transport.store(static_cast<int>(request.transport));
    last_max_response.store(request.max_response_size);
    if (request.peer == nullptr) missing_peer.fetch_add(1);
    unsigned delay = delay_ ? delay_(request.query) : 0;
    if (delay == 0) {
      Bytes answer = echo_answer(request.query);
      responder.respond(answer);
      return;
    }
    LoopClock* clock = LoopClock::current();
    if (clock == nullptr) throw std::logic_error("EchoHandler: async answers need LoopClock::current()");
    auto* pending = new Pending{{}, std::move(responder), echo_answer(request.query), this};
    pending->timer.data = pending;
    uv_timer_init(clock->loop(), &pending->timer);
    in_flight.fetch_add(1);
    uv_timer_start(
        &pending->timer,
        [](uv_timer_t* t) {
          auto* p = static_cast<Pending*>(t->data);
          p->responder.respond(p->answer);
          p->owner->async_answered.fetch_add(1);
          p->owner->in_flight.fetch_sub(1);
          uv_close(reinterpret_cast<uv_handle_t*>(t),
                   [](uv_handle_t* h) { delete static_cast<Pending*>(h->data); });
        },
        delay, 0);
  }

  std::atomic<uint64_t> handled{0};
  std::atomic<uint64_t> async_answered{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<uint64_t> missing_peer{0};
  std::atomic<int> last_transport{-1};
  std::atomic<size_t> last_max_response{0};
  std::array<std::atomic<uint64_t>, kMaxWorkers> per_worker{};

 private:
  struct Pending {
    uv_timer_t timer;
    Responder responder;
    Bytes answer;
    EchoHandler* owner;
  };
  DelayFn delay_;
};

// Keeps every Responder (answers nothing) until the test decides. Must only
// be touched from the loop thread that calls handle().
class HoldingHandler final : public QueryHandler {
 public:
  void handle(const Request& request, Responder responder) override {
    queries.emplace_back(request.query.begin(), request.query.end());
    held.push_back(std::move(responder));
  }
  void answer_all() {
    for (size_t i = 0; i < held.size(); ++i) held[i].respond(echo_answer(queries[i]));
  }
  std::vector<Bytes> queries;
  std::vector<Responder> held;
};

// Drops every query (destroys the Responder unanswered).
class DroppingHandler final : public QueryHandler {
 public:
  void handle(const Request&, Responder) override { dropped.fetch_add(1); }
  std::atomic<uint64_t> dropped{0};
};

// Blocking-with-timeout waits on a descriptor.
inline bool wait_readable(int fd, unsigned timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout_ms)) > 0;
}

class UdpClient {
 public:
  explicit UdpClient(int family = AF_INET) : fd_(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::runtime_error("UdpClient: socket() failed");
    int size = 1 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  ~UdpClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;
  UdpClient(UdpClient&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

  int fd() const { return fd_; }
  bool send_to(const SocketAddress& to, std::span<const uint8_t> data) const {
    return ::sendto(fd_, data.data(), data.size(), 0, to.get(), to.size()) == static_cast<ssize_t>(data.size());
  }
  std::optional<Bytes> receive(unsigned timeout_ms, SocketAddress* from = nullptr) const {
    if (!wait_readable(fd_, timeout_ms)) return std::nullopt;
    Bytes buf(65536);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    if (from) *from = SocketAddress(reinterpret_cast<const sockaddr*>(&ss));
    return buf;
  }

 private:
  int fd_;
};

class TcpClient {
 public:
  // Connects (blocking, with a timeout). Throws on failure.
  // `receive_buffer` > 0 sets SO_RCVBUF before connecting (a slow reader).
  explicit TcpClient(const SocketAddress& to, unsigned timeout_ms = 3000, int receive_buffer = 0) {
    fd_ = ::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) throw std::runtime_error("TcpClient: socket() failed");
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    int rc = ::connect(fd_, to.get(), to.size());
    if (rc != 0 && errno != EINPROGRESS) throw std::runtime_error("TcpClient: connect() failed");
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout_ms)) <= 0) throw std::runtime_error("TcpClient: connect timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) throw std::runtime_error(std::string("TcpClient: connect: ") + std::strerror(err));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~TcpClient() { close(); }
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Closes with RST instead of FIN (SO_LINGER 0): an abrupt reset.
  void reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  bool send_raw(std::span<const uint8_t> data) {
    size_t off = 0;
    auto start = Clock::now();
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
      if (ms_since(start) > 5000) return false;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 100);
    }
    return true;
  }
  bool send_framed(std::span<const uint8_t> message) {
    Bytes framed;
    append_framed(framed, message);
    return send_raw(framed);
  }

  // Reads one framed message; nullopt on timeout or close.
  std::optional<Bytes> read_frame(unsigned timeout_ms) {
    auto start = Clock::now();
    for (;;) {
      if (buffer_.size() >= 2) {
        size_t len = (static_cast<size_t>(buffer_[0]) << 8) | buffer_[1];
        if (buffer_.size() >= 2 + len) {
          Bytes frame(buffer_.begin() + 2, buffer_.begin() + 2 + static_cast<std::ptrdiff_t>(len));
          buffer_.erase(buffer_.begin(), buffer_.begin() + 2 + static_cast<std::ptrdiff_t>(len));
          return frame;
        }
      }
      uint64_t spent = ms_since(start);
      if (spent >= timeout_ms) return std::nullopt;
      if (!wait_readable(fd_, static_cast<unsigned>(timeout_ms - spent))) return std::nullopt;
      uint8_t buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) {
        closed_ = true;
        return std::nullopt;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
        closed_ = true;
        return std::nullopt;
      }
      buffer_.insert(buffer_.end(), buf, buf + n);
    }
  }

  // True if the server closed the connection within `timeout_ms` (EOF or reset).
  bool wait_closed(unsigned timeout_ms) {
    if (closed_) return true;
    auto start = Clock::now();
    while (ms_since(start) < timeout_ms) {
      uint64_t left = timeout_ms - ms_since(start);
      if (!wait_readable(fd_, static_cast<unsigned>(left))) return false;
      uint8_t buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        closed_ = true;
        return true;
      }
      if (n > 0) buffer_.insert(buffer_.end(), buf, buf + n);
    }
    return false;
  }

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool closed_ = false;
  Bytes buffer_;
};

// Polls `condition` every few ms for at most `timeout_ms`.
inline bool eventually(const std::function<bool()>& condition, unsigned timeout_ms = 5000) {
  auto start = Clock::now();
  while (!condition()) {
    if (ms_since(start) > timeout_ms) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Runs `loop` until `done()` or `timeout_ms` (a guard against hangs).
inline bool run_loop_until(uv_loop_t* loop, const std::function<bool()>& done, unsigned timeout_ms = 5000) {
  auto start = Clock::now();
  while (!done()) {
    if (ms_since(start) > timeout_ms) return false;
    uv_run(loop, UV_RUN_NOWAIT);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// A loop on the test thread, with a LoopClock installed as current (so
// EchoHandler's async answers work), drained and closed at the end.
class TestLoop {
 public:
  TestLoop() {
    uv_loop_init(&loop_);
    clock_ = std::make_unique<LoopClock>(&loop_);
    LoopClock::set_current(clock_.get());
  }
  ~TestLoop() {
    clock_.reset();
    // Run close callbacks; then close whatever a failed test left behind.
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    for (int i = 0; i < 100 && uv_loop_alive(&loop_); ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
    LoopClock::set_current(nullptr);
  }
  uv_loop_t* get() { return &loop_; }
  // Runs until no handle is active (or the guard expires).
  bool drain(unsigned timeout_ms = 5000) {
    return run_loop_until(&loop_, [this] { return !uv_loop_alive(&loop_); }, timeout_ms);
  }

 private:
  uv_loop_t loop_{};
  std::unique_ptr<LoopClock> clock_;
};

}  // namespace sextant::transports::plain_test
