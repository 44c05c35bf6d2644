// A blocking OpenSSL client for the DoT and DoH tests: chosen ALPN lists,
// TLS versions, resumption, raw framing and reads with timeouts.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tests/transports/encrypted_support.h"

namespace sextant::transports::test {

// A blocking OpenSSL client over connect_tcp, for the cases the real
// clients cannot produce (chosen ALPN lists, resumption, raw framing).
class TlsTestClient {
 public:
  struct Options {
    std::vector<std::string> alpn;      // empty: send no ALPN extension
    std::string ca_file;                // verify the server against it when set
    SSL_SESSION* resume = nullptr;      // offer this session (ticket)
    int max_version = 0;                // e.g. TLS1_2_VERSION
    std::vector<uint8_t> preamble;      // sent in clear before the handshake (a PROXY v2 header)
  };

  TlsTestClient(uint16_t port, const Options& options) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (options.max_version) SSL_CTX_set_max_proto_version(ctx_, options.max_version);
    if (!options.ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    fd_ = connect_tcp(port);
    if (fd_ < 0) return;
    if (!options.preamble.empty() &&
        ::send(fd_, options.preamble.data(), options.preamble.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(options.preamble.size()))
      return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    if (!options.ca_file.empty()) SSL_set1_host(ssl_, "localhost");
    if (!options.alpn.empty()) {
      std::vector<unsigned char> wire;
      for (const auto& p : options.alpn) {
        wire.push_back(static_cast<unsigned char>(p.size()));
        wire.insert(wire.end(), p.begin(), p.end());
      }
      SSL_set_alpn_protos(ssl_, wire.data(), static_cast<unsigned>(wire.size()));
    }
    if (options.resume) SSL_set_session(ssl_, options.resume);
    handshake_ok_ = SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~TlsTestClient() {
    // A clean close_notify: OpenSSL marks sessions of connections freed
    // without one as not resumable.
    if (ssl_ && handshake_ok_) SSL_shutdown(ssl_);
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    if (ctx_) SSL_CTX_free(ctx_);
  }
  TlsTestClient(const TlsTestClient&) = delete;
  TlsTestClient& operator=(const TlsTestClient&) = delete;

  bool handshake_ok() const { return handshake_ok_; }
  std::string alpn() const {
    const unsigned char* data = nullptr;
    unsigned length = 0;
    SSL_get0_alpn_selected(ssl_, &data, &length);
    return data ? std::string(reinterpret_cast<const char*>(data), length) : std::string();
  }
  bool reused() const { return SSL_session_reused(ssl_) == 1; }
  // The session to resume later (reads post-handshake tickets first).
  SSL_SESSION* session() { return SSL_get1_session(ssl_); }
  std::string version() const { return SSL_get_version(ssl_); }
  // SHA-256 of the server certificate, hex.
  std::string peer_fingerprint() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return {};
    unsigned char digest[32];
    unsigned length = 0;
    X509_digest(cert, EVP_sha256(), digest, &length);
    X509_free(cert);
    std::string hex;
    for (unsigned i = 0; i < length; ++i) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", digest[i]);
      hex += b;
    }
    return hex;
  }

  bool write(std::span<const uint8_t> data) {
    return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
  }
  bool send_frame(std::span<const uint8_t> message) {
    std::vector<uint8_t> framed = {static_cast<uint8_t>(message.size() >> 8), static_cast<uint8_t>(message.size())};
    framed.insert(framed.end(), message.begin(), message.end());
    return write(framed);
  }
  bool read_exact(uint8_t* out, size_t n) {
    while (n > 0) {
      int r = SSL_read(ssl_, out, static_cast<int>(n));
      if (r <= 0) {
        ERR_clear_error();
        return false;
      }
      out += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  std::optional<std::vector<uint8_t>> read_frame() {
    uint8_t length[2];
    if (!read_exact(length, 2)) return std::nullopt;
    std::vector<uint8_t> message(static_cast<size_t>(length[0]) << 8 | length[1]);
    if (!read_exact(message.data(), message.size())) return std::nullopt;
    return message;
  }
  // True when the server closes the TLS connection within timeout_ms.
  bool closed_by_peer(unsigned timeout_ms) {
    timeval tv{static_cast<time_t>(timeout_ms / 1000), static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t b;
    errno = 0;
    int r = SSL_read(ssl_, &b, 1);
    if (r > 0) return false;
    int error = SSL_get_error(ssl_, r);
    ERR_clear_error();
    if (error == SSL_ERROR_ZERO_RETURN) return true;
    return error == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK;
  }
  int fd() const { return fd_; }
  // Whatever is available within the socket timeout: >0 bytes, 0 on close,
  // -1 on timeout or error.
  ssize_t read_some(uint8_t* out, size_t n) {
    errno = 0;
    int r = SSL_read(ssl_, out, static_cast<int>(n));
    if (r > 0) return r;
    int error = SSL_get_error(ssl_, r);
    ERR_clear_error();
    if (error == SSL_ERROR_ZERO_RETURN) return 0;
    if (error == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK) return 0;
    return -1;
  }
  void set_read_timeout(unsigned ms) {
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool handshake_ok_ = false;
};

// Options for a client that offers `alpn` and verifies the server against
// the certificate in `ca_file`.
inline TlsTestClient::Options verifying_options(std::vector<std::string> alpn, const std::string& ca_file) {
  TlsTestClient::Options options;
  options.alpn = std::move(alpn);
  options.ca_file = ca_file;
  return options;
}

}  // namespace sextant::transports::test
