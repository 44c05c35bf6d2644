// Internals of UpstreamPool: what a persistent upstream connection (TCP,
// TLS, HTTP/2, QUIC) offers the pool, and what it reports back. Not part
// of the public API.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "transports/upstream.h"
#include "transports/upstream_endpoint.h"

namespace sextant::transports {

class UpstreamConnection;
class UpstreamTlsContext;
class QuicClientTls;

// Implemented by the pool; every call comes from the loop thread.
class UpstreamConnectionOwner {
 public:
  virtual ~UpstreamConnectionOwner() = default;
  // The answer to query `id` (its ID already restored).
  virtual void connection_answer(UpstreamQueryId id, std::span<const uint8_t> response) = 0;
  // Query `id` failed on this connection. `retryable`: it was sent on a
  // connection that had worked before and then closed (RFC 7766 §6.2.1:
  // an idle connection the server closed), so a fresh connection may try.
  virtual void connection_failed(UpstreamQueryId id, UpstreamStatus status, const std::string& detail,
                                 bool retryable) = 0;
  // The connection is established and authenticated.
  virtual void connection_ready(UpstreamConnection* connection, bool resumed) = 0;
  // It no longer takes queries (closing, GOAWAY): the pool opens another.
  virtual void connection_draining(UpstreamConnection* connection) = 0;
  // Its handles are closed and every query it had was reported: delete it.
  virtual void connection_closed(UpstreamConnection* connection) = 0;
};

// Why a connection failed, for the endpoint's counters.
enum class ConnectionFailure : uint8_t { none, connect, handshake, auth, protocol, closed };

class UpstreamConnection {
 public:
  virtual ~UpstreamConnection() = default;
  // Starts connecting (never reports from inside this call).
  virtual void start() = 0;
  // Takes query `id`; false if it cannot now (full or not accepting).
  virtual bool submit(UpstreamQueryId id, std::span<const uint8_t> packet) = 0;
  // The pool no longer waits for `id` (cancelled or timed out).
  virtual void forget(UpstreamQueryId id) = 0;
  virtual bool accepting() const = 0;
  virtual size_t in_flight() const = 0;
  // Closes at once; queries still held are reported as `cancelled`.
  virtual void close() = 0;

  bool has_answered() const noexcept { return answered_ > 0; }
  ConnectionFailure failure() const noexcept { return failure_; }

 protected:
  uint64_t answered_ = 0;
  ConnectionFailure failure_ = ConnectionFailure::none;
};

struct UpstreamConnectionSettings {
  uint32_t idle_timeout_ms = 10000;       // close when nothing was in flight this long
  uint32_t handshake_timeout_ms = 5000;   // connect + TLS/QUIC handshake
  size_t max_in_flight = 256;             // per connection
};

// Factories (upstream_stream.cpp, upstream_doh.cpp, upstream_doq.cpp).
std::unique_ptr<UpstreamConnection> make_stream_connection(uv_loop_t* loop, UpstreamConnectionOwner& owner,
                                                           const UpstreamEndpoint& endpoint,
                                                           UpstreamTlsContext* tls,
                                                           const UpstreamConnectionSettings& settings);
std::unique_ptr<UpstreamConnection> make_doh_connection(uv_loop_t* loop, UpstreamConnectionOwner& owner,
                                                        const UpstreamEndpoint& endpoint, UpstreamTlsContext& tls,
                                                        const UpstreamConnectionSettings& settings);
std::unique_ptr<UpstreamConnection> make_doq_connection(uv_loop_t* loop, UpstreamConnectionOwner& owner,
                                                        const UpstreamEndpoint& endpoint, QuicClientTls& tls,
                                                        const UpstreamConnectionSettings& settings);

}  // namespace sextant::transports
