#include "cache/rrset_cache.h"

#include <fmt/format.h>

#include <cstring>

#include "cache/record_blob.h"
#include "wire/rdata.h"

namespace sextant::cache {

wire::Name CachedRRset::owner() const noexcept {
  return key_name({entry_tail(ref_.get()), ref_->key_len});
}

LengthPrefixedRange CachedRRset::rdatas() const noexcept { return rdatas_of(*ref_); }

LengthPrefixedRange CachedRRset::signatures() const noexcept { return signatures_of(*ref_); }

wire::RRset CachedRRset::to_rrset(uint32_t ttl) const {
  wire::RRset out;
  out.owner = owner();
  out.type = type();
  out.rclass = rclass();
  out.ttl = ttl;
  out.rdatas.reserve(ref_->rdata_count);
  for (auto r : rdatas()) out.rdatas.emplace_back(r.begin(), r.end());
  out.signatures.reserve(ref_->signature_count);
  for (auto s : signatures()) out.signatures.emplace_back(s.begin(), s.end());
  return out;
}

RRsetCache::RRsetCache(const CacheConfig& config)
    : config_(config), store_(config.shards, config.rrset_max_bytes) {}

RRsetCache::Result RRsetCache::insert(const wire::RRset& rrset, Rank rank, DnssecStatus status,
                                      uint32_t now) {
  if (rrset.rdatas.empty() || wire::is_meta_type(rrset.type)) return Result::rejected;
  size_t payload = 0;
  if (!blob_size_of(rrset.rdatas, payload) || !blob_size_of(rrset.signatures, payload)) {
    return Result::rejected;
  }
  CacheKey key = make_key(rrset.owner, static_cast<uint16_t>(rrset.type),
                          static_cast<uint16_t>(rrset.rclass));

  uint32_t ttl = clamp_ttl(rrset.ttl, config_.min_ttl, config_.max_ttl);
  if (status == DnssecStatus::bogus && ttl > config_.bogus_ttl) ttl = config_.bogus_ttl;

  RRsetEntry* e = allocate_entry<RRsetEntry>(key.size + payload);
  e->key_len = key.size;
  e->type = rrset.type;
  e->rclass = rrset.rclass;
  e->rank = rank;
  e->status = status;
  e->original_ttl = ttl;
  e->expires = add_ttl(now, ttl);
  e->rdata_count = static_cast<uint16_t>(rrset.rdatas.size());
  e->signature_count = static_cast<uint16_t>(rrset.signatures.size());
  uint8_t* p = entry_tail(e);
  std::memcpy(p, key.bytes, key.size);
  p = write_blob(p + key.size, rrset.rdatas);
  write_blob(p, rrset.signatures);

  auto outcome = store_.insert(e, key, [&](const RRsetEntry& old) {
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

// Whether `payload` holds exactly `count` length-prefixed items of valid
// `type` rdata starting at `pos`; moves `pos` past them.
bool valid_rdata_list(std::span<const uint8_t> payload, size_t& pos, uint16_t count,
                      wire::RRType type) {
  for (uint16_t i = 0; i < count; ++i) {
    if (payload.size() - pos < 2) return false;
    size_t len = read_u16(payload.data() + pos);
    pos += 2;
    if (payload.size() - pos < len) return false;
    if (wire::validate_rdata(type, payload.subspan(pos, len)) != wire::WireError::ok) return false;
    pos += len;
  }
  return true;
}

}  // namespace

RestoreResult RRsetCache::restore(const wire::Name& owner, wire::RRType type,
                                  wire::RRClass rclass, uint16_t rdata_count,
                                  uint16_t signature_count, std::span<const uint8_t> payload,
                                  Rank rank, DnssecStatus status, uint32_t expires,
                                  uint32_t original_ttl, uint32_t now) {
  if (rdata_count == 0 || wire::is_meta_type(type) || !valid_rank(rank) ||
      !valid_status(status) || status == DnssecStatus::bogus) {
    return RestoreResult::rejected;
  }
  size_t pos = 0;
  if (!valid_rdata_list(payload, pos, rdata_count, type) ||
      !valid_rdata_list(payload, pos, signature_count, wire::RRType::RRSIG) ||
      pos != payload.size()) {
    return RestoreResult::rejected;
  }
  if (!fit_restored_times(expires, original_ttl, now, config_.max_ttl, config_)) {
    return RestoreResult::expired;
  }
  CacheKey key = make_key(owner, static_cast<uint16_t>(type), static_cast<uint16_t>(rclass));
  RRsetEntry* e = allocate_entry<RRsetEntry>(key.size + payload.size());
  e->key_len = key.size;
  e->type = type;
  e->rclass = rclass;
  e->rank = rank;
  e->status = status;
  e->original_ttl = original_ttl;
  e->expires = expires;
  e->rdata_count = rdata_count;
  e->signature_count = signature_count;
  std::memcpy(entry_tail(e), key.bytes, key.size);
  if (!payload.empty()) std::memcpy(entry_tail(e) + key.size, payload.data(), payload.size());
  return restore_result_of(store_.insert(e, key, restored_may_replace<RRsetEntry>(now)));
}

std::optional<RRsetHit> RRsetCache::lookup(const wire::Name& owner, wire::RRType type,
                                           wire::RRClass rclass, uint32_t now, StalePolicy policy,
                                           Rank min_rank, RefreshClaim claim) {
  CacheKey key = make_key(owner, static_cast<uint16_t>(type), static_cast<uint16_t>(rclass));
  EntryRef<RRsetEntry> ref = store_.find(key);
  if (!ref || ref->rank < min_rank) {
    store_.count(key, StoreCounter::misses);
    return std::nullopt;
  }
  RRsetHit hit;
  if (!classify(*ref, now, policy, config_, hit.freshness, hit.refresh_claimed, claim)) {
    if (ref->gone(now, config_)) store_.erase_if_same(key, ref.get());
    store_.count(key, StoreCounter::misses);
    return std::nullopt;
  }
  store_.count(key, StoreCounter::hits);
  if (hit.freshness == Freshness::stale) {
    store_.count(key, StoreCounter::stale_hits);
    hit.ttl = config_.stale_answer_ttl;
  } else {
    hit.ttl = ref->ttl_left(now);
    if (hit.freshness == Freshness::prefetch_due) store_.count(key, StoreCounter::prefetches);
  }
  hit.rrset = CachedRRset(std::move(ref));
  return hit;
}

void RRsetCache::finish_refresh(const wire::Name& owner, wire::RRType type, wire::RRClass rclass) {
  CacheKey key = make_key(owner, static_cast<uint16_t>(type), static_cast<uint16_t>(rclass));
  store_.visit(key, [](RRsetEntry& e) {
    e.release_refresh_claim();
    return false;
  });
}

bool RRsetCache::erase(const wire::Name& owner, wire::RRType type, wire::RRClass rclass) {
  return store_.erase(make_key(owner, static_cast<uint16_t>(type), static_cast<uint16_t>(rclass)));
}

size_t RRsetCache::flush_name(const wire::Name& name) { return store_.erase_name(name); }

size_t RRsetCache::flush_subtree(const wire::Name& apex) { return store_.erase_subtree(apex); }

void RRsetCache::dump(std::string& out, uint32_t now) const {
  store_.for_each([&](const RRsetEntry& e) {
    auto key = ShardedStore<RRsetEntry>::key_of(e);
    std::string owner = key_name(key).to_text();
    bool stale = e.expired(now);
    uint32_t ttl = stale ? 0 : e.ttl_left(now);
    fmt::format_to(std::back_inserter(out), "; rrset rank={} status={}{}\n", to_string(e.rank),
                   to_string(e.status), stale ? " stale" : "");
    std::string cls = wire::to_string(e.rclass);
    std::string type = wire::to_string(e.type);
    LengthPrefixedRange rdatas(entry_tail(&e) + e.key_len, e.rdata_count);
    const uint8_t* sig_start = entry_tail(&e) + e.key_len;
    for (auto r : rdatas) {
      fmt::format_to(std::back_inserter(out), "{} {} {} {} {}\n", owner, ttl, cls, type,
                     wire::rdata_to_text(e.type, r));
      sig_start = r.data() + r.size();
    }
    for (auto s : LengthPrefixedRange(sig_start, e.signature_count)) {
      fmt::format_to(std::back_inserter(out), "{} {} {} RRSIG {}\n", owner, ttl, cls,
                     wire::rdata_to_text(wire::RRType::RRSIG, s));
    }
  });
}

}  // namespace sextant::cache
