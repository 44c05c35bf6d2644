#include "transports/tcp_listener.h"

#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "transports/stream_framing.h"

namespace sextant::transports {

namespace {
// One read never needs more than this: a maximal frame is 2 + 65535 octets,
// and the decoder keeps whatever a read leaves unfinished.
constexpr size_t kScratchSize = 64 * 1024;
}  // namespace

class TcpConnection;

// The listening socket of one worker and its connections. It deletes itself
// once its listener is gone and every handle (its own and its connections')
// has closed, so close callbacks never touch freed memory.
class TcpServer {
 public:
  TcpServer(const WorkerContext& ctx, const TcpListenerConfig& config, std::shared_ptr<TcpCounters> counters)
      : loop_(ctx.loop),
        handler_(ctx.handler),
        worker_(ctx.index),
        config_(config),
        counters_(std::move(counters)),
        scratch_(new uint8_t[kScratchSize]) {
    if (config_.max_pending_per_connection == 0) config_.max_pending_per_connection = 1;
  }

  void open();
  void shutdown(unsigned grace_ms, std::function<void()> done);
  void listener_gone();

  // For connections.
  uv_loop_t* loop() const noexcept { return loop_; }
  QueryHandler* handler() const noexcept { return handler_; }
  unsigned worker() const noexcept { return worker_; }
  const TcpListenerConfig& config() const noexcept { return config_; }
  TcpCounters& counters() noexcept { return *counters_; }
  const SocketAddress& local_address() const noexcept { return local_; }
  uv_buf_t scratch() noexcept { return uv_buf_init(reinterpret_cast<char*>(scratch_.get()), kScratchSize); }
  void schedule_resume(TcpConnection* c);
  void connection_closed(TcpConnection* c);
  void mark_active(TcpConnection* c);
  size_t connection_count() const noexcept { return count_; }

 private:
  static void on_connection(uv_stream_t* listen, int status);
  static void on_resume(uv_idle_t* idle);
  static void on_grace_timeout(uv_timer_t* timer);
  static void on_handle_closed(uv_handle_t* handle);
  void refuse_one(RelaxedCounter& reason);
  bool evict_oldest_idle();
  void link_front(TcpConnection* c);
  void unlink(TcpConnection* c);
  void close_all_connections();
  void maybe_finish();
  void close_handle(uv_handle_t* h, bool& initialized);
  void on_fully_closed();
  void check(int rc, const char* what);

  uv_loop_t* loop_;
  QueryHandler* handler_;
  unsigned worker_;
  TcpListenerConfig config_;
  std::shared_ptr<TcpCounters> counters_;
  std::unique_ptr<uint8_t[]> scratch_;
  SocketAddress local_;

  uv_tcp_t listen_{};
  uv_timer_t grace_timer_{};
  uv_idle_t resume_idle_{};
  bool listen_initialized_ = false;
  bool timer_initialized_ = false;
  bool idle_initialized_ = false;
  int open_handles_ = 0;

  TcpConnection* head_ = nullptr;  // intrusive list of open connections, most recently active first
  TcpConnection* tail_ = nullptr;
  size_t count_ = 0;
  std::vector<TcpConnection*> resume_queue_;

  bool stopping_ = false;
  bool closing_handles_ = false;
  bool fully_closed_ = false;
  bool listener_alive_ = true;
  std::function<void()> done_;
};

// One client connection. Reference-counted: one reference while its handles
// are open, one per outstanding Responder, one per queued write.
class TcpConnection final : public ResponseChannel {
 public:
  explicit TcpConnection(TcpServer* server)
      : server_(server), max_pending_(server->config().max_pending_per_connection) {
    std::memset(&peer_, 0, sizeof peer_);
  }

  // Accepts the pending connection from `listen`. On failure the connection
  // closes itself (and is unlinked by the server when its handles are closed).
  // False when the client is over its connection cap (closed at once, and
  // counted) or the accept failed.
  bool start(uv_stream_t* listen) {
    add_ref();  // the "handles open" reference
    if (uv_tcp_init(server_->loop(), &tcp_) != 0) {
      closing_ = true;
      finish_close();
      return false;
    }
    tcp_.data = this;
    ++open_handles_;
    uv_timer_init(server_->loop(), &idle_timer_);
    idle_timer_.data = this;
    ++open_handles_;
    if (uv_accept(listen, stream()) != 0) {
      close();
      return false;
    }
    uv_tcp_nodelay(&tcp_, 1);  // answers are small and latency-bound
    int len = sizeof peer_;
    if (uv_tcp_getpeername(&tcp_, &peer_.sa, &len) != 0) peer_.sa.sa_family = AF_UNSPEC;
    const auto& trusted = server_->config().trusted_proxies;
    const bool from_proxy =
        trusted && !trusted->empty() && peer_.sa.sa_family != AF_UNSPEC && trusted->contains(&peer_.sa);
    if (from_proxy) proxy_reader_ = std::make_unique<ProxyStreamReader>();
    // A trusted proxy carries many clients: its connections are not capped.
    if (!from_proxy && peer_.sa.sa_family != AF_UNSPEC &&
        !admit_client(server_->config().client_limits, &peer_.sa, client_slot_)) {
      server_->counters().refused_per_client.add();
      close();
      return false;
    }
    start_reading();
    restart_idle_timer();
    return true;
  }

  void deliver(uint64_t, std::span<const uint8_t> answer) override {
    if (handler_pending_ > 0) --handler_pending_;
    if (closing_) return;
    if (answer.size() > kMaxStreamMessage) {
      server_->counters().oversize_answers.add();
    } else {
      write_answer(answer);
    }
    after_answer();
  }

  void abandon(uint64_t) override {
    if (handler_pending_ > 0) --handler_pending_;
    if (closing_) return;
    server_->counters().abandoned.add();
    after_answer();
  }

  // Shutdown: no more queries; close once what is owed has gone out.
  void drain() {
    if (closing_) return;
    draining_ = true;
    stop_reading();
    decoder_.clear();
    if (idle()) close();
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    decoder_.clear();
    if (open_handles_ == 0) {
      finish_close();
      return;
    }
    uv_timer_stop(&idle_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_timer_), &on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &on_closed);
  }

  // From the server's idle handle: the pending count fell below the limit.
  void resume() {
    in_resume_queue = false;
    if (closing_ || !paused_) return;
    paused_ = false;
    process_frames();
  }

  bool closing() const noexcept { return closing_; }
  // Nothing owed to the client: may be closed to make room.
  bool idle_for_eviction() const noexcept { return !closing_ && idle(); }

  TcpConnection* prev = nullptr;
  TcpConnection* next = nullptr;
  bool in_resume_queue = false;

 protected:
  void on_last_release() override { delete this; }

 private:
  struct WriteRequest {
    uv_write_t req;
    TcpConnection* connection;
    std::unique_ptr<uint8_t[]> data;
  };

  uv_stream_t* stream() noexcept { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  bool idle() const noexcept { return handler_pending_ == 0 && writes_pending_ == 0; }
  bool at_limit() const noexcept { return handler_pending_ + writes_pending_ >= max_pending_; }

  void start_reading() {
    if (reading_ || closing_ || eof_ || draining_) return;
    if (uv_read_start(stream(), &on_alloc, &on_read) == 0) reading_ = true;
  }
  void stop_reading() {
    if (!reading_) return;
    uv_read_stop(stream());
    reading_ = false;
  }

  void restart_idle_timer() {
    if (closing_) return;
    uv_timer_start(&idle_timer_, &on_idle_timeout, server_->config().idle_timeout_ms, 0);
  }

  static void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    *buf = static_cast<TcpConnection*>(handle->data)->server_->scratch();
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<TcpConnection*>(stream->data);
    if (nread == 0 || self->closing_) return;
    if (nread < 0) {
      self->on_read_end(nread);
      return;
    }
    // Octets alone are not progress: only a complete query (dispatch) or an
    // answer restarts the idle timer, so a query trickled one octet at a
    // time still meets it.
    std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
    if (!self->take_proxy_header(data) || data.empty()) return;
    self->decoder_.feed(data);
    self->process_frames();
  }

  // The PROXY v2 header a trusted proxy must send first, or one a peer that
  // is not trusted must not send. Consumes header octets from `data`; false
  // when the connection was closed for it.
  bool take_proxy_header(std::span<const uint8_t>& data) {
    if (proxy_reader_) {
      if (proxy_reader_->feed(data) == ProxyStreamReader::Status::need_more) return true;
      const ProxyOutcome outcome = proxy_reader_->outcome();
      server_->counters().proxy[static_cast<size_t>(outcome)].add();
      if (!is_accepted(outcome)) {
        close();
        return false;
      }
      proxied_ = true;
      proxy_local_ = outcome == ProxyOutcome::local;
      const ProxyHeader& header = proxy_reader_->header();
      if (header.has_addresses) {
        client_ = header.source;
        client_local_ = header.destination;
        has_client_ = true;
      }
      proxy_reader_.reset();
      return true;
    }
    if (sniffer_.verdict() == ProxySignatureSniffer::Verdict::undecided &&
        sniffer_.feed(data) == ProxySignatureSniffer::Verdict::header) {
      server_->counters().proxy[static_cast<size_t>(ProxyOutcome::untrusted)].add();
      close();
      return false;
    }
    return true;
  }

  void on_read_end(ssize_t status) {
    stop_reading();
    if (decoder_.has_buffered_bytes()) server_->counters().truncated_frames.add();
    decoder_.clear();
    if (status == UV_EOF && !idle()) {
      // Half-close after the last query is legitimate (RFC 7766 §6.2.4):
      // answer what is pending, then close.
      eof_ = true;
      return;
    }
    server_->counters().closed_by_peer.add();
    close();
  }

  void process_frames() {
    while (!closing_) {
      if (at_limit()) {
        // Back-pressure: keep unread input, stop reading until answers go out.
        decoder_.retain();
        if (!paused_) {
          paused_ = true;
          server_->counters().read_pauses.add();
        }
        stop_reading();
        return;
      }
      std::span<const uint8_t> frame;
      StreamFrameDecoder::Status status = decoder_.next(frame);
      if (status == StreamFrameDecoder::Status::need_more) break;
      if (status == StreamFrameDecoder::Status::zero_length) {
        server_->counters().zero_length_frames.add();
        close();
        return;
      }
      dispatch(frame);
    }
    start_reading();
  }

  void dispatch(std::span<const uint8_t> frame) {
    server_->counters().queries.add();
    ++handler_pending_;
    restart_idle_timer();
    server_->mark_active(this);
    Request request;
    request.query = frame;
    request.peer = peer_.sa.sa_family == AF_UNSPEC ? nullptr : &peer_.sa;
    request.local = server_->local_address().get();
    if (proxied_) {
      request.proxy = request.peer;
      request.proxy_local = proxy_local_;
      if (has_client_) {
        request.peer = reinterpret_cast<const sockaddr*>(&client_);
        request.local = reinterpret_cast<const sockaddr*>(&client_local_);
      }
    }
    request.transport = Transport::tcp;
    request.max_response_size = kMaxStreamMessage;
    request.worker = server_->worker();
    try {
      server_->handler()->handle(request, Responder(this, ++next_token_));
    } catch (const std::exception&) {
      // The Responder was destroyed during unwinding: abandoned.
    }
  }

  void write_answer(std::span<const uint8_t> answer) {
    auto prefix = stream_length_prefix(answer.size());
    const size_t total = prefix.size() + answer.size();
    size_t written = 0;
    if (writes_pending_ == 0) {
      // Nothing queued: try to write in place (no allocation, no copy).
      uv_buf_t bufs[2] = {
          uv_buf_init(reinterpret_cast<char*>(prefix.data()), static_cast<unsigned>(prefix.size())),
          uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(answer.data())),
                      static_cast<unsigned>(answer.size()))};
      int rc = uv_try_write(stream(), bufs, 2);
      if (rc >= 0) {
        written = static_cast<size_t>(rc);
      } else if (rc != UV_EAGAIN) {
        server_->counters().write_errors.add();
        close();
        return;
      }
    }
    if (written == total) {
      server_->counters().answered.add();
      return;
    }
    // Queue the unwritten rest (the queue keeps answers whole and in order).
    const size_t rest = total - written;
    auto* request = new WriteRequest{{}, this, std::unique_ptr<uint8_t[]>(new uint8_t[rest])};
    request->req.data = request;
    uint8_t* out = request->data.get();
    for (size_t i = written; i < total; ++i) {
      *out++ = i < prefix.size() ? prefix[i] : answer[i - prefix.size()];
    }
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(request->data.get()), static_cast<unsigned>(rest));
    if (uv_write(&request->req, stream(), &buf, 1, &on_write) != 0) {
      delete request;
      server_->counters().write_errors.add();
      close();
      return;
    }
    ++writes_pending_;
    server_->counters().answers_queued.add();
    add_ref();  // until on_write
  }

  static void on_write(uv_write_t* req, int status) {
    auto* request = static_cast<WriteRequest*>(req->data);
    TcpConnection* self = request->connection;
    delete request;
    --self->writes_pending_;
    if (!self->closing_) {
      if (status < 0) {
        self->server_->counters().write_errors.add();
        self->close();
      } else {
        self->server_->counters().answered.add();
        self->restart_idle_timer();
        self->after_answer();
      }
    }
    self->release();
  }

  void after_answer() {
    if (closing_) return;
    if ((eof_ || draining_) && idle()) {
      close();
      return;
    }
    // Resume from the loop, not from inside the handler's respond() call:
    // re-entering handle() there could surprise the handler.
    if (paused_ && !at_limit()) server_->schedule_resume(this);
  }

  static void on_idle_timeout(uv_timer_t* timer) {
    auto* self = static_cast<TcpConnection*>(timer->data);
    if (self->closing_) return;
    if (self->handler_pending_ > 0 && self->writes_pending_ == 0) {
      // Quiet because a resolution is in progress, not because the client
      // went away: the handler's own deadline bounds this.
      self->restart_idle_timer();
      return;
    }
    if (self->decoder_.has_buffered_bytes() || self->proxy_reader_) {
      self->server_->counters().request_timeouts.add();
    } else {
      self->server_->counters().closed_idle.add();
    }
    self->close();
  }

  static void on_closed(uv_handle_t* handle) {
    auto* self = static_cast<TcpConnection*>(handle->data);
    if (--self->open_handles_ == 0) self->finish_close();
  }

  void finish_close() {
    TcpServer* server = std::exchange(server_, nullptr);
    if (server) server->connection_closed(this);
    client_slot_.reset();
    release();  // the "handles open" reference; may delete this
  }

  TcpServer* server_;
  ClientSlot client_slot_;  // this connection's share of the per-client cap
  const size_t max_pending_;
  uv_tcp_t tcp_{};
  uv_timer_t idle_timer_{};
  int open_handles_ = 0;
  PeerAddress peer_;
  // PROXY v2: the reader while a trusted proxy's header is expected; the
  // sniffer watches everyone else's first octets.
  std::unique_ptr<ProxyStreamReader> proxy_reader_;
  ProxySignatureSniffer sniffer_;
  sockaddr_storage client_{};        // the header's source (when has_client_)
  sockaddr_storage client_local_{};  // the header's destination
  bool proxied_ = false;
  bool proxy_local_ = false;
  bool has_client_ = false;
  StreamFrameDecoder decoder_;
  size_t handler_pending_ = 0;  // queries the handler has not answered
  size_t writes_pending_ = 0;   // answers queued in libuv
  uint64_t next_token_ = 0;
  bool reading_ = false;
  bool paused_ = false;
  bool eof_ = false;
  bool draining_ = false;
  bool closing_ = false;
};

void TcpServer::check(int rc, const char* what) {
  if (rc != 0) {
    throw std::runtime_error(
        fmt::format("TCP listener on {}: {}: {}", config_.address.to_string(), what, uv_strerror(rc)));
  }
}

void TcpServer::open() {
  ignore_sigpipe();  // a client that resets while we write must not kill us
  int fd = -1;
  try {
    if (handler_ == nullptr) throw std::runtime_error("TCP listener: no query handler");
    SocketOptions options;
    options.reuse_port = true;
    options.ipv6_only = true;
    fd = open_bound_socket(config_.address, SOCK_STREAM, options);
    local_ = local_address_of(fd);
    check(uv_tcp_init_ex(loop_, &listen_, AF_UNSPEC), "uv_tcp_init_ex");
    listen_.data = this;
    listen_initialized_ = true;
    ++open_handles_;
    check(uv_timer_init(loop_, &grace_timer_), "uv_timer_init");
    grace_timer_.data = this;
    timer_initialized_ = true;
    ++open_handles_;
    check(uv_idle_init(loop_, &resume_idle_), "uv_idle_init");
    resume_idle_.data = this;
    idle_initialized_ = true;
    ++open_handles_;
    check(uv_tcp_open(&listen_, fd), "uv_tcp_open");
    fd = -1;
    check(uv_listen(reinterpret_cast<uv_stream_t*>(&listen_), config_.backlog, &on_connection), "listen");
  } catch (...) {
    if (fd >= 0) ::close(fd);
    listener_alive_ = false;  // nobody will own this server: it deletes itself
    stopping_ = true;
    maybe_finish();
    throw;
  }
}

void TcpServer::on_connection(uv_stream_t* listen, int status) {
  auto* self = static_cast<TcpServer*>(listen->data);
  if (status < 0) return;
  if (self->stopping_) {
    self->refuse_one(self->counters_->refused);
    return;
  }
  // (The per-client cap is checked once accepted, in start(): the peer is
  // known only then. A client over its cap may thus evict an idle
  // connection of a full server, but cannot fill one by itself.)
  if (self->count_ >= self->config_.max_connections && !self->evict_oldest_idle()) {
    self->refuse_one(self->counters_->refused);
    return;
  }
  auto* c = new TcpConnection(self);
  self->link_front(c);
  ++self->count_;
  self->counters_->connections.add();
  if (c->start(listen)) self->counters_->accepted.add();
}

void TcpServer::refuse_one(RelaxedCounter& reason) {
  // Accept and close at once, so the client learns now instead of waiting
  // in the backlog.
  auto* t = new uv_tcp_t;
  if (uv_tcp_init(loop_, t) != 0) {
    delete t;
    return;
  }
  uv_accept(reinterpret_cast<uv_stream_t*>(&listen_), reinterpret_cast<uv_stream_t*>(t));
  uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  reason.add();
}

void TcpServer::link_front(TcpConnection* c) {
  c->prev = nullptr;
  c->next = head_;
  if (head_) head_->prev = c;
  head_ = c;
  if (!tail_) tail_ = c;
}

void TcpServer::unlink(TcpConnection* c) {
  if (c->prev) c->prev->next = c->next;
  else head_ = c->next;
  if (c->next) c->next->prev = c->prev;
  else tail_ = c->prev;
  c->prev = c->next = nullptr;
}

void TcpServer::mark_active(TcpConnection* c) {
  if (head_ == c || c->closing()) return;
  unlink(c);
  link_front(c);
}

// Full: the least recently active idle connection makes room (only the
// oldest few are looked at; a server full of busy connections refuses).
bool TcpServer::evict_oldest_idle() {
  constexpr int kScan = 64;
  int scanned = 0;
  for (TcpConnection* c = tail_; c && scanned < kScan; c = c->prev, ++scanned) {
    if (!c->idle_for_eviction()) continue;
    counters_->evicted_idle.add();
    c->close();
    return true;
  }
  return false;
}

void TcpServer::schedule_resume(TcpConnection* c) {
  if (c->in_resume_queue || closing_handles_) return;
  c->in_resume_queue = true;
  c->add_ref();
  resume_queue_.push_back(c);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&resume_idle_))) uv_idle_start(&resume_idle_, &on_resume);
}

void TcpServer::on_resume(uv_idle_t* idle) {
  auto* self = static_cast<TcpServer*>(idle->data);
  std::vector<TcpConnection*> batch;
  batch.swap(self->resume_queue_);
  uv_idle_stop(idle);
  for (TcpConnection* c : batch) {
    c->resume();
    c->release();
  }
}

void TcpServer::connection_closed(TcpConnection* c) {
  unlink(c);
  --count_;
  counters_->connections.sub();
  maybe_finish();
}

void TcpServer::close_all_connections() {
  for (TcpConnection *c = head_, *next = nullptr; c != nullptr; c = next) {
    next = c->next;
    c->close();
  }
}

void TcpServer::shutdown(unsigned grace_ms, std::function<void()> done) {
  if (stopping_) {
    if (done) {
      if (fully_closed_) done();
      else done_ = std::move(done);
    }
    return;
  }
  stopping_ = true;
  done_ = std::move(done);
  close_handle(reinterpret_cast<uv_handle_t*>(&listen_), listen_initialized_);  // stop accepting
  for (TcpConnection *c = head_, *next = nullptr; c != nullptr; c = next) {
    next = c->next;
    c->drain();
  }
  if (count_ > 0) {
    uv_timer_start(&grace_timer_, &on_grace_timeout, grace_ms, 0);
  }
  maybe_finish();
}

void TcpServer::on_grace_timeout(uv_timer_t* timer) {
  static_cast<TcpServer*>(timer->data)->close_all_connections();
}

void TcpServer::listener_gone() {
  listener_alive_ = false;
  if (fully_closed_) {
    delete this;
    return;
  }
  if (!stopping_) shutdown(0, nullptr);
  close_all_connections();
}

void TcpServer::close_handle(uv_handle_t* h, bool& initialized) {
  if (!initialized) return;
  initialized = false;
  uv_close(h, &on_handle_closed);
}

void TcpServer::maybe_finish() {
  if (!stopping_ || count_ > 0 || closing_handles_) return;
  closing_handles_ = true;
  for (TcpConnection* c : resume_queue_) c->release();
  resume_queue_.clear();
  if (timer_initialized_) uv_timer_stop(&grace_timer_);
  close_handle(reinterpret_cast<uv_handle_t*>(&listen_), listen_initialized_);
  close_handle(reinterpret_cast<uv_handle_t*>(&grace_timer_), timer_initialized_);
  close_handle(reinterpret_cast<uv_handle_t*>(&resume_idle_), idle_initialized_);
  if (open_handles_ == 0) on_fully_closed();
}

void TcpServer::on_handle_closed(uv_handle_t* handle) {
  auto* self = static_cast<TcpServer*>(handle->data);
  if (--self->open_handles_ == 0 && self->closing_handles_) self->on_fully_closed();
}

void TcpServer::on_fully_closed() {
  fully_closed_ = true;
  std::function<void()> done = std::move(done_);
  if (!listener_alive_) delete this;
  if (done) done();  // may destroy the listener, which then deletes this
}

TcpListener::TcpListener(TcpServer* server, std::shared_ptr<TcpCounters> counters)
    : server_(server), counters_(std::move(counters)) {}

TcpListener::~TcpListener() {
  // The server outlives us until its handles are closed.
  server_->listener_gone();
}

std::unique_ptr<TcpListener> TcpListener::open(const WorkerContext& ctx, const TcpListenerConfig& config) {
  auto counters = std::make_shared<TcpCounters>();
  auto* server = new TcpServer(ctx, config, counters);
  server->open();  // on failure it disposes of itself
  return std::unique_ptr<TcpListener>(new TcpListener(server, std::move(counters)));
}

void TcpListener::shutdown(unsigned grace_ms, std::function<void()> done) {
  server_->shutdown(grace_ms, std::move(done));
}

const SocketAddress& TcpListener::local_address() const noexcept { return server_->local_address(); }
unsigned TcpListener::idle_timeout_ms() const noexcept { return server_->config().idle_timeout_ms; }
size_t TcpListener::connection_count() const noexcept { return server_->connection_count(); }

ListenerFactory make_tcp_listener_factory(TcpListenerConfig config, std::function<void(TcpListener&)> on_open) {
  return make_port_sharing_factory<TcpListener>(std::move(config), std::move(on_open));
}

}  // namespace sextant::transports
