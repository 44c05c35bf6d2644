// Putting back entries saved by a cache snapshot (cache_snapshot.h): what
// each store's restore() returns, and how saved times meet the current
// clock and configuration.
//
// A restored entry keeps its absolute expiry (the cache's clock is wall
// time), so the time that passed while Sextant was stopped ages it exactly
// as if it had stayed in memory. It never replaces an entry that is still
// fresh: whatever the resolver learned since it started is newer.
#pragma once

#include <cstdint>

#include "cache/cache_config.h"
#include "cache/cache_entry.h"
#include "cache/sharded_store.h"

namespace sextant::cache {

enum class RestoreResult : uint8_t {
  restored,
  kept,       // the store has a fresh entry under that key: it stays
  expired,    // past the serve-stale window now (or past the TTL bounds)
  rejected,   // malformed: fails the checks the store's insert makes
  too_large,  // cannot fit into a shard's budget
};

constexpr const char* to_string(RestoreResult r) noexcept {
  switch (r) {
    case RestoreResult::restored: return "restored";
    case RestoreResult::kept: return "kept";
    case RestoreResult::expired: return "expired";
    case RestoreResult::rejected: return "rejected";
    case RestoreResult::too_large: return "too-large";
  }
  return "unknown";
}

// Fits a saved entry's times to `now` and the running configuration: false
// if it is gone (past its stale window; only its expiry if serve-stale is
// off). An expiry further away than `max_ttl` (the bound may have been
// lowered since) is pulled in, and so is the original TTL.
inline bool fit_restored_times(uint32_t& expires, uint32_t& original_ttl, uint32_t now,
                               uint32_t max_ttl, const CacheConfig& config) noexcept {
  if (now >= stale_deadline(expires, config)) return false;
  uint32_t latest = add_ttl(now, max_ttl);
  if (expires > latest) expires = latest;
  if (original_ttl > max_ttl) original_ttl = max_ttl;
  return true;
}

// The replacement rule of a restore: only an expired entry gives way.
template <typename E>
auto restored_may_replace(uint32_t now) noexcept {
  return [now](const E& old) { return old.expired(now); };
}

// Converts a store's InsertOutcome.
inline RestoreResult restore_result_of(InsertOutcome outcome) noexcept {
  switch (outcome) {
    case InsertOutcome::stored: return RestoreResult::restored;
    case InsertOutcome::kept: return RestoreResult::kept;
    case InsertOutcome::too_large: return RestoreResult::too_large;
  }
  return RestoreResult::rejected;
}

}  // namespace sextant::cache
