// The header every cached entry starts with, and the freshness rules shared
// by all stores.
//
// An entry is ONE allocation: [derived struct][key octets][payload octets].
// The derived struct (RRsetEntry, AnswerEntry, ...) adds its fixed fields;
// the key and payload follow it, so an RRset costs one malloc and no
// pointers to chase. Entries are immutable once published, except for the
// intrusive index links (guarded by the shard lock) and the atomics below,
// which is why a reader may hold a reference (EntryRef) after the shard
// lock is released.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <utility>

#include "cache/cache_config.h"
#include "cache/dnssec_status.h"
#include "cache/rank.h"

namespace sextant::cache {

// What a lookup found, as the caller must treat it.
enum class Freshness : uint8_t {
  fresh,         // within its TTL
  prefetch_due,  // within its TTL, in the last prefetch_percent %: this caller
                 // was chosen to start a background refresh
  stale,         // past its TTL, within stale_max (RFC 8767)
};

constexpr const char* to_string(Freshness f) noexcept {
  switch (f) {
    case Freshness::fresh: return "fresh";
    case Freshness::prefetch_due: return "prefetch-due";
    case Freshness::stale: return "stale";
  }
  return "unknown";
}

// Whether a lookup may return stale data. Stale data is only served when a
// refresh failed or the client deadline passed (RFC 8767 §4), so the normal
// path asks for fresh data only.
enum class StalePolicy : uint8_t { fresh_only, allow_stale };

// Whether a lookup may take the entry's refresh claim (prefetch or stale
// refresh). Callers that never refresh (the walker reading RRsets while it
// resolves something else) pass `none`, so they do not take the claim from
// the client path that would act on it: answers rendered from RRsets are
// prefetched through their RRset's claim.
enum class RefreshClaim : uint8_t { claim, none };

struct CacheEntry {
  CacheEntry() = default;
  CacheEntry(const CacheEntry&) = delete;
  CacheEntry& operator=(const CacheEntry&) = delete;

  // Index links, guarded by the shard lock.
  CacheEntry* chain_next = nullptr;
  CacheEntry* lru_prev = nullptr;
  CacheEntry* lru_next = nullptr;

  uint32_t hash = 0;                 // low 32 bits of the whole key's hash
  std::atomic<uint32_t> refs{1};     // the store's reference plus readers'
  uint32_t charge = 0;               // bytes accounted to the shard
  uint32_t expires = 0;              // absolute seconds
  uint32_t original_ttl = 0;         // as stored (after clamps)
  // When a refresh (prefetch or stale) was handed to a caller; 0 = none.
  std::atomic<uint32_t> refresh_claimed_at{0};
  uint16_t key_len = 0;
  // Set by hits, cleared by the eviction sweep (second chance).
  std::atomic<bool> referenced{false};
  Rank rank = Rank::additional;
  DnssecStatus status = DnssecStatus::indeterminate;

  bool expired(uint32_t now) const noexcept { return now >= expires; }
  // Past even the stale window (expires + stale_max, RFC 8767): must not be
  // served at all. Computed rather than stored: 4 octets less per entry.
  bool gone(uint32_t now, const CacheConfig& config) const noexcept;
  uint32_t ttl_left(uint32_t now) const noexcept { return expires > now ? expires - now : 0; }

  bool in_prefetch_window(uint32_t now, const CacheConfig& config) const noexcept {
    if (!config.prefetch || original_ttl < config.prefetch_min_ttl || expired(now)) return false;
    // At least the last second: TTLs count whole seconds, so a short TTL
    // (a 2 s name queried every second) would otherwise never be hit inside
    // its last 10 % and would expire for clients instead of being refreshed.
    uint64_t left = ttl_left(now);
    return left <= 1 || left * 100 < uint64_t{original_ttl} * config.prefetch_percent;
  }

  // Hands the refresh of this entry to one caller: true for the first
  // caller, false while that claim is younger than `timeout` seconds.
  bool try_claim_refresh(uint32_t now, uint32_t timeout) noexcept {
    uint32_t stamp = now == 0 ? 1 : now;
    uint32_t current = refresh_claimed_at.load(std::memory_order_relaxed);
    while (current == 0 || now - current >= timeout) {
      if (refresh_claimed_at.compare_exchange_weak(current, stamp, std::memory_order_acq_rel)) {
        return true;
      }
    }
    return false;
  }
  void release_refresh_claim() noexcept { refresh_claimed_at.store(0, std::memory_order_release); }
};

// When an entry expiring at `expires` is gone for good.
inline uint32_t stale_deadline(uint32_t expires, const CacheConfig& config) noexcept {
  if (!config.serve_stale) return expires;
  uint64_t until = uint64_t{expires} + config.stale_max;
  return until > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(until);
}

inline bool CacheEntry::gone(uint32_t now, const CacheConfig& config) const noexcept {
  return now >= stale_deadline(expires, config);
}

// Freshness of an entry for a caller at `now`, claiming the refresh when
// one is due. Returns false if the entry must not be served under `policy`.
inline bool classify(CacheEntry& e, uint32_t now, StalePolicy policy, const CacheConfig& config,
                     Freshness& freshness, bool& refresh_claimed,
                     RefreshClaim claim = RefreshClaim::claim) noexcept {
  refresh_claimed = false;
  const bool may_claim = claim == RefreshClaim::claim;
  if (!e.expired(now)) {
    freshness = Freshness::fresh;
    if (may_claim && e.in_prefetch_window(now, config) &&
        e.try_claim_refresh(now, config.refresh_claim_timeout)) {
      freshness = Freshness::prefetch_due;
      refresh_claimed = true;
    }
    return true;
  }
  if (policy != StalePolicy::allow_stale || !config.serve_stale || e.gone(now, config)) return false;
  freshness = Freshness::stale;
  if (may_claim) refresh_claimed = e.try_claim_refresh(now, config.refresh_claim_timeout);
  return true;
}


inline uint32_t add_ttl(uint32_t now, uint32_t ttl) noexcept {
  uint64_t t = uint64_t{now} + ttl;
  return t > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(t);
}

inline uint32_t clamp_ttl(uint32_t ttl, uint32_t lo, uint32_t hi) noexcept {
  if (ttl & 0x80000000u) ttl = 0;  // RFC 2181 §8
  if (ttl > hi) ttl = hi;
  if (ttl < lo) ttl = lo;
  return ttl;
}

// Allocates an entry of type E followed by `extra` octets (key + payload).
template <typename E>
E* allocate_entry(size_t extra) {
  void* memory = ::operator new(sizeof(E) + extra);
  return new (memory) E();
}

template <typename E>
inline uint8_t* entry_tail(E* e) noexcept {
  return reinterpret_cast<uint8_t*>(e) + sizeof(E);
}
template <typename E>
inline const uint8_t* entry_tail(const E* e) noexcept {
  return reinterpret_cast<const uint8_t*>(e) + sizeof(E);
}

template <typename E>
void release_entry(E* e) noexcept {
  if (e->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    e->~E();
    ::operator delete(static_cast<void*>(e));
  }
}

// A counted reference to an entry: keeps it alive after the shard lock is
// released, even if it is evicted or replaced meanwhile.
template <typename E>
class EntryRef {
 public:
  EntryRef() noexcept = default;
  // Adopts one reference the caller already holds.
  explicit EntryRef(E* adopted) noexcept : entry_(adopted) {}
  EntryRef(const EntryRef& o) noexcept : entry_(o.entry_) {
    if (entry_) entry_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  EntryRef(EntryRef&& o) noexcept : entry_(std::exchange(o.entry_, nullptr)) {}
  EntryRef& operator=(EntryRef o) noexcept {
    std::swap(entry_, o.entry_);
    return *this;
  }
  ~EntryRef() {
    if (entry_) release_entry(entry_);
  }
  explicit operator bool() const noexcept { return entry_ != nullptr; }
  E* get() const noexcept { return entry_; }
  E* operator->() const noexcept { return entry_; }
  E& operator*() const noexcept { return *entry_; }

 private:
  E* entry_ = nullptr;
};

}  // namespace sextant::cache
