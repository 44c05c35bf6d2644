// A DoH listener on a loop thread with a throw-away certificate and the
// echo handler, for the HTTP/1.1, JSON and Alt-Svc tests (test_doh.cpp has
// the HTTP/2 ones).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "tests/transports/encrypted_support.h"
#include "transports/doh_listener.h"

namespace sextant::transports::test {

struct DohTestServer {
  explicit DohTestServer(DohListenerConfig config = test_config(), unsigned slow_ms = 300)
      : handler(slow_ms), cert(make_test_cert("doh1")), tls(make_doh_tls_context({cert.cert, cert.key}, config.http1)) {
    config.stream.address = "127.0.0.1";
    config.stream.port = 0;
    server = std::make_unique<ServerThread>(
        [config, this](const WorkerContext& worker, uint16_t& port) {
          auto listener = std::make_unique<DohListener>(worker, config, tls);
          port = listener->port();
          return listener;
        },
        handler);
  }
  ~DohTestServer() {
    server.reset();
    std::filesystem::remove_all(cert.dir);
  }
  static DohListenerConfig test_config() {
    DohListenerConfig config;
    config.stream.idle_timeout_ms = 2000;
    config.stream.handshake_timeout_ms = 2000;
    return config;
  }
  static DohListenerConfig cleartext_config() {
    DohListenerConfig config = test_config();
    config.tls = false;
    return config;
  }
  uint16_t port() const { return server->port(); }
  std::string url(const std::string& path = "/dns-query") const {
    return "https://localhost:" + std::to_string(port()) + path;
  }
  TlsTestClient::Options client_options(std::vector<std::string> alpn) const {
    TlsTestClient::Options o;
    o.alpn = std::move(alpn);
    o.ca_file = cert.cert;
    return o;
  }

  EchoHandler handler;
  TestCert cert;
  std::shared_ptr<TlsServerContext> tls;
  std::unique_ptr<ServerThread> server;
};

}  // namespace sextant::transports::test
