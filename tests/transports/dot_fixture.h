// The DoT tests' fixture: a DotListener with short timeouts on its own
// loop thread, and options for TlsTestClient that trust its certificate.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tests/transports/encrypted_listener_fixture.h"
#include "tests/transports/tls_test_client.h"
#include "transports/dot_listener.h"

namespace sextant::transports::test {

struct DotFixture : TlsStreamListenerFixture<DotListener, DotListenerConfig> {
  explicit DotFixture(DotListenerConfig config = test_config(), unsigned slow_ms = 300)
      : TlsStreamListenerFixture("dot", make_dot_tls_context, std::move(config), slow_ms) {}

  TlsTestClient::Options client_options(std::vector<std::string> alpn = {"dot"}) const {
    return verifying_options(std::move(alpn), cert.cert);
  }
};

}  // namespace sextant::transports::test
