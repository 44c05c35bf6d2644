#include "transports/transport_metrics.h"

#include <array>

namespace sextant::transports {

TransportCounters& transport_counters(Transport t) noexcept {
  static std::array<TransportCounters, 5> all;
  auto index = static_cast<size_t>(t);
  if (index >= all.size()) index = 0;
  return all[index];
}

TransportCountersSnapshot snapshot(const TransportCounters& c) noexcept {
  auto load = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  TransportCountersSnapshot s;
  s.connections_accepted = load(c.connections_accepted);
  s.connections_refused = load(c.connections_refused);
  s.connections_active = load(c.connections_active);
  s.handshakes_completed = load(c.handshakes_completed);
  s.handshakes_failed = load(c.handshakes_failed);
  s.queries = load(c.queries);
  s.responses = load(c.responses);
  s.errors = load(c.errors);
  s.idle_timeouts = load(c.idle_timeouts);
  s.retries_sent = load(c.retries_sent);
  s.sessions_resumed = load(c.sessions_resumed);
  s.early_data_accepted = load(c.early_data_accepted);
  s.refused_per_client = load(c.refused_per_client);
  s.evicted_idle = load(c.evicted_idle);
  s.handshake_timeouts = load(c.handshake_timeouts);
  s.request_timeouts = load(c.request_timeouts);
  s.flood_closes = load(c.flood_closes);
  s.buffered_bytes = load(c.buffered_bytes);
  for (size_t i = 0; i < s.proxy.size(); ++i) s.proxy[i] = load(c.proxy[i]);
  return s;
}

void connection_opened(TransportCounters& c) noexcept {
  c.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  c.connections_active.fetch_add(1, std::memory_order_relaxed);
}

void connection_closed(TransportCounters& c) noexcept {
  uint64_t current = c.connections_active.load(std::memory_order_relaxed);
  while (current > 0 &&
         !c.connections_active.compare_exchange_weak(current, current - 1, std::memory_order_relaxed)) {
  }
}

void buffer_grew(TransportCounters& c, size_t bytes) noexcept {
  c.buffered_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void buffer_shrank(TransportCounters& c, size_t bytes) noexcept {
  uint64_t current = c.buffered_bytes.load(std::memory_order_relaxed);
  while (!c.buffered_bytes.compare_exchange_weak(current, current > bytes ? current - bytes : 0,
                                                 std::memory_order_relaxed)) {
  }
}

}  // namespace sextant::transports
