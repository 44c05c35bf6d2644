#include "transports/tls_stream.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace sextant::transports {

namespace {

constexpr unsigned kCloseDrainMs = 2000;  // most time a graceful close waits for writes
constexpr size_t kReadChunk = 64 * 1024;

struct WriteRequest {
  uv_write_t request{};
  std::vector<uint8_t> data;
};

// One read buffer per thread: every read callback consumes its data before
// returning, so the buffer is free again for the next socket.
char* read_buffer() {
  thread_local std::array<char, kReadChunk> buffer;
  return buffer.data();
}

void alloc_read_buffer(uv_handle_t*, size_t, uv_buf_t* buf) {
  buf->base = read_buffer();
  buf->len = kReadChunk;
}

}  // namespace

bool make_ip_socket_address(const std::string& address, uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  auto* in4 = reinterpret_cast<sockaddr_in*>(&out);
  if (inet_pton(AF_INET, address.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    return true;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    return true;
  }
  return false;
}

int bind_reuseport_socket(const std::string& address, uint16_t port, int type, const char* what) {
  sockaddr_storage storage;
  if (!make_ip_socket_address(address, port, storage)) {
    throw std::runtime_error(fmt::format("{}: '{}' is not an IP address", what, address));
  }
  int fd = ::socket(storage.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("{} {} port {}: socket: {}", what, address, port, std::strerror(errno)));
  }
  int one = 1;
  // SO_REUSEPORT: every worker binds its own socket on the same port and the
  // kernel spreads connections across them (libuv 1.44 has no flag for it).
  // Port 0 is made shareable only after bind, as in open_bound_socket, so
  // that it never lands on another process's port.
  const bool share_after_bind = port == 0;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      (!share_after_bind && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)) {
    int saved = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("{} {} port {}: setsockopt: {}", what, address, port, std::strerror(saved)));
  }
  if (storage.ss_family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  socklen_t length = storage.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    int saved = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("{} {} port {}: bind: {}", what, address, port, std::strerror(saved)));
  }
  if (share_after_bind && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int saved = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("{} {} port {}: setsockopt: {}", what, address, port, std::strerror(saved)));
  }
  return fd;
}

// ---------------------------------------------------------------------------
// StreamConnection

StreamConnection::StreamConnection(StreamServer* server, const WorkerContext& worker,
                                   std::shared_ptr<const StreamServerOptions> options, TransportCounters* counters,
                                   std::shared_ptr<SSL_CTX> tls)
    : server_(server), worker_(worker), options_(std::move(options)), counters_(counters), tls_ctx_(std::move(tls)) {
  add_ref();  // held while the libuv handles are open
  uv_tcp_init(worker_.loop, &tcp_);
  uv_timer_init(worker_.loop, &timer_);
  tcp_.data = this;
  timer_.data = this;
  open_handles_ = 2;
}

StreamConnection::~StreamConnection() {
  app_.reset();  // before the SSL: the application may still look at the connection
  if (ssl_) SSL_free(ssl_);  // frees both memory BIOs
}

std::string StreamConnection::alpn() const {
  if (!ssl_) return {};
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &data, &length);
  return data ? std::string(reinterpret_cast<const char*>(data), length) : std::string();
}

bool StreamConnection::session_reused() const noexcept { return ssl_ && SSL_session_reused(ssl_) == 1; }

size_t StreamConnection::write_queue_bytes() const noexcept {
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_));
}

bool StreamConnection::start() {
  int length = sizeof tcp_peer_;
  uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&tcp_peer_), &length);
  length = sizeof local_;
  uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&local_), &length);
  peer_ = tcp_peer_;
  uv_tcp_nodelay(&tcp_, 1);
  connection_opened(*counters_);
  counted_ = true;
  app_ = server_->factory_(*this);

  if (tls_ctx_) {
    ssl_ = SSL_new(tls_ctx_.get());
    read_bio_ = BIO_new(BIO_s_mem());
    write_bio_ = BIO_new(BIO_s_mem());
    if (!ssl_ || !read_bio_ || !write_bio_) {
      if (read_bio_ && !ssl_) BIO_free(read_bio_);
      if (write_bio_ && !ssl_) BIO_free(write_bio_);
      return false;
    }
    // An empty read BIO means "wait for more", never end of file.
    BIO_set_mem_eof_return(read_bio_, -1);
    BIO_set_mem_eof_return(write_bio_, -1);
    SSL_set_bio(ssl_, read_bio_, write_bio_);
    SSL_set_accept_state(ssl_);
  }
  const auto& trusted = options_->trusted_proxies;
  if (options_->proxy_protocol && trusted && trusted->contains(tcp_peer())) {
    state_ = State::proxy_header;
    proxy_reader_ = std::make_unique<ProxyStreamReader>();
  } else {
    state_ = State::handshake;
  }
  arm_timer(options_->handshake_timeout_ms);
  update_reading();
  if (state_ == State::handshake && !ssl_) finish_handshake();
  return true;
}

void StreamConnection::finish_handshake() {
  state_ = State::open;
  counters_->add(counters_->handshakes_completed);
  arm_timer(options_->idle_timeout_ms);
  app_->on_ready();
}

void StreamConnection::arm_timer(unsigned ms) {
  if (state_ == State::closed || uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_))) return;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<StreamConnection*>(t->data)->on_timer(); }, ms, 0);
}

void StreamConnection::touch() {
  if (state_ != State::open) return;
  arm_timer(options_->idle_timeout_ms);
  if (server_) server_->mark_active(this);
}

bool StreamConnection::idle_for_eviction() const {
  switch (state_) {
    case State::proxy_header:
    case State::handshake:
      return true;  // nothing owed to it yet
    case State::open:
      return (!app_ || app_->pending() == 0) && write_queue_bytes() == 0;
    default:
      return false;  // already going
  }
}

void StreamConnection::on_timer() {
  switch (state_) {
    case State::proxy_header:
    case State::handshake:
      counters_->add(counters_->handshakes_failed);
      counters_->add(counters_->handshake_timeouts);
      close(false);
      break;
    case State::open:
      if (app_->pending() > 0) {
        arm_timer(options_->idle_timeout_ms);  // the resolver is still working for this client
      } else {
        counters_->add(app_->partial_request() ? counters_->request_timeouts : counters_->idle_timeouts);
        close(true);
      }
      break;
    case State::closing:
      close(false);  // the graceful drain took too long
      break;
    case State::closed:
      break;
  }
}

void StreamConnection::update_reading() {
  bool want = (state_ == State::proxy_header || state_ == State::handshake || state_ == State::open) &&
              !app_paused_ && !backpressure_paused_;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (want && !reading_) {
    if (uv_read_start(stream, alloc_read_buffer, [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
          static_cast<StreamConnection*>(s->data)->on_read(n, b);
        }) == 0) {
      reading_ = true;
    }
  } else if (!want && reading_) {
    uv_read_stop(stream);
    reading_ = false;
  }
}

void StreamConnection::pause_reading() {
  app_paused_ = true;
  update_reading();
}

void StreamConnection::resume_reading() {
  app_paused_ = false;
  update_reading();
}

void StreamConnection::on_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    // EOF or reset: nobody is left to read answers.
    close(false);
    return;
  }
  if (nread == 0 || state_ == State::closing || state_ == State::closed) return;
  // Bytes alone are not progress (see touch): a peer trickling a request
  // one octet at a time still meets the idle timer.
  std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
  if (state_ == State::proxy_header) {
    if (!consume_proxy_header(data)) {
      counters_->add(counters_->errors);
      close(false);
      return;
    }
    if (state_ == State::proxy_header) return;  // need more
    if (!ssl_) finish_handshake();
    if (data.empty() || state_ == State::closing) return;
  } else if (proxy_sniffer_.verdict() == ProxySignatureSniffer::Verdict::undecided &&
             proxy_sniffer_.feed(data) == ProxySignatureSniffer::Verdict::header) {
    // A PROXY header from a peer that is not a trusted proxy: never believed.
    counters_->add(counters_->proxy[static_cast<size_t>(ProxyOutcome::untrusted)]);
    close(false);
    return;
  }
  if (ssl_) {
    if (!feed_tls(data)) fail(state_ == State::handshake);
  } else if (state_ == State::open) {
    if (!app_->on_data(data) && state_ == State::open) {
      counters_->add(counters_->errors);
      close(true);
    }
  }
  account_library_buffers();
}

// The buffered-bytes gauge also counts what the libraries hold: ciphertext
// still in the read BIO, plaintext OpenSSL decrypted and we have not read,
// an unfinished TLS record (a client can leave one there as long as the
// timers allow), and the application library's share (HTTP/2's HPACK
// tables). OpenSSL allocates its record buffer while a record is incomplete
// and releases it when idle (SSL_MODE_RELEASE_BUFFERS) but does not say how
// much of it is filled: a whole record's buffer is counted. Recounted after
// each read (a few calls that read fields) and at close, not per answer:
// answers change only HPACK's encoder table, counted at the next read.
void StreamConnection::account_library_buffers() {
  constexpr size_t kTlsRecordBuffer = SSL3_RT_HEADER_LENGTH + SSL3_RT_MAX_ENCRYPTED_LENGTH;
  size_t now = 0;
  if (state_ != State::closed) {
    if (read_bio_) now += BIO_ctrl_pending(read_bio_);
    if (ssl_) {
      const int plain = SSL_pending(ssl_);
      now += static_cast<size_t>(std::max(0, plain));
      if (plain <= 0 && SSL_has_pending(ssl_)) now += kTlsRecordBuffer;
    }
    if (app_) now += app_->library_buffered();
  }
  if (now > library_buffered_) {
    buffer_grew(*counters_, now - library_buffered_);
  } else if (now < library_buffered_) {
    buffer_shrank(*counters_, library_buffered_ - now);
  }
  library_buffered_ = now;
}

bool StreamConnection::consume_proxy_header(std::span<const uint8_t>& data) {
  if (proxy_reader_->feed(data) == ProxyStreamReader::Status::need_more) return true;
  const ProxyOutcome outcome = proxy_reader_->outcome();
  counters_->add(counters_->proxy[static_cast<size_t>(outcome)]);
  if (!is_accepted(outcome)) return false;
  const ProxyHeader& header = proxy_reader_->header();
  if (header.has_addresses) {
    std::memcpy(&peer_, &header.source, sizeof peer_);
    std::memcpy(&local_, &header.destination, sizeof local_);
  }
  proxied_ = true;
  proxy_local_ = outcome == ProxyOutcome::local;
  proxy_reader_.reset();
  state_ = State::handshake;
  return true;
}

bool StreamConnection::feed_tls(std::span<const uint8_t> data) {
  if (BIO_write(read_bio_, data.data(), static_cast<int>(data.size())) != static_cast<int>(data.size())) return false;
  if (state_ == State::handshake) {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    if (!flush_tls()) return false;
    if (rc != 1) {
      int error = SSL_get_error(ssl_, rc);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return true;
      ERR_clear_error();
      return false;
    }
    finish_handshake();
  }
  std::array<uint8_t, 16384> plain;
  while (state_ == State::open) {
    ERR_clear_error();
    int n = SSL_read(ssl_, plain.data(), static_cast<int>(plain.size()));
    if (n > 0) {
      if (!app_->on_data(std::span<const uint8_t>(plain.data(), static_cast<size_t>(n)))) {
        counters_->add(counters_->errors);
        flush_tls();
        close(true);
        return true;
      }
      continue;
    }
    int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) break;
    if (error == SSL_ERROR_ZERO_RETURN) {  // the client's close_notify
      flush_tls();
      close(true);
      return true;
    }
    ERR_clear_error();
    return false;
  }
  return flush_tls();
}

bool StreamConnection::flush_tls() {
  if (!write_bio_) return true;
  while (true) {
    size_t pending = BIO_ctrl_pending(write_bio_);
    if (pending == 0) return true;
    std::vector<uint8_t> chunk(pending);
    int n = BIO_read(write_bio_, chunk.data(), static_cast<int>(pending));
    if (n <= 0) return true;
    chunk.resize(static_cast<size_t>(n));
    if (!send_raw(chunk)) return false;
  }
}

bool StreamConnection::send_raw(std::span<const uint8_t> data) {
  if (state_ == State::closed || uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return false;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (write_queue_bytes() == 0) {
    // Try the socket directly first: nearly every answer fits.
    uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                               static_cast<unsigned>(data.size()));
    int n = uv_try_write(stream, &buf, 1);
    if (n == static_cast<int>(data.size())) return true;
    if (n > 0) {
      data = data.subspan(static_cast<size_t>(n));
    } else if (n != UV_EAGAIN) {
      return false;
    }
  }
  auto* request = new WriteRequest;
  request->data.assign(data.begin(), data.end());
  request->request.data = this;
  buffer_grew(*counters_, request->data.size());
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(request->data.data()), static_cast<unsigned>(request->data.size()));
  int rc = uv_write(&request->request, stream, &buf, 1, [](uv_write_t* req, int status) {
    auto* owned = reinterpret_cast<WriteRequest*>(req);
    auto* self = static_cast<StreamConnection*>(req->data);
    buffer_shrank(*self->counters_, owned->data.size());
    delete owned;
    if (status < 0) {
      if (self->state_ != State::closed) self->close(false);
      return;
    }
    if (self->backpressure_paused_ && self->write_queue_bytes() < self->options_->max_write_queue_bytes / 2) {
      self->backpressure_paused_ = false;
      self->update_reading();
    }
    if (self->state_ == State::closing && self->write_queue_bytes() == 0) self->close(false);
  });
  if (rc != 0) {
    buffer_shrank(*counters_, request->data.size());
    delete request;
    return false;
  }
  if (write_queue_bytes() > options_->max_write_queue_bytes) {
    backpressure_paused_ = true;
    update_reading();
  }
  return true;
}

bool StreamConnection::write(std::span<const uint8_t> data) {
  if (state_ != State::open) return false;
  if (!ssl_) {
    if (!send_raw(data)) {
      close(false);
      return false;
    }
    return true;
  }
  while (!data.empty()) {
    ERR_clear_error();
    int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
    if (n <= 0) {
      ERR_clear_error();
      close(false);
      return false;
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  if (!flush_tls()) {
    close(false);
    return false;
  }
  return true;
}

void StreamConnection::fail(bool handshake_failure) {
  if (handshake_failure) {
    counters_->add(counters_->handshakes_failed);
  } else {
    counters_->add(counters_->errors);
  }
  // Let an alert OpenSSL queued (e.g. no_application_protocol) go out.
  flush_tls();
  close(true);
}

void StreamConnection::close(bool graceful) {
  if (state_ == State::closed) return;
  if (state_ != State::closing) {
    bool was_open = state_ == State::open;
    state_ = State::closing;
    if (reading_) {
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
      reading_ = false;
    }
    if (app_) app_->on_closing();
    if (graceful) {
      if (was_open && ssl_) {
        ERR_clear_error();
        SSL_shutdown(ssl_);  // queue close_notify
        ERR_clear_error();
        flush_tls();
      }
      if (write_queue_bytes() > 0) {
        uv_timer_start(
            &timer_, [](uv_timer_t* t) { static_cast<StreamConnection*>(t->data)->on_timer(); }, kCloseDrainMs, 0);
        return;  // the last write callback (or the timer) finishes the close
      }
    }
  }
  state_ = State::closed;
  account_library_buffers();  // back to zero
  auto on_close = [](uv_handle_t* h) { static_cast<StreamConnection*>(h->data)->on_handle_closed(); };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
}

void StreamConnection::on_handle_closed() {
  if (--open_handles_ > 0) return;
  if (counted_) connection_closed(*counters_);
  client_slot_.reset();
  if (server_) {
    server_->remove(this);
    server_ = nullptr;
  }
  release();  // may delete this
}

void StreamConnection::deliver(uint64_t token, std::span<const uint8_t> answer) {
  if (state_ != State::open || !app_) return;
  app_->deliver(token, answer);
  touch();
  if (server_ && server_->shutting_down_ && state_ == State::open && app_->pending() == 0) close(true);
}

void StreamConnection::abandon(uint64_t token) {
  if (state_ != State::open || !app_) return;
  app_->abandon(token);
  if (server_ && server_->shutting_down_ && state_ == State::open && app_->pending() == 0) close(true);
}

// ---------------------------------------------------------------------------
// StreamServer

StreamServer::StreamServer(const WorkerContext& worker, StreamServerOptions options, Transport transport,
                           std::shared_ptr<TlsServerContext> tls, StreamApplicationFactory factory)
    : worker_(worker),
      options_(std::make_shared<const StreamServerOptions>(std::move(options))),
      transport_(transport),
      counters_(&transport_counters(transport)),
      tls_(std::move(tls)),
      factory_(std::move(factory)) {
  const char* what = transport == Transport::dot ? "DoT listener" : "DoH listener";
  int fd = bind_reuseport_socket(options_->address, options_->port, SOCK_STREAM, what);
  listen_ = new uv_tcp_t;
  uv_tcp_init(worker_.loop, listen_);
  listen_->data = this;
  listen_open_ = true;
  auto fail = [&](const char* step, int rc) {
    // The handle is heap-allocated so that it can outlive this half-built
    // object: the loop frees it in the close callback.
    uv_close(reinterpret_cast<uv_handle_t*>(listen_), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    listen_ = nullptr;
    listen_open_ = false;
    throw std::runtime_error(
        fmt::format("{} {} port {}: {}: {}", what, options_->address, options_->port, step, uv_strerror(rc)));
  };
  if (int rc = uv_tcp_open(listen_, fd); rc != 0) {
    ::close(fd);
    fail("uv_tcp_open", rc);
  }
  if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(listen_), options_->backlog,
                         [](uv_stream_t* s, int status) {
                           if (s->data) static_cast<StreamServer*>(s->data)->on_connection(status);
                         });
      rc != 0) {
    fail("listen", rc);
  }
  sockaddr_storage bound;
  int length = sizeof bound;
  uv_tcp_getsockname(listen_, reinterpret_cast<sockaddr*>(&bound), &length);
  bound_port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                                 : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
}

StreamServer::~StreamServer() {
  // Normally everything is closed by now (shutdown's done callback ran).
  // Otherwise: detach and abort the connections, and let the loop free the
  // heap handles, whose callbacks no longer refer to this object.
  for (StreamConnection* c = head_; c;) {
    StreamConnection* next = c->next_;
    c->server_ = nullptr;
    c->prev_ = c->next_ = nullptr;
    c->close(false);
    c = next;
  }
  head_ = tail_ = nullptr;
  auto free_tcp = [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); };
  auto free_timer = [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); };
  if (listen_) {
    listen_->data = nullptr;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(listen_))) uv_close(reinterpret_cast<uv_handle_t*>(listen_), free_tcp);
  }
  if (grace_timer_) {
    grace_timer_->data = nullptr;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(grace_timer_))) {
      uv_close(reinterpret_cast<uv_handle_t*>(grace_timer_), free_timer);
    }
  }
}

void StreamServer::on_connection(int status) {
  if (status < 0 || shutting_down_) return;
  std::shared_ptr<SSL_CTX> ctx = tls_ ? tls_->current() : nullptr;
  auto* connection = new StreamConnection(this, worker_, options_, counters_, std::move(ctx));
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listen_), reinterpret_cast<uv_stream_t*>(&connection->tcp_)) != 0) {
    connection->server_ = nullptr;
    connection->close(false);
    return;
  }
  auto refuse = [&](std::atomic<uint64_t>& reason) {
    counters_->add(reason);
    connection->server_ = nullptr;
    connection->close(false);
  };
  int length = sizeof connection->tcp_peer_;
  uv_tcp_getpeername(&connection->tcp_, reinterpret_cast<sockaddr*>(&connection->tcp_peer_), &length);
  const auto* peer = reinterpret_cast<const sockaddr*>(&connection->tcp_peer_);
  // A trusted proxy carries many clients: its connections are not capped.
  const bool from_proxy = options_->trusted_proxies && options_->trusted_proxies->contains(peer);
  if (!from_proxy && !admit_client(options_->client_limits, peer, connection->client_slot_)) {
    refuse(counters_->refused_per_client);
    return;
  }
  if (connections_ >= options_->max_connections && !evict_oldest_idle()) {
    refuse(counters_->connections_refused);
    return;
  }
  link_front(connection);
  ++connections_;
  if (!connection->start()) connection->close(false);
}

void StreamServer::remove(StreamConnection* connection) {
  unlink(connection);
  --connections_;
  maybe_finish_shutdown();
}

void StreamServer::link_front(StreamConnection* connection) {
  connection->prev_ = nullptr;
  connection->next_ = head_;
  if (head_) head_->prev_ = connection;
  head_ = connection;
  if (!tail_) tail_ = connection;
}

void StreamServer::unlink(StreamConnection* connection) {
  if (connection->prev_) connection->prev_->next_ = connection->next_;
  if (connection->next_) connection->next_->prev_ = connection->prev_;
  if (head_ == connection) head_ = connection->next_;
  if (tail_ == connection) tail_ = connection->prev_;
  connection->prev_ = connection->next_ = nullptr;
}

void StreamServer::mark_active(StreamConnection* connection) {
  if (head_ == connection) return;
  unlink(connection);
  link_front(connection);
}

// Full: the least recently active idle connection makes room, so that idle
// connections (10,000 of them, say) cannot lock new clients out. Only the
// oldest few are looked at: a server full of busy connections refuses.
bool StreamServer::evict_oldest_idle() {
  constexpr int kScan = 64;
  int scanned = 0;
  for (StreamConnection* c = tail_; c && scanned < kScan; c = c->prev_, ++scanned) {
    if (!c->idle_for_eviction()) continue;
    counters_->add(counters_->evicted_idle);
    c->close(c->state_ == StreamConnection::State::open);
    return true;
  }
  return false;
}

void StreamServer::shutdown(unsigned grace_ms, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  if (listen_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(listen_), [](uv_handle_t* h) {
      auto* self = static_cast<StreamServer*>(h->data);
      delete reinterpret_cast<uv_tcp_t*>(h);
      if (!self) return;  // the server was destroyed meanwhile
      self->listen_ = nullptr;
      self->listen_open_ = false;
      self->maybe_finish_shutdown();
    });
  }
  // Idle connections go now; busy ones when their last answer is out.
  for (StreamConnection* c = head_; c;) {
    StreamConnection* next = c->next_;
    if (c->app_) c->app_->on_drain();
    if (c->state_ != StreamConnection::State::open || !c->app_ || c->app_->pending() == 0) c->close(true);
    c = next;
  }
  grace_timer_ = new uv_timer_t;
  uv_timer_init(worker_.loop, grace_timer_);
  grace_timer_->data = this;
  grace_timer_open_ = true;
  uv_timer_start(
      grace_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<StreamServer*>(t->data);
        if (!self) return;
        for (StreamConnection* c = self->head_; c;) {
          StreamConnection* next = c->next_;
          c->close(false);
          c = next;
        }
      },
      grace_ms, 0);
  maybe_finish_shutdown();
}

void StreamServer::maybe_finish_shutdown() {
  if (!shutting_down_ || listen_open_ || connections_ > 0) return;
  if (grace_timer_open_) {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(grace_timer_))) {
      uv_close(reinterpret_cast<uv_handle_t*>(grace_timer_), [](uv_handle_t* h) {
        auto* self = static_cast<StreamServer*>(h->data);
        delete reinterpret_cast<uv_timer_t*>(h);
        if (!self) return;
        self->grace_timer_ = nullptr;
        self->grace_timer_open_ = false;
        self->maybe_finish_shutdown();
      });
    }
    return;
  }
  if (shutdown_done_) {
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done();
  }
}

}  // namespace sextant::transports
