// A minimal blocking DoQ client for the DoQ tests.
#pragma once

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "transports/quic_client_callbacks.h"

namespace sextant::transports::test {

// A minimal blocking DoQ client on ngtcp2 + GnuTLS (the same libraries, but
// the client side): lets the tests send what kdig never sends (non-zero
// IDs, several streams, resets, other ALPNs) and read the error codes.
class DoqTestClient {
 public:
  struct StreamResult {
    std::vector<uint8_t> data;
    bool closed = false;
    bool reset = false;
    uint64_t app_error = 0;
  };
  // What a later connection needs to resume this one's session (and send
  // 0-RTT): the server's ticket and its transport parameters.
  struct Resumption {
    std::vector<uint8_t> ticket;
    ngtcp2_transport_params params{};
    bool have_params = false;
  };

  // With `resume`, the session is resumed from that ticket, and 0-RTT keys
  // are installed (queries sent before handshake() go as 0-RTT).
  // `source`: an IPv4 loopback address to send from (tests that play many
  // clients), or empty for the kernel's choice. `idle_timeout_s`: our QUIC
  // max_idle_timeout (the lower of both sides' applies).
  DoqTestClient(uint16_t port, std::vector<std::string> alpn = {"doq"}, const std::string& ca_file = "",
                const Resumption* resume = nullptr, const std::string& source = "", unsigned idle_timeout_s = 5)
      : alpn_(std::move(alpn)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (!source.empty()) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
    }
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::memcpy(&remote_, &remote, sizeof remote);
    ::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote);
    socklen_t length = sizeof local_;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local_), &length);

    gnutls_certificate_allocate_credentials(&credentials_);
    if (!ca_file.empty()) gnutls_certificate_set_x509_trust_file(credentials_, ca_file.c_str(), GNUTLS_X509_FMT_PEM);
    gnutls_init(&session_, GNUTLS_CLIENT | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA);
    gnutls_priority_set_direct(session_,
                               "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
                               "+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE",
                               nullptr);
    ngtcp2_crypto_gnutls_configure_client_session(session_);
    ref_.get_conn = [](ngtcp2_crypto_conn_ref* r) { return static_cast<DoqTestClient*>(r->user_data)->conn_; };
    ref_.user_data = this;
    gnutls_session_set_ptr(session_, &ref_);
    gnutls_credentials_set(session_, GNUTLS_CRD_CERTIFICATE, credentials_);
    if (!ca_file.empty()) gnutls_session_set_verify_cert(session_, "localhost", 0);
    std::vector<gnutls_datum_t> datums;
    for (auto& a : alpn_) datums.push_back({reinterpret_cast<unsigned char*>(a.data()), static_cast<unsigned>(a.size())});
    if (!datums.empty()) gnutls_alpn_set_protocols(session_, datums.data(), static_cast<unsigned>(datums.size()), 0);
    gnutls_server_name_set(session_, GNUTLS_NAME_DNS, "localhost", 9);
    if (resume && !resume->ticket.empty()) {
      gnutls_session_set_data(session_, resume->ticket.data(), resume->ticket.size());
    }
    // Keeps the latest ticket the server sends (after its handshake).
    gnutls_handshake_set_hook_function(
        session_, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET, GNUTLS_HOOK_POST,
        [](gnutls_session_t s, unsigned, unsigned, unsigned, const gnutls_datum_t*) -> int {
          auto* self = static_cast<DoqTestClient*>(static_cast<ngtcp2_crypto_conn_ref*>(gnutls_session_get_ptr(s))->user_data);
          gnutls_datum_t data{};
          if (gnutls_session_get_data2(s, &data) == 0) {
            self->ticket_.assign(data.data, data.data + data.size);
            gnutls_free(data.data);
          }
          return 0;
        });

    ngtcp2_callbacks cb{};
    set_quic_client_crypto_callbacks(cb);
    cb.handshake_completed = [](ngtcp2_conn*, void* user) {
      static_cast<DoqTestClient*>(user)->handshake_done_ = true;
      return 0;
    };
    cb.recv_stream_data = [](ngtcp2_conn* conn, uint32_t, int64_t id, uint64_t, const uint8_t* data, size_t len,
                             void* user, void*) {
      auto& r = static_cast<DoqTestClient*>(user)->streams[id];
      r.data.insert(r.data.end(), data, data + len);
      ngtcp2_conn_extend_max_stream_offset(conn, id, len);
      ngtcp2_conn_extend_max_offset(conn, len);
      return 0;
    };
    cb.stream_reset = [](ngtcp2_conn*, int64_t id, uint64_t, uint64_t code, void* user, void*) {
      auto& r = static_cast<DoqTestClient*>(user)->streams[id];
      r.reset = true;
      r.app_error = code;
      return 0;
    };
    cb.stream_close = [](ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t code, void* user, void*) {
      auto& r = static_cast<DoqTestClient*>(user)->streams[id];
      r.closed = true;
      if (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET && code != 0) r.app_error = code;
      return 0;
    };

    ngtcp2_cid dcid, scid;
    dcid.datalen = 18;
    scid.datalen = 18;
    gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, 18);
    gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, 18);
    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = uv_hrtime();
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = 256 * 1024;
    params.initial_max_data = 1 << 20;
    params.max_idle_timeout = idle_timeout_s * NGTCP2_SECONDS;
    ngtcp2_path path = make_path();
    ngtcp2_conn_client_new(&conn_, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &settings, &params, nullptr, this);
    ngtcp2_conn_set_tls_native_handle(conn_, session_);
    if (resume && resume->have_params) ngtcp2_conn_set_early_remote_transport_params(conn_, &resume->params);
  }
  ~DoqTestClient() {
    ngtcp2_conn_del(conn_);
    gnutls_deinit(session_);
    gnutls_certificate_free_credentials(credentials_);
    ::close(fd_);
  }
  DoqTestClient(const DoqTestClient&) = delete;
  DoqTestClient& operator=(const DoqTestClient&) = delete;

  // Runs until the server's session ticket has come (after the handshake);
  // returns what a later connection needs to resume, or an empty ticket.
  Resumption resumption(unsigned timeout_ms = 3000) {
    run_until([this] { return !ticket_.empty(); }, timeout_ms);
    Resumption r;
    r.ticket = ticket_;
    if (const auto* p = ngtcp2_conn_get_remote_transport_params(conn_)) {
      r.params = *p;
      r.have_params = true;
    }
    return r;
  }
  // Sends what is queued now, without waiting for or reading anything (the
  // first flight of a 0-RTT connection, then nothing until the next call).
  void send_now() { flush(); }
  bool resumed() const { return gnutls_session_is_resumed(session_) != 0; }
  bool early_data_accepted() const { return (gnutls_session_get_flags(session_) & GNUTLS_SFLAGS_EARLY_DATA) != 0; }
  // Every datagram sent so far, in order (a test replays them from elsewhere).
  const std::vector<std::vector<uint8_t>>& sent_datagrams() const { return sent_; }

  // Runs until the handshake completes or the connection ends.
  bool handshake(unsigned timeout_ms = 3000) {
    run_until([this] { return handshake_done_; }, timeout_ms);
    return handshake_done_;
  }
  // Opens a stream and queues `bytes` (already framed) with FIN unless told.
  int64_t send(std::vector<uint8_t> bytes, bool fin = true) {
    int64_t id = -1;
    if (ngtcp2_conn_open_bidi_stream(conn_, &id, nullptr) != 0) return -1;
    outgoing_.push_back({id, std::move(bytes), 0, fin, false});
    streams[id];
    return id;
  }
  int64_t send_query(const std::vector<uint8_t>& query) {
    std::vector<uint8_t> framed = {static_cast<uint8_t>(query.size() >> 8), static_cast<uint8_t>(query.size())};
    framed.insert(framed.end(), query.begin(), query.end());
    return send(std::move(framed));
  }
  void reset(int64_t id) { ngtcp2_conn_shutdown_stream(conn_, id, 3); }
  bool wait_streams(unsigned timeout_ms = 3000) {
    return run_until([this] {
      for (auto& [id, s] : streams) {
        if (!s.closed) return false;
      }
      return true;
    }, timeout_ms);
  }
  bool wait_closed(unsigned timeout_ms = 3000) {
    return run_until([] { return false; }, timeout_ms), closed_;
  }
  // Runs the connection (sends, reads, timers) for `timeout_ms`; false once
  // it has ended.
  bool pump(unsigned timeout_ms) { return !wait_closed(timeout_ms); }
  // Streams the server still lets us open (its MAX_STREAMS minus ours).
  uint64_t streams_left() const { return ngtcp2_conn_get_streams_bidi_left(conn_); }
  // The CONNECTION_CLOSE the server sent, if any.
  bool peer_closed() const { return closed_; }
  ngtcp2_connection_close_error close_error() {
    ngtcp2_connection_close_error e;
    ngtcp2_conn_get_connection_close_error(conn_, &e);
    return e;
  }
  // The answer on stream `id` without its length prefix.
  std::vector<uint8_t> answer(int64_t id) {
    auto& d = streams[id].data;
    if (d.size() < 2) return {};
    return std::vector<uint8_t>(d.begin() + 2, d.end());
  }

  std::map<int64_t, StreamResult> streams;

 private:
  struct Outgoing {
    int64_t id;
    std::vector<uint8_t> data;
    size_t sent;
    bool fin;
    bool fin_sent = false;
  };

  ngtcp2_path make_path() {
    ngtcp2_path path{};
    path.local.addr = reinterpret_cast<sockaddr*>(&local_);
    path.local.addrlen = sizeof(sockaddr_in);
    path.remote.addr = reinterpret_cast<sockaddr*>(&remote_);
    path.remote.addrlen = sizeof(sockaddr_in);
    return path;
  }

  bool flush() {
    if (closed_) return false;
    uint8_t buffer[1500];
    for (int i = 0; i < 200; ++i) {
      Outgoing* out = nullptr;
      for (auto& o : outgoing_) {
        if (o.sent < o.data.size() || (o.fin && o.sent == o.data.size() && !o.fin_sent)) {
          out = &o;
          break;
        }
      }
      ngtcp2_vec vec{};
      ngtcp2_ssize accepted = -1;
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      if (out) {
        vec.base = out->data.data() + out->sent;
        vec.len = out->data.size() - out->sent;
        if (out->fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
      }
      ngtcp2_path_storage ps;
      ngtcp2_path_storage_zero(&ps);
      ngtcp2_pkt_info pi{};
      auto n = ngtcp2_conn_writev_stream(conn_, &ps.path, &pi, buffer, sizeof buffer, &accepted, flags,
                                         out ? out->id : -1, out ? &vec : nullptr, out ? 1 : 0, uv_hrtime());
      if (out && accepted >= 0) {
        out->sent += static_cast<size_t>(accepted);
        if (out->sent == out->data.size()) out->fin_sent = true;
      }
      if (n == NGTCP2_ERR_WRITE_MORE) continue;
      if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
        if (out) out->fin_sent = true, out->sent = out->data.size();
        continue;
      }
      if (n < 0) return false;
      if (n == 0) break;
      ::send(fd_, buffer, static_cast<size_t>(n), 0);
      sent_.emplace_back(buffer, buffer + n);
    }
    ngtcp2_conn_update_pkt_tx_time(conn_, uv_hrtime());
    return true;
  }

  template <typename Done>
  bool run_until(Done done, unsigned timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      if (!flush()) return done();
      uint64_t expiry = ngtcp2_conn_get_expiry(conn_);
      uint64_t now = uv_hrtime();
      uint64_t wait_ms = expiry > now ? std::min<uint64_t>((expiry - now) / 1000000 + 1, 50) : 0;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(wait_ms)) > 0) {
        uint8_t buffer[65536];
        ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) {
          ngtcp2_path path = make_path();
          ngtcp2_pkt_info pi{};
          int rc = ngtcp2_conn_read_pkt(conn_, &path, &pi, buffer, static_cast<size_t>(n), uv_hrtime());
          if (rc != 0) {
            closed_ = true;  // draining (peer closed) or a fatal error
            return done();
          }
        }
      }
      if (ngtcp2_conn_get_expiry(conn_) <= uv_hrtime()) {
        if (ngtcp2_conn_handle_expiry(conn_, uv_hrtime()) != 0) {
          closed_ = true;
          return done();
        }
      }
    }
    return done();
  }

  std::vector<std::string> alpn_;
  int fd_ = -1;
  sockaddr_storage local_{}, remote_{};
  gnutls_certificate_credentials_t credentials_ = nullptr;
  gnutls_session_t session_ = nullptr;
  ngtcp2_crypto_conn_ref ref_{};
  ngtcp2_conn* conn_ = nullptr;
  std::vector<Outgoing> outgoing_;
  bool handshake_done_ = false;
  bool closed_ = false;
  std::vector<uint8_t> ticket_;
  std::vector<std::vector<uint8_t>> sent_;
};

}  // namespace sextant::transports::test
