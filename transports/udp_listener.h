// Plain DNS over UDP: one SO_REUSEPORT socket per worker, watched with a
// uv_poll handle and read with recvmmsg (64 datagrams per call) into one
// persistent buffer.
//
// The cache-hit path allocates nothing: the datagram is handed to the
// handler in place, and an answer given inside handle() while a recvmmsg
// batch is handled is copied into a preallocated UdpSendBatch; the whole
// batch goes out with one sendmmsg when the batch has been handled, so a
// batch of N cache hits costs one receive and one send system call. Answers
// given later (resolutions that complete after handle() returned) go out at
// once with sendto. Only when the socket's send buffer is full is an answer
// copied into a bounded queue, drained when the socket is writable again.
// For answers given later, the client's address is kept in a fixed table of
// pending slots (bounded memory, no per-query allocation).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "transports/listener.h"
#include "transports/listener_counters.h"
#include "transports/proxy_protocol.h"
#include "transports/socket_util.h"

namespace sextant::transports {

struct UdpListenerConfig {
  SocketAddress address;  // port 0: see make_udp_listener_factory
  int receive_buffer_bytes = 4 << 20;  // SO_RCVBUF, best effort (rmem_max caps it)
  int send_buffer_bytes = 1 << 20;     // SO_SNDBUF, best effort
  // Queries whose answer is still owed (resolutions in progress) per socket.
  // Beyond this an answer given after handle() returns is dropped.
  size_t max_pending_answers = 4096;
  // Answers waiting for room in a full socket send buffer, per socket.
  // Beyond this they are dropped (and counted in send_errors).
  size_t max_queued_answers = 4096;
  // Load balancers (dnsdist) whose datagrams must start with a PROXY v2
  // header naming the client; null or empty: none. A header from anyone
  // else, or a datagram without one from these, is dropped and counted.
  std::shared_ptr<const TrustedProxies> trusted_proxies;
};

struct UdpCounters {
  RelaxedCounter received;         // datagrams handed to the handler
  RelaxedCounter too_short;        // datagrams under 12 octets, dropped unseen
  RelaxedCounter truncated_input;  // datagrams cut by the kernel (cannot happen with 64 KiB slots)
  RelaxedCounter receive_errors;
  RelaxedCounter answered;         // answers sent (immediately or queued)
  RelaxedCounter answers_queued;   // ...of which had to wait for the send queue
  RelaxedCounter answers_batched;  // ...of which went out in a sendmmsg batch
  RelaxedCounter batch_sends;      // sendmmsg calls made for those batches
  RelaxedCounter send_errors;
  RelaxedCounter oversize_answers; // bigger than a datagram can carry: dropped
  RelaxedCounter abandoned;        // the handler dropped the query
  RelaxedCounter no_pending_slot;  // async answer lost: the pending table was full
  RelaxedCounter pending;          // gauge: answers currently owed
  // PROXY v2, per datagram, indexed by ProxyOutcome (direct is not counted).
  std::array<RelaxedCounter, kProxyOutcomeCount> proxy;
};

class UdpSocketChannel;  // the socket itself (a ResponseChannel); see the .cpp

class UdpListener final : public Listener {
 public:
  // Opens the socket on ctx.loop and starts reading. Throws
  // std::runtime_error naming the address on failure.
  static std::unique_ptr<UdpListener> open(const WorkerContext& ctx, const UdpListenerConfig& config);
  ~UdpListener() override;

  void shutdown(unsigned grace_ms, std::function<void()> done) override;

  // The bound address (with the real port when the config asked for 0).
  const SocketAddress& local_address() const noexcept;
  bool using_recvmmsg() const noexcept;
  const UdpCounters& counters() const noexcept { return *counters_; }
  // Shares the counters with a metrics reader (they outlive the listener).
  std::shared_ptr<const UdpCounters> counters_handle() const noexcept { return counters_; }

 private:
  UdpListener(UdpSocketChannel* channel, std::shared_ptr<UdpCounters> counters);
  UdpSocketChannel* channel_;  // holds one reference
  std::shared_ptr<UdpCounters> counters_;
};

// A factory for WorkerPool. With port 0 in the config, the first worker binds
// an ephemeral port and the others join that same port (SO_REUSEPORT), which
// is what tests want. `on_open` (optional) runs on the worker thread after
// each listener opened, e.g. to register its counters.
ListenerFactory make_udp_listener_factory(UdpListenerConfig config,
                                          std::function<void(UdpListener&)> on_open = {});

}  // namespace sextant::transports
