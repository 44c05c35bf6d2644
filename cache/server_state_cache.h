// Per-server state the walker uses to choose where to send a query: the
// smoothed RTT and its variance (RFC 6298), consecutive timeouts with
// back-off, "dead until" marks and EDNS support. Keyed by IP address,
// bounded by its own entry limit with per-shard LRU, kept apart from the
// DNS data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "cache/cache_config.h"
#include "cache/cache_entry.h"
#include "cache/cache_key.h"
#include "cache/ip_address.h"
#include "cache/sharded_store.h"

namespace sextant::cache {

enum class EdnsSupport : uint8_t { unknown, supported, unsupported };

struct ServerState {
  // The retransmission timeout assumed for servers never measured
  // (Unbound's UNKNOWN_SERVER_NICENESS): low enough that new servers get
  // tried, which is the exploration part of RTT-based selection.
  static constexpr uint32_t kUnknownRtoMs = 376;
  static constexpr uint32_t kMaxRtoMs = 12000;

  bool rtt_known = false;
  uint32_t srtt_ms = 0;
  uint32_t rttvar_ms = 0;
  uint32_t consecutive_timeouts = 0;
  uint32_t dead_until = 0;  // absolute seconds; 0 = not dead
  EdnsSupport edns = EdnsSupport::unknown;
  uint8_t edns_failures = 0;
  uint32_t updated = 0;     // absolute seconds of the last update

  // RFC 6298 RTO, doubled per consecutive timeout, capped at kMaxRtoMs.
  uint32_t rto_ms() const noexcept;
  bool dead(uint32_t now) const noexcept { return dead_until > now; }
};

struct ServerStateEntry : CacheEntry {
  ServerState state;
};

class ServerStateCache {
 public:
  explicit ServerStateCache(const CacheConfig& config);

  // The state of `addr` (a default, unknown state if none is cached or it
  // is older than server_state_ttl).
  ServerState get(const IpAddress& addr, uint32_t now);

  // A reply arrived after `rtt_ms`: updates SRTT/RTTVAR, clears timeouts
  // and any dead mark.
  void record_rtt(const IpAddress& addr, uint32_t rtt_ms, uint32_t now);
  // A query timed out: one more consecutive timeout; after
  // server_dead_after_timeouts the server is dead for server_dead_seconds.
  void record_timeout(const IpAddress& addr, uint32_t now);
  // The server answered a query with EDNS properly (true), or failed one
  // with EDNS but not without (false: FORMERR/NOTIMP/timeouts that a plain
  // retry cured). Two failures without any success mark it unsupported.
  void record_edns(const IpAddress& addr, bool edns_ok, uint32_t now);

  // RTT-band selection with exploration (as Unbound does): among servers
  // that are not dead, the ones whose RTO is within `band_ms` of the best
  // are equally likely; `random` picks one. If every server is dead, the
  // one that comes back soonest. Returns candidates.size() if empty.
  size_t select(std::span<const IpAddress> candidates, uint32_t now, uint64_t random,
                uint32_t band_ms = 400);

  size_t entries() const noexcept { return store_.entries(); }
  size_t bytes() const noexcept { return store_.bytes(); }
  void clear() { store_.clear(); }
  void dump(std::string& out, uint32_t now) const;

 private:
  template <typename Fn>
  void update(const IpAddress& addr, uint32_t now, Fn&& fn);

  const CacheConfig& config_;
  ShardedStore<ServerStateEntry> store_;
};

}  // namespace sextant::cache
