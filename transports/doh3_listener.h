// DNS over HTTPS on HTTP/3 (RFC 8484 over RFC 9114): HTTP/3 through nghttp3
// 0.8 on the QUIC endpoint shared with DoQ (quic_server.h; ngtcp2 0.12 +
// GnuTLS, ALPN "h3"). One UDP socket per worker, bound to a concrete
// address. The requests and their answers follow the same rules as on
// HTTP/1.1 and HTTP/2 (doh_request.h, doh_response.h); the TCP listener
// advertises this one with Alt-Svc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "transports/connection_limits.h"
#include "transports/doh_request.h"
#include "transports/listener.h"
#include "transports/quic_tls.h"

namespace sextant::transports {

struct Doh3ListenerConfig {
  std::string address = "127.0.0.1";  // concrete address (QUIC)
  uint16_t port = 443;
  DohEndpoint endpoint;
  unsigned idle_timeout_ms = 10000;
  unsigned handshake_timeout_ms = 5000;
  unsigned max_connections = 1000;           // per worker
  unsigned max_streams_per_connection = 100;  // concurrent requests (MAX_STREAMS)
  unsigned retry_threshold = 200;             // connections before Retry is required
  unsigned retry_token_lifetime_ms = 10000;
  size_t receive_buffer_bytes = 4 << 20;
  std::shared_ptr<ClientConnectionTable> client_limits;  // per-client cap (connection_limits.h); null: none
};

class QuicServer;

class Doh3Listener final : public Listener {
 public:
  // Throws std::runtime_error (address, port, reason) if the socket cannot
  // be bound or the address is a wildcard.
  Doh3Listener(const WorkerContext& worker, const Doh3ListenerConfig& config, std::shared_ptr<QuicTlsContext> tls);
  ~Doh3Listener() override;
  void shutdown(unsigned grace_ms, std::function<void()> done) override;
  uint16_t port() const noexcept;
  size_t connection_count() const noexcept;

 private:
  QuicServer* server_;  // owns itself until its handles are closed
};

// The GnuTLS context for HTTP/3 (ALPN "h3").
std::shared_ptr<QuicTlsContext> make_doh3_tls_context(const TlsFiles& files);

ListenerFactory make_doh3_listener_factory(Doh3ListenerConfig config, std::shared_ptr<QuicTlsContext> tls);

// The Alt-Svc value advertising an HTTP/3 listener on `port` of the same
// host: h3=":PORT"; ma=86400.
std::string doh3_alt_svc(uint16_t port);

}  // namespace sextant::transports
