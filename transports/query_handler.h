// The seam between the network front-ends and whatever answers queries.
//
// Every listener (UDP, TCP, DoT, DoH, DoQ) turns what arrives into a Request
// and hands it to a QueryHandler together with a Responder. The handler (the
// resolver) may answer at once, inside handle() — the cache-hit path — or
// later from the same event-loop thread when a resolution completes. The
// transports library knows nothing of resolution; resolver/ implements this
// interface and depends on transports/, never the reverse.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace sextant::transports {

enum class Transport : uint8_t { udp, tcp, dot, doh, doq };

constexpr bool is_encrypted(Transport t) noexcept { return t >= Transport::dot; }
const char* to_string(Transport t) noexcept;

// Where answers for one socket, connection or stream set go. Owned by the
// transport; reference-counted (single-threaded: only its loop touches it) so
// that a connection closed while a resolution is pending stays valid until
// the Responder is gone, and delivering to it is then a harmless no-op.
class ResponseChannel {
 public:
  virtual ~ResponseChannel() = default;
  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) on_last_release();
  }
  // Sends `answer` (copied before returning) for the request `token`.
  virtual void deliver(uint64_t token, std::span<const uint8_t> answer) = 0;
  // The handler gives up on `token` without answering (drops the query).
  virtual void abandon(uint64_t token) = 0;

 protected:
  virtual void on_last_release() = 0;

 private:
  uint32_t refs_ = 0;
};

// A move-only promise to answer one request exactly once. Destroying it
// unanswered abandons the request.
class Responder {
 public:
  Responder() noexcept = default;
  Responder(ResponseChannel* channel, uint64_t token) noexcept : channel_(channel), token_(token) {
    if (channel_) channel_->add_ref();
  }
  Responder(Responder&& o) noexcept : channel_(std::exchange(o.channel_, nullptr)), token_(o.token_) {}
  Responder& operator=(Responder&& o) noexcept {
    if (this != &o) {
      finish_unanswered();
      channel_ = std::exchange(o.channel_, nullptr);
      token_ = o.token_;
    }
    return *this;
  }
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder() { finish_unanswered(); }

  explicit operator bool() const noexcept { return channel_ != nullptr; }

  void respond(std::span<const uint8_t> answer) {
    if (!channel_) return;
    ResponseChannel* ch = std::exchange(channel_, nullptr);
    ch->deliver(token_, answer);
    ch->release();
  }
  void drop() noexcept { finish_unanswered(); }

 private:
  void finish_unanswered() noexcept {
    if (!channel_) return;
    ResponseChannel* ch = std::exchange(channel_, nullptr);
    ch->abandon(token_);
    ch->release();
  }

  ResponseChannel* channel_ = nullptr;
  uint64_t token_ = 0;
};

struct Request {
  std::span<const uint8_t> query;  // valid only during handle(): copy what you keep
  // The client. Behind a trusted proxy (PROXY v2 on UDP, TCP, DoT; PROXY v2
  // or X-Forwarded-For on DoH) it is the address the proxy vouched for.
  const sockaddr* peer = nullptr;
  // The address the query arrived on (may be null); behind a proxy, the
  // address the client asked at the proxy (the header's destination).
  const sockaddr* local = nullptr;
  // The trusted proxy the query came through (the socket's peer), or null
  // when the client spoke to us directly.
  const sockaddr* proxy = nullptr;
  // The proxy's own query, sent with a PROXY v2 LOCAL header (dnsdist's
  // health checks): `peer` is then the proxy itself.
  bool proxy_local = false;
  Transport transport = Transport::udp;
  // The most the transport can carry: 65535 on streams, the datagram limit on
  // UDP. The handler further limits UDP answers to the client's EDNS size.
  size_t max_response_size = 65535;
  unsigned worker = 0;  // index of the worker thread (one event loop each)
};

class QueryHandler {
 public:
  virtual ~QueryHandler() = default;
  // Runs on the worker's loop thread; the Responder may be used then or later
  // on that same thread.
  virtual void handle(const Request& request, Responder responder) = 0;
};

}  // namespace sextant::transports
