// The walker's only door to the network: send one query packet to one
// server, get one callback. The daemon adapts transports/'s upstream client
// to this interface; unit tests plug in a scripted network instead, so whole
// resolutions run in-process and deterministically.
//
// Contract for implementations:
// - send() never invokes the callback from inside send(); the callback runs
//   later, from the event loop that owns the walker, exactly once, unless
//   cancel() was called first (then never).
// - The packet handed to the callback is the first DNS message that came
//   back from `server` (address and port) on the socket or connection of
//   this query. A transport may already drop answers whose ID or question do
//   not match; the walker checks both again and does not rely on it.
// - UDP queries go out from a fresh random source port each (RFC 5452);
//   the walker supplies a random ID and 0x20-randomised question.
// - `timeout` is the hard limit for this exchange; when it passes without a
//   reply the callback gets Status::timeout. The walker enforces its own
//   (shorter) retransmission timers on top and may cancel() early.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "resolver/walk/server_address.h"

namespace sextant::resolver {

// udp and tcp reach any server; tls (DoT), https (DoH) and quic (DoQ) are
// for configured forward upstreams, whose names, pins and URLs the network
// knows from the configuration (resolver/forward/).
enum class UpstreamProtocol : uint8_t { udp, tcp, tls, https, quic };
const char* to_string(UpstreamProtocol p) noexcept;
constexpr bool is_encrypted(UpstreamProtocol p) noexcept {
  return p == UpstreamProtocol::tls || p == UpstreamProtocol::https || p == UpstreamProtocol::quic;
}
constexpr bool is_stream(UpstreamProtocol p) noexcept { return p != UpstreamProtocol::udp; }

struct UpstreamReply {
  enum class Status : uint8_t {
    ok,             // `packet` holds the reply
    timeout,        // nothing came back within the timeout
    network_error,  // send failed, ICMP unreachable, connection refused/reset, ...
    local_error,    // not sent for a local reason (socket limit, shutdown): the
                    // server is not blamed
    auth_failure,   // an encrypted upstream's certificate or pin did not match:
                    // nothing was sent (never retried in plaintext)
  };
  Status status = Status::timeout;
  std::vector<uint8_t> packet;
  // Where the packet came from. For UDP this is the datagram's source; the
  // walker rejects replies whose source differs from the server it asked.
  ServerAddress from;
  // Measured by the transport from send to receipt (0 if unknown).
  std::chrono::microseconds rtt{0};
  // Why it failed, in words, when the transport knows (for EDE texts).
  std::string detail;
};

class UpstreamNetwork {
 public:
  using RequestId = uint64_t;
  using Callback = std::function<void(UpstreamReply&&)>;

  virtual ~UpstreamNetwork() = default;

  // Sends `query` (a complete DNS message; for TCP the implementation adds
  // the two-octet length prefix) and returns an id for cancel().
  virtual RequestId send(const ServerAddress& server, UpstreamProtocol protocol,
                         std::span<const uint8_t> query, std::chrono::milliseconds timeout,
                         Callback on_reply) = 0;
  // Forgets the request: its callback will not run. Unknown ids are ignored.
  virtual void cancel(RequestId id) = 0;
};

}  // namespace sextant::resolver
