// A client byte stream to one upstream: TCP, optionally TLS through OpenSSL
// memory BIOs (as the listeners do it, so OpenSSL never blocks the loop),
// with a handshake deadline and an idle timer. The DNS-over-TCP/TLS framing
// (upstream_stream.cpp) and HTTP/2 for DoH (upstream_doh.cpp) sit on top.
// Internal to transports/.
#pragma once

#include <openssl/ssl.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "transports/upstream_connection.h"

namespace sextant::transports {

class StreamClient : public UpstreamConnection {
 public:
  void start() final;
  void close() final;

 protected:
  enum class State : uint8_t { idle, connecting, handshaking, open, closing };

  StreamClient(uv_loop_t* loop, UpstreamConnectionOwner& owner, const UpstreamEndpoint& endpoint,
               UpstreamTlsContext* tls, const UpstreamConnectionSettings& settings);
  ~StreamClient() override;

  // The byte stream is up (and the peer authenticated).
  virtual void on_open() = 0;
  // Plaintext from the upstream; false is a protocol error (the connection fails).
  virtual bool on_bytes(std::span<const uint8_t> data) = 0;
  // Reports every query the protocol holds with this outcome, and forgets them.
  virtual void fail_queries(UpstreamStatus status, const std::string& detail, bool retryable) = 0;

  // Sends plaintext (encrypted first with TLS). Only while open.
  bool write(std::span<const uint8_t> data);
  // Fails every query and closes.
  void fail(ConnectionFailure why, UpstreamStatus status, const std::string& detail);
  // Stops taking queries: the pool opens a fresh connection for new ones.
  void drain();
  // Re-arms or stops the idle timer as in_flight() says.
  void update_idle();
  bool is_open() const noexcept { return state_ == State::open; }
  bool is_starting() const noexcept { return state_ == State::connecting || state_ == State::handshaking; }
  bool draining() const noexcept { return draining_; }
  SSL* ssl() const noexcept { return ssl_; }

  UpstreamConnectionOwner& owner_;
  const UpstreamConnectionSettings settings_;
  const UpstreamEndpoint& endpoint_;

 private:
  void on_connected(int status);
  void on_read(ssize_t nread, const uv_buf_t* buf);
  void handshake();
  bool flush_tls();
  bool send_raw(std::span<const uint8_t> data);
  void on_timer();
  void begin_close();
  void handle_closed();

  uv_loop_t* loop_;
  UpstreamTlsContext* tls_;
  SSL* ssl_ = nullptr;
  BIO* read_bio_ = nullptr;
  BIO* write_bio_ = nullptr;
  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  uv_timer_t timer_{};
  int open_handles_ = 0;
  State state_ = State::idle;
  bool close_started_ = false;  // begin_close() ran (its close_notify may fail and re-enter)
  bool draining_ = false;
  bool closing_reported_ = false;
  std::array<uint8_t, 16 * 1024> read_buffer_{};
};

}  // namespace sextant::transports
