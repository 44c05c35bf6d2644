#include "transports/quic_connection.h"

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "transports/quic_internal.h"
#include "transports/quic_server.h"

namespace sextant::transports {

namespace {

constexpr size_t kMaxCloseResends = 8;
// Packets written per call: a connection cannot monopolise the loop; the
// timer (pacing) brings it back for the rest.
constexpr int kPacketsPerCall = 64;

}  // namespace

QuicConnection::QuicConnection(QuicServer* server, const sockaddr* remote) : server_(server) {
  add_ref();  // released when the timer handle is closed
  last_progress_ = quic_now();
  std::memcpy(&remote_, remote, quic_address_length(remote));
  uv_timer_init(server_->worker().loop, &timer_);
  timer_.data = this;
  ref_.get_conn = [](ngtcp2_crypto_conn_ref* ref) { return static_cast<QuicConnection*>(ref->user_data)->conn_; };
  ref_.user_data = this;
}

QuicConnection::~QuicConnection() {
  app_.reset();  // before the ngtcp2 connection it may refer to
  if (conn_) ngtcp2_conn_del(conn_);
  if (session_) gnutls_deinit(session_);
}

const sockaddr* QuicConnection::local() const noexcept { return server_->local(); }
const WorkerContext& QuicConnection::worker() const noexcept { return server_->worker(); }
TransportCounters& QuicConnection::counters() const noexcept { return server_->counters(); }

ngtcp2_path QuicConnection::path_to(const sockaddr* remote) {
  ngtcp2_path path{};
  path.local.addr = const_cast<sockaddr*>(server_->local());
  path.local.addrlen = quic_address_length(server_->local());
  path.remote.addr = const_cast<sockaddr*>(remote);
  path.remote.addrlen = quic_address_length(remote);
  return path;
}

bool QuicConnection::init(const ngtcp2_pkt_hd& hd, const ngtcp2_cid& original_dcid, bool after_retry,
                          std::string& error) {
  const auto& config = server_->config();
  app_ = server_->make_application(*this);
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
  callbacks.acked_stream_data_offset = on_acked_stream_data_offset;
  callbacks.stream_open = on_stream_open;
  callbacks.stream_close = on_stream_close;
  callbacks.stream_reset = on_stream_reset;
  callbacks.stream_stop_sending = on_stream_stop_sending;
  callbacks.extend_max_stream_data = on_extend_max_stream_data;
  callbacks.extend_max_remote_streams_bidi = on_extend_max_remote_streams_bidi;
  callbacks.handshake_completed = on_handshake_completed;
  callbacks.get_new_connection_id = on_get_new_connection_id;
  callbacks.remove_connection_id = on_remove_connection_id;
  callbacks.rand = on_rand;

  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = quic_now();
  settings.handshake_timeout = static_cast<ngtcp2_duration>(config.handshake_timeout_ms) * NGTCP2_MILLISECONDS;
  if (after_retry) settings.token = hd.token;

  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  app_->set_transport_params(params);
  params.max_idle_timeout = static_cast<ngtcp2_duration>(config.idle_timeout_ms) * NGTCP2_MILLISECONDS;
  params.active_connection_id_limit = 4;
  params.original_dcid = original_dcid;
  if (after_retry) {
    params.retry_scid = hd.dcid;
    params.retry_scid_present = 1;
  }
  ngtcp2_cid scid = quic_random_cid();
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

void QuicConnection::on_packet(const uint8_t* data, size_t length, const sockaddr* from) {
  if (state_ == State::closing) {
    // Our CONNECTION_CLOSE may have been lost: repeat it, a bounded number of times.
    if (close_resends_++ < kMaxCloseResends && !close_packet_.empty()) {
      server_->send_packet(close_packet_.data(), close_packet_.size(), reinterpret_cast<const sockaddr*>(&remote_));
    }
    return;
  }
  if (state_ != State::open) return;
  std::memcpy(&remote_, from, quic_address_length(from));
  ngtcp2_path path = path_to(from);
  ngtcp2_pkt_info info{};
  in_read_ = true;
  int rc = ngtcp2_conn_read_pkt(conn_, &path, &info, data, length, quic_now());
  if (rc != 0) {
    in_read_ = false;
    handle_error(rc);
    return;
  }
  // Answers delivered while the application dispatches are written below.
  app_->after_read();
  in_read_ = false;
  if (state_ != State::open) return;
  write_packets();
}

void QuicConnection::deliver(uint64_t token, std::span<const uint8_t> answer) {
  if (state_ != State::open) return;
  last_progress_ = quic_now();
  app_->deliver(token, answer);
  after_app_event();
}

void QuicConnection::abandon(uint64_t token) {
  if (state_ != State::open) return;
  app_->abandon(token);
  after_app_event();
}

void QuicConnection::after_app_event() {
  if (in_read_ || state_ != State::open) return;  // the reader writes once it is done
  app_->prepare_write();
  if (state_ != State::open) return;
  if (server_->shutting_down() && app_->pending() == 0) {
    close_now();
    return;
  }
  write_packets();
}

void QuicConnection::close_with_app_error(uint64_t code) {
  if (state_ != State::open) return;
  ngtcp2_connection_close_error error;
  ngtcp2_connection_close_error_default(&error);
  ngtcp2_connection_close_error_set_application_error(&error, code, nullptr, 0);
  start_closing(error);
}

void QuicConnection::close_now() {
  close_with_app_error(app_ ? app_->no_error_code() : 0);
  destroy();
}

void QuicConnection::extend_credit(int64_t stream_id, uint64_t length) {
  if (state_ != State::open || length == 0) return;
  if (stream_id >= 0) ngtcp2_conn_extend_max_stream_offset(conn_, stream_id, length);
  ngtcp2_conn_extend_max_offset(conn_, length);
}

void QuicConnection::write_packets() {
  if (state_ != State::open) return;
  std::array<uint8_t, kQuicMaxPacket> buffer;
  ngtcp2_tstamp ts = quic_now();
  int packets = 0;
  while (packets < kPacketsPerCall) {
    QuicApplication::StreamData data;
    if (int rc = app_->next_stream_data(data); rc != 0) {
      handle_error(rc);
      return;
    }
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    if (data.fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info info{};
    ngtcp2_ssize accepted = -1;
    ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_, &ps.path, &info, buffer.data(), buffer.size(), &accepted, flags,
                                               data.stream_id, data.count ? data.vecs.data() : nullptr, data.count,
                                               ts);
    if (data.stream_id >= 0 && accepted >= 0) {
      if (int rc = app_->on_stream_data_written(data.stream_id, static_cast<size_t>(accepted)); rc != 0) {
        handle_error(rc);
        return;
      }
    }
    if (n < 0) {
      if (n == NGTCP2_ERR_WRITE_MORE) continue;  // room left in the packet for another stream
      if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
        app_->on_stream_blocked(data.stream_id);  // extend_max_stream_data resumes it
        continue;
      }
      if (n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
        app_->on_stream_shut(data.stream_id);
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
        &timer_, [](uv_timer_t* t) { static_cast<QuicConnection*>(t->data)->on_timer(); }, 0, 0);
    return;
  }
  schedule_timer();
}

void QuicConnection::schedule_timer() {
  if (state_ == State::closed) return;
  ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(conn_);
  if (state_ == State::open && app_) {
    if (uint64_t since = app_->oldest_partial_request()) {
      expiry = std::min<ngtcp2_tstamp>(expiry, since + server_->config().idle_timeout_ms * NGTCP2_MILLISECONDS);
    }
  }
  ngtcp2_tstamp current = quic_now();
  uint64_t ms = expiry <= current ? 0 : (expiry - current + NGTCP2_MILLISECONDS - 1) / NGTCP2_MILLISECONDS;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<QuicConnection*>(t->data)->on_timer(); }, ms, 0);
}

// A request begun more than the idle timeout ago and still incomplete (a
// DoQ stream without its FIN): ngtcp2's idle timer restarts with every
// packet, so a client sending ACKs or PINGs would hold it forever.
bool QuicConnection::request_timed_out(uint64_t now) {
  const uint64_t since = app_ ? app_->oldest_partial_request() : 0;
  if (since == 0 || now < since + server_->config().idle_timeout_ms * NGTCP2_MILLISECONDS) return false;
  auto& counters = server_->counters();
  counters.add(counters.request_timeouts);
  close_with_app_error(app_->no_error_code());
  return true;
}

void QuicConnection::on_timer() {
  switch (state_) {
    case State::open: {
      if (handshake_done_ && request_timed_out(quic_now())) return;
      int rc = ngtcp2_conn_handle_expiry(conn_, quic_now());
      if (rc != 0) {
        if (rc == NGTCP2_ERR_IDLE_CLOSE) {
          auto& counters = server_->counters();
          counters.add(counters.idle_timeouts);
          if (!handshake_done_) counters.add(counters.handshakes_failed);
          destroy();  // idle close is silent (RFC 9000 §10.1)
        } else {
          if (rc == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
            auto& counters = server_->counters();
            counters.add(counters.handshake_timeouts);
            counters.add(counters.handshakes_failed);
            destroy();  // nobody proved they are listening: no CONNECTION_CLOSE
            return;
          }
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

void QuicConnection::handle_error(int liberr) {
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

void QuicConnection::start_closing(const ngtcp2_connection_close_error& error) {
  if (state_ != State::open) return;
  if (!conn_) {
    destroy();
    return;
  }
  if (ngtcp2_conn_is_in_closing_period(conn_) || ngtcp2_conn_is_in_draining_period(conn_)) {
    start_draining();
    return;
  }
  std::array<uint8_t, kQuicMaxPacket> buffer;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info info{};
  ngtcp2_ssize n =
      ngtcp2_conn_write_connection_close(conn_, &ps.path, &info, buffer.data(), buffer.size(), &error, quic_now());
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
      &timer_, [](uv_timer_t* t) { static_cast<QuicConnection*>(t->data)->on_timer(); }, ms, 0);
}

void QuicConnection::start_draining() {
  state_ = State::draining;
  uint64_t ms = 3 * ngtcp2_conn_get_pto(conn_) / NGTCP2_MILLISECONDS + 1;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<QuicConnection*>(t->data)->on_timer(); }, ms, 0);
}

void QuicConnection::destroy() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  for (const auto& cid : cids_) server_->unregister_cid(cid);
  cids_.clear();
  if (counted_) connection_closed(server_->counters());
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<QuicConnection*>(h->data);
    QuicServer* server = self->server_;
    server->connection_gone(self);
    self->release();  // may delete self (Responders may still hold it)
  });
}

// ---------------------------------------------------------------------------
// ngtcp2 callbacks: forwarded to the application.

int QuicConnection::on_recv_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t,
                                        const uint8_t* data, size_t length, void* user, void*) {
  return self(user)->app_->on_stream_data(stream_id, std::span<const uint8_t>(data, length),
                                          (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
}

int QuicConnection::on_acked_stream_data_offset(ngtcp2_conn*, int64_t stream_id, uint64_t, uint64_t length,
                                                void* user, void*) {
  return self(user)->app_->on_acked_stream_data(stream_id, length);
}

int QuicConnection::on_stream_open(ngtcp2_conn*, int64_t stream_id, void* user) {
  return self(user)->app_->on_stream_open(stream_id);
}

int QuicConnection::on_stream_close(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t app_error_code,
                                    void* user, void*) {
  return self(user)->app_->on_stream_close(stream_id, app_error_code,
                                           (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) != 0);
}

int QuicConnection::on_stream_reset(ngtcp2_conn*, int64_t stream_id, uint64_t final_size, uint64_t app_error_code,
                                    void* user, void*) {
  return self(user)->app_->on_stream_reset(stream_id, final_size, app_error_code);
}

int QuicConnection::on_stream_stop_sending(ngtcp2_conn*, int64_t stream_id, uint64_t app_error_code, void* user,
                                           void*) {
  return self(user)->app_->on_stream_stop_sending(stream_id, app_error_code);
}

int QuicConnection::on_extend_max_stream_data(ngtcp2_conn*, int64_t stream_id, uint64_t, void* user, void*) {
  return self(user)->app_->on_extend_max_stream_data(stream_id);
}

int QuicConnection::on_extend_max_remote_streams_bidi(ngtcp2_conn*, uint64_t max_streams, void* user) {
  return self(user)->app_->on_extend_max_remote_streams_bidi(max_streams);
}

int QuicConnection::on_handshake_completed(ngtcp2_conn*, void* user) {
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
  return s->app_->on_handshake_completed();
}

int QuicConnection::on_get_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen,
                                             void* user) {
  auto* s = self(user);
  cid->datalen = cidlen;
  quic_random_bytes(cid->data, cidlen);
  auto secret = s->server_->tls().secret();
  if (ngtcp2_crypto_generate_stateless_reset_token(token, secret.data(), secret.size(), cid) != 0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  s->cids_.push_back(*cid);
  s->server_->register_cid(*cid, s);
  return 0;
}

int QuicConnection::on_remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* user) {
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

void QuicConnection::on_rand(uint8_t* dest, size_t length, const ngtcp2_rand_ctx*) { quic_random_bytes(dest, length); }

}  // namespace sextant::transports
