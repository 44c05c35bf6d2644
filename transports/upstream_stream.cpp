#include "transports/upstream_stream.h"

#include <openssl/err.h>

#include <cstring>
#include <deque>
#include <unordered_map>

#include <fmt/format.h>

#include "transports/socket_util.h"
#include "transports/stream_framing.h"
#include "transports/tls_context.h"
#include "transports/upstream_tls.h"

namespace sextant::transports {

// ---------------------------------------------------------------------------
// StreamClient

namespace {

struct WriteRequest {
  uv_write_t req{};
  std::vector<uint8_t> data;
};

}  // namespace

StreamClient::StreamClient(uv_loop_t* loop, UpstreamConnectionOwner& owner, const UpstreamEndpoint& endpoint,
                           UpstreamTlsContext* tls, const UpstreamConnectionSettings& settings)
    : owner_(owner), settings_(settings), endpoint_(endpoint), loop_(loop), tls_(tls) {}

StreamClient::~StreamClient() {
  if (ssl_) SSL_free(ssl_);  // frees the BIOs too
}

void StreamClient::start() {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  ++open_handles_;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  ++open_handles_;
  state_ = State::connecting;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<StreamClient*>(t->data)->on_timer(); },
      settings_.handshake_timeout_ms, 0);
  connect_req_.data = this;
  int rc = uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&endpoint_.address),
                          [](uv_connect_t* req, int status) {
                            static_cast<StreamClient*>(req->data)->on_connected(status);
                          });
  if (rc != 0) {
    // Reported from the loop (never from inside start()): through a zero timer.
    failure_ = ConnectionFailure::connect;
    uv_timer_start(
        &timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<StreamClient*>(t->data);
          self->fail(ConnectionFailure::connect, UpstreamStatus::network_error, "cannot connect");
        },
        0, 0);
  }
}

void StreamClient::on_connected(int status) {
  if (state_ != State::connecting) return;  // closed meanwhile (the request ends with ECANCELED)
  if (status != 0) {
    fail(ConnectionFailure::connect, UpstreamStatus::network_error,
         fmt::format("connect to {}: {}", endpoint_.label, uv_strerror(status)));
    return;
  }
  uv_tcp_nodelay(&tcp_, 1);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&tcp_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<StreamClient*>(h->data);
        buf->base = reinterpret_cast<char*>(self->read_buffer_.data());
        buf->len = self->read_buffer_.size();
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) { static_cast<StreamClient*>(s->data)->on_read(nread, buf); });
  if (!tls_) {
    state_ = State::open;
    uv_timer_stop(&timer_);
    owner_.connection_ready(this, false);
    if (state_ == State::open) on_open();
    return;
  }
  std::string error;
  ssl_ = tls_->new_ssl(error);
  if (!ssl_) {
    fail(ConnectionFailure::handshake, UpstreamStatus::network_error, "TLS: " + error);
    return;
  }
  read_bio_ = BIO_new(BIO_s_mem());
  write_bio_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_, read_bio_, write_bio_);
  SSL_set_connect_state(ssl_);
  state_ = State::handshaking;
  handshake();
}

void StreamClient::handshake() {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (!flush_tls()) return;
  if (rc == 1) {
    std::string problem = tls_->check_peer(ssl_);
    if (!problem.empty()) {
      fail(ConnectionFailure::auth, UpstreamStatus::auth_failed, fmt::format("{}: {}", endpoint_.label, problem));
      return;
    }
    state_ = State::open;
    uv_timer_stop(&timer_);
    owner_.connection_ready(this, SSL_session_reused(ssl_) == 1);
    if (state_ == State::open) on_open();
    return;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
  std::string certificate = UpstreamTlsContext::verify_failure(ssl_);
  if (!certificate.empty()) {
    fail(ConnectionFailure::auth, UpstreamStatus::auth_failed, fmt::format("{}: {}", endpoint_.label, certificate));
  } else {
    fail(ConnectionFailure::handshake, UpstreamStatus::network_error,
         fmt::format("{}: TLS handshake failed: {}", endpoint_.label, openssl_errors()));
  }
}

void StreamClient::on_read(ssize_t nread, const uv_buf_t* buf) {
  if (state_ == State::closing) return;
  if (nread == 0) return;
  if (nread < 0) {
    const bool handshaking = state_ != State::open;
    std::string detail = nread == UV_EOF ? fmt::format("{} closed the connection", endpoint_.label)
                                         : fmt::format("{}: {}", endpoint_.label, uv_strerror(static_cast<int>(nread)));
    if (handshaking && ssl_) {
      std::string certificate = UpstreamTlsContext::verify_failure(ssl_);
      if (!certificate.empty()) {
        fail(ConnectionFailure::auth, UpstreamStatus::auth_failed, fmt::format("{}: {}", endpoint_.label, certificate));
        return;
      }
    }
    fail(handshaking ? ConnectionFailure::handshake : ConnectionFailure::closed, UpstreamStatus::network_error, detail);
    return;
  }
  std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
  if (!ssl_) {
    if (!on_bytes(data)) fail(ConnectionFailure::protocol, UpstreamStatus::bad_response, endpoint_.label + ": protocol error");
    return;
  }
  if (BIO_write(read_bio_, data.data(), static_cast<int>(data.size())) != static_cast<int>(data.size())) {
    fail(ConnectionFailure::protocol, UpstreamStatus::network_error, "TLS: cannot buffer input");
    return;
  }
  if (state_ == State::handshaking) {
    handshake();
    if (state_ != State::open) return;
  }
  std::array<uint8_t, 16 * 1024> plain;
  while (state_ == State::open) {
    ERR_clear_error();
    int n = SSL_read(ssl_, plain.data(), static_cast<int>(plain.size()));
    if (n > 0) {
      if (!on_bytes(std::span<const uint8_t>(plain.data(), static_cast<size_t>(n)))) {
        fail(ConnectionFailure::protocol, UpstreamStatus::bad_response, endpoint_.label + ": protocol error");
        return;
      }
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) break;
    if (err == SSL_ERROR_ZERO_RETURN) {
      fail(ConnectionFailure::closed, UpstreamStatus::network_error, endpoint_.label + " closed the TLS session");
    } else {
      fail(ConnectionFailure::protocol, UpstreamStatus::network_error,
           fmt::format("{}: TLS: {}", endpoint_.label, openssl_errors()));
    }
    return;
  }
  if (state_ == State::open) flush_tls();  // TLS 1.3 key updates, alerts
}

bool StreamClient::flush_tls() {
  char chunk[16 * 1024];
  int n;
  while ((n = BIO_read(write_bio_, chunk, sizeof chunk)) > 0) {
    if (!send_raw(std::span<const uint8_t>(reinterpret_cast<uint8_t*>(chunk), static_cast<size_t>(n)))) return false;
  }
  return state_ != State::closing;
}

bool StreamClient::send_raw(std::span<const uint8_t> data) {
  if (state_ == State::closing || state_ == State::idle) return false;
  auto* w = new WriteRequest;
  w->data.assign(data.begin(), data.end());
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, [](uv_write_t* req, int) {
    delete static_cast<WriteRequest*>(req->data);
  });
  if (rc != 0) {
    delete w;
    fail(ConnectionFailure::closed, UpstreamStatus::network_error,
         fmt::format("{}: write: {}", endpoint_.label, uv_strerror(rc)));
    return false;
  }
  return true;
}

bool StreamClient::write(std::span<const uint8_t> data) {
  if (state_ != State::open) return false;
  if (!ssl_) return send_raw(data);
  ERR_clear_error();
  if (SSL_write(ssl_, data.data(), static_cast<int>(data.size())) != static_cast<int>(data.size())) {
    fail(ConnectionFailure::protocol, UpstreamStatus::network_error,
         fmt::format("{}: TLS write: {}", endpoint_.label, openssl_errors()));
    return false;
  }
  return flush_tls();
}

void StreamClient::update_idle() {
  if (state_ != State::open) return;
  if (in_flight() == 0) {
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<StreamClient*>(t->data)->on_timer(); }, settings_.idle_timeout_ms, 0);
  } else {
    uv_timer_stop(&timer_);
  }
}

void StreamClient::on_timer() {
  if (state_ == State::connecting || state_ == State::handshaking) {
    fail(ConnectionFailure::handshake, UpstreamStatus::timeout,
         fmt::format("{}: no connection within {} ms", endpoint_.label, settings_.handshake_timeout_ms));
    return;
  }
  if (state_ == State::open && in_flight() == 0) {
    // Idle: close it (RFC 7766 §6.2.3: clients close idle connections).
    drain();
    begin_close();
  }
}

void StreamClient::drain() {
  if (draining_) return;
  draining_ = true;
  owner_.connection_draining(this);
}

void StreamClient::fail(ConnectionFailure why, UpstreamStatus status, const std::string& detail) {
  if (state_ == State::closing || close_started_) return;
  if (failure_ == ConnectionFailure::none || failure_ == ConnectionFailure::connect) failure_ = why;
  const bool retryable = why == ConnectionFailure::closed && has_answered();
  drain();
  fail_queries(status, detail, retryable);
  begin_close();
}

void StreamClient::close() {
  if (state_ == State::closing || close_started_) return;
  draining_ = true;
  fail_queries(UpstreamStatus::cancelled, "closed", false);
  begin_close();
}

void StreamClient::begin_close() {
  // Once only: the close_notify below may fail to write (a peer that reset
  // the connection), and that failure comes back through fail() to here.
  if (state_ == State::closing || close_started_) return;
  close_started_ = true;
  const bool was_started = state_ != State::idle;
  if (ssl_ && state_ == State::open) {
    SSL_shutdown(ssl_);  // close_notify, best effort
    flush_tls();
  }
  state_ = State::closing;
  if (!was_started) {
    owner_.connection_closed(this);
    return;
  }
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  auto closed = [](uv_handle_t* h) { static_cast<StreamClient*>(h->data)->handle_closed(); };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), closed);
}

void StreamClient::handle_closed() {
  if (--open_handles_ > 0) return;
  owner_.connection_closed(this);  // deletes us: nothing after this
}

// ---------------------------------------------------------------------------
// DNS over TCP and over TLS: two-octet frames, pipelined, answers in any order
// (RFC 7766 §6.2.1.1). Each query gets an ID unique on the connection (the
// walker's IDs may collide between queries), restored in the answer.

namespace {

class DnsStreamConnection final : public StreamClient {
 public:
  DnsStreamConnection(uv_loop_t* loop, UpstreamConnectionOwner& owner, const UpstreamEndpoint& endpoint,
                      UpstreamTlsContext* tls, const UpstreamConnectionSettings& settings)
      : StreamClient(loop, owner, endpoint, tls, settings) {}

  bool submit(UpstreamQueryId id, std::span<const uint8_t> packet) override {
    if (!accepting() || packet.size() < 12 || packet.size() > kMaxStreamMessage) return false;
    uint16_t wire_id = next_wire_id();
    Query q{id, static_cast<uint16_t>(packet[0] << 8 | packet[1]), {}};
    q.frame.reserve(packet.size() + 2);
    auto prefix = stream_length_prefix(packet.size());
    q.frame.insert(q.frame.end(), prefix.begin(), prefix.end());
    q.frame.insert(q.frame.end(), packet.begin(), packet.end());
    q.frame[2] = static_cast<uint8_t>(wire_id >> 8);
    q.frame[3] = static_cast<uint8_t>(wire_id);
    by_query_[id] = wire_id;
    auto& stored = by_wire_id_[wire_id] = std::move(q);
    if (is_open()) {
      // A failed write fails the connection and reports this query too.
      if (!write(stored.frame)) return true;
      std::vector<uint8_t>().swap(stored.frame);
      update_idle();
    }
    return true;
  }

  void forget(UpstreamQueryId id) override {
    auto it = by_query_.find(id);
    if (it == by_query_.end()) return;
    by_wire_id_.erase(it->second);
    by_query_.erase(it);
    update_idle();
  }

  bool accepting() const override {
    return !draining() && (is_open() || is_starting()) && by_query_.size() < settings_.max_in_flight;
  }
  size_t in_flight() const override { return by_query_.size(); }

 private:
  struct Query {
    UpstreamQueryId id = 0;
    uint16_t original_id = 0;
    std::vector<uint8_t> frame;  // until written (queries made before the connection is up)
  };

  uint16_t next_wire_id() {
    for (;;) {
      uint16_t candidate = next_++;
      if (!by_wire_id_.count(candidate)) return candidate;
    }
  }

  void on_open() override {
    for (auto& [wire_id, q] : by_wire_id_) {
      if (q.frame.empty()) continue;
      if (!write(q.frame)) return;
      std::vector<uint8_t>().swap(q.frame);
    }
    update_idle();
  }

  bool on_bytes(std::span<const uint8_t> data) override {
    decoder_.feed(data);
    std::span<const uint8_t> frame;
    for (;;) {
      switch (decoder_.next(frame)) {
        case StreamFrameDecoder::Status::need_more: update_idle(); return true;
        case StreamFrameDecoder::Status::zero_length: return false;
        case StreamFrameDecoder::Status::frame: break;
      }
      if (frame.size() < 12) return false;
      uint16_t wire_id = static_cast<uint16_t>(frame[0] << 8 | frame[1]);
      auto it = by_wire_id_.find(wire_id);
      if (it == by_wire_id_.end()) continue;  // a late answer to a query given up
      Query q = std::move(it->second);
      by_wire_id_.erase(it);
      by_query_.erase(q.id);
      std::vector<uint8_t> answer(frame.begin(), frame.end());
      answer[0] = static_cast<uint8_t>(q.original_id >> 8);
      answer[1] = static_cast<uint8_t>(q.original_id);
      ++answered_;
      owner_.connection_answer(q.id, answer);
      if (!is_open()) return true;
    }
  }

  void fail_queries(UpstreamStatus status, const std::string& detail, bool retryable) override {
    auto held = std::move(by_wire_id_);
    by_wire_id_.clear();
    by_query_.clear();
    for (auto& [wire_id, q] : held) owner_.connection_failed(q.id, status, detail, retryable);
  }

  std::unordered_map<uint16_t, Query> by_wire_id_;
  std::unordered_map<UpstreamQueryId, uint16_t> by_query_;
  StreamFrameDecoder decoder_;
  uint16_t next_ = 1;
};

}  // namespace

std::unique_ptr<UpstreamConnection> make_stream_connection(uv_loop_t* loop, UpstreamConnectionOwner& owner,
                                                           const UpstreamEndpoint& endpoint, UpstreamTlsContext* tls,
                                                           const UpstreamConnectionSettings& settings) {
  return std::make_unique<DnsStreamConnection>(loop, owner, endpoint, tls, settings);
}

}  // namespace sextant::transports
