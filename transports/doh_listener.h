// DNS over HTTPS (RFC 8484) over TCP: HTTP/2 (nghttp2, transports/doh_http2.*)
// and HTTP/1.1 (transports/doh_http1.*) on the same port.
//
// With TLS, ALPN chooses: "h2" or "http/1.1". A client that sends no ALPN,
// and every client of a cleartext listener (behind a reverse proxy), is
// told apart by its first octets: the HTTP/2 connection preface
// ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RFC 9113 §3.4) means HTTP/2 with prior
// knowledge (h2c), anything else is read as HTTP/1.1.
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
  // The JSON API (doh_json.h) on `path` and on `json_path`.
  bool json = false;
  std::string json_path = "/resolve";
  // false: cleartext (h2c or HTTP/1.1). Only sensible behind a reverse
  // proxy on a private address.
  bool tls = true;
  // SETTINGS_MAX_CONCURRENT_STREAMS; also bounds the queries a connection
  // can have in flight (each stream carries one).
  uint32_t max_concurrent_streams = 100;
  // HTTP/1.1 beside HTTP/2. Keep-alive: a connection serves at most
  // http1_max_requests requests, then the last answer says
  // "Connection: close". Pipelining: at most http1_max_pipeline requests of
  // one connection are with the resolver at once; later ones wait unread.
  bool http1 = true;
  unsigned http1_max_requests = 1000;
  unsigned http1_max_pipeline = 16;
  // Sent as Alt-Svc on every answer (e.g. h3=":443"; ma=86400) when not
  // empty: where the HTTP/3 listener is.
  std::string alt_svc;
  // Take the client address from X-Forwarded-For when the TCP peer is one of
  // stream.trusted_proxies (rightmost untrusted entry).
  bool trust_forwarded_for = true;

  DohEndpoint endpoint() const {
    DohEndpoint e;
    e.path = path;
    e.json = json;
    e.json_path = json_path;
    return e;
  }

  static StreamServerOptions default_stream_options() {
    StreamServerOptions options;
    options.port = kDefaultDohPort;
    return options;
  }
};

// A TLS context offering ALPN "h2" and "http/1.1" (clients offering only
// other protocols, e.g. h3, are refused; clients without ALPN are told
// apart by their first octets); with `http1` false, "h2" alone.
std::shared_ptr<TlsServerContext> make_doh_tls_context(const TlsFiles& files);
std::shared_ptr<TlsServerContext> make_doh_tls_context(const TlsFiles& files, bool http1);

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
