// Delegations the walker has learned: zone cut -> NS names and the
// addresses known for them, with the rank of the NS set and of each
// server's addresses (glue vs. authoritative). Kept apart from answers so a
// flood of answers cannot push out the referral data resolution depends on.
//
// The closest cached cut for a name is found by walking up the name's
// ancestors with hash look-ups (at most 128, usually 2-4), so no ordered
// index is needed.
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
#include "cache/ip_address.h"
#include "cache/sharded_store.h"
#include "wire/name.h"
#include "wire/types.h"

namespace sextant::cache {

struct DelegationServer {
  wire::Name name;
  std::vector<IpAddress> addresses;  // at most 255 are kept
  Rank address_rank = Rank::additional;  // glue by default
  // Named by the zone's own NS set only, not by the parent's referral
  // (add_child_view()).
  bool from_child = false;
};

struct Delegation {
  wire::Name zone;
  wire::RRClass rclass = wire::RRClass::IN;
  uint32_t ttl = 0;  // of the NS RRset
  std::vector<DelegationServer> servers;
};

struct DelegationHit {
  Delegation delegation;  // ttl = remaining (stale_answer_ttl when stale)
  Rank rank = Rank::authority;
  DnssecStatus status = DnssecStatus::indeterminate;
  Freshness freshness = Freshness::fresh;
  bool refresh_claimed = false;
};

struct DelegationEntry : CacheEntry {
  wire::RRClass rclass = wire::RRClass::IN;
  uint16_t server_count = 0;
};

// The servers an entry holds (what a snapshot saves).
std::vector<DelegationServer> servers_of(const DelegationEntry& e);

class DelegationCache {
 public:
  explicit DelegationCache(const CacheConfig& config);

  enum class Result : uint8_t { stored, kept, too_large, rejected };

  // Stores the NS set of `d.zone` as a referral from the parent gives it
  // (rank authority). TTL clamped like RRsets. Rejected when it has no
  // servers or more than 65535. The child's own NS set goes through
  // add_child_view(), never here: stored as a cut of its own it would
  // outlive a delegation the parent withdrew (CVE-2012-1192).
  Result insert(const Delegation& d, Rank rank, DnssecStatus status, uint32_t now);

  // Puts back a delegation saved by a cache snapshot (entry_restore.h);
  // `d.ttl` is ignored (the saved times count). Checked as insert() checks,
  // and every address must be IPv4 or IPv6 with a valid rank.
  RestoreResult restore(const Delegation& d, Rank rank, DnssecStatus status, uint32_t expires,
                        uint32_t original_ttl, uint32_t now);

  // The cut for `zone` itself.
  std::optional<DelegationHit> find(const wire::Name& zone, wire::RRClass rclass, uint32_t now,
                                    StalePolicy policy = StalePolicy::fresh_only);

  // The closest cached cut at or above `name` (strictly above when
  // `strictly_above`, as a DS query needs the parent's servers).
  std::optional<DelegationHit> find_closest(const wire::Name& name, wire::RRClass rclass,
                                            uint32_t now,
                                            StalePolicy policy = StalePolicy::fresh_only,
                                            bool strictly_above = false);

  // Whether an unexpired cut for `zone` itself is cached. Decodes and
  // counts nothing, allocates nothing: the walker's check for questions that
  // would fail at once (Walker::quick_failure) runs on cache misses.
  bool has_fresh(const wire::Name& zone, wire::RRClass rclass, uint32_t now);

  // Records addresses learned for one of the zone's servers (e.g. after a
  // glueless lookup). Replaces the server's addresses when `rank` is at
  // least their rank, else keeps them. Returns false if the zone or the
  // server is not cached.
  bool set_addresses(const wire::Name& zone, wire::RRClass rclass, const wire::Name& server,
                     std::span<const IpAddress> addresses, Rank rank, uint32_t now);

  // What the zone's own servers say about their servers, added to the cut
  // the parent gave: NS names the parent did not list (from_child), and
  // addresses beside the parent's glue (both stay candidates, so the walker
  // falls back from one to the other when one fails). Never creates a cut
  // and never changes its expiry or rank: the parent's NS TTL governs, so a
  // delegation the parent no longer makes ends on time (CVE-2012-1192,
  // "ghost domains"). At most kMaxChildServers names and
  // kMaxChildAddresses addresses per name are added. Returns false if the
  // zone is not cached (or expired), or nothing was new.
  static constexpr size_t kMaxChildServers = 20;
  static constexpr size_t kMaxChildAddresses = 8;
  bool add_child_view(const wire::Name& zone, wire::RRClass rclass,
                      std::span<const DelegationServer> servers, uint32_t now);

  void finish_refresh(const wire::Name& zone, wire::RRClass rclass);
  bool erase(const wire::Name& zone, wire::RRClass rclass);
  size_t flush_name(const wire::Name& zone);
  size_t flush_subtree(const wire::Name& apex);
  void clear() { store_.clear(); }
  void dump(std::string& out, uint32_t now) const;

  const ShardedStore<DelegationEntry>& store() const noexcept { return store_; }

 private:
  DelegationEntry* build(const CacheKey& key, const Delegation& d);
  bool try_zone(const wire::Name& zone, wire::RRClass rclass, uint32_t now, StalePolicy policy,
                DelegationHit& hit);

  const CacheConfig& config_;
  ShardedStore<DelegationEntry> store_;
};

}  // namespace sextant::cache
