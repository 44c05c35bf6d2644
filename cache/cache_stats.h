// A snapshot of the cache's counters for the metrics endpoint and the
// control command. Counters live per shard inside each store (relaxed
// atomics, no shared cache line on the hit path) and are summed here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sextant::cache {

struct StoreStats {
  size_t entries = 0;
  size_t bytes = 0;
  uint64_t hits = 0;          // lookups that returned data (fresh or stale)
  uint64_t misses = 0;
  uint64_t stale_served = 0;  // hits that returned stale data
  uint64_t prefetches = 0;    // hits that handed out a prefetch
  uint64_t inserts = 0;
  uint64_t rejected = 0;      // entries too large for the store
  uint64_t evictions = 0;     // entries pushed out by the byte bound
};

struct CacheStats {
  StoreStats answers;
  StoreStats rrsets;
  StoreStats negatives;
  StoreStats delegations;
  StoreStats scoped_answers;  // ECS answers for one client subnet

  StoreStats total() const noexcept {
    StoreStats t;
    for (const StoreStats* s : {&answers, &rrsets, &negatives, &delegations, &scoped_answers}) {
      t.entries += s->entries;
      t.bytes += s->bytes;
      t.hits += s->hits;
      t.misses += s->misses;
      t.stale_served += s->stale_served;
      t.prefetches += s->prefetches;
      t.inserts += s->inserts;
      t.rejected += s->rejected;
      t.evictions += s->evictions;
    }
    return t;
  }
};

}  // namespace sextant::cache
