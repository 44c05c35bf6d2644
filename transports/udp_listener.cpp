#include "transports/udp_listener.h"

#include <unistd.h>

#include "transports/udp_send_batch.h"

#include <fmt/format.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace sextant::transports {

namespace {

// libuv hands recvmmsg one 64 KiB slot per datagram (UV__UDP_DGRAM_MAXSIZE)
// and uses at most 20 slots per call (UV__MMSG_MAXWIDTH).
constexpr size_t kReceiveSlotSize = 64 * 1024;
constexpr size_t kReceiveSlots = 20;
constexpr size_t kDnsHeaderSize = 12;
// 65535 minus the IP and UDP headers (the IPv6 header is not part of its
// 16-bit payload length, the IPv4 one is).
constexpr size_t kMaxUdpPayloadIpv4 = 65535 - 20 - 8;
constexpr size_t kMaxUdpPayloadIpv6 = 65535 - 8;
constexpr uint32_t kNoSlot = UINT32_MAX;

void copy_peer(const sockaddr* from, PeerAddress& to) noexcept {
  std::memset(&to, 0, sizeof to);
  std::memcpy(&to, from, from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
}

}  // namespace

// The socket, its pending-answer table and its handles. Reference-counted:
// one reference while its handles are open, one held by the UdpListener, one
// per outstanding Responder. Answers delivered after the socket closed are
// dropped harmlessly.
class UdpSocketChannel final : public ResponseChannel {
 public:
  UdpSocketChannel(const WorkerContext& ctx, const UdpListenerConfig& config,
                   std::shared_ptr<UdpCounters> counters)
      : loop_(ctx.loop),
        handler_(ctx.handler),
        worker_(ctx.index),
        counters_(std::move(counters)),
        recv_buffer_(new uint8_t[kReceiveSlotSize * kReceiveSlots]),
        slots_(std::max<size_t>(1, config.max_pending_answers)) {
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      slots_[i].next_free = i + 1 < slots_.size() ? i + 1 : kNoSlot;
    }
    free_head_ = 0;
  }

  // Opens and starts the socket. On failure the channel cleans itself up
  // (asynchronously if handles were created) and this throws.
  void open(const UdpListenerConfig& config) {
    add_ref();  // the "handles open" reference, released after they close
    int fd = -1;
    try {
      if (handler_ == nullptr) throw std::runtime_error("UDP listener: no query handler");
      SocketOptions options;
      options.reuse_port = true;
      options.ipv6_only = true;
      options.receive_buffer_bytes = config.receive_buffer_bytes;
      options.send_buffer_bytes = config.send_buffer_bytes;
      fd = open_bound_socket(config.address, SOCK_DGRAM, options);
      local_ = local_address_of(fd);
      max_answer_size_ = local_.family() == AF_INET6 ? kMaxUdpPayloadIpv6 : kMaxUdpPayloadIpv4;

      // AF_UNSPEC: libuv must not create its own socket, or uv_udp_open fails with EBUSY.
      check(uv_udp_init_ex(loop_, &udp_, AF_UNSPEC | UV_UDP_RECVMMSG), "uv_udp_init_ex", config);
      udp_.data = this;
      udp_initialized_ = true;
      ++open_handles_;
      check(uv_timer_init(loop_, &grace_timer_), "uv_timer_init", config);
      grace_timer_.data = this;
      timer_initialized_ = true;
      ++open_handles_;
      check(uv_udp_open(&udp_, fd), "uv_udp_open", config);
      fd_ = fd;  // for sendmmsg, which libuv 1.44 does not offer for try-sends
      fd = -1;   // owned by the handle now
      check(uv_udp_recv_start(&udp_, &on_alloc, &on_recv), "uv_udp_recv_start", config);
    } catch (...) {
      if (fd >= 0) ::close(fd);
      close_handles();
      throw;
    }
  }

  void deliver(uint64_t token, std::span<const uint8_t> answer) override {
    const uint32_t index = static_cast<uint32_t>(token);
    if (index == kNoSlot) {
      // The table was full; only an answer given inside handle() can still go out.
      if (current_peer_ != nullptr && token == current_token_) {
        if (!closed_) send(current_peer_, answer);
      } else {
        counters_->no_pending_slot.add();
      }
      return;
    }
    if (!owns(token)) return;
    if (!closed_) send(&slots_[index].peer.sa, answer);
    free_slot(index);
    maybe_finish_shutdown();
  }

  void abandon(uint64_t token) override {
    counters_->abandoned.add();
    const uint32_t index = static_cast<uint32_t>(token);
    if (index == kNoSlot || !owns(token)) return;
    free_slot(index);
    maybe_finish_shutdown();
  }

  void shutdown(unsigned grace_ms, std::function<void()> done) {
    if (stopping_ || closed_) {
      // Already closing (e.g. a second shutdown): report when closed.
      if (done) {
        if (open_handles_ == 0) done();
        else shutdown_done_ = std::move(done);
      }
      return;
    }
    stopping_ = true;
    shutdown_done_ = std::move(done);
    // libuv sends no UV_UDP_MMSG_FREE once receiving stopped (a handler may
    // shut down from inside handle()): the batch ends here.
    flush_batch();
    uv_udp_recv_stop(&udp_);
    if (drained()) {
      close_handles();
    } else {
      uv_timer_start(
          &grace_timer_, [](uv_timer_t* t) { static_cast<UdpSocketChannel*>(t->data)->close_handles(); },
          grace_ms, 0);
    }
  }

  // Closes without waiting (listener destroyed without shutdown).
  void close_handles() {
    if (closed_) return;
    flush_batch();  // answers already given still go out
    closed_ = true;
    if (open_handles_ == 0) {
      finish_close();
      return;
    }
    if (timer_initialized_) {
      uv_timer_stop(&grace_timer_);
      uv_close(reinterpret_cast<uv_handle_t*>(&grace_timer_), &on_closed);
    }
    if (udp_initialized_) uv_close(reinterpret_cast<uv_handle_t*>(&udp_), &on_closed);
  }

  const SocketAddress& local_address() const noexcept { return local_; }
  bool using_recvmmsg() const noexcept { return !closed_ && uv_udp_using_recvmmsg(&udp_) == 1; }

 protected:
  void on_last_release() override { delete this; }

 private:
  struct Slot {
    PeerAddress peer;
    uint32_t generation = 1;
    uint32_t next_free = kNoSlot;
    bool in_use = false;
  };
  struct QueuedSend {
    uv_udp_send_t req;
    UdpSocketChannel* owner;
    std::vector<uint8_t> data;
  };

  void check(int rc, const char* what, const UdpListenerConfig& config) {
    if (rc != 0) {
      throw std::runtime_error(
          fmt::format("UDP listener on {}: {}: {}", config.address.to_string(), what, uv_strerror(rc)));
    }
  }

  static void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* self = static_cast<UdpSocketChannel*>(handle->data);
    // Always the same persistent buffer: recvmmsg splits it into 20 slots.
    *buf = uv_buf_init(reinterpret_cast<char*>(self->recv_buffer_.get()),
                       static_cast<unsigned>(kReceiveSlotSize * kReceiveSlots));
  }

  // libuv 1.44 with recvmmsg: one call per datagram of a batch, flagged
  // UV_UDP_MMSG_CHUNK, then one with UV_UDP_MMSG_FREE (nread 0) after the
  // last datagram; it then reads again until EAGAIN (nread 0, addr null,
  // flags 0) or an error. Answers given during the chunks wait in batch_;
  // every call that is not a chunk ends the batch and sends it.
  static void on_recv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                      unsigned flags) {
    auto* self = static_cast<UdpSocketChannel*>(handle->data);
    const bool chunk = (flags & UV_UDP_MMSG_CHUNK) != 0;
    if (!chunk) self->flush_batch();
    // UV_UDP_MMSG_FREE is also libuv's cue to free the batch buffer; ours is
    // persistent, so there is nothing else to do.
    if (flags & UV_UDP_MMSG_FREE) return;
    if (nread < 0) {
      self->counters_->receive_errors.add();
      return;
    }
    if (addr == nullptr) return;  // EAGAIN: nothing was read
    if (flags & UV_UDP_PARTIAL) {
      self->counters_->truncated_input.add();
      return;
    }
    self->batching_ = chunk;  // a datagram read on its own is answered at once
    self->on_datagram({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)}, addr);
  }

  void on_datagram(std::span<const uint8_t> datagram, const sockaddr* peer) {
    if (datagram.size() < kDnsHeaderSize) {
      counters_->too_short.add();
      return;
    }
    if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6) return;
    counters_->received.add();

    uint64_t token;
    const uint32_t index = take_slot();
    if (index != kNoSlot) {
      copy_peer(peer, slots_[index].peer);
      token = (static_cast<uint64_t>(slots_[index].generation) << 32) | index;
    } else {
      token = (static_cast<uint64_t>(++no_slot_sequence_) << 32) | kNoSlot;
    }
    current_peer_ = peer;
    current_token_ = token;

    Request request;
    request.query = datagram;
    request.peer = peer;
    request.local = local_.get();
    request.transport = Transport::udp;
    request.max_response_size = max_answer_size_;
    request.worker = worker_;
    try {
      handler_->handle(request, Responder(this, token));
    } catch (const std::exception&) {
      // The Responder was destroyed during unwinding: the query is abandoned.
    }
    current_peer_ = nullptr;
  }

  void send(const sockaddr* peer, std::span<const uint8_t> answer) {
    if (answer.size() > max_answer_size_) {
      counters_->oversize_answers.add();
      return;
    }
    if (batching_) {
      if (batch_.add(peer, answer)) return;
      send_batch();  // full: send what it holds and start another
      if (batch_.add(peer, answer)) return;
    }
    send_now(peer, answer);
  }

  // Sends the answers of the batch that just ended (if any).
  void flush_batch() {
    batching_ = false;
    send_batch();
  }

  void send_batch() {
    if (batch_.empty()) return;
    size_t unsent = 0;
    // Behind answers already waiting in libuv's queue, the batch waits too.
    if (uv_udp_get_send_queue_count(&udp_) == 0) {
      UdpSendBatch::SendStats stats;
      unsent = batch_.send(fd_, stats);
      counters_->answered.add(stats.sent);
      counters_->answers_batched.add(stats.sent);
      counters_->batch_sends.add(stats.syscalls);
      counters_->send_errors.add(stats.failed);
    }
    // The socket buffer is full (EAGAIN): the rest waits in libuv's queue.
    for (size_t i = unsent; i < batch_.size(); ++i) queue_send(batch_.peer(i), batch_.datagram(i));
    batch_.clear();
  }

  // One answer, right now.
  void send_now(const sockaddr* peer, std::span<const uint8_t> answer) {
    uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(answer.data())),
                               static_cast<unsigned>(answer.size()));
    int rc = uv_udp_try_send(&udp_, &buf, 1, peer);
    if (rc >= 0) {
      counters_->answered.add();
      return;
    }
    if (rc != UV_EAGAIN && rc != UV_ENOSYS) {
      counters_->send_errors.add();
      return;
    }
    // Socket buffer full (or sends already queued, which keeps order).
    queue_send(peer, answer);
  }

  // Copies the answer and queues it; this is the only allocation on the send path.
  void queue_send(const sockaddr* peer, std::span<const uint8_t> answer) {
    auto* queued = new QueuedSend{{}, this, std::vector<uint8_t>(answer.begin(), answer.end())};
    queued->req.data = queued;
    uv_buf_t qbuf = uv_buf_init(reinterpret_cast<char*>(queued->data.data()),
                                static_cast<unsigned>(queued->data.size()));
    int rc = uv_udp_send(&queued->req, &udp_, &qbuf, 1, peer, &on_sent);
    if (rc != 0) {
      delete queued;
      counters_->send_errors.add();
      return;
    }
    add_ref();  // until on_sent
    counters_->answered.add();
    counters_->answers_queued.add();
  }

  static void on_sent(uv_udp_send_t* req, int status) {
    auto* queued = static_cast<QueuedSend*>(req->data);
    UdpSocketChannel* self = queued->owner;
    delete queued;
    if (status < 0 && status != UV_ECANCELED) self->counters_->send_errors.add();
    self->maybe_finish_shutdown();
    self->release();
  }

  static void on_closed(uv_handle_t* handle) {
    auto* self = static_cast<UdpSocketChannel*>(handle->data);
    if (--self->open_handles_ == 0) self->finish_close();
  }

  void finish_close() {
    std::function<void()> done = std::move(shutdown_done_);
    release();  // the "handles open" reference; may delete this
    if (done) done();
  }

  bool drained() const noexcept { return pending_ == 0 && uv_udp_get_send_queue_count(&udp_) == 0; }

  void maybe_finish_shutdown() {
    if (stopping_ && !closed_ && drained()) close_handles();
  }

  bool owns(uint64_t token) const noexcept {
    const uint32_t index = static_cast<uint32_t>(token);
    return index < slots_.size() && slots_[index].in_use &&
           slots_[index].generation == static_cast<uint32_t>(token >> 32);
  }

  uint32_t take_slot() noexcept {
    if (free_head_ == kNoSlot) return kNoSlot;
    uint32_t index = free_head_;
    Slot& slot = slots_[index];
    free_head_ = slot.next_free;
    slot.in_use = true;
    ++pending_;
    counters_->pending.add();
    return index;
  }

  void free_slot(uint32_t index) noexcept {
    Slot& slot = slots_[index];
    slot.in_use = false;
    ++slot.generation;  // a stale token can never match the next occupant
    slot.next_free = free_head_;
    free_head_ = index;
    --pending_;
    counters_->pending.sub();
  }

  uv_loop_t* loop_;
  QueryHandler* handler_;
  unsigned worker_;
  std::shared_ptr<UdpCounters> counters_;
  std::unique_ptr<uint8_t[]> recv_buffer_;
  uv_udp_t udp_{};
  int fd_ = -1;  // udp_'s socket
  uv_timer_t grace_timer_{};
  bool udp_initialized_ = false;
  bool timer_initialized_ = false;
  int open_handles_ = 0;
  SocketAddress local_;
  size_t max_answer_size_ = kMaxUdpPayloadIpv4;

  std::vector<Slot> slots_;
  uint32_t free_head_ = kNoSlot;
  size_t pending_ = 0;

  // Answers given while libuv hands over a recvmmsg batch, sent when it ends.
  UdpSendBatch batch_;
  bool batching_ = false;

  const sockaddr* current_peer_ = nullptr;  // during handle() only
  uint64_t current_token_ = 0;
  uint32_t no_slot_sequence_ = 0;

  bool stopping_ = false;
  bool closed_ = false;
  std::function<void()> shutdown_done_;
};

UdpListener::UdpListener(UdpSocketChannel* channel, std::shared_ptr<UdpCounters> counters)
    : channel_(channel), counters_(std::move(counters)) {
  channel_->add_ref();
}

UdpListener::~UdpListener() {
  channel_->close_handles();  // no-op after a completed shutdown
  channel_->release();
}

std::unique_ptr<UdpListener> UdpListener::open(const WorkerContext& ctx, const UdpListenerConfig& config) {
  auto counters = std::make_shared<UdpCounters>();
  auto* channel = new UdpSocketChannel(ctx, config, counters);
  channel->open(config);  // on failure it disposes of itself
  return std::unique_ptr<UdpListener>(new UdpListener(channel, std::move(counters)));
}

void UdpListener::shutdown(unsigned grace_ms, std::function<void()> done) {
  channel_->shutdown(grace_ms, std::move(done));
}

const SocketAddress& UdpListener::local_address() const noexcept { return channel_->local_address(); }

bool UdpListener::using_recvmmsg() const noexcept { return channel_->using_recvmmsg(); }

ListenerFactory make_udp_listener_factory(UdpListenerConfig config, std::function<void(UdpListener&)> on_open) {
  return make_port_sharing_factory<UdpListener>(std::move(config), std::move(on_open));
}

}  // namespace sextant::transports
