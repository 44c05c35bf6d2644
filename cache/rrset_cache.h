// The RRset store: per (owner, type, class) the records, absolute expiry,
// original TTL, trust rank (RFC 2181 §5.4.1) and DNSSEC status with the
// covering RRSIGs.
//
// Each RRset is one allocation: the entry header, the key (lower-cased
// owner + type + class), then the rdatas and RRSIG rdatas, each prefixed by
// a 2-octet length. Lookups hand out a CachedRRset, a counted reference to
// that immutable block, so reading costs no copy and no allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "cache/cache_config.h"
#include "cache/cache_entry.h"
#include "cache/cache_key.h"
#include "cache/entry_restore.h"
#include "cache/sharded_store.h"
#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::cache {

struct RRsetEntry : CacheEntry {
  wire::RRType type = wire::RRType::A;
  wire::RRClass rclass = wire::RRClass::IN;
  uint16_t rdata_count = 0;
  uint16_t signature_count = 0;
};

// A sequence of (2-octet length, octets) items, iterated as spans.
class LengthPrefixedRange {
 public:
  class iterator {
   public:
    using value_type = std::span<const uint8_t>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const uint8_t* p, uint16_t left) noexcept : p_(p), left_(left) {}
    std::span<const uint8_t> operator*() const noexcept { return {p_ + 2, read_u16(p_)}; }
    iterator& operator++() noexcept {
      p_ += 2 + read_u16(p_);
      --left_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const iterator& o) const noexcept { return left_ == o.left_; }

   private:
    const uint8_t* p_ = nullptr;
    uint16_t left_ = 0;
  };
  LengthPrefixedRange(const uint8_t* first, uint16_t count) noexcept : first_(first), count_(count) {}
  // Where the octets after the last item start.
  const uint8_t* end_pointer() const noexcept {
    const uint8_t* p = first_;
    for (uint16_t i = 0; i < count_; ++i) p += 2 + read_u16(p);
    return p;
  }
  iterator begin() const noexcept { return {first_, count_}; }
  iterator end() const noexcept { return {nullptr, 0}; }
  size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }

 private:
  const uint8_t* first_;
  uint16_t count_;
};

// The records and the RRSIGs stored in an entry (see the layout above).
inline LengthPrefixedRange rdatas_of(const RRsetEntry& e) noexcept {
  return {entry_tail(&e) + e.key_len, e.rdata_count};
}
inline LengthPrefixedRange signatures_of(const RRsetEntry& e) noexcept {
  return {rdatas_of(e).end_pointer(), e.signature_count};
}
// Both lists as stored, lengths included (what a snapshot saves).
inline std::span<const uint8_t> payload_of(const RRsetEntry& e) noexcept {
  const uint8_t* first = entry_tail(&e) + e.key_len;
  return {first, static_cast<size_t>(signatures_of(e).end_pointer() - first)};
}

// A read-only view of a cached RRset that keeps it alive.
class CachedRRset {
 public:
  CachedRRset() = default;
  explicit CachedRRset(EntryRef<RRsetEntry> ref) noexcept : ref_(std::move(ref)) {}
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }

  wire::Name owner() const noexcept;  // lower-cased
  wire::RRType type() const noexcept { return ref_->type; }
  wire::RRClass rclass() const noexcept { return ref_->rclass; }
  Rank rank() const noexcept { return ref_->rank; }
  DnssecStatus status() const noexcept { return ref_->status; }
  uint32_t original_ttl() const noexcept { return ref_->original_ttl; }
  uint32_t expires() const noexcept { return ref_->expires; }
  uint32_t ttl_left(uint32_t now) const noexcept { return ref_->ttl_left(now); }
  bool expired(uint32_t now) const noexcept { return ref_->expired(now); }

  LengthPrefixedRange rdatas() const noexcept;
  LengthPrefixedRange signatures() const noexcept;  // RRSIG rdata covering this set

  // A copy as a wire::RRset with TTL `ttl` (for building messages).
  wire::RRset to_rrset(uint32_t ttl) const;

  // Octets charged to the cache for this entry.
  size_t charge() const noexcept { return ref_->charge; }

  const RRsetEntry& entry() const noexcept { return *ref_; }

 private:
  EntryRef<RRsetEntry> ref_;
};

struct RRsetHit {
  CachedRRset rrset;
  Freshness freshness = Freshness::fresh;
  // This caller owns the refresh (prefetch or stale refresh) of this key and
  // calls finish_refresh() or re-inserts when done.
  bool refresh_claimed = false;
  // TTL to put on the wire: the remaining TTL, or stale_answer_ttl if stale.
  uint32_t ttl = 0;
};

class RRsetCache {
 public:
  explicit RRsetCache(const CacheConfig& config);

  // Stores `rrset` (its ttl is clamped to [min_ttl, max_ttl]; bogus data to
  // bogus_ttl). Returns kept when the cached copy outranks it (see
  // may_replace in rank.h), too_large if it can never fit, rejected for
  // meta types, empty sets or oversized rdata.
  enum class Result : uint8_t { stored, kept, too_large, rejected };
  Result insert(const wire::RRset& rrset, Rank rank, DnssecStatus status, uint32_t now);

  // Puts back an RRset saved by a cache snapshot (entry_restore.h).
  // `payload` is what payload_of() gave: `rdata_count` rdatas then
  // `signature_count` RRSIG rdatas, each with a 2-octet length. Everything
  // is checked as insert() would (and every rdata against its type's
  // layout), so a damaged snapshot cannot plant what insert() refuses.
  RestoreResult restore(const wire::Name& owner, wire::RRType type, wire::RRClass rclass,
                        uint16_t rdata_count, uint16_t signature_count,
                        std::span<const uint8_t> payload, Rank rank, DnssecStatus status,
                        uint32_t expires, uint32_t original_ttl, uint32_t now);

  // `min_rank` lets callers that answer clients skip glue; `claim` none
  // leaves a due refresh to a caller that will act on it.
  std::optional<RRsetHit> lookup(const wire::Name& owner, wire::RRType type, wire::RRClass rclass,
                                 uint32_t now, StalePolicy policy = StalePolicy::fresh_only,
                                 Rank min_rank = Rank::additional,
                                 RefreshClaim claim = RefreshClaim::claim);

  // Releases a refresh claim (the refresh failed or brought nothing new).
  void finish_refresh(const wire::Name& owner, wire::RRType type, wire::RRClass rclass);

  // The entry under `key` as it is, whatever its freshness: no hit or miss
  // is counted and no refresh is claimed (the answer cache uses it to decide
  // whether an answer needs an entry of its own).
  CachedRRset peek(const CacheKey& key) {
    EntryRef<RRsetEntry> ref = store_.find(key);
    return CachedRRset(std::move(ref));
  }
  // Calls fn(RRsetEntry&) under the shard lock of `key` (the answer cache's
  // hit path renders answers from RRsets this way: no reference count, no
  // copy). fn returns true to remove the entry. See ShardedStore::visit.
  template <typename Fn>
  bool visit_entry(const CacheKey& key, Fn&& fn) {
    return store_.visit(key, std::forward<Fn>(fn));
  }
  void prefetch(const CacheKey& key) const noexcept { store_.prefetch(key); }

  bool erase(const wire::Name& owner, wire::RRType type, wire::RRClass rclass);
  size_t flush_name(const wire::Name& name);
  size_t flush_subtree(const wire::Name& apex);
  void clear() { store_.clear(); }

  // One line per record and per RRSIG: "owner ttl class type rdata", with a
  // comment line per set giving rank, status and freshness.
  void dump(std::string& out, uint32_t now) const;

  const ShardedStore<RRsetEntry>& store() const noexcept { return store_; }

 private:
  const CacheConfig& config_;
  ShardedStore<RRsetEntry> store_;
};

}  // namespace sextant::cache
