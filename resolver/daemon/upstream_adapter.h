// Connects the walker's UpstreamNetwork interface to transports/'s real
// UDP/TCP client on the same worker loop.
#pragma once

#include <unordered_map>

#include "resolver/walk/timer_service.h"
#include "resolver/walk/upstream_network.h"
#include "transports/dnstap_writer.h"
#include "transports/upstream.h"

namespace sextant::resolver {

class UpstreamAdapter final : public UpstreamNetwork {
 public:
  UpstreamAdapter(transports::Upstream& upstream, TimerService& timers) : upstream_(upstream), timers_(timers) {}

  // Logs the walker's queries and the answers to them (RESOLVER_QUERY /
  // RESOLVER_RESPONSE) when the writer wants them; `worker` picks its queue.
  void set_dnstap(transports::DnstapWriter* writer, unsigned worker) noexcept {
    dnstap_ = writer;
    worker_ = worker;
  }

  RequestId send(const ServerAddress& server, UpstreamProtocol protocol, std::span<const uint8_t> query,
                 std::chrono::milliseconds timeout, Callback on_reply) override;
  void cancel(RequestId id) override;

 private:
  transports::Upstream& upstream_;
  TimerService& timers_;
  transports::DnstapWriter* dnstap_ = nullptr;
  unsigned worker_ = 0;
  RequestId next_id_ = 1;
  // Requests the transport refused at once, answered with local_error on a
  // later turn (the interface promises no callback from inside send()).
  std::unordered_map<RequestId, TimerService::TimerId> refused_;
  std::unordered_map<RequestId, transports::UpstreamQueryId> in_flight_;
};

}  // namespace sextant::resolver
