// doq_load: a DNS-over-QUIC load generator (RFC 9250) on ngtcp2 0.12 +
// GnuTLS, the libraries Debian ships (no DoQ load tool exists there: dnsperf
// has no DoQ and kdig opens one connection per process).
//
//   doq_load -s 127.0.0.1 -p 8853 -d queries.txt [-c 4] [-m 10] [-l 5] [-Q 20000]
//            [-n 0] [--resume] [--early-data] [--dnssec] [--server-pid PID]
//
// -c connections, each keeping up to -m queries (streams) in flight; -l
// seconds of load; -Q total queries per second (0: as fast as the server
// answers); -n queries per connection before it is closed and a new one
// opened (0: connections live for the whole run), which measures handshakes;
// --resume resumes TLS sessions with tickets on those new connections,
// --early-data also sends the first queries as 0-RTT. The query file has
// dnsperf's format ("name TYPE" per line). --server-pid reads the server's
// CPU time from /proc/PID/stat before and after, for queries per CPU-second.
//
// Output: human lines, then one "key=value" line (for bench/transports.py).
// One thread, one UDP socket per connection, epoll; every loop bounded by
// the run time plus a 3 s drain.
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "transports/quic_client_callbacks.h"

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "doq_load: %s\n", why.c_str());
  std::exit(2);
}

struct Options {
  std::string server = "127.0.0.1";
  uint16_t port = 853;
  std::string query_file;
  unsigned connections = 4;
  unsigned streams = 10;
  double seconds = 5;
  double qps = 0;
  uint64_t per_connection = 0;
  bool resume = false;
  bool early_data = false;
  bool dnssec = false;
  int server_pid = 0;
  std::string ca_file;
  std::string hostname = "localhost";
};

// ---- queries ---------------------------------------------------------------

uint16_t type_code(const std::string& t) {
  static const std::pair<const char*, uint16_t> types[] = {
      {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"PTR", 12}, {"MX", 15}, {"TXT", 16},
      {"AAAA", 28}, {"SRV", 33}, {"DS", 43}, {"RRSIG", 46}, {"DNSKEY", 48}, {"HTTPS", 65}, {"ANY", 255}};
  for (auto& [name, code] : types)
    if (strcasecmp(name, t.c_str()) == 0) return code;
  if (t.rfind("TYPE", 0) == 0) return static_cast<uint16_t>(std::atoi(t.c_str() + 4));
  die("unknown type " + t);
}

// A DoQ query: ID 0 (RFC 9250 §4.2.1), RD, EDNS 1232 (DO if asked), framed
// with its two-octet length.
std::vector<uint8_t> make_framed_query(const std::string& name, uint16_t type, bool dnssec) {
  std::vector<uint8_t> q = {0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
  size_t start = 0;
  std::string n = name;
  if (!n.empty() && n.back() == '.') n.pop_back();
  while (start <= n.size() && !n.empty()) {
    size_t dot = n.find('.', start);
    if (dot == std::string::npos) dot = n.size();
    size_t len = dot - start;
    if (len == 0 || len > 63) die("bad name " + name);
    q.push_back(static_cast<uint8_t>(len));
    q.insert(q.end(), n.begin() + static_cast<long>(start), n.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  q.push_back(static_cast<uint8_t>(type >> 8));
  q.push_back(static_cast<uint8_t>(type));
  q.push_back(0);
  q.push_back(1);
  // OPT: root, type 41, payload 1232, extended rcode/version 0, DO flag.
  const uint8_t opt[] = {0, 0, 41, 0x04, 0xD0, 0, 0, static_cast<uint8_t>(dnssec ? 0x80 : 0), 0, 0, 0};
  q.insert(q.end(), opt, opt + sizeof opt);
  std::vector<uint8_t> framed = {static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
  framed.insert(framed.end(), q.begin(), q.end());
  return framed;
}

std::vector<std::vector<uint8_t>> read_queries(const Options& o) {
  std::ifstream in(o.query_file);
  if (!in) die("cannot read " + o.query_file);
  std::vector<std::vector<uint8_t>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name, type;
    if (!(words >> name) || name[0] == '#' || name[0] == ';') continue;
    if (!(words >> type)) type = "A";
    out.push_back(make_framed_query(name, type_code(type), o.dnssec));
  }
  if (out.empty()) die(o.query_file + " holds no query");
  return out;
}

// ---- statistics ---------------------------------------------------------------

struct Stats {
  uint64_t sent = 0;
  uint64_t answered = 0;
  uint64_t noerror = 0;
  uint64_t stream_errors = 0;  // reset or closed without a whole answer
  uint64_t connections = 0;
  uint64_t handshakes = 0;
  uint64_t resumed = 0;
  uint64_t early_accepted = 0;
  uint64_t early_rejected = 0;
  uint64_t connection_failures = 0;
  uint64_t rate_limited = 0;  // the rate wanted a query but no stream was free
  std::vector<uint32_t> latency_us;
};

// ---- one connection ------------------------------------------------------------

struct Shared;

class Connection {
 public:
  Connection(Shared& shared, unsigned index);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  bool dead() const { return dead_; }
  bool finished() const { return dead_ || (closing_ && in_flight() == 0); }
  bool can_send() const {
    return !dead_ && !closing_ && (handshake_done_ || early_ok_) && in_flight() < limit_ &&
           ngtcp2_conn_get_streams_bidi_left(conn_) > 0 &&
           (budget_ == 0 || issued_ < budget_);
  }
  size_t in_flight() const { return streams_.size(); }
  uint64_t answered() const { return answered_; }
  // Opens a stream for `framed` and queues it; false if no stream is free.
  bool send_query(const std::vector<uint8_t>* framed, uint64_t queued_at);
  void on_readable();
  void on_timer(uint64_t now);
  uint64_t expiry() const { return dead_ ? UINT64_MAX : ngtcp2_conn_get_expiry(conn_); }
  // Graceful end: no new queries; CONNECTION_CLOSE once the last answer is in.
  void finish() { closing_ = true; maybe_close(); }
  bool flush();

 private:
  struct Stream {
    const std::vector<uint8_t>* query = nullptr;
    size_t sent = 0;
    uint64_t queued_at = 0;
    std::vector<uint8_t> answer;
    bool early = false;
  };
  static Connection* self(void* user) { return static_cast<Connection*>(user); }
  void fail(const char* why);
  void maybe_close();
  void answer_done(int64_t id, Stream& s);
  ngtcp2_path path() {
    ngtcp2_path p{};
    p.local.addr = reinterpret_cast<sockaddr*>(&local_);
    p.local.addrlen = local_len_;
    p.remote.addr = reinterpret_cast<sockaddr*>(&remote_);
    p.remote.addrlen = remote_len_;
    return p;
  }

  Shared& shared_;
  int fd_ = -1;
  sockaddr_storage local_{}, remote_{};
  socklen_t local_len_ = 0, remote_len_ = 0;
  gnutls_session_t session_ = nullptr;
  ngtcp2_crypto_conn_ref ref_{};
  ngtcp2_conn* conn_ = nullptr;
  std::unordered_map<int64_t, Stream> streams_;
  std::deque<int64_t> to_send_;
  bool handshake_done_ = false;
  bool early_ok_ = false;  // 0-RTT keys installed: queries may go before the handshake ends
  bool closing_ = false;
  bool dead_ = false;
  size_t limit_;
  uint64_t budget_;
  uint64_t issued_ = 0;
  uint64_t answered_ = 0;
};

struct Shared {
  Options options;
  Stats stats;
  gnutls_certificate_credentials_t credentials = nullptr;
  // The last session ticket and the server's transport parameters, for
  // resumption and 0-RTT.
  std::vector<uint8_t> ticket;
  std::optional<ngtcp2_transport_params> early_params;
};

Connection::Connection(Shared& shared, unsigned index)
    : shared_(shared), limit_(shared.options.streams), budget_(shared.options.per_connection) {
  (void)index;
  const Options& o = shared_.options;
  {
    sockaddr_in* v4 = reinterpret_cast<sockaddr_in*>(&remote_);
    sockaddr_in6* v6 = reinterpret_cast<sockaddr_in6*>(&remote_);
    if (inet_pton(AF_INET, o.server.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(o.port);
      remote_len_ = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, o.server.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(o.port);
      remote_len_ = sizeof(sockaddr_in6);
    } else {
      die("not an address: " + o.server);
    }
  }
  fd_ = ::socket(remote_.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&remote_), remote_len_) != 0) die("socket/connect");
  int size = 4 << 20;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  local_len_ = sizeof local_;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local_), &local_len_);

  unsigned flags = GNUTLS_CLIENT | GNUTLS_NO_END_OF_EARLY_DATA;
  if (o.early_data) flags |= GNUTLS_ENABLE_EARLY_DATA;
  gnutls_init(&session_, flags);
  gnutls_priority_set_direct(session_,
                             "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
                             "+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE",
                             nullptr);
  ngtcp2_crypto_gnutls_configure_client_session(session_);
  ref_.get_conn = [](ngtcp2_crypto_conn_ref* r) { return static_cast<Connection*>(r->user_data)->conn_; };
  ref_.user_data = this;
  gnutls_session_set_ptr(session_, &ref_);
  gnutls_credentials_set(session_, GNUTLS_CRD_CERTIFICATE, shared_.credentials);
  if (!o.ca_file.empty()) gnutls_session_set_verify_cert(session_, o.hostname.c_str(), 0);
  gnutls_datum_t alpn = {reinterpret_cast<unsigned char*>(const_cast<char*>("doq")), 3};
  gnutls_alpn_set_protocols(session_, &alpn, 1, 0);
  gnutls_server_name_set(session_, GNUTLS_NAME_DNS, o.hostname.data(), o.hostname.size());
  const bool resuming = o.resume && !shared_.ticket.empty();
  if (resuming) {
    gnutls_session_set_data(session_, shared_.ticket.data(), shared_.ticket.size());
  }
  // Keep the latest ticket for the next connection.
  gnutls_handshake_set_hook_function(
      session_, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET, GNUTLS_HOOK_POST,
      [](gnutls_session_t s, unsigned, unsigned, unsigned, const gnutls_datum_t*) -> int {
        auto* ref = static_cast<ngtcp2_crypto_conn_ref*>(gnutls_session_get_ptr(s));
        auto* c = static_cast<Connection*>(ref->user_data);
        gnutls_datum_t data{};
        if (gnutls_session_get_data2(s, &data) == 0) {
          c->shared_.ticket.assign(data.data, data.data + data.size);
          gnutls_free(data.data);
        }
        return 0;
      });

  ngtcp2_callbacks cb{};
  sextant::transports::set_quic_client_crypto_callbacks(cb);
  cb.handshake_completed = [](ngtcp2_conn* conn, void* user) {
    auto* c = self(user);
    c->handshake_done_ = true;
    auto& st = c->shared_.stats;
    ++st.handshakes;
    if (gnutls_session_is_resumed(c->session_)) ++st.resumed;
    if (c->early_ok_) {
      if (gnutls_session_get_flags(c->session_) & GNUTLS_SFLAGS_EARLY_DATA) ++st.early_accepted;
    }
    if (c->shared_.options.early_data) {
      c->shared_.early_params = *ngtcp2_conn_get_remote_transport_params(conn);
    }
    return 0;
  };
  cb.early_data_rejected = [](ngtcp2_conn*, void* user) {
    ++self(user)->shared_.stats.early_rejected;
    return 0;
  };
  cb.recv_stream_data = [](ngtcp2_conn* conn, uint32_t flags, int64_t id, uint64_t, const uint8_t* data, size_t len,
                           void* user, void*) {
    auto* c = self(user);
    ngtcp2_conn_extend_max_stream_offset(conn, id, len);
    ngtcp2_conn_extend_max_offset(conn, len);
    auto it = c->streams_.find(id);
    if (it == c->streams_.end()) return 0;
    it->second.answer.insert(it->second.answer.end(), data, data + len);
    if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) c->answer_done(id, it->second);
    return 0;
  };
  cb.stream_close = [](ngtcp2_conn*, uint32_t, int64_t id, uint64_t, void* user, void*) {
    auto* c = self(user);
    auto it = c->streams_.find(id);
    if (it != c->streams_.end()) {
      // Closed without a whole answer: reset by the server, or 0-RTT data
      // the server refused.
      ++c->shared_.stats.stream_errors;
      c->streams_.erase(it);
    }
    c->maybe_close();
    return 0;
  };

  ngtcp2_cid dcid, scid;
  dcid.datalen = 18;
  scid.datalen = 18;
  gnutls_rnd(GNUTLS_RND_NONCE, dcid.data, 18);
  gnutls_rnd(GNUTLS_RND_NONCE, scid.data, 18);
  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now_ns();
  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_stream_data_bidi_local = 64 * 1024;
  params.initial_max_data = 4 << 20;
  params.max_idle_timeout = 10 * NGTCP2_SECONDS;
  ngtcp2_path p = path();
  if (ngtcp2_conn_client_new(&conn_, &dcid, &scid, &p, NGTCP2_PROTO_VER_V1, &cb, &settings, &params, nullptr,
                             this) != 0) {
    die("ngtcp2_conn_client_new failed");
  }
  ngtcp2_conn_set_tls_native_handle(conn_, session_);
  if (resuming && o.early_data && shared_.early_params) {
    ngtcp2_conn_set_early_remote_transport_params(conn_, &*shared_.early_params);
    early_ok_ = true;
  }
  ++shared_.stats.connections;
}

Connection::~Connection() {
  if (conn_) ngtcp2_conn_del(conn_);
  if (session_) gnutls_deinit(session_);
  if (fd_ >= 0) ::close(fd_);
}

void Connection::fail(const char* why) {
  if (dead_) return;
  dead_ = true;
  if (!handshake_done_) ++shared_.stats.connection_failures;
  shared_.stats.stream_errors += streams_.size();
  streams_.clear();
  (void)why;
}

bool Connection::send_query(const std::vector<uint8_t>* framed, uint64_t queued_at) {
  if (!can_send()) return false;
  int64_t id = -1;
  if (ngtcp2_conn_open_bidi_stream(conn_, &id, nullptr) != 0) return false;
  Stream& s = streams_[id];
  s.query = framed;
  s.queued_at = queued_at;
  s.early = !handshake_done_;
  to_send_.push_back(id);
  ++issued_;
  ++shared_.stats.sent;
  if (budget_ != 0 && issued_ >= budget_) closing_ = true;
  return true;
}

void Connection::answer_done(int64_t id, Stream& s) {
  auto& st = shared_.stats;
  const auto& a = s.answer;
  if (a.size() >= 14 && size_t(a[0] << 8 | a[1]) == a.size() - 2) {
    ++st.answered;
    if ((a[5] & 0x0F) == 0) ++st.noerror;
    st.latency_us.push_back(static_cast<uint32_t>(std::min<uint64_t>((now_ns() - s.queued_at) / 1000, UINT32_MAX)));
  } else {
    ++st.stream_errors;
  }
  ++answered_;
  streams_.erase(id);
}

void Connection::maybe_close() {
  if (dead_ || !closing_ || !streams_.empty()) return;
  uint8_t buffer[1500];
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  ngtcp2_connection_close_error error;
  ngtcp2_connection_close_error_default(&error);
  ngtcp2_connection_close_error_set_application_error(&error, 0, nullptr, 0);
  ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, buffer, sizeof buffer, &error, now_ns());
  if (n > 0) (void)::send(fd_, buffer, static_cast<size_t>(n), 0);
  dead_ = true;
}

bool Connection::flush() {
  if (dead_) return false;
  uint8_t buffer[1500];
  uint64_t ts = now_ns();
  for (int packets = 0; packets < 256;) {
    int64_t id = -1;
    Stream* s = nullptr;
    while (!to_send_.empty()) {
      auto it = streams_.find(to_send_.front());
      if (it != streams_.end() && it->second.sent < it->second.query->size()) {
        id = it->first;
        s = &it->second;
        break;
      }
      to_send_.pop_front();
    }
    ngtcp2_vec vec{};
    ngtcp2_ssize accepted = -1;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    if (s) {
      vec.base = const_cast<uint8_t*>(s->query->data()) + s->sent;
      vec.len = s->query->size() - s->sent;
      flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    }
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_, &ps.path, &pi, buffer, sizeof buffer, &accepted, flags, id,
                                               s ? &vec : nullptr, s ? 1 : 0, ts);
    if (s && accepted >= 0) {
      s->sent += static_cast<size_t>(accepted);
      if (s->sent >= s->query->size()) to_send_.pop_front();
    }
    if (n == NGTCP2_ERR_WRITE_MORE) continue;
    if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
        n == NGTCP2_ERR_STREAM_NOT_FOUND) {
      if (s) to_send_.pop_front();
      continue;
    }
    if (n < 0) {
      fail("write");
      return false;
    }
    if (n == 0) break;
    if (::send(fd_, buffer, static_cast<size_t>(n), 0) < 0 && errno != EAGAIN) {
      fail("send");
      return false;
    }
    ++packets;
  }
  ngtcp2_conn_update_pkt_tx_time(conn_, ts);
  return true;
}

void Connection::on_readable() {
  uint8_t buffer[65536];
  for (int i = 0; i < 64 && !dead_; ++i) {
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    ngtcp2_path p = path();
    ngtcp2_pkt_info pi{};
    int rc = ngtcp2_conn_read_pkt(conn_, &p, &pi, buffer, static_cast<size_t>(n), now_ns());
    if (rc != 0) {
      fail("read");
      return;
    }
  }
  flush();
}

void Connection::on_timer(uint64_t now) {
  if (dead_ || ngtcp2_conn_get_expiry(conn_) > now) return;
  if (ngtcp2_conn_handle_expiry(conn_, now) != 0) {
    fail("expiry");
    return;
  }
  flush();
}

// ---- the run ---------------------------------------------------------------------

struct CpuTimes {
  bool ok = false;
  double seconds = 0;
};

CpuTimes process_cpu(int pid) {
  CpuTimes t;
  if (pid <= 0) return t;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return t;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  t.ok = true;
  t.seconds = double(utime + stime) / double(sysconf(_SC_CLK_TCK));
  return t;
}

double percentile(std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * double(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1] / 1000.0;
}

void usage() {
  std::fputs(
      "usage: doq_load -s ADDR -p PORT -d QUERYFILE [-c CONNECTIONS] [-m STREAMS] [-l SECONDS]\n"
      "                [-Q QPS] [-n QUERIES_PER_CONNECTION] [--resume] [--early-data] [--dnssec]\n"
      "                [--server-pid PID] [--ca FILE] [--hostname NAME]\n",
      stderr);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "-s") o.server = value();
    else if (a == "-p") o.port = static_cast<uint16_t>(std::stoi(value()));
    else if (a == "-d") o.query_file = value();
    else if (a == "-c") o.connections = static_cast<unsigned>(std::stoul(value()));
    else if (a == "-m") o.streams = static_cast<unsigned>(std::stoul(value()));
    else if (a == "-l") o.seconds = std::stod(value());
    else if (a == "-Q") o.qps = std::stod(value());
    else if (a == "-n") o.per_connection = std::stoull(value());
    else if (a == "--resume") o.resume = true;
    else if (a == "--early-data") o.resume = o.early_data = true;
    else if (a == "--dnssec") o.dnssec = true;
    else if (a == "--server-pid") o.server_pid = std::stoi(value());
    else if (a == "--ca") o.ca_file = value();
    else if (a == "--hostname") o.hostname = value();
    else usage();
  }
  if (o.query_file.empty() || o.connections == 0 || o.streams == 0 || o.seconds <= 0 || o.seconds > 600 ||
      o.connections > 10000)
    usage();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Shared shared;
  shared.options = parse(argc, argv);
  const Options& o = shared.options;
  auto queries = read_queries(o);
  gnutls_certificate_allocate_credentials(&shared.credentials);
  if (!o.ca_file.empty() &&
      gnutls_certificate_set_x509_trust_file(shared.credentials, o.ca_file.c_str(), GNUTLS_X509_FMT_PEM) <= 0) {
    die("cannot read CA file " + o.ca_file);
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<std::unique_ptr<Connection>> connections(o.connections);
  auto open_connection = [&](unsigned i) {
    connections[i] = std::make_unique<Connection>(shared, i);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, connections[i]->fd(), &ev);
    connections[i]->flush();
  };
  // Without resumption, the first connection's ticket would never be used;
  // with it, open one connection first so the rest can resume.
  for (unsigned i = 0; i < o.connections; ++i) open_connection(i);

  CpuTimes cpu_before = process_cpu(o.server_pid);
  const uint64_t start = now_ns();
  const uint64_t end = start + static_cast<uint64_t>(o.seconds * 1e9);
  const uint64_t drain_end = end + 3'000'000'000ull;
  const double interval_ns = o.qps > 0 ? 1e9 / o.qps : 0;
  double next_send = static_cast<double>(start);
  size_t next_query = 0;
  unsigned round_robin = 0;
  uint64_t last_answer = start;

  auto issue = [&](unsigned c, uint64_t queued_at) {
    if (!connections[c]->send_query(&queries[next_query], queued_at)) return false;
    next_query = (next_query + 1) % queries.size();
    return true;
  };

  epoll_event events[256];
  for (;;) {
    uint64_t now = now_ns();
    const bool loading = now < end;
    if (!loading) {
      bool any = false;
      for (auto& c : connections)
        if (c && !c->dead() && c->in_flight() > 0) any = true;
      if (!any || now >= drain_end) break;
    }
    // Replace connections that finished their share (-n) or died.
    for (unsigned i = 0; i < o.connections && loading; ++i) {
      if (connections[i]->finished()) {
        epoll_ctl(ep, EPOLL_CTL_DEL, connections[i]->fd(), nullptr);
        connections[i].reset();
        open_connection(i);
      }
    }
    if (loading) {
      if (interval_ns == 0) {
        for (unsigned i = 0; i < o.connections; ++i) {
          bool sent = false;
          while (issue(i, now)) sent = true;
          if (sent) connections[i]->flush();
        }
      } else {
        std::vector<bool> touched(o.connections, false);
        while (next_send <= static_cast<double>(now)) {
          bool sent = false;
          for (unsigned k = 0; k < o.connections && !sent; ++k) {
            unsigned c = (round_robin + k) % o.connections;
            if (issue(c, static_cast<uint64_t>(next_send))) {
              sent = touched[c] = true;
              round_robin = (c + 1) % o.connections;
            }
          }
          if (!sent) ++shared.stats.rate_limited;
          next_send += interval_ns;
        }
        for (unsigned i = 0; i < o.connections; ++i)
          if (touched[i]) connections[i]->flush();
      }
    }
    uint64_t wake = loading ? end : drain_end;
    if (interval_ns > 0 && loading) wake = std::min<uint64_t>(wake, static_cast<uint64_t>(next_send));
    for (auto& c : connections)
      if (c) wake = std::min(wake, c->expiry());
    now = now_ns();
    int timeout_ms = wake <= now ? 0 : static_cast<int>(std::min<uint64_t>((wake - now) / 1000000, 100));
    int n = epoll_wait(ep, events, 256, timeout_ms);
    uint64_t before = shared.stats.answered;
    for (int i = 0; i < n; ++i) {
      auto& c = connections[events[i].data.u32];
      if (c) c->on_readable();
    }
    now = now_ns();
    for (auto& c : connections)
      if (c) c->on_timer(now);
    if (shared.stats.answered != before) last_answer = now;
  }
  const uint64_t stop = now_ns();
  CpuTimes cpu_after = process_cpu(o.server_pid);
  for (auto& c : connections)
    if (c) c->finish();
  (void)last_answer;

  Stats& st = shared.stats;
  double wall = double(stop - start) / 1e9;
  double load_wall = std::min(wall, o.seconds);
  std::sort(st.latency_us.begin(), st.latency_us.end());
  double qps = double(st.answered) / wall;
  double cpu = cpu_after.ok && cpu_before.ok ? cpu_after.seconds - cpu_before.seconds : 0;
  std::printf("DoQ load: %u connection(s) x %u stream(s), %.1f s%s%s%s\n", o.connections, o.streams, o.seconds,
              o.qps > 0 ? ", rate-limited" : ", full speed",
              o.per_connection ? (", " + std::to_string(o.per_connection) + " queries per connection").c_str() : "",
              o.early_data ? ", 0-RTT" : o.resume ? ", resumed sessions" : "");
  std::printf("  queries sent %" PRIu64 ", answered %" PRIu64 " (NOERROR %" PRIu64 "), stream errors %" PRIu64
              ", lost %" PRIu64 "\n",
              st.sent, st.answered, st.noerror, st.stream_errors,
              st.sent > st.answered + st.stream_errors ? st.sent - st.answered - st.stream_errors : 0);
  std::printf("  connections %" PRIu64 ", handshakes %" PRIu64 " (resumed %" PRIu64 ", 0-RTT accepted %" PRIu64
              ", rejected %" PRIu64 "), failed %" PRIu64 "\n",
              st.connections, st.handshakes, st.resumed, st.early_accepted, st.early_rejected,
              st.connection_failures);
  std::printf("  %.0f queries/s over %.2f s; latency ms p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n", qps, wall,
              percentile(st.latency_us, 0.5), percentile(st.latency_us, 0.9), percentile(st.latency_us, 0.99),
              percentile(st.latency_us, 0.999), st.latency_us.empty() ? 0.0 : st.latency_us.back() / 1000.0);
  if (cpu_before.ok && cpu_after.ok) {
    std::printf("  server CPU %.2f s (%.0f%% of the run): %.0f queries per server CPU-second\n", cpu,
                100 * cpu / wall, cpu > 0 ? double(st.answered) / cpu : 0.0);
  }
  if (st.rate_limited) std::printf("  %" PRIu64 " sends found no free stream (raise -c or -m)\n", st.rate_limited);
  std::printf("RESULT sent=%" PRIu64 " answered=%" PRIu64 " noerror=%" PRIu64 " stream_errors=%" PRIu64
              " connections=%" PRIu64 " handshakes=%" PRIu64 " resumed=%" PRIu64 " early_accepted=%" PRIu64
              " wall=%.3f load_seconds=%.3f qps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f"
              " server_cpu=%.3f\n",
              st.sent, st.answered, st.noerror, st.stream_errors, st.connections, st.handshakes, st.resumed,
              st.early_accepted, wall, load_wall, qps, percentile(st.latency_us, 0.5),
              percentile(st.latency_us, 0.9), percentile(st.latency_us, 0.99), percentile(st.latency_us, 0.999),
              st.latency_us.empty() ? 0.0 : st.latency_us.back() / 1000.0, cpu);
  connections.clear();
  gnutls_certificate_free_credentials(shared.credentials);
  ::close(ep);
  return st.answered > 0 ? 0 : 1;
}
