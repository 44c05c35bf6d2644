// The DoH tests' fixture: a DohListener with short timeouts on its own loop
// thread (HTTP/2 over TLS, or h2c), options for TlsTestClient that trust
// its certificate, and the pieces of a DoH request the tests share.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tests/transports/encrypted_listener_fixture.h"
#include "tests/transports/h2_test_client.h"
#include "tests/transports/tls_test_client.h"
#include "transports/doh_listener.h"

namespace sextant::transports::test {

struct DohFixture : TlsStreamListenerFixture<DohListener, DohListenerConfig> {
  explicit DohFixture(DohListenerConfig config = test_config(), unsigned slow_ms = 300)
      : TlsStreamListenerFixture("doh", make_doh_tls_context, std::move(config), slow_ms) {}

  // Cleartext HTTP/2 (h2c), as behind a reverse proxy: raw frames are
  // easier to write without TLS.
  static DohListenerConfig h2c_config() {
    DohListenerConfig config = test_config();
    config.tls = false;
    return config;
  }

  std::string url(const std::string& path = "/dns-query") const {
    return "https://localhost:" + std::to_string(port()) + path;
  }
  TlsTestClient::Options client_options(std::vector<std::string> alpn = {"h2"}) const {
    return verifying_options(std::move(alpn), cert.cert);
  }
};

inline const std::vector<std::pair<std::string, std::string>> kDnsMessage = {
    {"content-type", "application/dns-message"}};

// A query for `name` as a file (for curl --data-binary and h2load), and a
// place for the answer, in a temporary directory.
struct QueryFiles {
  explicit QueryFiles(const char* name)
      : dir("doh-q"), query(dir.file("q.bin")), answer(dir.file("r.bin")), bytes(make_query(name, 1, 0)) {
    write_file(query, bytes);
  }

  TemporaryDirectory dir;
  std::string query, answer;
  std::vector<uint8_t> bytes;
};

}  // namespace sextant::transports::test
