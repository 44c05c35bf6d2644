// The cache as the resolver sees it: the four stores behind one object,
// plus the operations that span them (flush, dump, statistics).
//
//   answers()     - wire answers served before the walker is touched
//   rrsets()      - RRsets with rank, DNSSEC status and RRSIGs
//   negatives()   - NXDOMAIN / NODATA with SOA and NSEC/NSEC3 proofs
//   delegations() - zone cuts with their servers and addresses
//
// Every store is thread-safe (sharded locks, no global lock) and takes
// "now" (seconds since the epoch) as an argument; nothing here reads a
// clock.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "cache/answer_cache.h"
#include "cache/cache_config.h"
#include "cache/cache_stats.h"
#include "cache/delegation_cache.h"
#include "cache/negative_cache.h"
#include "cache/rrset_cache.h"
#include "cache/scoped_answer_cache.h"

namespace sextant::cache {

class Cache {
 public:
  explicit Cache(const CacheConfig& config = CacheConfig{});
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  const CacheConfig& config() const noexcept { return config_; }

  AnswerCache& answers() noexcept { return answers_; }
  RRsetCache& rrsets() noexcept { return rrsets_; }
  NegativeCache& negatives() noexcept { return negatives_; }
  DelegationCache& delegations() noexcept { return delegations_; }
  // Answers tailored to one client subnet (ECS).
  ScopedAnswerCache& scoped_answers() noexcept { return scoped_answers_; }

  // Stores an RRset and drops the negative entries it contradicts (the
  // NODATA for its type, NXDOMAIN for its owner and the owner's ancestors).
  RRsetCache::Result insert_rrset(const wire::RRset& rrset, Rank rank, DnssecStatus status,
                                  uint32_t now);

  // Removes the name (resp. everything at or below `apex`) from the
  // answer, RRset, negative and delegation stores. Returns entries removed.
  size_t flush_name(const wire::Name& name);
  size_t flush_subtree(const wire::Name& apex);
  // Everything. (Server RTT and hold-downs live in the resolver's
  // ServerStateTable, flushed by its owner.)
  void flush_all();

  // Presentation-format text: RRsets as "owner TTL class type rdata" lines,
  // everything else (negative entries with their proofs, answers,
  // delegations) as ";" comment lines.
  std::string dump(uint32_t now) const;

  CacheStats stats() const;

 private:
  CacheConfig config_;
  RRsetCache rrsets_;
  AnswerCache answers_;  // renders single-RRset answers from rrsets_
  NegativeCache negatives_;
  DelegationCache delegations_;
  ScopedAnswerCache scoped_answers_;
};

}  // namespace sextant::cache
