// Settings of the cache, with defaults close to Unbound's. The resolver maps
// its YAML keys onto this struct; the cache reads no files and no clock.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sextant::cache {

struct CacheConfig {
  // TTL clamps for positive data (RFC 8767 §4 suggests capping at 7 days;
  // Unbound's cache-max-ttl default is 1 day).
  uint32_t max_ttl = 86400;
  uint32_t min_ttl = 0;
  // RFC 2308 §5: negative TTL = min(SOA TTL, SOA MINIMUM), capped here
  // (Unbound cache-max-negative-ttl = 3600).
  uint32_t negative_max_ttl = 3600;
  uint32_t negative_min_ttl = 0;
  // Data the validator found bogus is kept only briefly so a fixed zone
  // recovers quickly (Unbound val-bogus-ttl = 60).
  uint32_t bogus_ttl = 60;

  // Serve-stale (RFC 8767): expired data stays up to stale_max seconds past
  // its expiry and is served with stale_answer_ttl when a refresh fails or
  // the client deadline passes.
  bool serve_stale = true;
  uint32_t stale_max = 86400;
  uint32_t stale_answer_ttl = 30;
  // The resolver's client-side deadline before it falls back to stale data
  // (RFC 8767 "client response timer", 1.8 s recommended).
  uint32_t stale_client_timeout_ms = 1800;

  // Prefetch: a hit during the last prefetch_percent % of the original TTL
  // (and always in its last second) asks the caller for one background
  // refresh, at most one per entry per TTL (the refresh claim). A 1 s TTL
  // would be refreshed on every hit, so it is left to expire.
  bool prefetch = true;
  uint32_t prefetch_percent = 10;
  uint32_t prefetch_min_ttl = 2;
  // A refresh claim older than this is considered lost and may be claimed
  // again, so a resolver that forgets finish_refresh() cannot wedge a key.
  uint32_t refresh_claim_timeout = 10;

  // Memory bounds in bytes, each store on its own so that a flood of one
  // kind (say, random-subdomain negative answers) cannot push out the
  // others. Real allocation sizes and index overhead count.
  size_t rrset_max_bytes = 64u << 20;
  size_t negative_max_bytes = 16u << 20;
  size_t answer_max_bytes = 32u << 20;
  size_t delegation_max_bytes = 8u << 20;
  // Answers for one client subnet (EDNS Client Subnet,
  // scoped_answer_cache.h); 0 unless ECS is on.
  size_t scoped_answer_max_bytes = 0;

  // Shards per store (rounded up to a power of two). Each has its own lock
  // and LRU list and an equal share of the byte budget.
  size_t shards = 32;
};

}  // namespace sextant::cache
