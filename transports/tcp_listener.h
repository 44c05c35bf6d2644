// Plain DNS over TCP (RFC 7766): one SO_REUSEPORT listening socket per
// worker, two-octet length framing, pipelined queries answered out of order
// as they complete.
//
// Budgets per connection: at most `max_pending_per_connection` queries (and
// answers not yet written) at once — beyond that the connection stops being
// read until answers go out; an idle timeout; the read buffer never holds
// more than one read plus one frame. Per worker: at most `max_connections`
// connections (further ones are accepted and closed at once). A frame of
// length 0 closes the connection. A connection closed by its peer while
// answers are pending stays valid for the handler: delivering to it is a
// no-op. Behind a trusted load balancer each connection starts with a PROXY
// v2 header naming the client (proxy_protocol.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "transports/connection_limits.h"
#include "transports/listener.h"
#include "transports/listener_counters.h"
#include "transports/proxy_protocol.h"
#include "transports/socket_util.h"

namespace sextant::transports {

struct TcpListenerConfig {
  SocketAddress address;  // port 0: see make_tcp_listener_factory
  // RFC 7766 §6.2.3 / RFC 7828: close a connection without a complete
  // query or an answer (and without queries in progress) after this long;
  // octets that do not complete a query do not restart it. The resolver
  // advertises it in EDNS keepalive (in units of 100 ms).
  unsigned idle_timeout_ms = 10000;
  // Per worker (per listener). At the limit a new connection closes the
  // least recently active idle one; when none is idle it is closed at once.
  size_t max_connections = 1000;
  // Connections per client, shared with the other listeners
  // (connection_limits.h); null: no cap. Trusted PROXY peers are exempt.
  std::shared_ptr<ClientConnectionTable> client_limits;
  size_t max_pending_per_connection = 100; // queries + unwritten answers
  int backlog = 1024;
  // Load balancers (dnsdist) whose connections must start with a PROXY v2
  // header naming the client; null or empty: none. A header from anyone
  // else, or a connection without one from these, is closed and counted.
  std::shared_ptr<const TrustedProxies> trusted_proxies;
};

struct TcpCounters {
  RelaxedCounter accepted;
  RelaxedCounter refused;            // over max_connections, none idle: closed at once
  RelaxedCounter refused_per_client; // over the per-client cap: closed at once
  RelaxedCounter evicted_idle;       // idle, closed to make room for a new connection
  RelaxedCounter request_timeouts;   // idle timeout with part of a query received
  RelaxedCounter closed_idle;        // idle timeout
  RelaxedCounter closed_by_peer;     // EOF or reset with nothing left to send
  RelaxedCounter zero_length_frames; // protocol error: connection closed
  RelaxedCounter truncated_frames;   // peer closed in the middle of a frame
  RelaxedCounter queries;
  RelaxedCounter answered;
  RelaxedCounter answers_queued;     // ...of which did not fit the socket at once (uv_write queue)
  RelaxedCounter abandoned;
  RelaxedCounter oversize_answers;   // > 65535 octets: cannot be framed, dropped
  RelaxedCounter write_errors;
  RelaxedCounter read_pauses;        // back-pressure: pending limit reached
  RelaxedCounter connections;        // gauge: open connections
  // PROXY v2, per connection, indexed by ProxyOutcome (direct is not counted).
  std::array<RelaxedCounter, kProxyOutcomeCount> proxy;
};

class TcpServer;  // the listening socket and its connections; see the .cpp

class TcpListener final : public Listener {
 public:
  // Binds, listens and starts accepting on ctx.loop. Throws
  // std::runtime_error naming the address on failure.
  static std::unique_ptr<TcpListener> open(const WorkerContext& ctx, const TcpListenerConfig& config);
  ~TcpListener() override;

  // Stops accepting, closes idle connections at once, lets connections with
  // pending answers finish for at most `grace_ms`, then closes the rest.
  void shutdown(unsigned grace_ms, std::function<void()> done) override;

  const SocketAddress& local_address() const noexcept;
  unsigned idle_timeout_ms() const noexcept;
  size_t connection_count() const noexcept;
  const TcpCounters& counters() const noexcept { return *counters_; }
  std::shared_ptr<const TcpCounters> counters_handle() const noexcept { return counters_; }

 private:
  TcpListener(TcpServer* server, std::shared_ptr<TcpCounters> counters);
  TcpServer* server_;  // deletes itself once we are gone and its handles are closed
  std::shared_ptr<TcpCounters> counters_;
};

// A factory for WorkerPool; port 0 is shared across workers as for UDP.
ListenerFactory make_tcp_listener_factory(TcpListenerConfig config,
                                          std::function<void(TcpListener&)> on_open = {});

}  // namespace sextant::transports
