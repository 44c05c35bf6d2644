// Connects the walker's UpstreamNetwork interface to transports/ on the same
// worker loop: UDP and one-shot TCP (TCP after TC) through NetworkUpstream,
// and the configured forward upstreams over tcp, tls, https and quic through
// the worker's UpstreamPool (persistent connections), with each upstream's
// name, pins and URL from the forward table. Logs dnstap RESOLVER_* or, for
// queries with RD=1 (a forward upstream's), FORWARDER_* frames, and counts
// per forward upstream.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "resolver/forward/forward_table.h"
#include "resolver/walk/timer_service.h"
#include "resolver/walk/upstream_network.h"
#include "transports/dnstap_writer.h"
#include "transports/upstream.h"
#include "transports/upstream_endpoint.h"
#include "transports/upstream_pool.h"

namespace sextant::resolver {

class UpstreamAdapter final : public UpstreamNetwork {
 public:
  // `pool` may be null: then only udp and tcp reach anyone.
  UpstreamAdapter(transports::Upstream& upstream, TimerService& timers, transports::UpstreamPool* pool = nullptr)
      : upstream_(upstream), timers_(timers), pool_(pool) {}

  // Logs the walker's queries and the answers to them (RESOLVER_* and
  // FORWARDER_*) when the writer wants them; `worker` picks its queue.
  void set_dnstap(transports::DnstapWriter* writer, unsigned worker) noexcept {
    dnstap_ = writer;
    worker_ = worker;
  }
  // The forward upstreams' profiles (null: none). Call on this loop; the
  // pool's connections to upstreams the table no longer names close.
  void set_forward_table(std::shared_ptr<const ForwardTable> table);

  RequestId send(const ServerAddress& server, UpstreamProtocol protocol, std::span<const uint8_t> query,
                 std::chrono::milliseconds timeout, Callback on_reply) override;
  void cancel(RequestId id) override;

  // Counters of every forward upstream this worker used (UDP ones counted
  // here, the others by the pool).
  std::vector<transports::UpstreamEndpointStats> forward_stats() const;

 private:
  struct Route {
    const UpstreamProfile* profile = nullptr;  // null: not a forward upstream
    uint32_t endpoint = 0;                     // the pool's id, for stream protocols
  };
  struct InFlight {
    bool pooled = false;
    transports::UpstreamQueryId id = 0;
  };
  Route route(const ServerAddress& server, UpstreamProtocol protocol);
  // Delivers `reply` from a later loop turn (the interface forbids calling back from inside send()).
  RequestId refuse_later(RequestId id, const ServerAddress& asked, Callback cb, UpstreamReply::Status status,
                         std::string detail);

  transports::Upstream& upstream_;
  TimerService& timers_;
  transports::UpstreamPool* pool_;
  std::shared_ptr<const ForwardTable> table_;
  transports::DnstapWriter* dnstap_ = nullptr;
  unsigned worker_ = 0;
  RequestId next_id_ = 1;
  std::unordered_map<RequestId, TimerService::TimerId> refused_;
  std::unordered_map<RequestId, InFlight> in_flight_;
  struct RouteKey {
    ServerAddress address;
    UpstreamProtocol protocol = UpstreamProtocol::udp;
    bool operator==(const RouteKey&) const = default;
  };
  struct RouteKeyHash {
    size_t operator()(const RouteKey& k) const noexcept {
      return ServerAddressHash{}(k.address) * 31 + static_cast<size_t>(k.protocol);
    }
  };
  std::unordered_map<RouteKey, Route, RouteKeyHash> routes_;  // for the current table
  std::unordered_map<std::string, transports::UpstreamEndpointStats> udp_stats_;  // by label
};

}  // namespace sextant::resolver
