// The DoH tests' fixture: a DohListener with short timeouts on its own loop
// thread (HTTP/2 and HTTP/1.1 over TLS, or cleartext), options for
// TlsTestClient that trust its certificate, and the pieces of a DoH request
// the tests share.
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
  // The TLS context offers ALPN http/1.1 only when config.http1 is on.
  explicit DohFixture(DohListenerConfig config = test_config(), unsigned slow_ms = 300)
      : TlsStreamListenerFixture("doh", config.http1 ? tls_with_http1 : tls_h2_only, std::move(config), slow_ms) {}

  // Cleartext (h2c or HTTP/1.1), as behind a reverse proxy: raw frames are
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

 private:
  static std::shared_ptr<TlsServerContext> tls_with_http1(const TlsFiles& files) {
    return make_doh_tls_context(files, true);
  }
  static std::shared_ptr<TlsServerContext> tls_h2_only(const TlsFiles& files) {
    return make_doh_tls_context(files, false);
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
