// GnuTLS client side of DNS over QUIC upstreams (ngtcp2 0.12's only crypto
// backend on Debian 12): the credentials (CA bundle or the system's trust
// store) and, per connection, a TLS 1.3 session configured for QUIC with
// ALPN "doq", SNI and the name to check. check_peer() authenticates the
// upstream after the handshake exactly as UpstreamTlsContext does for DoT
// (name against the CA bundle, and/or an SPKI pin of the leaf); queries are
// sent only after it succeeds.
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <string>
#include <vector>

#include "transports/upstream_endpoint.h"

namespace sextant::transports {

class QuicClientTls {
 public:
  // Throws std::runtime_error if the CA bundle cannot be loaded or there is
  // nothing to authenticate with.
  explicit QuicClientTls(const UpstreamEndpoint& endpoint);
  ~QuicClientTls();
  QuicClientTls(const QuicClientTls&) = delete;
  QuicClientTls& operator=(const QuicClientTls&) = delete;

  // A client session for a new connection (`ref` must outlive it), or
  // nullptr with `error`.
  gnutls_session_t new_session(ngtcp2_crypto_conn_ref* ref, std::string& error) const;
  // After the handshake: empty when authenticated, else why not.
  std::string check_peer(gnutls_session_t session) const;

 private:
  gnutls_certificate_credentials_t credentials_ = nullptr;
  std::string name_;
  std::vector<uint8_t> ip_;  // the name as an address (4 or 16 octets), if it is one
  std::vector<std::array<uint8_t, 32>> pins_;
};

}  // namespace sextant::transports
