// The DoQ tests' fixture: a DoqListener with short timeouts on its own loop
// thread, kdig +quic aimed at it, and DoqTestClients that trust its
// certificate.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tests/transports/doq_test_client.h"
#include "tests/transports/encrypted_listener_fixture.h"
#include "transports/doq_listener.h"

namespace sextant::transports::test {

struct DoqFixture : EncryptedListenerFixture<QuicTlsContext> {
  explicit DoqFixture(DoqListenerConfig config = test_config(), unsigned slow_ms = 300)
      : EncryptedListenerFixture("doq", make_doq_tls_context, slow_ms) {
    config.address = "127.0.0.1";
    config.port = 0;
    start<DoqListener>(config);
  }

  static DoqListenerConfig test_config() {
    DoqListenerConfig config;
    config.idle_timeout_ms = 2000;
    config.handshake_timeout_ms = 2000;
    return config;
  }

  // One query per kdig call (PLATFORM.md: +keepopen over QUIC is flaky in kdig).
  CommandResult kdig(const std::string& name, const std::string& extra = "") const {
    return run_command(verifying_command("kdig") + " " + extra + " " + name + " A +quic");
  }
  // A client offering `alpn` and verifying the listener's certificate;
  // its handshake() connects.
  DoqTestClient client(std::vector<std::string> alpn = {"doq"}) const {
    return DoqTestClient(port(), std::move(alpn), cert.cert);
  }
  // A client resuming an earlier session (0-RTT keys installed).
  DoqTestClient resuming_client(const DoqTestClient::Resumption& resume) const {
    return DoqTestClient(port(), {"doq"}, cert.cert, &resume);
  }
};

// True when kdig printed the echo answer's address.
inline bool has_answer(const CommandResult& r) { return r.output.find("127.0.0.53") != std::string::npos; }

}  // namespace sextant::transports::test
