#include "transports/upstream_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "transports/tls_context.h"  // openssl_errors

namespace sextant::transports {

namespace {

// The index under which each SSL_CTX points back to its context.
int context_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool is_ip_literal(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

bool spki_sha256(X509* certificate, std::array<uint8_t, 32>& out) {
  if (!certificate) return false;
  X509_PUBKEY* key = X509_get_X509_PUBKEY(certificate);
  unsigned char* der = nullptr;
  int length = i2d_X509_PUBKEY(key, &der);
  if (length <= 0) return false;
  unsigned int digest_length = 0;
  bool ok = EVP_Digest(der, static_cast<size_t>(length), out.data(), &digest_length, EVP_sha256(), nullptr) == 1 &&
            digest_length == out.size();
  OPENSSL_free(der);
  return ok;
}

UpstreamTlsContext::UpstreamTlsContext(const UpstreamEndpoint& endpoint, std::vector<std::string> alpn)
    : tls_name_(endpoint.tls_name), name_is_ip_(is_ip_literal(endpoint.tls_name)), pins_(endpoint.spki_pins) {
  if (tls_name_.empty() && pins_.empty()) {
    throw std::runtime_error(fmt::format("{}: neither a name nor a pin to authenticate it", endpoint.label));
  }
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) throw std::runtime_error("TLS: " + openssl_errors());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_ex_data(ctx_, context_index(), this);
  if (!tls_name_.empty()) {
    const bool loaded = endpoint.ca_file.empty()
                            ? SSL_CTX_set_default_verify_paths(ctx_) == 1
                            : SSL_CTX_load_verify_locations(ctx_, endpoint.ca_file.c_str(), nullptr) == 1;
    if (!loaded) {
      std::string why = openssl_errors();
      SSL_CTX_free(ctx_);
      throw std::runtime_error(fmt::format("{}: cannot load the CA bundle {}: {}", endpoint.label,
                                           endpoint.ca_file.empty() ? "(system default)" : endpoint.ca_file, why));
    }
    // The handshake fails when the chain or the name does not verify.
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  } else {
    // Pins only: the chain is not judged; check_peer() compares the key.
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  }
  std::vector<unsigned char> wire;
  for (const auto& protocol : alpn) {
    wire.push_back(static_cast<unsigned char>(protocol.size()));
    wire.insert(wire.end(), protocol.begin(), protocol.end());
  }
  if (!wire.empty()) SSL_CTX_set_alpn_protos(ctx_, wire.data(), static_cast<unsigned int>(wire.size()));
  // Sessions come to us through the callback (TLS 1.3 sends them after the
  // handshake); OpenSSL's internal client cache is not used.
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx_, &UpstreamTlsContext::on_new_session);
}

UpstreamTlsContext::~UpstreamTlsContext() {
  if (session_) SSL_SESSION_free(session_);
  SSL_CTX_free(ctx_);
}

SSL* UpstreamTlsContext::new_ssl(std::string& error) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) {
    error = openssl_errors();
    return nullptr;
  }
  if (!tls_name_.empty()) {
    if (name_is_ip_) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), tls_name_.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, tls_name_.c_str());
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, tls_name_.c_str());
    }
  }
  if (session_) SSL_set_session(ssl, session_);
  return ssl;
}

std::string UpstreamTlsContext::check_peer(SSL* ssl) const {
  if (!tls_name_.empty()) {
    long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) return fmt::format("certificate: {}", X509_verify_cert_error_string(result));
    X509* peer = SSL_get0_peer_certificate(ssl);
    if (!peer) return "no certificate";
  }
  if (pins_.empty()) return {};
  std::array<uint8_t, 32> digest{};
  if (!spki_sha256(SSL_get0_peer_certificate(ssl), digest)) return "no certificate to compare with the pins";
  if (std::find(pins_.begin(), pins_.end(), digest) == pins_.end()) {
    return "the certificate's public key matches no configured spki-pin";
  }
  return {};
}

std::string UpstreamTlsContext::verify_failure(SSL* ssl) {
  long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return {};
  return fmt::format("certificate: {}", X509_verify_cert_error_string(result));
}

void UpstreamTlsContext::remember_session(SSL* ssl) {
  SSL_SESSION* session = SSL_get1_session(ssl);
  if (!session) return;
  if (!SSL_SESSION_is_resumable(session)) {
    SSL_SESSION_free(session);
    return;
  }
  if (session_) SSL_SESSION_free(session_);
  session_ = session;
}

int UpstreamTlsContext::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<UpstreamTlsContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
  if (!self || !SSL_SESSION_is_resumable(session)) return 0;
  if (self->session_) SSL_SESSION_free(self->session_);
  self->session_ = session;  // returning 1 keeps the reference OpenSSL passed us
  return 1;
}

}  // namespace sextant::transports
