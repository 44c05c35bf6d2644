#include "cache/cache.h"

namespace sextant::cache {

namespace {

template <typename E>
StoreStats stats_of(const ShardedStore<E>& store) {
  StoreStats s;
  s.entries = store.entries();
  s.bytes = store.bytes();
  s.hits = store.counter(StoreCounter::hits);
  s.misses = store.counter(StoreCounter::misses);
  s.stale_served = store.counter(StoreCounter::stale_hits);
  s.prefetches = store.counter(StoreCounter::prefetches);
  s.inserts = store.counter(StoreCounter::inserts);
  s.rejected = store.counter(StoreCounter::rejected);
  s.evictions = store.counter(StoreCounter::evictions);
  return s;
}

}  // namespace

// The stores keep a reference to config_, which is constructed first.
Cache::Cache(const CacheConfig& config)
    : config_(config),
      rrsets_(config_),
      answers_(config_, &rrsets_),
      negatives_(config_),
      delegations_(config_),
      scoped_answers_(config_, config_.scoped_answer_max_bytes) {}

RRsetCache::Result Cache::insert_rrset(const wire::RRset& rrset, Rank rank, DnssecStatus status,
                                       uint32_t now) {
  auto result = rrsets_.insert(rrset, rank, status, now);
  if (result == RRsetCache::Result::stored) {
    negatives_.forget_denials_of(rrset.owner, rrset.type, rrset.rclass);
  }
  return result;
}

size_t Cache::flush_name(const wire::Name& name) {
  return answers_.flush_name(name) + rrsets_.flush_name(name) + negatives_.flush_name(name) +
         delegations_.flush_name(name) + scoped_answers_.flush_name(name);
}

size_t Cache::flush_subtree(const wire::Name& apex) {
  return answers_.flush_subtree(apex) + rrsets_.flush_subtree(apex) +
         negatives_.flush_subtree(apex) + delegations_.flush_subtree(apex) + scoped_answers_.flush_subtree(apex);
}

void Cache::flush_all() {
  answers_.clear();
  rrsets_.clear();
  negatives_.clear();
  delegations_.clear();
  scoped_answers_.clear();
}

std::string Cache::dump(uint32_t now) const {
  std::string out;
  out += ";; rrsets\n";
  rrsets_.dump(out, now);
  out += ";; negative\n";
  negatives_.dump(out, now);
  out += ";; delegations\n";
  delegations_.dump(out, now);
  out += ";; answers\n";
  answers_.dump(out, now);
  if (config_.scoped_answer_max_bytes) {
    out += ";; answers for one client subnet (ECS)\n";
    scoped_answers_.dump(out, now);
  }
  return out;
}

CacheStats Cache::stats() const {
  CacheStats s;
  s.answers = stats_of(answers_.store());
  s.rrsets = stats_of(rrsets_.store());
  s.negatives = stats_of(negatives_.store());
  s.delegations = stats_of(delegations_.store());
  s.scoped_answers = stats_of(scoped_answers_.store());
  return s;
}

}  // namespace sextant::cache
