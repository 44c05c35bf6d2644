// DNS over QUIC upstream (RFC 9250): one QUIC connection (ngtcp2 0.12 +
// GnuTLS) on a connected UDP socket of its own, one bidirectional stream per
// query carrying a two-octet length and the message with ID 0 (§4.2.1; the
// query's ID is put back in the answer). Queries wait for the handshake and
// the authentication of the peer: nothing is sent before (no 0-RTT).
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "transports/quic_client_callbacks.h"
#include "transports/quic_client_tls.h"
#include "transports/stream_framing.h"
#include "transports/upstream_connection.h"

namespace sextant::transports {

namespace {

constexpr size_t kMaxPacket = 1500;
constexpr uint64_t kDoqNoError = 0x0;
constexpr uint64_t kDoqRequestCancelled = 0x3;

ngtcp2_tstamp now() { return uv_hrtime(); }

void random_bytes(uint8_t* out, size_t length) {
  if (gnutls_rnd(GNUTLS_RND_RANDOM, out, length) != 0) gnutls_rnd(GNUTLS_RND_NONCE, out, length);
}

ngtcp2_cid random_cid(size_t length) {
  ngtcp2_cid cid;
  cid.datalen = length;
  random_bytes(cid.data, length);
  return cid;
}

socklen_t address_length(const sockaddr* address) {
  return address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

class DoqClientConnection final : public UpstreamConnection {
 public:
  DoqClientConnection(uv_loop_t* loop, UpstreamConnectionOwner& owner, const UpstreamEndpoint& endpoint,
                      QuicClientTls& tls, const UpstreamConnectionSettings& settings)
      : loop_(loop), owner_(owner), endpoint_(endpoint), tls_(tls), settings_(settings) {
    ref_.get_conn = [](ngtcp2_crypto_conn_ref* ref) { return static_cast<DoqClientConnection*>(ref->user_data)->conn_; };
    ref_.user_data = this;
  }

  ~DoqClientConnection() override {
    if (conn_) ngtcp2_conn_del(conn_);
    if (session_) gnutls_deinit(session_);
  }

  void start() override {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    uv_timer_init(loop_, &idle_timer_);
    idle_timer_.data = this;
    open_handles_ = 2;
    state_ = State::handshaking;
    std::string error = setup();
    if (!error.empty()) {
      failure_detail_ = error;
      // Reported from the loop, never from inside start().
      uv_timer_start(
          &timer_,
          [](uv_timer_t* t) {
            auto* self = static_cast<DoqClientConnection*>(t->data);
            self->fail(ConnectionFailure::connect, UpstreamStatus::network_error, self->failure_detail_);
          },
          0, 0);
      return;
    }
    write_packets();
  }

  bool submit(UpstreamQueryId id, std::span<const uint8_t> packet) override {
    if (!accepting() || packet.size() < 12 || packet.size() > kMaxStreamMessage) return false;
    Query q;
    q.id = id;
    q.original_id = static_cast<uint16_t>(packet[0] << 8 | packet[1]);
    auto prefix = stream_length_prefix(packet.size());
    q.out.assign(prefix.begin(), prefix.end());
    q.out.insert(q.out.end(), packet.begin(), packet.end());
    q.out[2] = q.out[3] = 0;  // RFC 9250 §4.2.1: ID 0 on the wire
    waiting_.push_back(std::move(q));
    if (state_ == State::open) {
      open_streams();
      write_packets();
    }
    uv_timer_stop(&idle_timer_);
    return true;
  }

  void forget(UpstreamQueryId id) override {
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
      if (it->id == id) {
        waiting_.erase(it);
        update_idle();
        return;
      }
    }
    for (auto& [stream_id, q] : streams_) {
      // An answered stream is no longer counted (it stays until ngtcp2 closes it).
      if (q.id != id || q.forgotten || q.answered) continue;
      q.forgotten = true;
      --live_streams_;
      if (conn_ && state_ == State::open) {
        ngtcp2_conn_shutdown_stream(conn_, stream_id, kDoqRequestCancelled);
        write_packets();
      }
      break;
    }
    update_idle();
  }

  bool accepting() const override {
    return !draining_ && (state_ == State::open || state_ == State::handshaking) &&
           in_flight() < settings_.max_in_flight;
  }
  size_t in_flight() const override { return waiting_.size() + live_streams_; }

  void close() override {
    if (state_ == State::closed || state_ == State::idle) return;
    draining_ = true;
    fail_queries(UpstreamStatus::cancelled, "closed", false);
    send_close(kDoqNoError);
    destroy();
  }

 private:
  enum class State : uint8_t { idle, handshaking, open, closed };
  struct Query {
    UpstreamQueryId id = 0;
    uint16_t original_id = 0;
    std::vector<uint8_t> out;  // length + message; kept until the stream closes (ngtcp2 does not copy)
    size_t sent = 0;
    std::vector<uint8_t> in;
    bool answered = false;
    bool forgotten = false;
    bool closed = false;  // ngtcp2 closed the stream before its answer was handed over
  };

  std::string setup() {
    const auto* remote = reinterpret_cast<const sockaddr*>(&endpoint_.address);
    if (int rc = uv_udp_init_ex(loop_, &udp_, remote->sa_family); rc != 0) return fmt::format("udp: {}", uv_strerror(rc));
    udp_.data = this;
    ++open_handles_;
    udp_open_ = true;
    if (int rc = uv_udp_connect(&udp_, remote); rc != 0) {
      return fmt::format("connect to {}: {}", endpoint_.label, uv_strerror(rc));
    }
    int length = sizeof local_;
    if (int rc = uv_udp_getsockname(&udp_, reinterpret_cast<sockaddr*>(&local_), &length); rc != 0) {
      return fmt::format("udp: {}", uv_strerror(rc));
    }
    ngtcp2_callbacks callbacks{};
    set_quic_client_crypto_callbacks(callbacks);
    callbacks.handshake_completed = [](ngtcp2_conn*, void* user) {
      static_cast<DoqClientConnection*>(user)->handshake_completed_ = true;
      return 0;
    };
    callbacks.recv_stream_data = on_recv_stream_data;
    callbacks.stream_close = on_stream_close;
    callbacks.stream_reset = on_stream_reset;
    callbacks.extend_max_local_streams_bidi = [](ngtcp2_conn*, uint64_t, void* user) {
      static_cast<DoqClientConnection*>(user)->streams_available_ = true;
      return 0;
    };

    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now();
    settings.handshake_timeout = static_cast<ngtcp2_duration>(settings_.handshake_timeout_ms) * NGTCP2_MILLISECONDS;
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    // Answers arrive on the streams we open; the server opens none.
    params.initial_max_stream_data_bidi_local = kMaxStreamMessage + 2;
    params.initial_max_stream_data_bidi_remote = 0;
    params.initial_max_stream_data_uni = 0;
    params.initial_max_data = 1 << 20;
    params.initial_max_streams_bidi = 0;
    params.initial_max_streams_uni = 0;
    params.max_idle_timeout = static_cast<ngtcp2_duration>(settings_.idle_timeout_ms) * 2 * NGTCP2_MILLISECONDS;
    params.active_connection_id_limit = 4;
    ngtcp2_cid dcid = random_cid(18);
    ngtcp2_cid scid = random_cid(18);
    ngtcp2_path path = current_path();
    if (int rc = ngtcp2_conn_client_new(&conn_, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &callbacks, &settings,
                                        &params, nullptr, this);
        rc != 0) {
      conn_ = nullptr;
      return fmt::format("ngtcp2_conn_client_new: {}", ngtcp2_strerror(rc));
    }
    std::string error;
    session_ = tls_.new_session(&ref_, error);
    if (!session_) return "QUIC TLS: " + error;
    ngtcp2_conn_set_tls_native_handle(conn_, session_);
    uv_udp_recv_start(
        &udp_,
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* self = static_cast<DoqClientConnection*>(h->data);
          buf->base = reinterpret_cast<char*>(self->read_buffer_.data());
          buf->len = self->read_buffer_.size();
        },
        [](uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr*, unsigned) {
          static_cast<DoqClientConnection*>(h->data)->on_datagram(nread, buf);
        });
    return {};
  }

  ngtcp2_path current_path() {
    ngtcp2_path path{};
    path.local.addr = reinterpret_cast<sockaddr*>(&local_);
    path.local.addrlen = address_length(reinterpret_cast<sockaddr*>(&local_));
    path.remote.addr = reinterpret_cast<sockaddr*>(const_cast<sockaddr_storage*>(&endpoint_.address));
    path.remote.addrlen = address_length(reinterpret_cast<const sockaddr*>(&endpoint_.address));
    return path;
  }

  void on_datagram(ssize_t nread, const uv_buf_t* buf) {
    if (state_ != State::handshaking && state_ != State::open) return;
    if (nread == 0) return;
    if (nread < 0) {
      // ICMP unreachable on the connected socket: nothing listens there.
      fail(state_ == State::open ? ConnectionFailure::closed : ConnectionFailure::connect, UpstreamStatus::network_error,
           fmt::format("{}: {}", endpoint_.label, uv_strerror(static_cast<int>(nread))));
      return;
    }
    ngtcp2_path path = current_path();
    ngtcp2_pkt_info info{};
    int rc = ngtcp2_conn_read_pkt(conn_, &path, &info, reinterpret_cast<const uint8_t*>(buf->base),
                                  static_cast<size_t>(nread), now());
    if (rc != 0) {
      handle_error(rc);
      return;
    }
    after_read();
  }

  void after_read() {
    if (handshake_completed_ && state_ == State::handshaking) {
      std::string problem = tls_.check_peer(session_);
      if (!problem.empty()) {
        fail(ConnectionFailure::auth, UpstreamStatus::auth_failed, fmt::format("{}: {}", endpoint_.label, problem));
        return;
      }
      state_ = State::open;
      owner_.connection_ready(this, gnutls_session_is_resumed(session_) != 0);
      if (state_ != State::open) return;
      streams_available_ = true;
    }
    deliver_answers();
    if (state_ != State::open && state_ != State::handshaking) return;
    if (state_ == State::open && streams_available_) open_streams();
    write_packets();
    update_idle();
  }

  void open_streams() {
    streams_available_ = false;
    while (!waiting_.empty() && state_ == State::open) {
      int64_t stream_id = -1;
      int rc = ngtcp2_conn_open_bidi_stream(conn_, &stream_id, nullptr);
      if (rc == NGTCP2_ERR_STREAM_ID_BLOCKED) return;  // extend_max_local_streams_bidi brings us back
      if (rc != 0) {
        fail(ConnectionFailure::protocol, UpstreamStatus::network_error,
             fmt::format("{}: cannot open a stream: {}", endpoint_.label, ngtcp2_strerror(rc)));
        return;
      }
      streams_.emplace(stream_id, std::move(waiting_.front()));
      waiting_.pop_front();
      ++live_streams_;
      send_queue_.push_back(stream_id);
    }
  }

  void deliver_answers() {
    auto ready = std::move(completed_);
    completed_.clear();
    for (int64_t stream_id : ready) {
      auto it = streams_.find(stream_id);
      if (it == streams_.end() || it->second.answered || it->second.forgotten) continue;
      Query& q = it->second;
      q.answered = true;
      --live_streams_;
      const auto& in = q.in;
      size_t length = in.size() >= 2 ? (size_t{in[0]} << 8 | in[1]) : 0;
      if (in.size() < 2 + 12 || in.size() != 2 + length) {
        const UpstreamQueryId id = q.id;
        if (q.closed) streams_.erase(it);
        owner_.connection_failed(id, UpstreamStatus::bad_response,
                                 fmt::format("{}: a stream that holds no single DNS message", endpoint_.label), false);
        continue;
      }
      std::vector<uint8_t> answer(in.begin() + 2, in.end());
      answer[0] = static_cast<uint8_t>(q.original_id >> 8);
      answer[1] = static_cast<uint8_t>(q.original_id);
      std::vector<uint8_t>().swap(q.in);
      ++answered_;
      const UpstreamQueryId id = q.id;
      if (q.closed) streams_.erase(it);
      owner_.connection_answer(id, answer);
      if (state_ != State::open) return;
    }
  }

  void write_packets() {
    if (!conn_ || (state_ != State::open && state_ != State::handshaking)) return;
    std::array<uint8_t, kMaxPacket> buffer;
    const ngtcp2_tstamp ts = now();
    for (int packets = 0; packets < 64; ++packets) {
      int64_t stream_id = -1;
      Query* q = nullptr;
      while (!send_queue_.empty()) {
        auto it = streams_.find(send_queue_.front());
        if (it != streams_.end() && !it->second.forgotten && it->second.sent < it->second.out.size()) {
          stream_id = it->first;
          q = &it->second;
          break;
        }
        send_queue_.pop_front();
      }
      ngtcp2_vec data{};
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      if (q) {
        data.base = q->out.data() + q->sent;
        data.len = q->out.size() - q->sent;
        flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
      }
      ngtcp2_path_storage ps;
      ngtcp2_path_storage_zero(&ps);
      ngtcp2_pkt_info info{};
      ngtcp2_ssize accepted = -1;
      ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_, &ps.path, &info, buffer.data(), buffer.size(), &accepted, flags,
                                                 stream_id, q ? &data : nullptr, q ? 1 : 0, ts);
      if (q && accepted >= 0) {
        q->sent += static_cast<size_t>(accepted);
        if (q->sent >= q->out.size()) send_queue_.pop_front();
      }
      if (n < 0) {
        if (n == NGTCP2_ERR_WRITE_MORE) continue;
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
          if (q) send_queue_.pop_front();
          continue;
        }
        handle_error(static_cast<int>(n));
        return;
      }
      if (n == 0) break;
      uv_buf_t out = uv_buf_init(reinterpret_cast<char*>(buffer.data()), static_cast<unsigned>(n));
      uv_udp_try_send(&udp_, &out, 1, nullptr);  // a dropped packet is QUIC's to resend
    }
    ngtcp2_conn_update_pkt_tx_time(conn_, ts);
    schedule_timer();
  }

  void schedule_timer() {
    if (!conn_ || state_ == State::closed) return;
    ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(conn_);
    ngtcp2_tstamp current = now();
    uint64_t ms = expiry <= current ? 0 : (expiry - current + NGTCP2_MILLISECONDS - 1) / NGTCP2_MILLISECONDS;
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<DoqClientConnection*>(t->data)->on_timer(); }, ms, 0);
  }

  void on_timer() {
    if (!conn_ || (state_ != State::open && state_ != State::handshaking)) return;
    int rc = ngtcp2_conn_handle_expiry(conn_, now());
    if (rc != 0) {
      handle_error(rc);
      return;
    }
    write_packets();
  }

  void update_idle() {
    if (state_ != State::open) return;
    if (in_flight() == 0) {
      uv_timer_start(
          &idle_timer_,
          [](uv_timer_t* t) {
            auto* self = static_cast<DoqClientConnection*>(t->data);
            if (self->in_flight() != 0 || self->state_ != State::open) return;
            self->draining_ = true;
            self->owner_.connection_draining(self);
            self->send_close(kDoqNoError);
            self->destroy();
          },
          settings_.idle_timeout_ms, 0);
    } else {
      uv_timer_stop(&idle_timer_);
    }
  }

  void handle_error(int liberr) {
    const bool handshaking = state_ == State::handshaking;
    if (liberr == NGTCP2_ERR_DRAINING || liberr == NGTCP2_ERR_CLOSING) {
      fail(handshaking ? ConnectionFailure::handshake : ConnectionFailure::closed, UpstreamStatus::network_error,
           fmt::format("{} closed the QUIC connection", endpoint_.label), false);
      return;
    }
    if (liberr == NGTCP2_ERR_IDLE_CLOSE || liberr == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
      fail(handshaking ? ConnectionFailure::handshake : ConnectionFailure::closed,
           handshaking ? UpstreamStatus::timeout : UpstreamStatus::network_error,
           fmt::format("{}: {}", endpoint_.label, handshaking ? "no QUIC handshake in time" : "idle"), false);
      return;
    }
    fail(handshaking ? ConnectionFailure::handshake : ConnectionFailure::protocol, UpstreamStatus::network_error,
         fmt::format("{}: QUIC: {}", endpoint_.label, ngtcp2_strerror(liberr)));
  }

  void fail(ConnectionFailure why, UpstreamStatus status, const std::string& detail, bool send_close_frame = true) {
    if (state_ == State::closed) return;
    if (failure_ == ConnectionFailure::none) failure_ = why;
    if (!draining_) {
      draining_ = true;
      owner_.connection_draining(this);
    }
    fail_queries(status, detail, why == ConnectionFailure::closed && has_answered());
    if (send_close_frame) send_close(kDoqNoError);
    destroy();
  }

  void fail_queries(UpstreamStatus status, const std::string& detail, bool retryable) {
    std::vector<UpstreamQueryId> ids;
    for (const auto& q : waiting_) ids.push_back(q.id);
    for (auto& [stream_id, q] : streams_) {
      if (!q.answered && !q.forgotten) ids.push_back(q.id);
      q.forgotten = true;
    }
    waiting_.clear();
    live_streams_ = 0;
    for (UpstreamQueryId id : ids) owner_.connection_failed(id, status, detail, retryable);
  }

  void send_close(uint64_t app_error) {
    if (!conn_ || !udp_open_ || ngtcp2_conn_is_in_closing_period(conn_) || ngtcp2_conn_is_in_draining_period(conn_)) {
      return;
    }
    std::array<uint8_t, kMaxPacket> buffer;
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info info{};
    ngtcp2_connection_close_error error;
    ngtcp2_connection_close_error_default(&error);
    ngtcp2_connection_close_error_set_application_error(&error, app_error, nullptr, 0);
    ngtcp2_ssize n =
        ngtcp2_conn_write_connection_close(conn_, &ps.path, &info, buffer.data(), buffer.size(), &error, now());
    if (n > 0) {
      uv_buf_t out = uv_buf_init(reinterpret_cast<char*>(buffer.data()), static_cast<unsigned>(n));
      uv_udp_try_send(&udp_, &out, 1, nullptr);
    }
  }

  void destroy() {
    if (state_ == State::closed) return;
    state_ = State::closed;
    auto closed = [](uv_handle_t* h) {
      auto* self = static_cast<DoqClientConnection*>(h->data);
      if (--self->open_handles_ == 0) self->owner_.connection_closed(self);  // deletes us
    };
    if (udp_open_) {
      uv_udp_recv_stop(&udp_);
      uv_close(reinterpret_cast<uv_handle_t*>(&udp_), closed);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_timer_), closed);
  }

  // ngtcp2 callbacks
  static DoqClientConnection* self(void* user) { return static_cast<DoqClientConnection*>(user); }

  static int on_recv_stream_data(ngtcp2_conn* conn, uint32_t flags, int64_t stream_id, uint64_t, const uint8_t* data,
                                 size_t length, void* user, void*) {
    auto* s = self(user);
    // Consumed at once (buffered below, bounded by the stream window).
    ngtcp2_conn_extend_max_stream_offset(conn, stream_id, length);
    ngtcp2_conn_extend_max_offset(conn, length);
    auto it = s->streams_.find(stream_id);
    if (it == s->streams_.end() || it->second.answered || it->second.forgotten) return 0;
    Query& q = it->second;
    if (q.in.size() + length > kMaxStreamMessage + 2) return NGTCP2_ERR_CALLBACK_FAILURE;
    q.in.insert(q.in.end(), data, data + length);
    if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) s->completed_.push_back(stream_id);
    return 0;
  }

  static int on_stream_close(ngtcp2_conn*, uint32_t, int64_t stream_id, uint64_t app_error, void* user, void*) {
    auto* s = self(user);
    auto it = s->streams_.find(stream_id);
    if (it == s->streams_.end()) return 0;
    const bool complete = std::find(s->completed_.begin(), s->completed_.end(), stream_id) != s->completed_.end();
    if (!it->second.answered && !it->second.forgotten && !complete) {
      --s->live_streams_;
      s->owner_.connection_failed(it->second.id, UpstreamStatus::bad_response,
                                  fmt::format("{}: stream closed without an answer (error {})", s->endpoint_.label,
                                              app_error),
                                  false);
    }
    if (complete) {
      it->second.closed = true;  // deliver_answers() hands it over, then drops it
    } else {
      s->streams_.erase(it);
    }
    return 0;
  }

  static int on_stream_reset(ngtcp2_conn*, int64_t stream_id, uint64_t, uint64_t app_error, void* user, void*) {
    auto* s = self(user);
    auto it = s->streams_.find(stream_id);
    if (it == s->streams_.end() || it->second.answered || it->second.forgotten) return 0;
    it->second.forgotten = true;
    --s->live_streams_;
    s->owner_.connection_failed(it->second.id, UpstreamStatus::bad_response,
                                fmt::format("{}: the server reset the stream (error {})", s->endpoint_.label, app_error),
                                false);
    return 0;
  }

  uv_loop_t* loop_;
  UpstreamConnectionOwner& owner_;
  const UpstreamEndpoint& endpoint_;
  QuicClientTls& tls_;
  const UpstreamConnectionSettings settings_;
  ngtcp2_conn* conn_ = nullptr;
  gnutls_session_t session_ = nullptr;
  ngtcp2_crypto_conn_ref ref_{};
  uv_udp_t udp_{};
  uv_timer_t timer_{};
  uv_timer_t idle_timer_{};
  int open_handles_ = 0;
  bool udp_open_ = false;
  State state_ = State::idle;
  bool draining_ = false;
  bool handshake_completed_ = false;
  bool streams_available_ = false;
  std::string failure_detail_;
  sockaddr_storage local_{};
  std::deque<Query> waiting_;           // before a stream could be opened
  std::map<int64_t, Query> streams_;    // open streams (kept until ngtcp2 closes them)
  size_t live_streams_ = 0;             // streams whose answer is still awaited
  std::deque<int64_t> send_queue_;
  std::vector<int64_t> completed_;      // streams whose answer arrived (FIN) during a read
  std::array<uint8_t, 64 * 1024> read_buffer_{};
};

}  // namespace

std::unique_ptr<UpstreamConnection> make_doq_connection(uv_loop_t* loop, UpstreamConnectionOwner& owner,
                                                        const UpstreamEndpoint& endpoint, QuicClientTls& tls,
                                                        const UpstreamConnectionSettings& settings) {
  return std::make_unique<DoqClientConnection>(loop, owner, endpoint, tls, settings);
}

}  // namespace sextant::transports
