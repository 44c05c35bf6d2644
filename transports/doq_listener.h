// DNS over QUIC (RFC 9250) with ngtcp2 0.12 + GnuTLS, on the QUIC endpoint
// shared with DoH over HTTP/3 (quic_server.h: one UDP socket per worker,
// bound to a concrete address; quic_connection.h: the connection).
//
// Each client-initiated bidirectional stream carries one query (two-octet
// length prefix, then FIN) and gets one answer. A non-zero message ID, data
// after the message, a unidirectional stream or a malformed length close
// the connection with DOQ_PROTOCOL_ERROR.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "transports/connection_limits.h"
#include "transports/listener.h"
#include "transports/quic_tls.h"

namespace sextant::transports {

inline constexpr uint16_t kDefaultDoqPort = 853;

// RFC 9250 §4.3 application error codes.
enum class DoqError : uint64_t {
  no_error = 0x0,
  internal_error = 0x1,
  protocol_error = 0x2,
  request_cancelled = 0x3,
  excessive_load = 0x4,
};

struct DoqListenerConfig {
  std::string address = "127.0.0.1";  // concrete address, see above
  uint16_t port = kDefaultDoqPort;
  unsigned idle_timeout_ms = 10000;       // QUIC max_idle_timeout
  unsigned handshake_timeout_ms = 5000;
  unsigned max_connections = 1000;        // per worker; beyond it CONNECTION_REFUSED
  unsigned max_streams_per_connection = 100;  // concurrent queries (MAX_STREAMS)
  // Address validation: at or above this many connections on the worker, a
  // client's first Initial gets a Retry and must come back with the token.
  // 0 means always Retry.
  unsigned retry_threshold = 200;
  unsigned retry_token_lifetime_ms = 10000;
  size_t receive_buffer_bytes = 4 << 20;  // SO_RCVBUF request
  std::shared_ptr<ClientConnectionTable> client_limits;  // per-client cap (connection_limits.h); null: none
};

class QuicServer;

class DoqListener final : public Listener {
 public:
  // Throws std::runtime_error (address, port, reason) if the socket cannot
  // be bound or the address is a wildcard.
  DoqListener(const WorkerContext& worker, const DoqListenerConfig& config, std::shared_ptr<QuicTlsContext> tls);
  ~DoqListener() override;
  void shutdown(unsigned grace_ms, std::function<void()> done) override;
  uint16_t port() const noexcept;
  size_t connection_count() const noexcept;

 private:
  QuicServer* server_;  // owns itself until its handles are closed
};

// The GnuTLS context for DoQ (ALPN "doq", plus "doq-i11" for older kdig).
std::shared_ptr<QuicTlsContext> make_doq_tls_context(const TlsFiles& files);

ListenerFactory make_doq_listener_factory(DoqListenerConfig config, std::shared_ptr<QuicTlsContext> tls);

}  // namespace sextant::transports
