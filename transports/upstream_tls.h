// OpenSSL client side of DNS over TLS and DNS over HTTPS upstreams: one
// context per endpoint (its CA bundle, the name to verify, the SPKI pins,
// the ALPN), handing out SSL objects set up for a new connection and keeping
// the last session for resumption (TLS 1.2 tickets and TLS 1.3 PSK alike).
//
// Authentication follows RFC 7858 §4.2 and RFC 8310: with a name, the chain
// must verify against the CA bundle and the certificate must carry the name
// (or the IP address) in its subjectAltName; with pins, the SHA-256 of the
// leaf certificate's SubjectPublicKeyInfo must be one of them (only the leaf:
// an attacker could append any certificate to an unverified chain, but only
// the leaf's key is proven by the handshake). A failure is reported as such
// (authentication, not a network error) and the connection is dropped.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transports/upstream_endpoint.h"

namespace sextant::transports {

class UpstreamTlsContext {
 public:
  // Throws std::runtime_error (naming the file) if the CA bundle cannot be
  // loaded, or if the endpoint has neither a name nor a pin.
  UpstreamTlsContext(const UpstreamEndpoint& endpoint, std::vector<std::string> alpn);
  ~UpstreamTlsContext();
  UpstreamTlsContext(const UpstreamTlsContext&) = delete;
  UpstreamTlsContext& operator=(const UpstreamTlsContext&) = delete;

  // A client SSL for a new connection: SNI, name checks and the saved
  // session set. nullptr (with `error`) on failure.
  SSL* new_ssl(std::string& error) const;
  // After the handshake: empty when the peer is authenticated, else why not.
  std::string check_peer(SSL* ssl) const;
  // Why a failed handshake failed, if the certificate was the reason
  // (empty otherwise: a network or protocol failure).
  static std::string verify_failure(SSL* ssl);
  // Keeps `ssl`'s session for the next connection.
  void remember_session(SSL* ssl);

 private:
  static int on_new_session(SSL* ssl, SSL_SESSION* session);

  SSL_CTX* ctx_ = nullptr;
  std::string tls_name_;
  bool name_is_ip_ = false;
  std::vector<std::array<uint8_t, 32>> pins_;
  SSL_SESSION* session_ = nullptr;  // the last session the server gave us
};

// SHA-256 of a certificate's DER SubjectPublicKeyInfo (RFC 7469 pin-sha256).
bool spki_sha256(X509* certificate, std::array<uint8_t, 32>& out);

}  // namespace sextant::transports
