// The negative store (RFC 2308): NXDOMAIN per name and NODATA per (name,
// type), each with the SOA and the NSEC/NSEC3 records and signatures that
// prove it (RFC 8198 synthesis and serve-stale need them).
//
// TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §5), clamped to
// [negative_min_ttl, negative_max_ttl]; bogus entries to bogus_ttl.
// An NXDOMAIN also denies every name below it (RFC 8020): a lookup walks up
// the ancestors of the name with hash look-ups, no ordered index needed.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cache/cache_config.h"
#include "cache/cache_entry.h"
#include "cache/cache_key.h"
#include "cache/entry_restore.h"
#include "cache/sharded_store.h"
#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::cache {

enum class NegativeKind : uint8_t { nxdomain, nodata };

constexpr const char* to_string(NegativeKind k) noexcept {
  return k == NegativeKind::nxdomain ? "NXDOMAIN" : "NODATA";
}

struct NegativeEntry : CacheEntry {
  NegativeKind kind = NegativeKind::nxdomain;
  wire::RRType qtype = wire::RRType::A;  // NODATA only
  wire::RRClass rclass = wire::RRClass::IN;
  uint16_t record_count = 0;  // SOA first, then the proofs
};

// The SOA then the proof RRsets an entry holds, TTLs as stored.
std::vector<wire::RRset> records_of(const NegativeEntry& e);

// A counted reference to a negative entry.
class CachedNegative {
 public:
  CachedNegative() = default;
  explicit CachedNegative(EntryRef<NegativeEntry> ref) noexcept : ref_(std::move(ref)) {}
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }

  NegativeKind kind() const noexcept { return ref_->kind; }
  // The name the entry was stored for (an ancestor of the query name when
  // the RFC 8020 cut applied).
  wire::Name name() const noexcept;
  wire::RRType qtype() const noexcept { return ref_->qtype; }
  DnssecStatus status() const noexcept { return ref_->status; }
  Rank rank() const noexcept { return ref_->rank; }
  uint32_t original_ttl() const noexcept { return ref_->original_ttl; }
  uint32_t ttl_left(uint32_t now) const noexcept { return ref_->ttl_left(now); }

  // The SOA, then the NSEC/NSEC3 (and any other proof) RRsets with their
  // signatures, TTLs as stored.
  std::vector<wire::RRset> records() const;
  wire::RRset soa() const;

 private:
  EntryRef<NegativeEntry> ref_;
};

struct NegativeHit {
  CachedNegative entry;
  NegativeKind kind = NegativeKind::nxdomain;
  bool below_nxdomain = false;  // the query name lies below the denied name
  Freshness freshness = Freshness::fresh;
  bool refresh_claimed = false;
  uint32_t ttl = 0;  // remaining, or stale_answer_ttl when stale

  // The EDE a stale negative answer carries (RFC 8914): 19 for NXDOMAIN,
  // 3 for NODATA.
  wire::EdeCode stale_ede() const noexcept {
    return kind == NegativeKind::nxdomain ? wire::EdeCode::StaleNxdomainAnswer
                                          : wire::EdeCode::StaleAnswer;
  }
};

class NegativeCache {
 public:
  explicit NegativeCache(const CacheConfig& config);

  enum class Result : uint8_t { stored, kept, too_large, rejected };

  // `soa` must be an SOA RRset with one well-formed rdata (else rejected).
  // For NXDOMAIN `qtype` is ignored. `proofs` are the NSEC/NSEC3 RRsets
  // (with their RRSIGs in `signatures`), possibly empty for unsigned zones.
  Result insert(NegativeKind kind, const wire::Name& name, wire::RRType qtype,
                wire::RRClass rclass, const wire::RRset& soa,
                std::span<const wire::RRset> proofs, DnssecStatus status, uint32_t now,
                Rank rank = Rank::authority);

  // NODATA for (name, qtype), else NXDOMAIN for name or any ancestor.
  // With allow_stale, a fresh entry anywhere on that path is still
  // preferred to a stale one.
  std::optional<NegativeHit> lookup(const wire::Name& name, wire::RRType qtype,
                                    wire::RRClass rclass, uint32_t now,
                                    StalePolicy policy = StalePolicy::fresh_only);

  // Puts back an entry saved by a cache snapshot (entry_restore.h):
  // `records` as records_of() gave them (the SOA first). Checked as
  // insert() checks, and every rdata against its type's layout.
  RestoreResult restore(NegativeKind kind, const wire::Name& name, wire::RRType qtype,
                        wire::RRClass rclass, std::span<const wire::RRset> records,
                        DnssecStatus status, Rank rank, uint32_t expires, uint32_t original_ttl,
                        uint32_t now);

  void finish_refresh(NegativeKind kind, const wire::Name& name, wire::RRType qtype,
                      wire::RRClass rclass);

  // Removes what contradicts positive data at (name, type): the NODATA for
  // that type and NXDOMAIN entries for the name and its ancestors.
  void forget_denials_of(const wire::Name& name, wire::RRType type, wire::RRClass rclass);

  size_t flush_name(const wire::Name& name);
  size_t flush_subtree(const wire::Name& apex);
  void clear() { store_.clear(); }
  void dump(std::string& out, uint32_t now) const;

  const ShardedStore<NegativeEntry>& store() const noexcept { return store_; }

 private:
  std::optional<NegativeHit> lookup_once(const wire::Name& name, wire::RRType qtype,
                                         wire::RRClass rclass, uint32_t now, StalePolicy policy);
  bool try_key(const CacheKey& key, uint32_t now, StalePolicy policy, NegativeHit& hit);

  const CacheConfig& config_;
  ShardedStore<NegativeEntry> store_;
};

// The key type octets of an NXDOMAIN entry: type 0 is reserved (RFC 6895),
// so it never collides with a NODATA entry.
inline constexpr uint16_t kNxdomainKeyType = 0;

}  // namespace sextant::cache
