#include "transports/tls_context.h"

#include <openssl/err.h>

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace sextant::transports {

// The ALPN list in OpenSSL wire format, plus the policy. Owned by the
// TlsServerContext and shared by every SSL_CTX it builds.
struct TlsServerContext::AlpnConfig {
  std::vector<unsigned char> wire;  // {len, bytes...}*
  bool refuse_unknown = true;
};

namespace {

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  auto* alpn = static_cast<const std::vector<unsigned char>*>(arg);
  // OpenSSL calls this only when the client sent an ALPN extension.
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  if (!alpn->empty() &&
      SSL_select_next_proto(&selected, &selected_len, alpn->data() + 1, alpn->size() - 1, in, inlen) ==
          OPENSSL_NPN_NEGOTIATED) {
    // SSL_select_next_proto's first list is ours (server preference), so the
    // pointer it returns lies in our buffer, which outlives the handshake.
    *out = selected;
    *outlen = selected_len;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int select_alpn_lenient(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                        unsigned int inlen, void* arg) {
  int rc = select_alpn(ssl, out, outlen, in, inlen, arg);
  return rc == SSL_TLSEXT_ERR_OK ? rc : SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

std::string openssl_errors() {
  std::string text;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? std::string("unknown OpenSSL error") : text;
}

TlsServerContext::TlsServerContext(TlsServerOptions options)
    : options_(std::move(options)), alpn_(std::make_unique<AlpnConfig>()) {
  // OpenSSL's server-preference selection takes our list in wire format.
  // A leading total-length placeholder keeps the pointer arithmetic in
  // select_alpn simple (it skips byte 0).
  alpn_->wire.push_back(0);
  for (const auto& protocol : options_.alpn) {
    if (protocol.empty() || protocol.size() > 255) {
      throw std::runtime_error(fmt::format("TLS: invalid ALPN protocol name '{}'", protocol));
    }
    alpn_->wire.push_back(static_cast<unsigned char>(protocol.size()));
    alpn_->wire.insert(alpn_->wire.end(), protocol.begin(), protocol.end());
  }
  alpn_->refuse_unknown = options_.refuse_unknown_alpn;
  std::string error;
  auto ctx = build(error, nullptr);
  if (!ctx) throw std::runtime_error(error);
  current_.store(std::move(ctx));
  generation_.store(1);
}

TlsServerContext::~TlsServerContext() = default;

std::shared_ptr<SSL_CTX> TlsServerContext::current() const { return current_.load(); }

TlsReloadResult TlsServerContext::reload() {
  std::string error;
  auto previous = current_.load();
  auto ctx = build(error, previous.get());
  if (!ctx) return {false, error};
  current_.store(std::move(ctx));
  generation_.fetch_add(1, std::memory_order_relaxed);
  return {true, {}};
}

std::shared_ptr<SSL_CTX> TlsServerContext::build(std::string& error, const SSL_CTX* previous) const {
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) {
    error = "TLS: SSL_CTX_new failed: " + openssl_errors();
    return nullptr;
  }
  std::shared_ptr<SSL_CTX> ctx(raw, SSL_CTX_free);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION);
  long opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE;
  if (!options_.session_tickets) opts |= SSL_OP_NO_TICKET;
  SSL_CTX_set_options(raw, opts);
  // Partial writes and a moving write buffer: our memory BIOs never block,
  // but SSL_write must still accept a retried buffer at another address.
  SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_SERVER);
  static const unsigned char session_id_context[] = "sextant";
  SSL_CTX_set_session_id_context(raw, session_id_context, sizeof session_id_context - 1);

  if (SSL_CTX_use_certificate_chain_file(raw, options_.files.certificate_file.c_str()) != 1) {
    error = fmt::format("TLS: cannot load certificate chain '{}': {}", options_.files.certificate_file,
                        openssl_errors());
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(raw, options_.files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = fmt::format("TLS: cannot load private key '{}': {}", options_.files.key_file, openssl_errors());
    return nullptr;
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    error = fmt::format("TLS: private key '{}' does not match certificate '{}': {}", options_.files.key_file,
                        options_.files.certificate_file, openssl_errors());
    return nullptr;
  }
  if (options_.alpn.empty() == false) {
    SSL_CTX_set_alpn_select_cb(raw, alpn_->refuse_unknown ? select_alpn : select_alpn_lenient,
                               const_cast<std::vector<unsigned char>*>(&alpn_->wire));
  }
  // Keep session tickets valid across a reload: carry the ticket keys over.
  if (previous && options_.session_tickets) {
    unsigned char keys[80];
    if (SSL_CTX_get_tlsext_ticket_keys(const_cast<SSL_CTX*>(previous), keys, sizeof keys) == 1) {
      SSL_CTX_set_tlsext_ticket_keys(raw, keys, sizeof keys);
    }
    OPENSSL_cleanse(keys, sizeof keys);
  }
  return ctx;
}

}  // namespace sextant::transports
