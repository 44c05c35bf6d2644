#include "transports/udp_listener.h"

#include <unistd.h>

#include "transports/udp_send_batch.h"
#include "transports/udp_source.h"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace sextant::transports {

namespace {

// Datagrams per recvmmsg. Each slot holds the largest UDP payload, so no
// query is ever cut; only the octets received are touched, so the resident
// cost is a page or so per slot.
constexpr size_t kReceiveSlots = 64;
constexpr size_t kReceiveSlotSize = 65536;
// Slots start one cache line apart modulo 4 KiB: at a plain 64 KiB stride
// the first line of every datagram would map to the same cache set, and a
// batch of 64 would evict itself before the handler reads it.
constexpr size_t kReceiveSlotStride = kReceiveSlotSize + 64;
// recvmmsg rounds per readiness event: enough to drain a loaded socket, few
// enough that timers and upstream answers on the same loop still get a turn.
constexpr int kMaxRoundsPerWakeup = 8;
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

socklen_t peer_length(const sockaddr* peer) noexcept {
  return peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace

// The socket, its pending-answer table and its handles. Reference-counted:
// one reference while its handles are open, one held by the UdpListener, one
// per outstanding Responder. Answers delivered after the socket closed are
// dropped harmlessly.
//
// The socket is watched with a uv_poll handle and read with our own
// recvmmsg calls rather than through uv_udp: libuv reads 20 datagrams per
// call and always once more until EAGAIN, so every wake-up of a busy server
// paid for an empty system call; here a short batch means the socket is
// drained and the next readiness event says when it is not.
class UdpSocketChannel final : public ResponseChannel {
 public:
  UdpSocketChannel(const WorkerContext& ctx, const UdpListenerConfig& config,
                   std::shared_ptr<UdpCounters> counters)
      : loop_(ctx.loop),
        handler_(ctx.handler),
        worker_(ctx.index),
        counters_(std::move(counters)),
        trusted_proxies_(config.trusted_proxies),
        recv_buffer_(new uint8_t[kReceiveSlotStride * kReceiveSlots]),
        max_queued_answers_(std::max<size_t>(1, config.max_queued_answers)),
        slots_(std::max<size_t>(1, config.max_pending_answers)) {
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      slots_[i].next_free = i + 1 < slots_.size() ? i + 1 : kNoSlot;
    }
    free_head_ = 0;
    for (size_t i = 0; i < kReceiveSlots; ++i) {
      recv_iov_[i] = {recv_buffer_.get() + i * kReceiveSlotStride, kReceiveSlotSize};
      msghdr& h = recv_messages_[i].msg_hdr;
      h.msg_name = &recv_peers_[i];
      h.msg_namelen = sizeof recv_peers_[i];
      h.msg_iov = &recv_iov_[i];
      h.msg_iovlen = 1;
    }
  }

  ~UdpSocketChannel() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // Opens and starts the socket. On failure the channel cleans itself up
  // (asynchronously if handles were created) and this throws.
  void open(const UdpListenerConfig& config) {
    add_ref();  // the "handles open" reference, released after they close
    try {
      if (handler_ == nullptr) throw std::runtime_error("UDP listener: no query handler");
      SocketOptions options;
      options.reuse_port = true;
      options.ipv6_only = true;
      options.receive_buffer_bytes = config.receive_buffer_bytes;
      options.send_buffer_bytes = config.send_buffer_bytes;
      fd_ = open_bound_socket(config.address, SOCK_DGRAM, options);  // closed by the destructor
      local_ = local_address_of(fd_);
      max_answer_size_ = local_.family() == AF_INET6 ? kMaxUdpPayloadIpv6 : kMaxUdpPayloadIpv4;
      if (is_wildcard(local_)) {
        // Answers must leave from the address each query was sent to.
        if (!enable_udp_source_info(fd_, local_.family()))
          throw std::runtime_error(fmt::format("UDP listener on {}: cannot enable packet info: {}",
                                               config.address.to_string(), std::strerror(errno)));
        wildcard_ = true;
        reset_receive_control();
      }

      check(uv_poll_init_socket(loop_, &poll_, fd_), "uv_poll_init_socket", config);
      poll_.data = this;
      poll_initialized_ = true;
      ++open_handles_;
      check(uv_timer_init(loop_, &grace_timer_), "uv_timer_init", config);
      grace_timer_.data = this;
      timer_initialized_ = true;
      ++open_handles_;
      set_poll_events(UV_READABLE, config);
    } catch (...) {
      close_handles();
      throw;
    }
  }

  void deliver(uint64_t token, std::span<const uint8_t> answer) override {
    const uint32_t index = static_cast<uint32_t>(token);
    if (index == kNoSlot) {
      // The table was full; only an answer given inside handle() can still go out.
      if (current_peer_ != nullptr && token == current_token_) {
        if (!closed_) send(current_peer_, answer, current_source_);
      } else {
        counters_->no_pending_slot.add();
      }
      return;
    }
    if (!owns(token)) return;
    if (!closed_) send(&slots_[index].peer.sa, answer, wildcard_ ? &slots_[index].source : nullptr);
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
    // Answers already given in the current batch still go out; no more
    // queries are read (also when called from inside handle()).
    flush_batch();
    update_poll();
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
    if (!send_queue_.empty()) counters_->send_errors.add(send_queue_.size());
    send_queue_.clear();
    if (open_handles_ == 0) {
      finish_close();
      return;
    }
    if (timer_initialized_) {
      uv_timer_stop(&grace_timer_);
      uv_close(reinterpret_cast<uv_handle_t*>(&grace_timer_), &on_closed);
    }
    if (poll_initialized_) {
      uv_poll_stop(&poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &on_closed);
    }
  }

  const SocketAddress& local_address() const noexcept { return local_; }
  bool using_recvmmsg() const noexcept { return !closed_ && fd_ >= 0; }

 protected:
  void on_last_release() override { delete this; }

 private:
  struct Slot {
    PeerAddress peer;
    UdpSource source;  // wildcard sockets: where the query arrived
    uint32_t generation = 1;
    uint32_t next_free = kNoSlot;
    bool in_use = false;
  };
  // An answer that met a full socket send buffer.
  struct QueuedAnswer {
    PeerAddress peer;
    UdpSource source;
    std::vector<uint8_t> data;
  };

  static bool is_wildcard(const SocketAddress& a) noexcept {
    if (a.family() == AF_INET)
      return reinterpret_cast<const sockaddr_in*>(a.get())->sin_addr.s_addr == htonl(INADDR_ANY);
    if (a.family() == AF_INET6)
      return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr);
    return false;
  }

  void reset_receive_control() noexcept {
    for (size_t i = 0; i < kReceiveSlots; ++i) {
      msghdr& h = recv_messages_[i].msg_hdr;
      h.msg_control = recv_control_[i].bytes;
      h.msg_controllen = sizeof recv_control_[i].bytes;
    }
  }

  void check(int rc, const char* what, const UdpListenerConfig& config) {
    if (rc != 0) {
      throw std::runtime_error(
          fmt::format("UDP listener on {}: {}: {}", config.address.to_string(), what, uv_strerror(rc)));
    }
  }

  // Readable while accepting queries; writable while answers wait for room.
  void update_poll() {
    if (closed_ || !poll_initialized_) return;
    int events = 0;
    if (!stopping_) events |= UV_READABLE;
    if (!send_queue_.empty()) events |= UV_WRITABLE;
    if (events == poll_events_) return;
    poll_events_ = events;
    if (events == 0) uv_poll_stop(&poll_);
    else uv_poll_start(&poll_, events, &on_poll);
  }

  void set_poll_events(int events, const UdpListenerConfig& config) {
    poll_events_ = events;
    check(uv_poll_start(&poll_, events, &on_poll), "uv_poll_start", config);
  }

  static void on_poll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<UdpSocketChannel*>(handle->data);
    if (status < 0) {
      self->counters_->receive_errors.add();
      return;
    }
    if (events & UV_WRITABLE) self->drain_send_queue();
    if (events & UV_READABLE) self->read_batches();
  }

  // Reads and answers up to kMaxRoundsPerWakeup batches. Answers given
  // inside handle() during a batch wait in batch_ and leave with one
  // sendmmsg when the batch has been handled.
  void read_batches() {
    for (int round = 0; round < kMaxRoundsPerWakeup && !stopping_ && !closed_; ++round) {
      const int n = ::recvmmsg(fd_, recv_messages_.data(), kReceiveSlots, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        // EAGAIN: another reader (or a spurious wake-up) got there first.
        if (errno != EAGAIN && errno != EWOULDBLOCK) counters_->receive_errors.add();
        return;
      }
      batching_ = true;
      for (int i = 0; i < n && !stopping_; ++i) {
        const mmsghdr& m = recv_messages_[i];
        if (m.msg_hdr.msg_flags & MSG_TRUNC) {
          counters_->truncated_input.add();
          continue;
        }
        // Sockets bound to one address pass no source: nothing to copy.
        const UdpSource* source = nullptr;
        if (wildcard_) {
          datagram_source_ = udp_source_from_control(m.msg_hdr);
          source = &datagram_source_;
        }
        on_datagram({static_cast<const uint8_t*>(recv_iov_[i].iov_base), m.msg_len}, &recv_peers_[i].sa, source);
      }
      // The kernel shortened the address (and control) lengths of the headers it filled.
      for (int i = 0; i < n; ++i) recv_messages_[i].msg_hdr.msg_namelen = sizeof recv_peers_[i];
      if (wildcard_) reset_receive_control();
      flush_batch();
      if (static_cast<size_t>(n) < kReceiveSlots) return;  // drained for now
    }
  }

  void on_datagram(std::span<const uint8_t> datagram, const sockaddr* peer, const UdpSource* source) {
    if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6) return;
    // Behind a trusted load balancer the datagram starts with a PROXY v2
    // header naming the client; answers still go back to the balancer.
    std::span<const uint8_t> query;
    const ProxyOutcome proxied = unwrap_proxied_datagram(datagram, peer, trusted_proxies_.get(), proxy_header_, query);
    if (proxied != ProxyOutcome::direct) {
      counters_->proxy[static_cast<size_t>(proxied)].add();
      if (!is_accepted(proxied)) return;
    }
    if (query.size() < kDnsHeaderSize) {
      counters_->too_short.add();
      return;
    }
    counters_->received.add();

    uint64_t token;
    const uint32_t index = take_slot();
    if (index != kNoSlot) {
      copy_peer(peer, slots_[index].peer);
      if (source) slots_[index].source = *source;
      token = (static_cast<uint64_t>(slots_[index].generation) << 32) | index;
    } else {
      token = (static_cast<uint64_t>(++no_slot_sequence_) << 32) | kNoSlot;
    }
    current_peer_ = peer;
    current_source_ = source;
    current_token_ = token;

    Request request;
    request.query = query;
    request.peer = peer;
    request.local = local_.get();
    if (source && !source->empty()) {
      // The address the query was really sent to, not the wildcard.
      current_local_ = udp_source_address(*source, local_.port());
      request.local = reinterpret_cast<const sockaddr*>(&current_local_);
    }
    if (proxied != ProxyOutcome::direct) {
      request.proxy = peer;
      request.proxy_local = proxied == ProxyOutcome::local;
      if (proxy_header_.has_addresses) {
        request.peer = reinterpret_cast<const sockaddr*>(&proxy_header_.source);
        request.local = reinterpret_cast<const sockaddr*>(&proxy_header_.destination);
      }
    }
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

  // `source`: where the answer must leave from (wildcard sockets); null otherwise.
  void send(const sockaddr* peer, std::span<const uint8_t> answer, const UdpSource* source) {
    if (answer.size() > max_answer_size_) {
      counters_->oversize_answers.add();
      return;
    }
    if (batching_) {
      if (batch_.add(peer, answer, source)) return;
      send_batch();  // full: send what it holds and start another
      if (batch_.add(peer, answer, source)) return;
    }
    send_now(peer, answer, source);
  }

  // Sends the answers of the batch that just ended (if any).
  void flush_batch() {
    batching_ = false;
    send_batch();
  }

  void send_batch() {
    if (batch_.empty()) return;
    size_t unsent = 0;
    // Behind answers already waiting for room, the batch waits too (order).
    if (send_queue_.empty()) {
      UdpSendBatch::SendStats stats;
      unsent = batch_.send(fd_, stats);
      counters_->answered.add(stats.sent);
      counters_->answers_batched.add(stats.sent);
      counters_->batch_sends.add(stats.syscalls);
      counters_->send_errors.add(stats.failed);
    }
    // The socket buffer is full (EAGAIN): the rest waits for room.
    for (size_t i = unsent; i < batch_.size(); ++i)
      queue_answer(batch_.peer(i), batch_.datagram(i), batch_.source(i));
    batch_.clear();
  }

  // One answer, right now (resolutions that complete later).
  void send_now(const sockaddr* peer, std::span<const uint8_t> answer, const UdpSource* source) {
    if (send_queue_.empty()) {
      ssize_t rc;
      do {
        rc = send_one(peer, answer, source);
      } while (rc < 0 && errno == EINTR);
      if (rc >= 0) {
        counters_->answered.add();
        return;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        counters_->send_errors.add();
        return;
      }
    }
    queue_answer(peer, answer, source);
  }

  // sendto, or sendmsg naming the source address on a wildcard socket.
  ssize_t send_one(const sockaddr* peer, std::span<const uint8_t> answer, const UdpSource* source) {
    if (source == nullptr || source->empty())
      return ::sendto(fd_, answer.data(), answer.size(), MSG_DONTWAIT, peer, peer_length(peer));
    alignas(cmsghdr) uint8_t control[kUdpSourceControlSize];
    iovec iov{const_cast<uint8_t*>(answer.data()), answer.size()};
    msghdr h{};
    h.msg_name = const_cast<sockaddr*>(peer);
    h.msg_namelen = peer_length(peer);
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = write_udp_source_control(*source, control);
    return ::sendmsg(fd_, &h, MSG_DONTWAIT);
  }

  // Copies the answer until the socket has room; the only allocation on the
  // send path. Bounded: beyond max_queued_answers the answer is dropped, as
  // a full network queue would (the client retries).
  void queue_answer(const sockaddr* peer, std::span<const uint8_t> answer, const UdpSource* source) {
    if (send_queue_.size() >= max_queued_answers_) {
      counters_->send_errors.add();
      return;
    }
    QueuedAnswer& queued = send_queue_.emplace_back();
    copy_peer(peer, queued.peer);
    if (source) queued.source = *source;
    queued.data.assign(answer.begin(), answer.end());
    counters_->answers_queued.add();
    update_poll();
  }

  void drain_send_queue() {
    while (!send_queue_.empty()) {
      const QueuedAnswer& queued = send_queue_.front();
      const ssize_t rc = send_one(&queued.peer.sa, queued.data, &queued.source);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (rc < 0) counters_->send_errors.add();
      else counters_->answered.add();
      send_queue_.pop_front();
    }
    update_poll();
    maybe_finish_shutdown();
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

  bool drained() const noexcept { return pending_ == 0 && send_queue_.empty(); }

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
  std::shared_ptr<const TrustedProxies> trusted_proxies_;
  ProxyHeader proxy_header_;  // the datagram being handled (trusted proxies only)
  std::unique_ptr<uint8_t[]> recv_buffer_;  // kReceiveSlots slots, kReceiveSlotStride apart
  std::array<iovec, kReceiveSlots> recv_iov_{};
  std::array<PeerAddress, kReceiveSlots> recv_peers_{};
  std::array<mmsghdr, kReceiveSlots> recv_messages_{};
  int fd_ = -1;
  uv_poll_t poll_{};
  int poll_events_ = 0;
  uv_timer_t grace_timer_{};
  bool poll_initialized_ = false;
  bool timer_initialized_ = false;
  int open_handles_ = 0;
  SocketAddress local_;
  size_t max_answer_size_ = kMaxUdpPayloadIpv4;

  std::deque<QueuedAnswer> send_queue_;
  size_t max_queued_answers_;

  std::vector<Slot> slots_;
  uint32_t free_head_ = kNoSlot;
  size_t pending_ = 0;

  // Answers given while a recvmmsg batch is handled, sent when it ends.
  UdpSendBatch batch_;
  bool batching_ = false;

  const sockaddr* current_peer_ = nullptr;  // during handle() only
  const UdpSource* current_source_ = nullptr;  // during handle() only
  UdpSource datagram_source_;               // the datagram being handled (wildcard only)
  sockaddr_storage current_local_{};        // Request::local on a wildcard socket
  bool wildcard_ = false;                   // bound to 0.0.0.0 / ::: packet info on
  // Control buffers for the destinations recvmmsg reports (wildcard only).
  struct alignas(cmsghdr) ReceiveControl {
    uint8_t bytes[kUdpSourceControlSize];
  };
  std::array<ReceiveControl, kReceiveSlots> recv_control_{};
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
