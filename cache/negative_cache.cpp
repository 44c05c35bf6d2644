#include "cache/negative_cache.h"

#include <fmt/format.h>

#include <cstring>

#include "cache/record_blob.h"
#include "wire/rdata.h"

namespace sextant::cache {

namespace {

CacheKey negative_key(NegativeKind kind, const wire::Name& name, wire::RRType qtype,
                      wire::RRClass rclass) {
  uint16_t type = kind == NegativeKind::nxdomain ? kNxdomainKeyType : static_cast<uint16_t>(qtype);
  return make_key(name, type, static_cast<uint16_t>(rclass));
}

// SOA rdata ends with SERIAL REFRESH RETRY EXPIRE MINIMUM; two names
// (at least one octet each) come first.
bool soa_minimum(const wire::RRset& soa, uint32_t& minimum) {
  if (soa.type != wire::RRType::SOA || soa.rdatas.size() != 1) return false;
  const auto& r = soa.rdatas.front();
  if (r.size() < 22) return false;
  minimum = read_u32(r.data() + r.size() - 4);
  return true;
}

}  // namespace

wire::Name CachedNegative::name() const noexcept {
  return key_name({entry_tail(ref_.get()), ref_->key_len});
}

std::vector<wire::RRset> records_of(const NegativeEntry& e) {
  std::vector<wire::RRset> out(e.record_count);
  const uint8_t* p = entry_tail(&e) + e.key_len;
  for (auto& rrset : out) p = read_rrset_record(p, rrset);
  return out;
}

std::vector<wire::RRset> CachedNegative::records() const { return records_of(*ref_); }

wire::RRset CachedNegative::soa() const {
  wire::RRset out;
  read_rrset_record(entry_tail(ref_.get()) + ref_->key_len, out);
  return out;
}

NegativeCache::NegativeCache(const CacheConfig& config)
    : config_(config), store_(config.shards, config.negative_max_bytes) {}

NegativeCache::Result NegativeCache::insert(NegativeKind kind, const wire::Name& name,
                                            wire::RRType qtype, wire::RRClass rclass,
                                            const wire::RRset& soa,
                                            std::span<const wire::RRset> proofs,
                                            DnssecStatus status, uint32_t now, Rank rank) {
  uint32_t minimum = 0;
  if (!soa_minimum(soa, minimum)) return Result::rejected;
  if (kind == NegativeKind::nodata && wire::is_meta_type(qtype) && qtype != wire::RRType::ANY) {
    return Result::rejected;
  }
  if (proofs.size() + 1 > 0xFFFF) return Result::rejected;
  size_t payload = 0;
  if (!rrset_record_size(soa, payload)) return Result::rejected;
  for (const auto& p : proofs) {
    if (!rrset_record_size(p, payload)) return Result::rejected;
  }

  uint32_t ttl = soa.ttl < minimum ? soa.ttl : minimum;
  ttl = clamp_ttl(ttl, config_.negative_min_ttl, config_.negative_max_ttl);
  if (status == DnssecStatus::bogus && ttl > config_.bogus_ttl) ttl = config_.bogus_ttl;

  CacheKey key = negative_key(kind, name, qtype, rclass);
  NegativeEntry* e = allocate_entry<NegativeEntry>(key.size + payload);
  e->key_len = key.size;
  e->kind = kind;
  e->qtype = kind == NegativeKind::nodata ? qtype : wire::RRType{0};
  e->rclass = rclass;
  e->rank = rank;
  e->status = status;
  e->original_ttl = ttl;
  e->expires = add_ttl(now, ttl);
  e->record_count = static_cast<uint16_t>(proofs.size() + 1);
  uint8_t* p = entry_tail(e);
  std::memcpy(p, key.bytes, key.size);
  p += key.size;
  // The SOA's TTL as served in a negative answer is the negative TTL
  // (RFC 2308 §3).
  wire::RRset soa_copy = soa;
  soa_copy.ttl = ttl;
  p = write_rrset_record(p, soa_copy);
  for (const auto& proof : proofs) p = write_rrset_record(p, proof);

  auto outcome = store_.insert(e, key, [&](const NegativeEntry& old) {
    return may_replace(old.rank, old.status, old.expired(now), rank, status);
  });
  switch (outcome) {
    case InsertOutcome::stored: return Result::stored;
    case InsertOutcome::kept: return Result::kept;
    case InsertOutcome::too_large: return Result::too_large;
  }
  return Result::rejected;
}

namespace {

bool valid_rdatas(wire::RRType type, const std::vector<wire::Rdata>& rdatas) {
  for (const auto& r : rdatas)
    if (wire::validate_rdata(type, r) != wire::WireError::ok) return false;
  return true;
}

}  // namespace

RestoreResult NegativeCache::restore(NegativeKind kind, const wire::Name& name,
                                     wire::RRType qtype, wire::RRClass rclass,
                                     std::span<const wire::RRset> records, DnssecStatus status,
                                     Rank rank, uint32_t expires, uint32_t original_ttl,
                                     uint32_t now) {
  uint32_t minimum = 0;
  if (records.empty() || records.size() > 0xFFFF || !soa_minimum(records.front(), minimum) ||
      !valid_rank(rank) || !valid_status(status) || status == DnssecStatus::bogus ||
      (kind != NegativeKind::nxdomain && kind != NegativeKind::nodata)) {
    return RestoreResult::rejected;
  }
  if (kind == NegativeKind::nodata && wire::is_meta_type(qtype) && qtype != wire::RRType::ANY) {
    return RestoreResult::rejected;
  }
  size_t payload = 0;
  for (const auto& r : records) {
    if (!rrset_record_size(r, payload) || !valid_rdatas(r.type, r.rdatas) ||
        !valid_rdatas(wire::RRType::RRSIG, r.signatures)) {
      return RestoreResult::rejected;
    }
  }
  if (!fit_restored_times(expires, original_ttl, now, config_.negative_max_ttl, config_)) {
    return RestoreResult::expired;
  }
  CacheKey key = negative_key(kind, name, qtype, rclass);
  NegativeEntry* e = allocate_entry<NegativeEntry>(key.size + payload);
  e->key_len = key.size;
  e->kind = kind;
  e->qtype = kind == NegativeKind::nodata ? qtype : wire::RRType{0};
  e->rclass = rclass;
  e->rank = rank;
  e->status = status;
  e->original_ttl = original_ttl;
  e->expires = expires;
  e->record_count = static_cast<uint16_t>(records.size());
  uint8_t* p = entry_tail(e);
  std::memcpy(p, key.bytes, key.size);
  p += key.size;
  for (const auto& r : records) p = write_rrset_record(p, r);
  return restore_result_of(store_.insert(e, key, restored_may_replace<NegativeEntry>(now)));
}

bool NegativeCache::try_key(const CacheKey& key, uint32_t now, StalePolicy policy,
                            NegativeHit& hit) {
  EntryRef<NegativeEntry> ref = store_.find(key);
  if (!ref) return false;
  if (!classify(*ref, now, policy, config_, hit.freshness, hit.refresh_claimed)) {
    if (ref->gone(now, config_)) store_.erase_if_same(key, ref.get());
    return false;
  }
  hit.kind = ref->kind;
  hit.ttl = hit.freshness == Freshness::stale ? config_.stale_answer_ttl : ref->ttl_left(now);
  store_.count(key, StoreCounter::hits);
  if (hit.freshness == Freshness::stale) store_.count(key, StoreCounter::stale_hits);
  if (hit.freshness == Freshness::prefetch_due) store_.count(key, StoreCounter::prefetches);
  hit.entry = CachedNegative(std::move(ref));
  return true;
}

std::optional<NegativeHit> NegativeCache::lookup_once(const wire::Name& name, wire::RRType qtype,
                                                      wire::RRClass rclass, uint32_t now,
                                                      StalePolicy policy) {
  NegativeHit hit;
  if (try_key(negative_key(NegativeKind::nodata, name, qtype, rclass), now, policy, hit)) {
    return hit;
  }
  // RFC 8020: an NXDOMAIN at an ancestor denies everything below it.
  wire::Name candidate = name;
  for (size_t depth = 0;; ++depth) {
    if (try_key(negative_key(NegativeKind::nxdomain, candidate, qtype, rclass), now, policy, hit)) {
      hit.below_nxdomain = depth > 0;
      return hit;
    }
    if (candidate.is_root()) break;
    candidate = candidate.parent();
  }
  return std::nullopt;
}

std::optional<NegativeHit> NegativeCache::lookup(const wire::Name& name, wire::RRType qtype,
                                                 wire::RRClass rclass, uint32_t now,
                                                 StalePolicy policy) {
  auto hit = lookup_once(name, qtype, rclass, now, StalePolicy::fresh_only);
  if (!hit && policy == StalePolicy::allow_stale) {
    hit = lookup_once(name, qtype, rclass, now, StalePolicy::allow_stale);
  }
  if (!hit) {
    CacheKey key;
    set_key_name(name, key);
    finish_key(key);
    store_.count(key, StoreCounter::misses);
  }
  return hit;
}

void NegativeCache::finish_refresh(NegativeKind kind, const wire::Name& name, wire::RRType qtype,
                                   wire::RRClass rclass) {
  store_.visit(negative_key(kind, name, qtype, rclass), [](NegativeEntry& e) {
    e.release_refresh_claim();
    return false;
  });
}

void NegativeCache::forget_denials_of(const wire::Name& name, wire::RRType type,
                                      wire::RRClass rclass) {
  store_.erase(negative_key(NegativeKind::nodata, name, type, rclass));
  wire::Name candidate = name;
  while (true) {
    store_.erase(negative_key(NegativeKind::nxdomain, candidate, type, rclass));
    if (candidate.is_root()) break;
    candidate = candidate.parent();
  }
}

size_t NegativeCache::flush_name(const wire::Name& name) { return store_.erase_name(name); }

size_t NegativeCache::flush_subtree(const wire::Name& apex) { return store_.erase_subtree(apex); }

void NegativeCache::dump(std::string& out, uint32_t now) const {
  store_.for_each([&](const NegativeEntry& e) {
    auto key = ShardedStore<NegativeEntry>::key_of(e);
    bool stale = e.expired(now);
    uint32_t ttl = stale ? 0 : e.ttl_left(now);
    std::string what = e.kind == NegativeKind::nxdomain
                           ? std::string("NXDOMAIN")
                           : fmt::format("NODATA {}", wire::to_string(e.qtype));
    fmt::format_to(std::back_inserter(out), "; negative {} {} {} ttl={} rank={} status={}{}\n",
                   key_name(key).to_text(), wire::to_string(e.rclass), what, ttl,
                   to_string(e.rank), to_string(e.status), stale ? " stale" : "");
    const uint8_t* p = entry_tail(&e) + e.key_len;
    for (uint16_t i = 0; i < e.record_count; ++i) {
      wire::RRset rrset;
      p = read_rrset_record(p, rrset);
      uint32_t record_ttl = rrset.ttl < ttl ? rrset.ttl : ttl;
      std::string owner = rrset.owner.to_text();
      std::string cls = wire::to_string(rrset.rclass);
      for (const auto& r : rrset.rdatas) {
        fmt::format_to(std::back_inserter(out), ";   {} {} {} {} {}\n", owner, record_ttl, cls,
                       wire::to_string(rrset.type), wire::rdata_to_text(rrset.type, r));
      }
      for (const auto& s : rrset.signatures) {
        fmt::format_to(std::back_inserter(out), ";   {} {} {} RRSIG {}\n", owner, record_ttl, cls,
                       wire::rdata_to_text(wire::RRType::RRSIG, s));
      }
    }
  });
}

}  // namespace sextant::cache
