// Per-transport counters for the encrypted front-ends (DoT, DoH, DoQ).
//
// One process-wide set of counters per Transport. Listeners on every worker
// increment them with relaxed atomics; the metrics exporter and tests read
// them from any thread. Relaxed ordering is enough: each counter is an
// independent monotonic tally, nobody derives control flow from them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "transports/proxy_protocol.h"
#include "transports/query_handler.h"

namespace sextant::transports {

struct TransportCounters {
  std::atomic<uint64_t> connections_accepted{0};  // TCP accepts / QUIC connections created
  std::atomic<uint64_t> connections_refused{0};   // over the per-worker connection limit
  std::atomic<uint64_t> connections_active{0};    // currently open (gauge)
  std::atomic<uint64_t> handshakes_completed{0};
  std::atomic<uint64_t> handshakes_failed{0};     // TLS errors, wrong ALPN, handshake timeout
  std::atomic<uint64_t> queries{0};               // requests handed to the QueryHandler
  std::atomic<uint64_t> responses{0};             // answers written back
  std::atomic<uint64_t> errors{0};                // malformed input, protocol errors, HTTP 4xx
  std::atomic<uint64_t> idle_timeouts{0};
  std::atomic<uint64_t> retries_sent{0};          // QUIC Retry packets (DoQ only)
  std::atomic<uint64_t> sessions_resumed{0};      // QUIC handshakes that resumed a session (DoQ, DoH/3)
  std::atomic<uint64_t> early_data_accepted{0};   // QUIC handshakes whose 0-RTT data was accepted (DoQ)
  // Abusive connections (connection_limits.h, issue 16 §6), each closed at once:
  std::atomic<uint64_t> refused_per_client{0};    // over server.max-connections-per-client
  std::atomic<uint64_t> evicted_idle{0};          // oldest idle one, closed to make room for a new one
  std::atomic<uint64_t> handshake_timeouts{0};    // no finished handshake within server.handshake-timeout
  std::atomic<uint64_t> request_timeouts{0};      // a request begun but not complete at the idle timeout
  std::atomic<uint64_t> flood_closes{0};          // HTTP/2 control frames or stream resets over the budget
  std::atomic<uint64_t> buffered_bytes{0};        // gauge: queued output and held request bodies
  // PROXY v2 per connection, indexed by ProxyOutcome (direct is not counted).
  std::array<std::atomic<uint64_t>, kProxyOutcomeCount> proxy{};

  void add(std::atomic<uint64_t>& counter, uint64_t n = 1) noexcept {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
};

// A plain copy of the counters, for reporting.
struct TransportCountersSnapshot {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;
  uint64_t connections_active = 0;
  uint64_t handshakes_completed = 0;
  uint64_t handshakes_failed = 0;
  uint64_t queries = 0;
  uint64_t responses = 0;
  uint64_t errors = 0;
  uint64_t idle_timeouts = 0;
  uint64_t retries_sent = 0;
  uint64_t sessions_resumed = 0;
  uint64_t early_data_accepted = 0;
  uint64_t refused_per_client = 0;
  uint64_t evicted_idle = 0;
  uint64_t handshake_timeouts = 0;
  uint64_t request_timeouts = 0;
  uint64_t flood_closes = 0;
  uint64_t buffered_bytes = 0;
  std::array<uint64_t, kProxyOutcomeCount> proxy{};
};

// The process-wide counters of one transport (only dot, doh and doq are fed
// by this library's encrypted listeners; udp/tcp exist so callers need no
// special case).
TransportCounters& transport_counters(Transport t) noexcept;
TransportCountersSnapshot snapshot(const TransportCounters& c) noexcept;

// Adjusts the connections_active gauge without going below zero.
void connection_opened(TransportCounters& c) noexcept;
void connection_closed(TransportCounters& c) noexcept;
// The buffered_bytes gauge: memory held for a connection (output not yet on
// the socket, request bodies waiting for their end).
void buffer_grew(TransportCounters& c, size_t bytes) noexcept;
void buffer_shrank(TransportCounters& c, size_t bytes) noexcept;

}  // namespace sextant::transports
