// GnuTLS server credentials and per-connection TLS sessions for DNS over
// QUIC (ngtcp2 0.12 ships only a GnuTLS crypto backend on Debian 12, so QUIC
// uses GnuTLS while DoT/DoH use OpenSSL; both read the same PEM files).
//
// Like TlsServerContext, the credentials sit behind an atomically swapped
// shared pointer: reload() re-reads the files and only new connections see
// the result; a failed reload keeps the old credentials.
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transports/tls_context.h"

namespace sextant::transports {

class QuicTlsContext {
 public:
  using Credentials = std::shared_ptr<gnutls_certificate_credentials_st>;

  // `alpn`: protocols accepted, in server preference order. Throws
  // std::runtime_error naming the files when they cannot be loaded.
  explicit QuicTlsContext(TlsFiles files, std::vector<std::string> alpn = {"doq", "doq-i11"});

  Credentials current() const { return current_.load(); }
  TlsReloadResult reload();
  uint64_t generation() const noexcept { return generation_.load(std::memory_order_relaxed); }

  // A server session for a new QUIC connection, configured for ngtcp2
  // (TLS 1.3 only, QUIC transport parameters, ALPN). `ref` must outlive the
  // session. Returns nullptr and sets `error` on failure. `credentials` is
  // the set the session uses; keep it alive as long as the session.
  gnutls_session_t new_session(ngtcp2_crypto_conn_ref* ref, const Credentials& credentials, std::string& error) const;

  // Secret keying material for Retry tokens and stateless reset tokens,
  // random per process (so every worker validates every other's tokens).
  std::span<const uint8_t> secret() const noexcept { return secret_; }

 private:
  Credentials load(std::string& error) const;

  TlsFiles files_;
  std::vector<std::string> alpn_;
  std::vector<gnutls_datum_t> alpn_datums_;
  std::atomic<Credentials> current_;
  std::atomic<uint64_t> generation_{0};
  std::array<uint8_t, 32> secret_{};
};

// The ALPN a finished (or ClientHello-processed) session selected, or "".
std::string quic_selected_alpn(gnutls_session_t session);

}  // namespace sextant::transports
