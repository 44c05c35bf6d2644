// The HTTP/3 client connection of doh3_client (DNS over HTTPS on HTTP/3,
// ngtcp2 0.12 + GnuTLS + nghttp3 0.8), with the options and request types it
// shares with the command line program. Header-only: one bench tool uses it.
#pragma once

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transports/quic_client_callbacks.h"

namespace sextant::bench::doh3 {

inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Options {
  std::string server = "127.0.0.1";
  uint16_t port = 443;
  std::string servername = "localhost";
  std::string cafile;            // verify the server's certificate against it
  std::string path = "/dns-query";
  std::string method = "POST";
  unsigned connections = 1;
  unsigned streams = 1;          // concurrent requests per connection
  uint64_t count = 0;            // 0: each query once (or until -l with -l)
  double seconds = 0;            // 0: no time limit
  double rate = 0;               // queries per second, 0: full speed
  double timeout = 5;            // seconds to wait for an answer
  bool edns = false;
  bool dnssec = false;
  bool print = false;
  std::vector<std::pair<std::string, std::string>> queries;  // name, type
  // Raw request mode.
  std::string request_method;
  std::string request_target;
  std::string body_file;
  std::string content_type = "application/dns-message";
  std::string output_file;
};

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<uint8_t> body;
};

// One request in flight.
struct Request {
  std::vector<std::pair<std::string, std::string>> headers;  // pseudo-headers first
  std::vector<uint8_t> body;
  uint64_t started_ns = 0;
  size_t query_index = 0;
};

// A QUIC connection speaking HTTP/3, driven by the caller's poll loop.
class H3Connection {
 public:
  using OnResponse = std::function<void(const Request&, const Response*)>;  // null: failed

  H3Connection(const Options& options, OnResponse on_response) : options_(options), on_response_(std::move(on_response)) {}
  ~H3Connection() {
    if (h3_) nghttp3_conn_del(h3_);
    if (conn_) ngtcp2_conn_del(conn_);
    if (session_) gnutls_deinit(session_);
    if (credentials_) gnutls_certificate_free_credentials(credentials_);
    if (fd_ >= 0) ::close(fd_);
  }
  H3Connection(const H3Connection&) = delete;
  H3Connection& operator=(const H3Connection&) = delete;

  bool start(std::string& error) {
    sockaddr_storage remote{};
    auto* in4 = reinterpret_cast<sockaddr_in*>(&remote);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&remote);
    if (inet_pton(AF_INET, options_.server.c_str(), &in4->sin_addr) == 1) {
      in4->sin_family = AF_INET;
      in4->sin_port = htons(options_.port);
      remote_length_ = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, options_.server.c_str(), &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(options_.port);
      remote_length_ = sizeof(sockaddr_in6);
    } else {
      error = "not an IP address: " + options_.server;
      return false;
    }
    remote_ = remote;
    fd_ = ::socket(remote.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&remote_), remote_length_) != 0) {
      error = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    socklen_t length = sizeof local_;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local_), &length);

    gnutls_certificate_allocate_credentials(&credentials_);
    if (!options_.cafile.empty() &&
        gnutls_certificate_set_x509_trust_file(credentials_, options_.cafile.c_str(), GNUTLS_X509_FMT_PEM) <= 0) {
      error = "cannot read CA file " + options_.cafile;
      return false;
    }
    gnutls_init(&session_, GNUTLS_CLIENT | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA);
    gnutls_priority_set_direct(session_,
                               "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
                               "+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE",
                               nullptr);
    ngtcp2_crypto_gnutls_configure_client_session(session_);
    ref_.get_conn = [](ngtcp2_crypto_conn_ref* r) { return static_cast<H3Connection*>(r->user_data)->conn_; };
    ref_.user_data = this;
    gnutls_session_set_ptr(session_, &ref_);
    gnutls_credentials_set(session_, GNUTLS_CRD_CERTIFICATE, credentials_);
    if (!options_.cafile.empty()) gnutls_session_set_verify_cert(session_, options_.servername.c_str(), 0);
    gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>("h3")), 2};
    gnutls_alpn_set_protocols(session_, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    gnutls_server_name_set(session_, GNUTLS_NAME_DNS, options_.servername.data(), options_.servername.size());

    ngtcp2_callbacks cb{};
    transports::set_quic_client_crypto_callbacks(cb);
    cb.handshake_completed = [](ngtcp2_conn*, void* user) { return self(user)->on_handshake_completed(); };
    cb.recv_stream_data = [](ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t, const uint8_t* data, size_t len,
                             void* user, void*) {
      auto* s = self(user);
      if (!s->h3_) return 0;
      nghttp3_ssize n = nghttp3_conn_read_stream(s->h3_, id, data, len, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) ? 1 : 0);
      if (n < 0) return NGTCP2_ERR_CALLBACK_FAILURE;
      s->extend_credit(id, static_cast<size_t>(n));
      return 0;
    };
    cb.acked_stream_data_offset = [](ngtcp2_conn*, int64_t id, uint64_t, uint64_t len, void* user, void*) {
      auto* s = self(user);
      if (s->h3_ && nghttp3_conn_add_ack_offset(s->h3_, id, len) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
      return 0;
    };
    cb.stream_close = [](ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t code, void* user, void*) {
      auto* s = self(user);
      if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) code = NGHTTP3_H3_NO_ERROR;
      if (s->h3_) {
        int rv = nghttp3_conn_close_stream(s->h3_, id, code);
        if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) return NGTCP2_ERR_CALLBACK_FAILURE;
      }
      s->finish(id, false);  // no-op if the response completed
      return 0;
    };
    cb.stream_reset = [](ngtcp2_conn*, int64_t id, uint64_t, uint64_t, void* user, void*) {
      auto* s = self(user);
      if (s->h3_) nghttp3_conn_shutdown_stream_read(s->h3_, id);
      return 0;
    };
    cb.extend_max_stream_data = [](ngtcp2_conn*, int64_t id, uint64_t, void* user, void*) {
      auto* s = self(user);
      if (s->h3_) nghttp3_conn_unblock_stream(s->h3_, id);
      return 0;
    };

    ngtcp2_cid dcid, scid;
    dcid.datalen = 18;
    scid.datalen = 18;
    gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, 18);
    gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, 18);
    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = 256 * 1024;
    params.initial_max_stream_data_uni = 256 * 1024;
    params.initial_max_data = 4 << 20;
    params.initial_max_streams_uni = 3;
    params.max_idle_timeout = 30 * NGTCP2_SECONDS;
    ngtcp2_path path = make_path();
    if (int rc = ngtcp2_conn_client_new(&conn_, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &settings, &params,
                                        nullptr, this);
        rc != 0) {
      error = std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rc);
      return false;
    }
    ngtcp2_conn_set_tls_native_handle(conn_, session_);
    return flush();
  }

  int fd() const { return fd_; }
  bool ready() const { return h3_ != nullptr && !closed_; }
  bool closed() const { return closed_; }
  size_t in_flight() const { return requests_.size(); }
  bool can_submit() const {
    return ready() && requests_.size() < options_.streams && ngtcp2_conn_get_streams_bidi_left(conn_) > 0;
  }
  std::string close_reason() const { return close_reason_; }

  bool submit(Request request) {
    int64_t id = -1;
    if (ngtcp2_conn_open_bidi_stream(conn_, &id, nullptr) != 0) return false;
    auto& r = requests_[id];
    r.request = std::move(request);
    std::vector<nghttp3_nv> nv;
    for (auto& [k, v] : r.request.headers) {
      nv.push_back(nghttp3_nv{reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()), k.size(),
                              v.size(), NGHTTP3_NV_FLAG_NONE});
    }
    nghttp3_data_reader reader{read_body};
    if (nghttp3_conn_submit_request(h3_, id, nv.data(), nv.size(), r.request.body.empty() ? nullptr : &reader,
                                    nullptr) != 0) {
      requests_.erase(id);
      return false;
    }
    return true;
  }

  // Reads what arrived; false once the connection is gone.
  bool on_readable() {
    uint8_t buffer[65536];
    for (int i = 0; i < 64; ++i) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n < 0) break;
      ngtcp2_path path = make_path();
      ngtcp2_pkt_info pi{};
      int rc = ngtcp2_conn_read_pkt(conn_, &path, &pi, buffer, static_cast<size_t>(n), now_ns());
      if (rc != 0) {
        if (rc == NGTCP2_ERR_DRAINING) {
          ngtcp2_connection_close_error e;
          ngtcp2_conn_get_connection_close_error(conn_, &e);
          fail("closed by the server (" +
               std::string(e.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION ? "application" : "transport") +
               " error 0x" + [&] {
                 char hex[32];
                 std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(e.error_code));
                 return std::string(hex);
               }() + ")");
        } else {
          fail(std::string("read: ") + ngtcp2_strerror(rc));
        }
        return false;
      }
    }
    return flush();
  }

  // Milliseconds until the next timer (at most `cap`).
  int timeout_ms(int cap) const {
    if (closed_) return cap;
    uint64_t expiry = ngtcp2_conn_get_expiry(conn_);
    uint64_t now = now_ns();
    if (expiry <= now) return 0;
    return static_cast<int>(std::min<uint64_t>((expiry - now) / 1000000 + 1, static_cast<uint64_t>(cap)));
  }
  bool on_timer() {
    if (closed_) return false;
    if (ngtcp2_conn_get_expiry(conn_) <= now_ns()) {
      if (int rc = ngtcp2_conn_handle_expiry(conn_, now_ns()); rc != 0) {
        fail(std::string("timer: ") + ngtcp2_strerror(rc));
        return false;
      }
    }
    return flush();
  }

  bool flush() {
    if (closed_) return false;
    uint8_t buffer[1500];
    uint64_t ts = now_ns();
    for (int packets = 0; packets < 256;) {
      nghttp3_vec vecs[16];
      int64_t stream_id = -1;
      int fin = 0;
      nghttp3_ssize count = 0;
      if (h3_ && ngtcp2_conn_get_max_data_left(conn_) > 0) {
        count = nghttp3_conn_writev_stream(h3_, &stream_id, &fin, vecs, 16);
        if (count < 0) {
          fail("nghttp3 writev");
          return false;
        }
      }
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
      ngtcp2_path_storage ps;
      ngtcp2_path_storage_zero(&ps);
      ngtcp2_pkt_info pi{};
      ngtcp2_ssize accepted = -1;
      ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_, &ps.path, &pi, buffer, sizeof buffer, &accepted, flags,
                                                 stream_id, reinterpret_cast<const ngtcp2_vec*>(vecs),
                                                 static_cast<size_t>(count), ts);
      if (stream_id >= 0 && accepted >= 0 && h3_) nghttp3_conn_add_write_offset(h3_, stream_id, static_cast<size_t>(accepted));
      if (n < 0) {
        if (n == NGTCP2_ERR_WRITE_MORE) continue;
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
          nghttp3_conn_block_stream(h3_, stream_id);
          continue;
        }
        if (n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
          nghttp3_conn_shutdown_stream_write(h3_, stream_id);
          continue;
        }
        fail(std::string("write: ") + ngtcp2_strerror(static_cast<int>(n)));
        return false;
      }
      if (n == 0) break;
      ::send(fd_, buffer, static_cast<size_t>(n), 0);
      ++packets;
    }
    ngtcp2_conn_update_pkt_tx_time(conn_, ts);
    return true;
  }

  // Fails every request still in flight (time limit, or the end).
  void abandon_all(const char* why) {
    if (!closed_) close_reason_ = why;
    auto pending = std::move(requests_);
    requests_.clear();
    for (auto& [id, r] : pending) on_response_(r.request, nullptr);
  }

 private:
  struct InFlight {
    Request request;
    Response response;
    bool body_sent = false;
  };

  static H3Connection* self(void* user) { return static_cast<H3Connection*>(user); }

  ngtcp2_path make_path() {
    ngtcp2_path path{};
    path.local.addr = reinterpret_cast<sockaddr*>(&local_);
    path.local.addrlen = remote_length_;
    path.remote.addr = reinterpret_cast<sockaddr*>(&remote_);
    path.remote.addrlen = remote_length_;
    return path;
  }

  void extend_credit(int64_t id, size_t n) {
    ngtcp2_conn_extend_max_stream_offset(conn_, id, n);
    ngtcp2_conn_extend_max_offset(conn_, n);
  }

  int on_handshake_completed() {
    nghttp3_callbacks callbacks{};
    callbacks.recv_header = [](nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* name, nghttp3_rcbuf* value,
                               uint8_t, void* user, void*) {
      auto* s = self(user);
      auto it = s->requests_.find(id);
      if (it == s->requests_.end()) return 0;
      nghttp3_vec n = nghttp3_rcbuf_get_buf(name);
      nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
      std::string key(reinterpret_cast<const char*>(n.base), n.len);
      std::string text(reinterpret_cast<const char*>(v.base), v.len);
      if (key == ":status") it->second.response.status = std::atoi(text.c_str());
      it->second.response.headers.emplace_back(std::move(key), std::move(text));
      return 0;
    };
    callbacks.recv_data = [](nghttp3_conn*, int64_t id, const uint8_t* data, size_t len, void* user, void*) {
      auto* s = self(user);
      s->extend_credit(id, len);
      auto it = s->requests_.find(id);
      if (it != s->requests_.end()) it->second.response.body.insert(it->second.response.body.end(), data, data + len);
      return 0;
    };
    callbacks.deferred_consume = [](nghttp3_conn*, int64_t id, size_t consumed, void* user, void*) {
      self(user)->extend_credit(id, consumed);
      return 0;
    };
    callbacks.end_stream = [](nghttp3_conn*, int64_t id, void* user, void*) {
      self(user)->finish(id, true);
      return 0;
    };
    callbacks.stream_close = [](nghttp3_conn*, int64_t id, uint64_t, void* user, void*) {
      self(user)->finish(id, false);
      return 0;
    };
    callbacks.stop_sending = [](nghttp3_conn*, int64_t id, uint64_t code, void* user, void*) {
      ngtcp2_conn_shutdown_stream_read(self(user)->conn_, id, code);
      return 0;
    };
    callbacks.reset_stream = [](nghttp3_conn*, int64_t id, uint64_t code, void* user, void*) {
      ngtcp2_conn_shutdown_stream_write(self(user)->conn_, id, code);
      return 0;
    };
    nghttp3_settings settings;
    nghttp3_settings_default(&settings);
    if (nghttp3_conn_client_new(&h3_, &callbacks, &settings, nghttp3_mem_default(), this) != 0) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    int64_t control = -1, encoder = -1, decoder = -1;
    if (ngtcp2_conn_open_uni_stream(conn_, &control, nullptr) != 0 || nghttp3_conn_bind_control_stream(h3_, control) != 0 ||
        ngtcp2_conn_open_uni_stream(conn_, &encoder, nullptr) != 0 ||
        ngtcp2_conn_open_uni_stream(conn_, &decoder, nullptr) != 0 ||
        nghttp3_conn_bind_qpack_streams(h3_, encoder, decoder) != 0) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
  }

  static nghttp3_ssize read_body(nghttp3_conn*, int64_t id, nghttp3_vec* vec, size_t veccnt, uint32_t* flags,
                                 void* user, void*) {
    auto* s = self(user);
    *flags |= NGHTTP3_DATA_FLAG_EOF;
    auto it = s->requests_.find(id);
    if (it == s->requests_.end() || it->second.body_sent || veccnt == 0) return 0;
    it->second.body_sent = true;
    vec[0].base = it->second.request.body.data();
    vec[0].len = it->second.request.body.size();
    return 1;
  }

  void finish(int64_t id, bool complete) {
    auto it = requests_.find(id);
    if (it == requests_.end()) return;
    InFlight done = std::move(it->second);
    requests_.erase(it);
    on_response_(done.request, complete ? &done.response : nullptr);
  }

  void fail(std::string why) {
    closed_ = true;
    close_reason_ = std::move(why);
    abandon_all(close_reason_.c_str());
  }

  const Options& options_;
  OnResponse on_response_;
  int fd_ = -1;
  sockaddr_storage local_{}, remote_{};
  socklen_t remote_length_ = 0;
  gnutls_certificate_credentials_t credentials_ = nullptr;
  gnutls_session_t session_ = nullptr;
  ngtcp2_crypto_conn_ref ref_{};
  ngtcp2_conn* conn_ = nullptr;
  nghttp3_conn* h3_ = nullptr;
  std::map<int64_t, InFlight> requests_;
  bool closed_ = false;
  std::string close_reason_;
};

}  // namespace sextant::bench::doh3
