// DNS over TLS (RFC 7858, RFC 8310): TCP + TLS 1.2/1.3 + two-octet length
// framing, pipelined queries answered in whatever order they complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "transports/listener.h"
#include "transports/tls_context.h"
#include "transports/tls_stream.h"

namespace sextant::transports {

inline constexpr uint16_t kDefaultDotPort = 853;

struct DotListenerConfig {
  // address, port (853 by default), idle timeout (10 s), handshake timeout,
  // connection limit per worker, write-queue bound, and PROXY v2 from
  // trusted proxies (proxy_protocol + trusted_proxies: the header comes
  // before the TLS handshake, as dnsdist and HAProxy send it).
  StreamServerOptions stream = default_stream_options();
  // Queries handed to the resolver and not yet answered, per connection.
  // At the limit the connection stops reading until answers go out.
  size_t max_pending_per_connection = 64;

  static StreamServerOptions default_stream_options() {
    StreamServerOptions options;
    options.port = kDefaultDotPort;
    return options;
  }
};

// A TLS context offering ALPN "dot" and refusing clients whose ALPN list
// lacks it (clients sending no ALPN are accepted). Share one between all
// workers; call reload() on it to pick up new certificate files.
std::shared_ptr<TlsServerContext> make_dot_tls_context(const TlsFiles& files);

class DotListener final : public Listener {
 public:
  // Throws std::runtime_error if the socket cannot be bound.
  DotListener(const WorkerContext& worker, const DotListenerConfig& config, std::shared_ptr<TlsServerContext> tls);
  void shutdown(unsigned grace_ms, std::function<void()> done) override;
  uint16_t port() const noexcept { return server_.bound_port(); }
  size_t connection_count() const noexcept { return server_.connection_count(); }

 private:
  StreamServer server_;
};

ListenerFactory make_dot_listener_factory(DotListenerConfig config, std::shared_ptr<TlsServerContext> tls);

}  // namespace sextant::transports
