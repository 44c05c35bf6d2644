#include "transports/quic_client_tls.h"

#include <arpa/inet.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace sextant::transports {

namespace {

// TLS 1.3 only, as QUIC requires; no middlebox compatibility mode.
constexpr const char* kPriority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE";

const gnutls_datum_t kDoqAlpn{reinterpret_cast<unsigned char*>(const_cast<char*>("doq")), 3};

}  // namespace

QuicClientTls::QuicClientTls(const UpstreamEndpoint& endpoint) : name_(endpoint.tls_name), pins_(endpoint.spki_pins) {
  if (name_.empty() && pins_.empty()) {
    throw std::runtime_error(fmt::format("{}: neither a name nor a pin to authenticate it", endpoint.label));
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, name_.c_str(), buf) == 1) ip_.assign(buf, buf + 4);
  if (inet_pton(AF_INET6, name_.c_str(), buf) == 1) ip_.assign(buf, buf + 16);
  if (int rc = gnutls_certificate_allocate_credentials(&credentials_); rc != 0) {
    throw std::runtime_error(fmt::format("QUIC TLS: {}", gnutls_strerror(rc)));
  }
  if (!name_.empty()) {
    int loaded = endpoint.ca_file.empty()
                     ? gnutls_certificate_set_x509_system_trust(credentials_)
                     : gnutls_certificate_set_x509_trust_file(credentials_, endpoint.ca_file.c_str(), GNUTLS_X509_FMT_PEM);
    if (loaded <= 0) {
      gnutls_certificate_free_credentials(credentials_);
      throw std::runtime_error(fmt::format("{}: cannot load the CA bundle {}: {}", endpoint.label,
                                           endpoint.ca_file.empty() ? "(system default)" : endpoint.ca_file,
                                           loaded < 0 ? gnutls_strerror(loaded) : "no certificate in it"));
    }
  }
}

QuicClientTls::~QuicClientTls() { gnutls_certificate_free_credentials(credentials_); }

gnutls_session_t QuicClientTls::new_session(ngtcp2_crypto_conn_ref* ref, std::string& error) const {
  gnutls_session_t session = nullptr;
  if (int rc = gnutls_init(&session, GNUTLS_CLIENT | GNUTLS_NO_END_OF_EARLY_DATA); rc != 0) {
    error = fmt::format("gnutls_init: {}", gnutls_strerror(rc));
    return nullptr;
  }
  auto fail = [&](const char* step, int rc) {
    error = fmt::format("{}: {}", step, gnutls_strerror(rc));
    gnutls_deinit(session);
    return nullptr;
  };
  if (int rc = gnutls_priority_set_direct(session, kPriority, nullptr); rc != 0) return fail("priority", rc);
  if (ngtcp2_crypto_gnutls_configure_client_session(session) != 0) return fail("configure for QUIC", GNUTLS_E_INTERNAL_ERROR);
  gnutls_session_set_ptr(session, ref);
  if (int rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials_); rc != 0) {
    return fail("credentials", rc);
  }
  if (int rc = gnutls_alpn_set_protocols(session, &kDoqAlpn, 1, GNUTLS_ALPN_MANDATORY); rc != 0) return fail("ALPN", rc);
  if (!name_.empty() && ip_.empty()) gnutls_server_name_set(session, GNUTLS_NAME_DNS, name_.data(), name_.size());
  return session;
}

std::string QuicClientTls::check_peer(gnutls_session_t session) const {
  if (!name_.empty()) {
    unsigned status = 0;
    int rc;
    if (ip_.empty()) {
      rc = gnutls_certificate_verify_peers3(session, name_.c_str(), &status);
    } else {
      gnutls_typed_vdata_st data{};
      data.type = GNUTLS_DT_IP_ADDRESS;
      data.data = const_cast<unsigned char*>(ip_.data());
      data.size = static_cast<unsigned>(ip_.size());
      rc = gnutls_certificate_verify_peers(session, &data, 1, &status);
    }
    if (rc < 0) return fmt::format("certificate: {}", gnutls_strerror(rc));
    if (status != 0) {
      gnutls_datum_t out{};
      std::string why = "does not verify";
      if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0) {
        why.assign(reinterpret_cast<const char*>(out.data), out.size);
        gnutls_free(out.data);
      }
      return "certificate: " + why;
    }
  }
  if (pins_.empty()) return {};
  unsigned count = 0;
  const gnutls_datum_t* chain = gnutls_certificate_get_peers(session, &count);
  if (!chain || count == 0) return "no certificate to compare with the pins";
  gnutls_x509_crt_t crt = nullptr;
  gnutls_pubkey_t key = nullptr;
  gnutls_datum_t spki{};
  std::array<uint8_t, 32> digest{};
  bool ok = gnutls_x509_crt_init(&crt) == 0 && gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0 &&
            gnutls_pubkey_init(&key) == 0 && gnutls_pubkey_import_x509(key, crt, 0) == 0 &&
            gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &spki) == 0 &&
            gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, digest.data()) == 0;
  if (spki.data) gnutls_free(spki.data);
  if (key) gnutls_pubkey_deinit(key);
  if (crt) gnutls_x509_crt_deinit(crt);
  if (!ok) return "cannot read the certificate's public key";
  if (std::find(pins_.begin(), pins_.end(), digest) == pins_.end()) {
    return "the certificate's public key matches no configured spki-pin";
  }
  return {};
}

}  // namespace sextant::transports
