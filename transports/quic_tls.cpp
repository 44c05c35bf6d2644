#include "transports/quic_tls.h"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace sextant::transports {

namespace {

// TLS 1.3 only (QUIC requires it); no middlebox compatibility mode.
constexpr const char* kPriority =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:"
    "-GROUP-ALL:+GROUP-SECP256R1:+GROUP-X25519:+GROUP-SECP384R1:+GROUP-SECP521R1:%DISABLE_TLS13_COMPAT_MODE";

// After the ClientHello: refuse any connection whose negotiated ALPN is not
// one of ours (including a client that sent no ALPN at all; RFC 9250 §4.1.1).
int check_alpn_hook(gnutls_session_t session, unsigned, unsigned, unsigned, const gnutls_datum_t*) {
  gnutls_datum_t selected{};
  if (gnutls_alpn_get_selected_protocol(session, &selected) != 0) return GNUTLS_E_NO_APPLICATION_PROTOCOL;
  std::string_view chosen(reinterpret_cast<const char*>(selected.data), selected.size);
  // gnutls only ever selects from the list we gave it, so any selection is
  // acceptable; the hook exists to reject the "no ALPN" case.
  return chosen.empty() ? GNUTLS_E_NO_APPLICATION_PROTOCOL : 0;
}

}  // namespace

std::string quic_selected_alpn(gnutls_session_t session) {
  gnutls_datum_t selected{};
  if (gnutls_alpn_get_selected_protocol(session, &selected) != 0) return {};
  return std::string(reinterpret_cast<const char*>(selected.data), selected.size);
}

bool ReplayStore::add(std::string_view key, time_t expires, time_t now) {
  std::lock_guard lock(mu_);
  auto it = seen_.find(std::string(key));
  if (it != seen_.end()) {
    if (it->second > now) return false;
    it->second = expires;
    return true;
  }
  if (seen_.size() >= max_entries_) {
    std::erase_if(seen_, [&](const auto& kv) { return kv.second <= now; });
    if (seen_.size() >= max_entries_) return false;
  }
  seen_.emplace(key, expires);
  return true;
}

size_t ReplayStore::size() const {
  std::lock_guard lock(mu_);
  return seen_.size();
}

int QuicTlsContext::replay_add(void* store, time_t expires, const gnutls_datum_t* key, const gnutls_datum_t*) {
  std::string_view k(reinterpret_cast<const char*>(key->data), key->size);
  return static_cast<ReplayStore*>(store)->add(k, expires, std::time(nullptr)) ? 0 : GNUTLS_E_DB_ENTRY_EXISTS;
}

QuicTlsContext::~QuicTlsContext() {
  if (priority_) gnutls_priority_deinit(priority_);
  if (anti_replay_) gnutls_anti_replay_deinit(anti_replay_);
  if (ticket_key_.data) {
    gnutls_memset(ticket_key_.data, 0, ticket_key_.size);
    gnutls_free(ticket_key_.data);
  }
}

QuicTlsContext::QuicTlsContext(TlsFiles files, std::vector<std::string> alpn, bool early_data)
    : files_(std::move(files)), alpn_(std::move(alpn)), early_data_(early_data) {
  if (alpn_.empty()) throw std::runtime_error("QUIC TLS: at least one ALPN protocol is required");
  for (auto& protocol : alpn_) {
    alpn_datums_.push_back(
        gnutls_datum_t{reinterpret_cast<unsigned char*>(protocol.data()), static_cast<unsigned>(protocol.size())});
  }
  if (gnutls_rnd(GNUTLS_RND_KEY, secret_.data(), secret_.size()) != 0) {
    throw std::runtime_error("QUIC TLS: cannot generate the token secret");
  }
  if (int rc = gnutls_priority_init(&priority_, kPriority, nullptr); rc != 0) {
    throw std::runtime_error(fmt::format("QUIC TLS: priority string: {}", gnutls_strerror(rc)));
  }
  if (gnutls_session_ticket_key_generate(&ticket_key_) != 0) {
    throw std::runtime_error("QUIC TLS: cannot generate the session ticket key");
  }
  if (gnutls_anti_replay_init(&anti_replay_) != 0) throw std::runtime_error("QUIC TLS: no anti-replay context");
  gnutls_anti_replay_set_add_function(anti_replay_, &QuicTlsContext::replay_add);
  gnutls_anti_replay_set_ptr(anti_replay_, replays_.get());
  std::string error;
  auto credentials = load(error);
  if (!credentials) throw std::runtime_error(error);
  current_.store(std::move(credentials));
  generation_.store(1);
}

QuicTlsContext::Credentials QuicTlsContext::load(std::string& error) const {
  gnutls_certificate_credentials_t raw = nullptr;
  if (int rc = gnutls_certificate_allocate_credentials(&raw); rc != 0) {
    error = fmt::format("QUIC TLS: cannot allocate credentials: {}", gnutls_strerror(rc));
    return nullptr;
  }
  Credentials credentials(raw, gnutls_certificate_free_credentials);
  if (int rc = gnutls_certificate_set_x509_key_file(raw, files_.certificate_file.c_str(), files_.key_file.c_str(),
                                                    GNUTLS_X509_FMT_PEM);
      rc < 0) {
    error = fmt::format("QUIC TLS: cannot load certificate '{}' / key '{}': {}", files_.certificate_file,
                        files_.key_file, gnutls_strerror(rc));
    return nullptr;
  }
  return credentials;
}

TlsReloadResult QuicTlsContext::reload() {
  std::string error;
  auto credentials = load(error);
  if (!credentials) return {false, error};
  current_.store(std::move(credentials));
  generation_.fetch_add(1, std::memory_order_relaxed);
  return {true, {}};
}

gnutls_session_t QuicTlsContext::new_session(ngtcp2_crypto_conn_ref* ref, const Credentials& credentials,
                                             std::string& error) const {
  gnutls_session_t session = nullptr;
  if (int rc = gnutls_init(&session, GNUTLS_SERVER | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_AUTO_SEND_TICKET |
                                         GNUTLS_NO_END_OF_EARLY_DATA);
      rc != 0) {
    error = fmt::format("QUIC TLS: gnutls_init: {}", gnutls_strerror(rc));
    return nullptr;
  }
  auto fail = [&](const char* step, int rc) {
    error = fmt::format("QUIC TLS: {}: {}", step, gnutls_strerror(rc));
    gnutls_deinit(session);
    return nullptr;
  };
  if (int rc = gnutls_priority_set(session, priority_); rc != 0) return fail("priority", rc);
  if (ngtcp2_crypto_gnutls_configure_server_session(session) != 0) return fail("configure for QUIC", GNUTLS_E_INTERNAL_ERROR);
  gnutls_session_set_ptr(session, ref);
  if (int rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials.get()); rc != 0) {
    return fail("credentials", rc);
  }
  if (int rc = gnutls_alpn_set_protocols(session, alpn_datums_.data(), static_cast<unsigned>(alpn_datums_.size()),
                                         GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE);
      rc != 0) {
    return fail("ALPN", rc);
  }
  gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_POST, check_alpn_hook);
  // Resumption, and 0-RTT where allowed. QUIC carries 0-RTT in its own
  // packets, so the TLS early-data limit must be 0xffffffff (RFC 9001
  // §4.6.1); GnuTLS accepts early data only with its anti-replay check on.
  if (int rc = gnutls_session_ticket_enable_server(session, &ticket_key_); rc != 0) {
    return fail("session tickets", rc);
  }
  if (early_data_) {
    gnutls_anti_replay_enable(session, anti_replay_);
    gnutls_record_set_max_early_data_size(session, 0xffffffffu);
  }
  return session;
}

}  // namespace sextant::transports
