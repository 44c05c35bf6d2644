// Plain DNS over UDP: one SO_REUSEPORT socket per worker, read with
// recvmmsg into one persistent buffer.
//
// The cache-hit path allocates nothing: the datagram is handed to the
// handler in place, and an answer given inside handle() while libuv walks a
// recvmmsg batch is copied into a preallocated UdpSendBatch; the whole batch
// goes out with one sendmmsg when libuv signals its end (UV_UDP_MMSG_FREE),
// so a batch of N cache hits costs one send system call instead of N.
// Answers given outside a batch (resolutions that complete later, datagrams
// read without recvmmsg) go out at once with uv_udp_try_send. Only when the
// socket's send buffer is full is an answer copied into a queued uv_udp_send.
// For answers given later, the client's address is kept in a fixed table of
// pending slots (bounded memory, no per-query allocation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "transports/listener.h"
#include "transports/listener_counters.h"
#include "transports/socket_util.h"

namespace sextant::transports {

struct UdpListenerConfig {
  SocketAddress address;  // port 0: see make_udp_listener_factory
  int receive_buffer_bytes = 4 << 20;  // SO_RCVBUF, best effort (rmem_max caps it)
  int send_buffer_bytes = 1 << 20;     // SO_SNDBUF, best effort
  // Queries whose answer is still owed (resolutions in progress) per socket.
  // Beyond this an answer given after handle() returns is dropped.
  size_t max_pending_answers = 4096;
};

struct UdpCounters {
  RelaxedCounter received;         // datagrams handed to the handler
  RelaxedCounter too_short;        // datagrams under 12 octets, dropped unseen
  RelaxedCounter truncated_input;  // datagrams larger than the receive slot
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
