// doh3_client: DNS over HTTPS on HTTP/3 (RFC 8484 over RFC 9114), on
// ngtcp2 0.12 + GnuTLS + nghttp3 0.8 — Debian 12 has no client that speaks
// it (curl 7.88 has no HTTP/3). For tests and for load.
//
// Load and queries (dnsperf's query-file format, "name type" per line):
//   doh3_client -s 127.0.0.1 -p 8443 [-d FILE | NAME TYPE ...] [-c CONNS] [-m STREAMS]
//               [-n COUNT] [-l SECONDS] [-Q QPS] [--method GET|POST] [--cafile PEM]
//               [--servername NAME] [--path /dns-query] [--edns] [--dnssec] [--print]
//   prints what dnsperf prints (sent, completed, lost, rcodes, QPS) plus
//   HTTP statuses and latency percentiles; --print shows each answer.
//
// One raw request, for the error statuses:
//   doh3_client -s ADDR -p PORT --request METHOD TARGET [--body FILE]
//               [--content-type TYPE] [-o FILE]
//   prints "status: N", the header fields, then the body (or writes it to FILE).
//
// Exit status: 0 when every query got an HTTP answer (whatever its status),
// 1 when some were lost, 2 on bad arguments or when no connection came up.
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
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "transports/quic_client_callbacks.h"
#include "wire/base_encoding.h"
#include "wire/message.h"

using namespace sextant;

namespace {

uint64_t now_ns() {
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

// ---------------------------------------------------------------------------

void usage() {
  std::fprintf(stderr,
               "usage: doh3_client [-s ADDR] [-p PORT] [--cafile PEM] [--servername NAME] [--path PATH]\n"
               "                   [-d QUERYFILE | NAME TYPE ...] [-c CONNECTIONS] [-m STREAMS] [-n COUNT]\n"
               "                   [-l SECONDS] [-Q QPS] [--method GET|POST] [--timeout SECONDS] [--edns]\n"
               "                   [--dnssec] [--print]\n"
               "       doh3_client [-s ADDR] [-p PORT] ... --request METHOD TARGET [--body FILE]\n"
               "                   [--content-type TYPE] [-o FILE]\n");
}

bool parse_options(int argc, char** argv, Options& o) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "-s") {
      if (!value(o.server)) return false;
    } else if (a == "-p") {
      if (!value(v)) return false;
      o.port = static_cast<uint16_t>(std::atoi(v.c_str()));
    } else if (a == "--cafile") {
      if (!value(o.cafile)) return false;
    } else if (a == "--servername") {
      if (!value(o.servername)) return false;
    } else if (a == "--path") {
      if (!value(o.path)) return false;
    } else if (a == "--method") {
      if (!value(o.method)) return false;
      if (o.method != "GET" && o.method != "POST") return false;
    } else if (a == "-c") {
      if (!value(v)) return false;
      o.connections = static_cast<unsigned>(std::max(1, std::atoi(v.c_str())));
    } else if (a == "-m") {
      if (!value(v)) return false;
      o.streams = static_cast<unsigned>(std::max(1, std::atoi(v.c_str())));
    } else if (a == "-n") {
      if (!value(v)) return false;
      o.count = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "-l") {
      if (!value(v)) return false;
      o.seconds = std::atof(v.c_str());
    } else if (a == "-Q") {
      if (!value(v)) return false;
      o.rate = std::atof(v.c_str());
    } else if (a == "--timeout") {
      if (!value(v)) return false;
      o.timeout = std::atof(v.c_str());
    } else if (a == "-d") {
      if (!value(v)) return false;
      std::ifstream in(v);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", v.c_str());
        return false;
      }
      std::string line;
      while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string name, type;
        if (!(words >> name) || name[0] == '#') continue;
        if (!(words >> type)) type = "A";
        o.queries.emplace_back(name, type);
      }
    } else if (a == "--edns") {
      o.edns = true;
    } else if (a == "--dnssec") {
      o.edns = o.dnssec = true;
    } else if (a == "--print") {
      o.print = true;
    } else if (a == "--request") {
      if (!value(o.request_method) || !value(o.request_target)) return false;
    } else if (a == "--body") {
      if (!value(o.body_file)) return false;
    } else if (a == "--content-type") {
      if (!value(o.content_type)) return false;
    } else if (a == "-o") {
      if (!value(o.output_file)) return false;
    } else if (a == "-h" || a == "--help") {
      return false;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return false;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() % 2 != 0) positional.push_back("A");
  for (size_t i = 0; i < positional.size(); i += 2) o.queries.emplace_back(positional[i], positional[i + 1]);
  if (o.request_method.empty() && o.queries.empty()) {
    std::fprintf(stderr, "no queries: give -d FILE or NAME TYPE\n");
    return false;
  }
  return true;
}

std::optional<std::vector<uint8_t>> build_query(const Options& o, const std::string& name, const std::string& type) {
  wire::Message m;
  auto t = wire::rrtype_from_text(type);
  if (!t) return std::nullopt;
  try {
    m.questions.push_back({wire::Name::from_text(name), *t, wire::RRClass::IN});
  } catch (const std::exception&) {
    return std::nullopt;
  }
  m.header.id = 0;  // RFC 8484 §4.1: cache-friendly
  m.header.set_rd(true);
  if (o.edns) {
    wire::Edns edns;
    edns.udp_payload_size = 1232;
    edns.set_dnssec_ok(o.dnssec);
    m.edns = edns;
  }
  std::vector<uint8_t> out;
  if (wire::build_message(m, out) != wire::WireError::ok) return std::nullopt;
  return out;
}

Request make_request(const Options& o, const std::vector<uint8_t>& query) {
  Request r;
  std::string authority = o.servername + ":" + std::to_string(o.port);
  if (o.method == "GET") {
    r.headers = {{":method", "GET"}, {":scheme", "https"}, {":authority", authority},
                 {":path", o.path + "?dns=" + wire::base64url_encode(query)}, {"accept", "application/dns-message"}};
  } else {
    r.headers = {{":method", "POST"}, {":scheme", "https"}, {":authority", authority}, {":path", o.path},
                 {"content-type", "application/dns-message"}, {"accept", "application/dns-message"},
                 {"content-length", std::to_string(query.size())}};
    r.body = query;
  }
  return r;
}

// Runs the poll loop over `connections` until `done()` or `deadline_ns`.
template <typename Done, typename Tick>
void run_loop(std::vector<std::unique_ptr<H3Connection>>& connections, uint64_t deadline_ns, Done done, Tick tick) {
  while (!done() && now_ns() < deadline_ns) {
    tick();
    std::vector<pollfd> fds;
    int wait = 20;
    for (auto& c : connections) {
      fds.push_back(pollfd{c->fd(), POLLIN, 0});
      wait = std::min(wait, c->timeout_ms(20));
    }
    ::poll(fds.data(), fds.size(), wait);
    for (size_t i = 0; i < connections.size(); ++i) {
      auto& c = connections[i];
      if (c->closed()) continue;
      if (fds[i].revents & POLLIN) c->on_readable();
      c->on_timer();
    }
  }
}

int run_request(const Options& o) {
  Request r;
  std::string authority = o.servername + ":" + std::to_string(o.port);
  r.headers = {{":method", o.request_method}, {":scheme", "https"}, {":authority", authority},
               {":path", o.request_target}};
  if (!o.body_file.empty()) {
    std::ifstream in(o.body_file, std::ios::binary);
    r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    r.headers.emplace_back("content-type", o.content_type);
    r.headers.emplace_back("content-length", std::to_string(r.body.size()));
  }
  std::optional<Response> got;
  bool finished = false;
  std::vector<std::unique_ptr<H3Connection>> connections;
  connections.push_back(std::make_unique<H3Connection>(o, [&](const Request&, const Response* response) {
    finished = true;
    if (response) got = *response;
  }));
  std::string error;
  if (!connections[0]->start(error)) {
    std::fprintf(stderr, "doh3_client: %s\n", error.c_str());
    return 2;
  }
  bool submitted = false;
  uint64_t deadline = now_ns() + static_cast<uint64_t>(o.timeout * 1e9);
  run_loop(connections, deadline, [&] { return finished || connections[0]->closed(); },
           [&] {
             if (!submitted && connections[0]->ready()) submitted = connections[0]->submit(r);
           });
  if (!got) {
    std::fprintf(stderr, "doh3_client: no response (%s)\n",
                 connections[0]->close_reason().empty() ? "timeout" : connections[0]->close_reason().c_str());
    return 1;
  }
  std::printf("status: %d\n", got->status);
  for (auto& [k, v] : got->headers) {
    if (k[0] != ':') std::printf("%s: %s\n", k.c_str(), v.c_str());
  }
  std::printf("\n");
  if (!o.output_file.empty()) {
    std::ofstream out(o.output_file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(got->body.data()), static_cast<std::streamsize>(got->body.size()));
  } else {
    wire::Message m;
    if (wire::Message::parse(got->body, m) == wire::WireError::ok && m.header.qr()) {
      std::printf("%s", m.to_text().c_str());
    } else {
      std::fwrite(got->body.data(), 1, got->body.size(), stdout);
    }
  }
  return 0;
}

struct Stats {
  uint64_t sent = 0, completed = 0, lost = 0;
  std::map<int, uint64_t> statuses;
  std::map<std::string, uint64_t> rcodes;
  std::vector<double> latencies_ms;
};

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

int run_load(const Options& o) {
  std::vector<std::vector<uint8_t>> queries;
  for (auto& [name, type] : o.queries) {
    auto q = build_query(o, name, type);
    if (!q) {
      std::fprintf(stderr, "doh3_client: cannot build a query for '%s %s'\n", name.c_str(), type.c_str());
      return 2;
    }
    queries.push_back(std::move(*q));
  }
  uint64_t total = o.count ? o.count : (o.seconds > 0 ? UINT64_MAX : queries.size());
  Stats stats;
  auto on_response = [&](const Request& request, const Response* response) {
    if (!response) {
      ++stats.lost;
      return;
    }
    ++stats.completed;
    ++stats.statuses[response->status];
    stats.latencies_ms.push_back(static_cast<double>(now_ns() - request.started_ns) / 1e6);
    wire::Message m;
    if (response->status == 200 && wire::Message::parse(response->body, m) == wire::WireError::ok) {
      ++stats.rcodes[wire::to_string(m.rcode())];
      if (o.print) {
        std::printf(";; %s %s\n%s\n", o.queries[request.query_index].first.c_str(),
                    o.queries[request.query_index].second.c_str(), m.to_text().c_str());
      }
    } else if (o.print) {
      std::printf(";; %s %s: HTTP %d\n", o.queries[request.query_index].first.c_str(),
                  o.queries[request.query_index].second.c_str(), response->status);
    }
  };
  std::vector<std::unique_ptr<H3Connection>> connections;
  for (unsigned i = 0; i < o.connections; ++i) {
    connections.push_back(std::make_unique<H3Connection>(o, on_response));
    std::string error;
    if (!connections.back()->start(error)) {
      std::fprintf(stderr, "doh3_client: %s\n", error.c_str());
      return 2;
    }
  }
  uint64_t start = now_ns();
  uint64_t send_until = o.seconds > 0 ? start + static_cast<uint64_t>(o.seconds * 1e9) : UINT64_MAX;
  uint64_t give_up = o.seconds > 0 ? send_until + static_cast<uint64_t>(o.timeout * 1e9)
                                   : start + static_cast<uint64_t>((o.timeout + static_cast<double>(total) / std::max(o.rate, 1.0) + 60) * 1e9);
  size_t next_connection = 0;
  auto all_closed = [&] {
    return std::all_of(connections.begin(), connections.end(), [](auto& c) { return c->closed(); });
  };
  auto in_flight = [&] {
    size_t n = 0;
    for (auto& c : connections) n += c->in_flight();
    return n;
  };
  auto finished_sending = [&] { return stats.sent >= total || now_ns() >= send_until; };
  run_loop(
      connections, give_up, [&] { return (finished_sending() && in_flight() == 0) || all_closed(); },
      [&] {
        uint64_t now = now_ns();
        while (!finished_sending()) {
          if (o.rate > 0 && now < start + static_cast<uint64_t>(static_cast<double>(stats.sent) / o.rate * 1e9)) break;
          // Round-robin over the connections with room for another stream.
          H3Connection* target = nullptr;
          for (size_t k = 0; k < connections.size() && !target; ++k) {
            auto& c = connections[(next_connection + k) % connections.size()];
            if (c->can_submit()) {
              target = c.get();
              next_connection = (next_connection + k + 1) % connections.size();
            }
          }
          if (!target) break;
          size_t index = static_cast<size_t>(stats.sent % queries.size());
          Request r = make_request(o, queries[index]);
          r.started_ns = now_ns();
          r.query_index = index;
          if (!target->submit(std::move(r))) break;
          ++stats.sent;
        }
        for (auto& c : connections) c->flush();
      });
  for (auto& c : connections) c->abandon_all("time limit");
  double elapsed = static_cast<double>(now_ns() - start) / 1e9;
  bool any_up = stats.completed > 0 || !all_closed();
  std::sort(stats.latencies_ms.begin(), stats.latencies_ms.end());
  std::printf("Statistics:\n\n");
  std::printf("  Queries sent:         %llu\n", static_cast<unsigned long long>(stats.sent));
  std::printf("  Queries completed:    %llu (%.2f%%)\n", static_cast<unsigned long long>(stats.completed),
              stats.sent ? 100.0 * static_cast<double>(stats.completed) / static_cast<double>(stats.sent) : 0.0);
  std::printf("  Queries lost:         %llu\n", static_cast<unsigned long long>(stats.lost));
  std::printf("  HTTP statuses:       ");
  for (auto& [status, n] : stats.statuses) std::printf(" %d %llu", status, static_cast<unsigned long long>(n));
  std::printf("\n  Response codes:      ");
  for (auto& [rcode, n] : stats.rcodes) std::printf(" %s %llu", rcode.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n  Run time (s):         %.6f\n", elapsed);
  std::printf("  Queries per second:   %.6f\n", elapsed > 0 ? static_cast<double>(stats.completed) / elapsed : 0.0);
  std::printf("  Latency (ms):         p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", percentile(stats.latencies_ms, 50),
              percentile(stats.latencies_ms, 90), percentile(stats.latencies_ms, 99),
              stats.latencies_ms.empty() ? 0.0 : stats.latencies_ms.back());
  std::printf("  Connections:          %u x %u streams\n", o.connections, o.streams);
  for (auto& c : connections) {
    if (c->closed() && !c->close_reason().empty() && c->close_reason() != "time limit") {
      std::printf("  Connection closed:    %s\n", c->close_reason().c_str());
    }
  }
  if (!any_up) return 2;
  return stats.lost == 0 && stats.completed == stats.sent ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) {
    usage();
    return 2;
  }
  return o.request_method.empty() ? run_load(o) : run_request(o);
}
