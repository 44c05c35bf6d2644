#include "transports/doq_listener.h"

#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "transports/tls_stream.h"  // bind_reuseport_socket, make_ip_socket_address
#include "transports/transport_metrics.h"

namespace sextant::transports {

namespace {

constexpr size_t kScidLength = 18;
constexpr size_t kMaxPacket = 1500;
// recvmmsg through libuv: it fills buffer size / 64 KiB slots, at most 20
// (UV__MMSG_MAXWIDTH), so one read takes up to 20 datagrams.
constexpr size_t kReadSlots = 20;
constexpr size_t kReadBuffer = kReadSlots * 64 * 1024;
constexpr size_t kMaxQueryFrame = 2 + 65535;
constexpr size_t kMaxCloseResends = 8;

ngtcp2_tstamp now() { return uv_hrtime(); }  // nanoseconds, monotonic, like ngtcp2's clock

socklen_t address_length(const sockaddr* address) {
  return address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

std::string cid_key(const uint8_t* data, size_t length) {
  return std::string(reinterpret_cast<const char*>(data), length);
}

void random_bytes(uint8_t* out, size_t length) {
  if (gnutls_rnd(GNUTLS_RND_RANDOM, out, length) != 0) {
    // Never expected; fall back to a nonce-grade source rather than zeros.
    gnutls_rnd(GNUTLS_RND_NONCE, out, length);
  }
}

ngtcp2_cid random_cid() {
  ngtcp2_cid cid;
  cid.datalen = kScidLength;
  random_bytes(cid.data, kScidLength);
  return cid;
}

}  // namespace

class DoqConnection;

// The per-worker DoQ endpoint: one UDP socket, the connection-ID table and
// the stateless replies (Retry, Version Negotiation, CONNECTION_REFUSED).
class DoqServer {
 public:
  // Validates the config and binds the socket; throws std::runtime_error.
  DoqServer(const WorkerContext& worker, const DoqListenerConfig& config, std::shared_ptr<QuicTlsContext> tls);
  // Registers the handles with the loop; an error text on failure (then
  // call orphan() to release everything).
  std::string start();

  void shutdown(unsigned grace_ms, std::function<void()> done);
  // The owning DoqListener is going away: finish (or shut down) and free.
  void orphan();

  void send_packet(const uint8_t* data, size_t length, const sockaddr* to);
  void register_cid(const ngtcp2_cid& cid, DoqConnection* connection) {
    cids_[cid_key(cid.data, cid.datalen)] = connection;
  }
  void unregister_cid(const ngtcp2_cid& cid) { cids_.erase(cid_key(cid.data, cid.datalen)); }
  void connection_gone(DoqConnection* connection);
  void maybe_finish_shutdown();

  bool shutting_down() const noexcept { return shutting_down_; }
  const WorkerContext& worker() const noexcept { return worker_; }
  const DoqListenerConfig& config() const noexcept { return config_; }
  QuicTlsContext& tls() const noexcept { return *tls_; }
  TransportCounters& counters() const noexcept { return *counters_; }
  const sockaddr* local() const noexcept { return reinterpret_cast<const sockaddr*>(&local_); }
  uint16_t port() const noexcept { return port_; }
  size_t connection_count() const noexcept { return connections_.size(); }

 private:
  void on_datagram(const uint8_t* data, size_t length, const sockaddr* from);
  void send_retry(const ngtcp2_pkt_hd& hd, const sockaddr* to);
  void send_stateless_close(const ngtcp2_pkt_hd& hd, uint64_t error, const sockaddr* to);
  void send_version_negotiation(const ngtcp2_version_cid& vc, const sockaddr* to);
  void close_handles();

  WorkerContext worker_;
  DoqListenerConfig config_;
  std::shared_ptr<QuicTlsContext> tls_;
  TransportCounters* counters_;
  int fd_ = -1;
  uv_udp_t udp_{};
  uv_timer_t grace_timer_{};
  unsigned open_handles_ = 0;
  bool handles_closing_ = false;
  sockaddr_storage local_{};
  uint16_t port_ = 0;
  std::unordered_map<std::string, DoqConnection*> cids_;
  std::unordered_set<DoqConnection*> connections_;
  bool shutting_down_ = false;
  bool orphaned_ = false;
  bool finished_ = false;
  std::function<void()> shutdown_done_;
  std::vector<uint8_t> read_buffer_ = std::vector<uint8_t>(kReadBuffer);

  friend class DoqListener;
};

// One QUIC connection carrying DoQ streams.
class DoqConnection final : public ResponseChannel {
 public:
  DoqConnection(DoqServer* server, const sockaddr* remote) : server_(server) {
    add_ref();  // released when the timer handle is closed
    std::memcpy(&remote_, remote, address_length(remote));
    uv_timer_init(server_->worker().loop, &timer_);
    timer_.data = this;
    ref_.get_conn = [](ngtcp2_crypto_conn_ref* ref) { return static_cast<DoqConnection*>(ref->user_data)->conn_; };
    ref_.user_data = this;
  }

  bool init(const ngtcp2_pkt_hd& hd, const ngtcp2_cid& original_dcid, bool after_retry, std::string& error);
  void on_packet(const uint8_t* data, size_t length, const sockaddr* from);
  // Sends CONNECTION_CLOSE with a DoQ application error and frees the
  // connection at once (used on listener shutdown).
  void close_now(DoqError code) {
    start_closing_app(code);
    destroy();
  }
  // Frees the connection without sending anything (failed setup).
  void abort() { destroy(); }
  size_t pending() const noexcept { return pending_; }

  void deliver(uint64_t token, std::span<const uint8_t> answer) override;
  void abandon(uint64_t token) override;

 protected:
  void on_last_release() override { delete this; }

 private:
  enum class State : uint8_t { open, closing, draining, closed };
  struct Stream {
    std::vector<uint8_t> query;  // length prefix + message, as received
    bool fin = false;
    bool dispatched = false;
    bool waiting = false;        // handed to the resolver, not answered yet
    bool cancelled = false;      // the client reset the stream or asked us to stop
    std::vector<uint8_t> response;  // must stay put until acknowledged (ngtcp2 does not copy)
    size_t sent = 0;
    bool queued = false;
    size_t received = 0;     // octets taken from the connection's flow-control window
    bool credited = false;   // those octets were given back (extend_max_offset)
    bool early = false;      // some of the query came in 0-RTT (replayable by an attacker)
  };

  ~DoqConnection() override {
    if (conn_) ngtcp2_conn_del(conn_);
    if (session_) gnutls_deinit(session_);
  }

  ngtcp2_path path_to(const sockaddr* remote) {
    ngtcp2_path path{};
    path.local.addr = const_cast<sockaddr*>(server_->local());
    path.local.addrlen = address_length(server_->local());
    path.remote.addr = const_cast<sockaddr*>(remote);
    path.remote.addrlen = address_length(remote);
    return path;
  }

  void dispatch_ready();
  void write_packets();
  void schedule_timer();
  void on_timer();
  void handle_error(int liberr);
  void start_closing(const ngtcp2_connection_close_error& error);
  void start_closing_app(DoqError code) {
    ngtcp2_connection_close_error error;
    ngtcp2_connection_close_error_default(&error);
    ngtcp2_connection_close_error_set_application_error(&error, static_cast<uint64_t>(code), nullptr, 0);
    start_closing(error);
  }
  void start_draining();
  void destroy();
  void after_answer();
  void queue_send(int64_t stream_id, Stream& stream) {
    if (!stream.queued) {
      stream.queued = true;
      send_queue_.push_back(stream_id);
    }
  }
  void cancel_stream(int64_t stream_id, DoqError code) { to_shutdown_.emplace_back(stream_id, code); }
  void flush_stream_shutdowns() {
    for (auto [id, code] : to_shutdown_) ngtcp2_conn_shutdown_stream(conn_, id, static_cast<uint64_t>(code));
    to_shutdown_.clear();
  }

  // ngtcp2 callbacks
  static DoqConnection* self(void* user) { return static_cast<DoqConnection*>(user); }
  static int on_recv_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t, const uint8_t* data,
                                 size_t length, void* user, void*);
  static int on_stream_open(ngtcp2_conn*, int64_t stream_id, void* user);
  static int on_stream_close(ngtcp2_conn*, uint32_t, int64_t stream_id, uint64_t, void* user, void*);
  static int on_stream_reset(ngtcp2_conn* conn, int64_t stream_id, uint64_t final_size, uint64_t, void* user, void*);
  static int on_stream_stop_sending(ngtcp2_conn*, int64_t stream_id, uint64_t, void* user, void*);
  static int on_extend_max_stream_data(ngtcp2_conn*, int64_t stream_id, uint64_t, void* user, void*);
  static int on_handshake_completed(ngtcp2_conn*, void* user);
  static int on_get_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen, void* user);
  static int on_remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* user);
  static void on_rand(uint8_t* dest, size_t length, const ngtcp2_rand_ctx*) { random_bytes(dest, length); }

  DoqServer* server_;
  ngtcp2_conn* conn_ = nullptr;
  gnutls_session_t session_ = nullptr;
  QuicTlsContext::Credentials credentials_;
  ngtcp2_crypto_conn_ref ref_{};
  uv_timer_t timer_{};
  State state_ = State::open;
  sockaddr_storage remote_{};
  std::map<int64_t, Stream> streams_;
  std::vector<int64_t> ready_;
  // Queries from 0-RTT that are not replay-safe (RFC 9250 §4.5): run only
  // once the handshake has completed.
  std::vector<int64_t> held_until_handshake_;
  std::deque<int64_t> send_queue_;
  std::vector<std::pair<int64_t, DoqError>> to_shutdown_;
  std::vector<ngtcp2_cid> cids_;
  std::vector<uint8_t> close_packet_;
  size_t close_resends_ = 0;
  size_t pending_ = 0;
  bool in_read_ = false;
  bool dispatching_ = false;
  bool protocol_error_ = false;
  bool handshake_done_ = false;
  bool counted_ = false;
};

// ---------------------------------------------------------------------------
// DoqConnection

bool DoqConnection::init(const ngtcp2_pkt_hd& hd, const ngtcp2_cid& original_dcid, bool after_retry,
                         std::string& error) {
  const auto& config = server_->config();
  ngtcp2_callbacks callbacks{};
  callbacks.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  callbacks.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  callbacks.encrypt = ngtcp2_crypto_encrypt_cb;
  callbacks.decrypt = ngtcp2_crypto_decrypt_cb;
  callbacks.hp_mask = ngtcp2_crypto_hp_mask_cb;
  callbacks.update_key = ngtcp2_crypto_update_key_cb;
  callbacks.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  callbacks.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  callbacks.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  callbacks.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  callbacks.recv_stream_data = on_recv_stream_data;
  callbacks.stream_open = on_stream_open;
  callbacks.stream_close = on_stream_close;
  callbacks.stream_reset = on_stream_reset;
  callbacks.stream_stop_sending = on_stream_stop_sending;
  callbacks.extend_max_stream_data = on_extend_max_stream_data;
  callbacks.handshake_completed = on_handshake_completed;
  callbacks.get_new_connection_id = on_get_new_connection_id;
  callbacks.remove_connection_id = on_remove_connection_id;
  callbacks.rand = on_rand;

  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now();
  settings.handshake_timeout = static_cast<ngtcp2_duration>(config.handshake_timeout_ms) * NGTCP2_MILLISECONDS;
  if (after_retry) settings.token = hd.token;

  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  // One query per stream, at most 2 + 65535 octets: the stream window never
  // needs to grow. The connection window is extended as data is consumed.
  params.initial_max_stream_data_bidi_remote = kMaxQueryFrame;
  params.initial_max_stream_data_bidi_local = 0;
  params.initial_max_stream_data_uni = 0;
  params.initial_max_data = 1 << 20;  // octets of queries buffered per connection at most
  params.initial_max_streams_bidi = config.max_streams_per_connection;
  params.initial_max_streams_uni = 0;  // RFC 9250 uses no unidirectional streams
  params.max_idle_timeout = static_cast<ngtcp2_duration>(config.idle_timeout_ms) * NGTCP2_MILLISECONDS;
  params.active_connection_id_limit = 4;
  params.original_dcid = original_dcid;
  if (after_retry) {
    params.retry_scid = hd.dcid;
    params.retry_scid_present = 1;
  }
  ngtcp2_cid scid = random_cid();
  auto secret = server_->tls().secret();
  if (ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, secret.data(), secret.size(),
                                                   &scid) != 0) {
    error = "cannot derive the stateless reset token";
    return false;
  }
  params.stateless_reset_token_present = 1;

  ngtcp2_path path = path_to(reinterpret_cast<const sockaddr*>(&remote_));
  if (int rc = ngtcp2_conn_server_new(&conn_, &hd.scid, &scid, &path, hd.version, &callbacks, &settings, &params,
                                      nullptr, this);
      rc != 0) {
    conn_ = nullptr;
    error = fmt::format("ngtcp2_conn_server_new: {}", ngtcp2_strerror(rc));
    return false;
  }
  credentials_ = server_->tls().current();
  session_ = server_->tls().new_session(&ref_, credentials_, error);
  if (!session_) return false;
  ngtcp2_conn_set_tls_native_handle(conn_, session_);

  // Until the client learns our CID it keeps using the one it chose.
  cids_.push_back(scid);
  server_->register_cid(scid, this);
  cids_.push_back(hd.dcid);
  server_->register_cid(hd.dcid, this);
  connection_opened(server_->counters());
  counted_ = true;
  return true;
}

void DoqConnection::on_packet(const uint8_t* data, size_t length, const sockaddr* from) {
  if (state_ == State::closing) {
    // Our CONNECTION_CLOSE may have been lost: repeat it, a bounded number of times.
    if (close_resends_++ < kMaxCloseResends && !close_packet_.empty()) {
      server_->send_packet(close_packet_.data(), close_packet_.size(), reinterpret_cast<const sockaddr*>(&remote_));
    }
    return;
  }
  if (state_ != State::open) return;
  std::memcpy(&remote_, from, address_length(from));
  ngtcp2_path path = path_to(from);
  ngtcp2_pkt_info info{};
  in_read_ = true;
  int rc = ngtcp2_conn_read_pkt(conn_, &path, &info, data, length, now());
  in_read_ = false;
  if (rc != 0) {
    handle_error(rc);
    return;
  }
  flush_stream_shutdowns();
  dispatch_ready();
  if (state_ != State::open) return;
  write_packets();
}

void DoqConnection::dispatch_ready() {
  dispatching_ = true;
  std::vector<int64_t> ready;
  ready.swap(ready_);
  auto& counters = server_->counters();
  for (int64_t id : ready) {
    if (protocol_error_ || state_ != State::open) break;
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second.dispatched || it->second.cancelled) continue;
    auto& stream = it->second;
    const auto& q = stream.query;
    size_t length = q.size() >= 2 ? (static_cast<size_t>(q[0]) << 8 | q[1]) : 0;
    // Exactly one message per stream, at least a header, and ID 0 (RFC 9250 §4.2.1).
    if (q.size() < 2 || q.size() != 2 + length || length < 12 || q[2] != 0 || q[3] != 0) {
      protocol_error_ = true;
      break;
    }
    // RFC 9250 §4.5: only QUERY and NOTIFY are replayable; anything else that
    // came in 0-RTT waits for the handshake (which a replayer cannot finish).
    const unsigned opcode = (q[4] >> 3) & 0x0F;
    if (stream.early && !handshake_done_ && opcode != 0 && opcode != 4) {
      held_until_handshake_.push_back(id);
      continue;
    }
    stream.dispatched = true;
    stream.waiting = true;
    ++pending_;
    size_t consumed = q.size();
    counters.add(counters.queries);
    Request request;
    request.query = std::span<const uint8_t>(q.data() + 2, length);
    request.peer = reinterpret_cast<const sockaddr*>(&remote_);
    request.local = server_->local();
    request.transport = Transport::doq;
    request.max_response_size = 65535;
    request.worker = server_->worker().index;
    if (auto* handler = server_->worker().handler) {
      handler->handle(request, Responder(this, static_cast<uint64_t>(id)));
    } else {
      Responder(this, static_cast<uint64_t>(id)).drop();
    }
    // The handler copied what it keeps: release the query and its credit.
    if (auto again = streams_.find(id); again != streams_.end()) {
      std::vector<uint8_t>().swap(again->second.query);
      again->second.credited = true;
    }
    if (state_ == State::open) ngtcp2_conn_extend_max_offset(conn_, consumed);
  }
  dispatching_ = false;
  if (protocol_error_ && state_ == State::open) {
    counters.add(counters.errors);
    start_closing_app(DoqError::protocol_error);
    return;
  }
  flush_stream_shutdowns();
}

void DoqConnection::deliver(uint64_t token, std::span<const uint8_t> answer) {
  if (state_ != State::open) return;
  auto it = streams_.find(static_cast<int64_t>(token));
  if (it == streams_.end() || !it->second.waiting) return;
  auto& stream = it->second;
  stream.waiting = false;
  --pending_;
  auto& counters = server_->counters();
  if (stream.cancelled) {
    // The client no longer wants it.
  } else if (answer.size() > 65535 || answer.size() < 12) {
    counters.add(counters.errors);
    cancel_stream(it->first, DoqError::internal_error);
  } else {
    stream.response.resize(2 + answer.size());
    stream.response[0] = static_cast<uint8_t>(answer.size() >> 8);
    stream.response[1] = static_cast<uint8_t>(answer.size());
    std::memcpy(stream.response.data() + 2, answer.data(), answer.size());
    stream.response[2] = stream.response[3] = 0;  // DoQ answers carry ID 0 whatever the resolver echoed
    counters.add(counters.responses);
    queue_send(it->first, stream);
  }
  after_answer();
}

void DoqConnection::abandon(uint64_t token) {
  if (state_ != State::open) return;
  auto it = streams_.find(static_cast<int64_t>(token));
  if (it == streams_.end() || !it->second.waiting) return;
  it->second.waiting = false;
  --pending_;
  // The resolver will not answer: reset the stream instead of leaving the
  // client to time out.
  if (!it->second.cancelled) cancel_stream(it->first, DoqError::request_cancelled);
  after_answer();
}

void DoqConnection::after_answer() {
  if (in_read_ || dispatching_) return;  // the reader writes once it is done
  flush_stream_shutdowns();
  if (server_->shutting_down() && pending_ == 0) {
    close_now(DoqError::no_error);
    return;
  }
  write_packets();
}

void DoqConnection::write_packets() {
  if (state_ != State::open) return;
  std::array<uint8_t, kMaxPacket> buffer;
  ngtcp2_tstamp ts = now();
  // Bounded per call: a connection cannot monopolise the loop; the timer
  // (pacing) brings us back for the rest.
  constexpr int kPacketsPerCall = 64;
  int packets = 0;
  while (packets < kPacketsPerCall) {
    int64_t stream_id = -1;
    Stream* stream = nullptr;
    while (!send_queue_.empty()) {
      auto it = streams_.find(send_queue_.front());
      if (it != streams_.end() && it->second.sent < it->second.response.size()) {
        stream_id = it->first;
        stream = &it->second;
        break;
      }
      if (it != streams_.end()) it->second.queued = false;
      send_queue_.pop_front();
    }
    ngtcp2_vec data{};
    size_t count = 0;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    if (stream) {
      data.base = stream->response.data() + stream->sent;
      data.len = stream->response.size() - stream->sent;
      count = 1;
      flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    }
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info info{};
    ngtcp2_ssize accepted = -1;
    ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_, &ps.path, &info, buffer.data(), buffer.size(), &accepted, flags,
                                               stream_id, count ? &data : nullptr, count, ts);
    if (stream && accepted >= 0) {
      stream->sent += static_cast<size_t>(accepted);
      if (stream->sent >= stream->response.size()) {
        stream->queued = false;
        send_queue_.pop_front();
      }
    }
    if (n < 0) {
      if (n == NGTCP2_ERR_WRITE_MORE) continue;  // room left in the packet for another stream
      if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
        // Flow-controlled or reset: extend_max_stream_data re-queues it.
        if (stream) {
          stream->queued = false;
          send_queue_.pop_front();
        }
        continue;
      }
      handle_error(static_cast<int>(n));
      return;
    }
    if (n == 0) break;  // congestion-limited or nothing to send
    server_->send_packet(buffer.data(), static_cast<size_t>(n), reinterpret_cast<const sockaddr*>(&remote_));
    ++packets;
  }
  ngtcp2_conn_update_pkt_tx_time(conn_, ts);
  if (packets == kPacketsPerCall) {
    // More may be ready: continue on the next loop turn, after other sockets.
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<DoqConnection*>(t->data)->on_timer(); }, 0, 0);
    return;
  }
  schedule_timer();
}

void DoqConnection::schedule_timer() {
  if (state_ == State::closed) return;
  ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(conn_);
  ngtcp2_tstamp current = now();
  uint64_t ms = expiry <= current ? 0 : (expiry - current + NGTCP2_MILLISECONDS - 1) / NGTCP2_MILLISECONDS;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<DoqConnection*>(t->data)->on_timer(); }, ms, 0);
}

void DoqConnection::on_timer() {
  switch (state_) {
    case State::open: {
      int rc = ngtcp2_conn_handle_expiry(conn_, now());
      if (rc != 0) {
        if (rc == NGTCP2_ERR_IDLE_CLOSE) {
          auto& counters = server_->counters();
          counters.add(counters.idle_timeouts);
          if (!handshake_done_) counters.add(counters.handshakes_failed);
          destroy();  // idle close is silent (RFC 9000 §10.1)
        } else {
          handle_error(rc);
        }
        return;
      }
      write_packets();
      break;
    }
    case State::closing:
    case State::draining:
      destroy();
      break;
    case State::closed:
      break;
  }
}

void DoqConnection::handle_error(int liberr) {
  if (state_ != State::open) return;
  auto& counters = server_->counters();
  if (liberr == NGTCP2_ERR_DRAINING) {
    start_draining();
    return;
  }
  if (liberr == NGTCP2_ERR_DROP_CONN || liberr == NGTCP2_ERR_RETRY) {
    destroy();
    return;
  }
  ngtcp2_connection_close_error error;
  ngtcp2_connection_close_error_default(&error);
  if (liberr == NGTCP2_ERR_CRYPTO) {
    if (!handshake_done_) counters.add(counters.handshakes_failed);
    ngtcp2_connection_close_error_set_transport_error_tls_alert(&error, ngtcp2_conn_get_tls_alert(conn_), nullptr, 0);
  } else {
    counters.add(counters.errors);
    ngtcp2_connection_close_error_set_transport_error_liberr(&error, liberr, nullptr, 0);
  }
  start_closing(error);
}

void DoqConnection::start_closing(const ngtcp2_connection_close_error& error) {
  if (state_ != State::open) return;
  if (!conn_) {
    destroy();
    return;
  }
  if (ngtcp2_conn_is_in_closing_period(conn_) || ngtcp2_conn_is_in_draining_period(conn_)) {
    start_draining();
    return;
  }
  std::array<uint8_t, kMaxPacket> buffer;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info info{};
  ngtcp2_ssize n =
      ngtcp2_conn_write_connection_close(conn_, &ps.path, &info, buffer.data(), buffer.size(), &error, now());
  if (n <= 0) {
    destroy();
    return;
  }
  close_packet_.assign(buffer.data(), buffer.data() + n);
  server_->send_packet(close_packet_.data(), close_packet_.size(), reinterpret_cast<const sockaddr*>(&remote_));
  state_ = State::closing;
  // The closing period: three PTOs (RFC 9000 §10.2).
  uint64_t ms = 3 * ngtcp2_conn_get_pto(conn_) / NGTCP2_MILLISECONDS + 1;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<DoqConnection*>(t->data)->on_timer(); }, ms, 0);
}

void DoqConnection::start_draining() {
  state_ = State::draining;
  uint64_t ms = 3 * ngtcp2_conn_get_pto(conn_) / NGTCP2_MILLISECONDS + 1;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<DoqConnection*>(t->data)->on_timer(); }, ms, 0);
}

void DoqConnection::destroy() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  for (const auto& cid : cids_) server_->unregister_cid(cid);
  cids_.clear();
  if (counted_) connection_closed(server_->counters());
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<DoqConnection*>(h->data);
    DoqServer* server = self->server_;
    server->connection_gone(self);
    self->release();  // may delete self (Responders may still hold it)
  });
}

int DoqConnection::on_recv_stream_data(ngtcp2_conn* conn, uint32_t flags, int64_t stream_id, uint64_t,
                                       const uint8_t* data, size_t length, void* user, void*) {
  auto* s = self(user);
  // Connection flow control is credited back only when a query leaves our
  // buffers (dispatched or its stream closed), so initial_max_data bounds
  // the memory one connection can pin.
  (void)conn;
  auto it = s->streams_.find(stream_id);
  if (it == s->streams_.end() || it->second.dispatched) {
    s->protocol_error_ = true;  // data on a stream we do not know, or after the query
    return 0;
  }
  auto& stream = it->second;
  if (stream.query.size() + length > kMaxQueryFrame) {
    s->protocol_error_ = true;
    return 0;
  }
  stream.query.insert(stream.query.end(), data, data + length);
  stream.received += length;
  if (flags & NGTCP2_STREAM_DATA_FLAG_EARLY) stream.early = true;
  if ((flags & NGTCP2_STREAM_DATA_FLAG_FIN) && !stream.fin) {
    stream.fin = true;
    s->ready_.push_back(stream_id);
  }
  return 0;
}

int DoqConnection::on_stream_open(ngtcp2_conn*, int64_t stream_id, void* user) {
  auto* s = self(user);
  if (!ngtcp2_is_bidi_stream(stream_id)) {
    s->protocol_error_ = true;
    return 0;
  }
  s->streams_.try_emplace(stream_id);
  return 0;
}

int DoqConnection::on_stream_close(ngtcp2_conn* conn, uint32_t, int64_t stream_id, uint64_t, void* user, void*) {
  auto* s = self(user);
  auto it = s->streams_.find(stream_id);
  if (it != s->streams_.end()) {
    if (it->second.waiting) --s->pending_;  // its Responder finds no stream later
    if (!it->second.credited) ngtcp2_conn_extend_max_offset(conn, it->second.received);
    s->streams_.erase(it);
  }
  for (auto q = s->send_queue_.begin(); q != s->send_queue_.end();) {
    q = *q == stream_id ? s->send_queue_.erase(q) : q + 1;
  }
  if (ngtcp2_is_bidi_stream(stream_id) && !ngtcp2_conn_is_local_stream(conn, stream_id)) {
    ngtcp2_conn_extend_max_streams_bidi(conn, 1);  // one finished, one more may open
  }
  return 0;
}

int DoqConnection::on_stream_reset(ngtcp2_conn* conn, int64_t stream_id, uint64_t final_size, uint64_t, void* user,
                                   void*) {
  auto* s = self(user);
  auto it = s->streams_.find(stream_id);
  if (conn && it != s->streams_.end() && !it->second.credited && final_size > it->second.received) {
    // Octets the client counted against the window but never delivered.
    ngtcp2_conn_extend_max_offset(conn, final_size - it->second.received);
    it->second.received = final_size;
  }
  if (it != s->streams_.end() && !it->second.cancelled) {
    it->second.cancelled = true;
    if (it->second.response.empty()) s->cancel_stream(stream_id, DoqError::request_cancelled);
  }
  return 0;
}

int DoqConnection::on_stream_stop_sending(ngtcp2_conn*, int64_t stream_id, uint64_t, void* user, void*) {
  return on_stream_reset(nullptr, stream_id, 0, 0, user, nullptr);
}

int DoqConnection::on_extend_max_stream_data(ngtcp2_conn*, int64_t stream_id, uint64_t, void* user, void*) {
  auto* s = self(user);
  auto it = s->streams_.find(stream_id);
  if (it != s->streams_.end() && it->second.sent < it->second.response.size()) s->queue_send(stream_id, it->second);
  return 0;
}

int DoqConnection::on_handshake_completed(ngtcp2_conn*, void* user) {
  auto* s = self(user);
  s->handshake_done_ = true;
  auto& counters = s->server_->counters();
  counters.add(counters.handshakes_completed);
  if (gnutls_session_is_resumed(s->session_)) counters.add(counters.sessions_resumed);
  if (gnutls_session_get_flags(s->session_) & GNUTLS_SFLAGS_EARLY_DATA) counters.add(counters.early_data_accepted);
  // A ticket for the next connection (GNUTLS_NO_AUTO_SEND_TICKET: QUIC sends
  // it after the handshake, in 1-RTT CRYPTO frames). Failing to make one
  // only costs the client a full handshake next time.
  (void)gnutls_session_ticket_send(s->session_, 1, 0);
  // Queries held back from 0-RTT may run now (dispatched after this callback).
  s->ready_.insert(s->ready_.end(), s->held_until_handshake_.begin(), s->held_until_handshake_.end());
  s->held_until_handshake_.clear();
  return 0;
}

int DoqConnection::on_get_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen,
                                            void* user) {
  auto* s = self(user);
  cid->datalen = cidlen;
  random_bytes(cid->data, cidlen);
  auto secret = s->server_->tls().secret();
  if (ngtcp2_crypto_generate_stateless_reset_token(token, secret.data(), secret.size(), cid) != 0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  s->cids_.push_back(*cid);
  s->server_->register_cid(*cid, s);
  return 0;
}

int DoqConnection::on_remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* user) {
  auto* s = self(user);
  s->server_->unregister_cid(*cid);
  for (auto it = s->cids_.begin(); it != s->cids_.end(); ++it) {
    if (ngtcp2_cid_eq(&*it, cid)) {
      s->cids_.erase(it);
      break;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------
// DoqServer

DoqServer::DoqServer(const WorkerContext& worker, const DoqListenerConfig& config, std::shared_ptr<QuicTlsContext> tls)
    : worker_(worker), config_(config), tls_(std::move(tls)), counters_(&transport_counters(Transport::doq)) {
  if (!tls_) throw std::runtime_error("DoQ listener: no TLS context given");
  sockaddr_storage address;
  if (!make_ip_socket_address(config_.address, config_.port, address)) {
    throw std::runtime_error(fmt::format("DoQ listener: '{}' is not an IP address", config_.address));
  }
  bool wildcard = address.ss_family == AF_INET
                      ? reinterpret_cast<sockaddr_in*>(&address)->sin_addr.s_addr == htonl(INADDR_ANY)
                      : IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr);
  if (wildcard) {
    throw std::runtime_error(fmt::format(
        "DoQ listener {} port {}: bind a concrete address, not the wildcard (libuv 1.44 reports no packet "
        "destination address, which QUIC needs)",
        config_.address, config_.port));
  }
  // Everything that can fail happens before any libuv handle exists, so a
  // throw leaves nothing registered with the loop.
  fd_ = bind_reuseport_socket(config_.address, config_.port, SOCK_DGRAM, "DoQ listener");
  int size = static_cast<int>(config_.receive_buffer_bytes);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

std::string DoqServer::start() {
  uv_udp_init_ex(worker_.loop, &udp_, AF_UNSPEC | UV_UDP_RECVMMSG);
  udp_.data = this;
  uv_timer_init(worker_.loop, &grace_timer_);
  grace_timer_.data = this;
  open_handles_ = 2;
  if (int rc = uv_udp_open(&udp_, fd_); rc != 0) {
    ::close(fd_);
    return fmt::format("DoQ listener {} port {}: uv_udp_open: {}", config_.address, config_.port, uv_strerror(rc));
  }
  int length = sizeof local_;
  uv_udp_getsockname(&udp_, reinterpret_cast<sockaddr*>(&local_), &length);
  port_ = ntohs(local_.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&local_)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&local_)->sin6_port);
  int rc = uv_udp_recv_start(
      &udp_,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<DoqServer*>(h->data);
        buf->base = reinterpret_cast<char*>(self->read_buffer_.data());
        buf->len = self->read_buffer_.size();
      },
      [](uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned flags) {
        if (nread <= 0 || !from || (flags & UV_UDP_PARTIAL)) return;
        static_cast<DoqServer*>(h->data)->on_datagram(reinterpret_cast<const uint8_t*>(buf->base),
                                                      static_cast<size_t>(nread), from);
      });
  if (rc != 0) {
    return fmt::format("DoQ listener {} port {}: recv: {}", config_.address, config_.port, uv_strerror(rc));
  }
  return {};
}

void DoqServer::send_packet(const uint8_t* data, size_t length, const sockaddr* to) {
  if (handles_closing_) return;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data)), static_cast<unsigned>(length));
  // A full socket buffer drops the packet; QUIC loss recovery resends it.
  uv_udp_try_send(&udp_, &buf, 1, to);
}

void DoqServer::on_datagram(const uint8_t* data, size_t length, const sockaddr* from) {
  ngtcp2_version_cid vc;
  int rc = ngtcp2_pkt_decode_version_cid(&vc, data, length, kScidLength);
  if (rc == NGTCP2_ERR_VERSION_NEGOTIATION) {
    send_version_negotiation(vc, from);
    return;
  }
  if (rc != 0) {
    counters_->add(counters_->errors);  // not QUIC
    return;
  }
  if (auto it = cids_.find(cid_key(vc.dcid, vc.dcidlen)); it != cids_.end()) {
    it->second->on_packet(data, length, from);
    return;
  }
  if (shutting_down_) return;
  ngtcp2_pkt_hd hd;
  rc = ngtcp2_accept(&hd, data, length);
  if (rc == NGTCP2_ERR_RETRY) {
    send_retry(hd, from);
    return;
  }
  if (rc != 0) {
    // Short-header packets for unknown connections and junk end here. (No
    // stateless reset: not needed for a resolver, and it would answer junk.)
    counters_->add(counters_->errors);
    return;
  }
  if (connections_.size() >= config_.max_connections) {
    counters_->add(counters_->connections_refused);
    send_stateless_close(hd, NGTCP2_CONNECTION_REFUSED, from);
    return;
  }
  ngtcp2_cid original_dcid = hd.dcid;
  bool after_retry = false;
  if (hd.token.len > 0 && hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
    auto secret = tls_->secret();
    if (ngtcp2_crypto_verify_retry_token(&original_dcid, hd.token.base, hd.token.len, secret.data(), secret.size(),
                                         hd.version, from, address_length(from), &hd.dcid,
                                         config_.retry_token_lifetime_ms * NGTCP2_MILLISECONDS, now()) != 0) {
      counters_->add(counters_->errors);
      send_stateless_close(hd, NGTCP2_INVALID_TOKEN, from);
      return;
    }
    after_retry = true;
  } else if (connections_.size() >= config_.retry_threshold) {
    send_retry(hd, from);
    return;
  }
  auto* connection = new DoqConnection(this, from);
  connections_.insert(connection);
  std::string error;
  if (!connection->init(hd, original_dcid, after_retry, error)) {
    counters_->add(counters_->errors);
    connection->abort();
    return;
  }
  connection->on_packet(data, length, from);
}

void DoqServer::send_retry(const ngtcp2_pkt_hd& hd, const sockaddr* to) {
  ngtcp2_cid scid = random_cid();
  std::array<uint8_t, NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN> token;
  auto secret = tls_->secret();
  ngtcp2_ssize token_length = ngtcp2_crypto_generate_retry_token(
      token.data(), secret.data(), secret.size(), hd.version, to, address_length(to), &scid, &hd.dcid, now());
  if (token_length < 0) return;
  std::array<uint8_t, kMaxPacket> buffer;
  ngtcp2_ssize n = ngtcp2_crypto_write_retry(buffer.data(), buffer.size(), hd.version, &hd.scid, &scid, &hd.dcid,
                                             token.data(), static_cast<size_t>(token_length));
  if (n < 0) return;
  counters_->add(counters_->retries_sent);
  send_packet(buffer.data(), static_cast<size_t>(n), to);
}

void DoqServer::send_stateless_close(const ngtcp2_pkt_hd& hd, uint64_t error, const sockaddr* to) {
  std::array<uint8_t, kMaxPacket> buffer;
  ngtcp2_ssize n = ngtcp2_crypto_write_connection_close(buffer.data(), buffer.size(), hd.version, &hd.scid, &hd.dcid,
                                                        error, nullptr, 0);
  if (n > 0) send_packet(buffer.data(), static_cast<size_t>(n), to);
}

void DoqServer::send_version_negotiation(const ngtcp2_version_cid& vc, const sockaddr* to) {
  // Only for datagrams as large as a client Initial: no amplification.
  std::array<uint8_t, kMaxPacket> buffer;
  const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
  uint8_t unused;
  random_bytes(&unused, 1);
  ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(buffer.data(), buffer.size(), unused, vc.scid, vc.scidlen,
                                                        vc.dcid, vc.dcidlen, versions, std::size(versions));
  if (n > 0) send_packet(buffer.data(), static_cast<size_t>(n), to);
}

void DoqServer::connection_gone(DoqConnection* connection) {
  connections_.erase(connection);
  maybe_finish_shutdown();
}

void DoqServer::shutdown(unsigned grace_ms, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  std::vector<DoqConnection*> all(connections_.begin(), connections_.end());
  for (auto* c : all) {
    if (c->pending() == 0) c->close_now(DoqError::no_error);
  }
  uv_timer_start(
      &grace_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<DoqServer*>(t->data);
        std::vector<DoqConnection*> rest(self->connections_.begin(), self->connections_.end());
        for (auto* c : rest) c->close_now(DoqError::no_error);
      },
      grace_ms, 0);
  maybe_finish_shutdown();
}

void DoqServer::maybe_finish_shutdown() {
  if (!shutting_down_ || !connections_.empty() || handles_closing_) return;
  close_handles();
}

void DoqServer::close_handles() {
  handles_closing_ = true;
  auto on_close = [](uv_handle_t* h) {
    auto* self = static_cast<DoqServer*>(h->data);
    if (--self->open_handles_ > 0) return;
    self->finished_ = true;
    auto done = std::move(self->shutdown_done_);
    bool orphaned = self->orphaned_;
    if (done) done();
    if (orphaned) delete self;
  };
  uv_udp_recv_stop(&udp_);
  uv_close(reinterpret_cast<uv_handle_t*>(&udp_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&grace_timer_), on_close);
}

void DoqServer::orphan() {
  if (finished_) {
    delete this;
    return;
  }
  orphaned_ = true;
  if (!shutting_down_) shutdown(0, nullptr);
}

// ---------------------------------------------------------------------------
// DoqListener

DoqListener::DoqListener(const WorkerContext& worker, const DoqListenerConfig& config,
                         std::shared_ptr<QuicTlsContext> tls)
    : server_(new DoqServer(worker, config, std::move(tls))) {
  std::string error = server_->start();
  if (!error.empty()) {
    server_->orphan();  // closes the handles, then frees itself
    server_ = nullptr;
    throw std::runtime_error(error);
  }
}

DoqListener::~DoqListener() {
  if (server_) server_->orphan();
}

void DoqListener::shutdown(unsigned grace_ms, std::function<void()> done) { server_->shutdown(grace_ms, std::move(done)); }

uint16_t DoqListener::port() const noexcept { return server_->port(); }
size_t DoqListener::connection_count() const noexcept { return server_->connection_count(); }

std::shared_ptr<QuicTlsContext> make_doq_tls_context(const TlsFiles& files) {
  return std::make_shared<QuicTlsContext>(files, std::vector<std::string>{"doq", "doq-i11"});
}

ListenerFactory make_doq_listener_factory(DoqListenerConfig config, std::shared_ptr<QuicTlsContext> tls) {
  return [config = std::move(config), tls = std::move(tls)](const WorkerContext& worker) -> std::unique_ptr<Listener> {
    return std::make_unique<DoqListener>(worker, config, tls);
  };
}

}  // namespace sextant::transports
