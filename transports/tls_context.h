// OpenSSL server contexts for DoT and DoH, reloadable without a restart.
//
// A TlsServerContext reads a PEM certificate chain and key, builds an
// SSL_CTX (TLS 1.2 and 1.3, session tickets, a server-side session cache,
// ALPN selection) and publishes it through an atomically swapped shared
// pointer. Every worker's listener calls current() when it accepts a
// connection, so reload() affects new connections only; connections already
// open keep the context they started with (the shared_ptr keeps it alive).
// A failed reload leaves the old context in place and reports why.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace sextant::transports {

struct TlsFiles {
  std::string certificate_file;  // PEM, leaf first, then intermediates
  std::string key_file;          // PEM private key (unencrypted)
};

struct TlsServerOptions {
  TlsFiles files;
  // Protocols the server speaks, in preference order ("dot", or "h2").
  std::vector<std::string> alpn;
  // RFC 7858/8310: a client that sends an ALPN list without any of ours is
  // refused with the no_application_protocol alert. A client that sends no
  // ALPN at all is accepted either way.
  bool refuse_unknown_alpn = true;
  bool session_tickets = true;
};

struct TlsReloadResult {
  bool ok = false;
  std::string error;  // why the files were rejected; empty when ok
};

class TlsServerContext {
 public:
  // Throws std::runtime_error (with the file names and OpenSSL's reason)
  // when the initial certificate or key cannot be loaded.
  explicit TlsServerContext(TlsServerOptions options);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // The context for a new connection. Thread-safe.
  std::shared_ptr<SSL_CTX> current() const;

  // Re-reads the PEM files. On success the new SSL_CTX (with the old session
  // ticket keys, so tickets issued before stay valid) is used for every later
  // connection. On failure nothing changes. Thread-safe.
  TlsReloadResult reload();

  // How many successful loads so far (1 after construction).
  uint64_t generation() const noexcept { return generation_.load(std::memory_order_relaxed); }
  const TlsServerOptions& options() const noexcept { return options_; }

 private:
  struct AlpnConfig;
  std::shared_ptr<SSL_CTX> build(std::string& error, const SSL_CTX* previous) const;

  TlsServerOptions options_;
  std::unique_ptr<AlpnConfig> alpn_;  // referenced by the SSL_CTX callback
  std::atomic<std::shared_ptr<SSL_CTX>> current_;
  std::atomic<uint64_t> generation_{0};
};

// The last OpenSSL error queue entries as text (and clears the queue).
std::string openssl_errors();

}  // namespace sextant::transports
