// DNS over HTTPS (RFC 8484) over HTTP/2: nghttp2 server sessions on top of
// the TLS stream layer (ALPN "h2"), or on plain TCP with prior knowledge
// (h2c) for running behind a reverse proxy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "transports/doh_request.h"
#include "transports/listener.h"
#include "transports/tls_context.h"
#include "transports/tls_stream.h"

namespace sextant::transports {

inline constexpr uint16_t kDefaultDohPort = 443;

struct DohListenerConfig {
  // address, port (443 by default), idle timeout, handshake timeout,
  // connections per worker, and for h2c behind a proxy: proxy_protocol and
  // trusted_proxies (CIDRs whose PROXY v2 header / X-Forwarded-For is believed).
  StreamServerOptions stream = default_stream_options();
  std::string path = std::string(kDefaultDohPath);
  // false: cleartext HTTP/2 with prior knowledge (h2c). Only sensible behind
  // a reverse proxy on a private address.
  bool tls = true;
  // SETTINGS_MAX_CONCURRENT_STREAMS; also bounds the queries a connection
  // can have in flight (each stream carries one).
  uint32_t max_concurrent_streams = 100;
  // Take the client address from X-Forwarded-For when the TCP peer is one of
  // stream.trusted_proxies (rightmost untrusted entry).
  bool trust_forwarded_for = true;

  static StreamServerOptions default_stream_options() {
    StreamServerOptions options;
    options.port = kDefaultDohPort;
    return options;
  }
};

// A TLS context offering ALPN "h2" (clients offering only other protocols,
// e.g. http/1.1, are refused; clients without ALPN are served HTTP/2).
std::shared_ptr<TlsServerContext> make_doh_tls_context(const TlsFiles& files);

class DohListener final : public Listener {
 public:
  // `tls` may be null only when config.tls is false. Throws
  // std::runtime_error if the socket cannot be bound or the config is
  // inconsistent.
  DohListener(const WorkerContext& worker, const DohListenerConfig& config, std::shared_ptr<TlsServerContext> tls);
  void shutdown(unsigned grace_ms, std::function<void()> done) override;
  uint16_t port() const noexcept { return server_.bound_port(); }
  size_t connection_count() const noexcept { return server_.connection_count(); }

 private:
  StreamServer server_;
};

ListenerFactory make_doh_listener_factory(DohListenerConfig config, std::shared_ptr<TlsServerContext> tls);

}  // namespace sextant::transports
