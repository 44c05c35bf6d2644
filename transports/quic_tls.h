// GnuTLS server credentials and per-connection TLS sessions for DNS over
// QUIC (ngtcp2 0.12 ships only a GnuTLS crypto backend on Debian 12, so QUIC
// uses GnuTLS while DoT/DoH use OpenSSL; both read the same PEM files).
//
// Like TlsServerContext, the credentials sit behind an atomically swapped
// shared pointer: reload() re-reads the files and only new connections see
// the result; a failed reload keeps the old credentials.
//
// Session resumption and 0-RTT (RFC 9250 §4.5): every session may issue a
// ticket (the connection sends one when the handshake completes), sealed
// with a key made once per context and shared by every worker; a client
// that comes back resumes without certificate work, and (where the context
// allows early data: DoQ) may send its first queries in 0-RTT. Replayed ClientHellos are refused early data by GnuTLS's
// anti-replay check, backed here by a bounded, thread-safe store of the
// ClientHellos seen within its window (ReplayStore); the listener still
// holds back queries that are not replay-safe until the handshake ends.
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "transports/tls_context.h"

namespace sextant::transports {

// ClientHellos with early data seen within GnuTLS's anti-replay window, so
// that the same one is never accepted twice. Bounded: when full of entries
// still inside their window, a new one is refused (its early data is then
// rejected and the client resends it after the handshake: safe).
class ReplayStore {
 public:
  explicit ReplayStore(size_t max_entries = 65536) : max_entries_(max_entries) {}
  // True if `key` was not seen (and is now recorded until `expires`, UNIX
  // seconds); false if it was, or the store is full.
  bool add(std::string_view key, time_t expires, time_t now);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, time_t> seen_;
  size_t max_entries_;
};

class QuicTlsContext {
 public:
  using Credentials = std::shared_ptr<gnutls_certificate_credentials_st>;

  // `alpn`: protocols accepted, in server preference order. Throws
  // std::runtime_error naming the files when they cannot be loaded.
  // `early_data`: accept 0-RTT (only for an application that holds back
  // what is not replay-safe: DoQ); tickets and resumption work either way.
  explicit QuicTlsContext(TlsFiles files, std::vector<std::string> alpn = {"doq", "doq-i11"},
                          bool early_data = false);
  ~QuicTlsContext();
  QuicTlsContext(const QuicTlsContext&) = delete;
  QuicTlsContext& operator=(const QuicTlsContext&) = delete;

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

  static int replay_add(void* store, time_t expires, const gnutls_datum_t* key, const gnutls_datum_t* data);

  TlsFiles files_;
  std::vector<std::string> alpn_;
  bool early_data_ = false;
  // Parsed once: parsing the priority string per session cost ~4% of a
  // handshake's CPU.
  gnutls_priority_t priority_ = nullptr;
  gnutls_datum_t ticket_key_{};
  gnutls_anti_replay_t anti_replay_ = nullptr;
  std::unique_ptr<ReplayStore> replays_ = std::make_unique<ReplayStore>();
  std::vector<gnutls_datum_t> alpn_datums_;
  std::atomic<Credentials> current_;
  std::atomic<uint64_t> generation_{0};
  std::array<uint8_t, 32> secret_{};
};

// The ALPN a finished (or ClientHello-processed) session selected, or "".
std::string quic_selected_alpn(gnutls_session_t session);

}  // namespace sextant::transports
