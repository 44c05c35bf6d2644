// The DoH-over-HTTP/3 tests' fixture: a Doh3Listener with short timeouts on
// its own loop thread, and bench/doh3_client (no Debian client speaks DoH
// over HTTP/3) aimed at it, verifying its certificate.
#pragma once

#include <filesystem>
#include <string>

#include "tests/transports/encrypted_listener_fixture.h"
#include "transports/doh3_listener.h"

namespace sextant::transports::test {

inline const std::string kDoh3Client = std::string(SEXTANT_BINARY_DIR) + "/bench/doh3_client";

struct Doh3Fixture : EncryptedListenerFixture<QuicTlsContext> {
  explicit Doh3Fixture(Doh3ListenerConfig config = test_config(), unsigned slow_ms = 300)
      : EncryptedListenerFixture("doh3", make_doh3_tls_context, slow_ms) {
    config.address = "127.0.0.1";
    config.port = 0;
    start<Doh3Listener>(config);
  }

  static Doh3ListenerConfig test_config() {
    Doh3ListenerConfig config;
    config.idle_timeout_ms = 2000;
    config.handshake_timeout_ms = 2000;
    return config;
  }

  // The client with certificate verification; the test appends its options.
  std::string client() const {
    return kDoh3Client + " -s 127.0.0.1 -p " + std::to_string(port()) + " --cafile " + cert.cert +
           " --servername localhost --timeout 5";
  }

  TemporaryDirectory dir{"doh3"};
};

// bench/ builds the client (SEXTANT_BUILD_BENCH, on by default).
inline bool missing_doh3_client() {
  if (std::filesystem::exists(kDoh3Client)) return false;
  WARN("bench/doh3_client is not built (SEXTANT_BUILD_BENCH=OFF?): skipped");
  return true;
}

}  // namespace sextant::transports::test
