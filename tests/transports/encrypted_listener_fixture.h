// The set-up every DoT, DoH and DoQ listener test shares, beneath the
// transport fixtures (DotFixture, DohFixture, DoqFixture): an EchoHandler,
// a fresh throw-away certificate with the transport's TLS context over it,
// and one listener on 127.0.0.1 (ephemeral port) in a loop thread of its
// own. The transport fixture supplies the listener type, its configuration
// and its clients; DoT and DoH, both TLS over TCP, share
// TlsStreamListenerFixture.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/transports/encrypted_support.h"
#include "tests/transports/tls_test_client.h"
#include "transports/tls_context.h"

namespace sextant::transports::test {

// ServerThread's `create` for a listener of type ListenerType, built from
// `config` and `tls` on the server thread's loop.
template <typename ListenerType, typename Config, typename TlsContext>
ServerThread::Create create_listener(Config config, std::shared_ptr<TlsContext> tls) {
  return [config = std::move(config), tls = std::move(tls)](const WorkerContext& worker, uint16_t& port) {
    auto listener = std::make_unique<ListenerType>(worker, config, tls);
    port = listener->port();
    return listener;
  };
}

template <typename TlsContext>
class EncryptedListenerFixture {
 public:
  using MakeTlsContext = std::shared_ptr<TlsContext> (*)(const TlsFiles&);

  EncryptedListenerFixture(const EncryptedListenerFixture&) = delete;
  EncryptedListenerFixture& operator=(const EncryptedListenerFixture&) = delete;

  uint16_t port() const { return server->port(); }

  // Copies `next`'s certificate and key over the files the listener was
  // started with; the test then calls tls->reload().
  void overwrite_certificate_files(const TestCert& next) const {
    std::filesystem::copy_file(next.cert, cert.cert, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(next.key, cert.key, std::filesystem::copy_options::overwrite_existing);
  }

  // `program` (kdig, dig) aimed at the listener and verifying its
  // certificate for `hostname`; the test appends the question and options.
  std::string verifying_command(const std::string& program, const std::string& hostname = "localhost") const {
    return program + " @127.0.0.1 -p " + std::to_string(port()) + " +tls-ca=" + cert.cert +
           " +tls-hostname=" + hostname;
  }

  // dnsperf in `mode` (dot, doh) aimed at the listener, reading `queries`;
  // the test appends the counts and limits.
  std::string dnsperf_command(const std::string& mode, const DnsperfQueryFile& queries) const {
    return "dnsperf -m " + mode + " -s 127.0.0.1 -p " + std::to_string(port()) + " -d " + queries.path;
  }

  EchoHandler handler;
  TestCert cert;
  std::shared_ptr<TlsContext> tls;
  // Declared last, so stopped first: the listener goes before the handler,
  // the TLS context and the certificate files it uses.
  std::unique_ptr<ServerThread> server;

 protected:
  // `slow_ms`: how long the handler takes over names starting with "slow".
  EncryptedListenerFixture(const char* tag, MakeTlsContext make_tls_context, unsigned slow_ms)
      : handler(slow_ms), cert(make_test_cert(tag)), tls(make_tls_context({cert.cert, cert.key})) {}
  ~EncryptedListenerFixture() = default;

  template <typename ListenerType, typename Config>
  void start(const Config& config) {
    server = std::make_unique<ServerThread>(create_listener<ListenerType>(config, tls), handler);
  }
};

// DoT and DoH: a listener for TLS over TCP, configured through its
// StreamServerOptions `stream`.
template <typename ListenerType, typename Config>
class TlsStreamListenerFixture : public EncryptedListenerFixture<TlsServerContext> {
 public:
  // Timeouts short enough for tests that wait for them.
  static Config test_config() {
    Config config;
    config.stream.idle_timeout_ms = 2000;
    config.stream.handshake_timeout_ms = 2000;
    return config;
  }

 protected:
  TlsStreamListenerFixture(const char* tag, MakeTlsContext make_tls_context, Config config, unsigned slow_ms)
      : EncryptedListenerFixture(tag, make_tls_context, slow_ms) {
    config.stream.address = "127.0.0.1";
    config.stream.port = 0;
    start<ListenerType>(config);
  }
};

}  // namespace sextant::transports::test
