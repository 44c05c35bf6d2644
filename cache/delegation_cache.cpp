#include "cache/delegation_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace sextant::cache {

namespace {

CacheKey delegation_key(const wire::Name& zone, wire::RRClass rclass) {
  return make_key(zone, static_cast<uint16_t>(wire::RRType::NS), static_cast<uint16_t>(rclass));
}

size_t payload_size_of(const Delegation& d) {
  size_t total = 0;
  for (const auto& s : d.servers) {
    total += 1 + s.name.wire_size() + 1 + 1;
    size_t n = s.addresses.size() < 255 ? s.addresses.size() : 255;
    for (size_t i = 0; i < n; ++i) total += 1 + s.addresses[i].size();
  }
  return total;
}

void write_servers(uint8_t* p, const Delegation& d) {
  for (const auto& s : d.servers) {
    auto w = s.name.wire();
    *p++ = static_cast<uint8_t>(w.size());
    std::memcpy(p, w.data(), w.size());
    p += w.size();
    // The rank's high bit marks a server named by the child only.
    *p++ = static_cast<uint8_t>(static_cast<uint8_t>(s.address_rank) | (s.from_child ? 0x80 : 0));
    size_t n = s.addresses.size() < 255 ? s.addresses.size() : 255;
    *p++ = static_cast<uint8_t>(n);
    for (size_t i = 0; i < n; ++i) {
      *p++ = s.addresses[i].family;
      std::memcpy(p, s.addresses[i].bytes.data(), s.addresses[i].size());
      p += s.addresses[i].size();
    }
  }
}

void read_servers(const DelegationEntry& e, std::vector<DelegationServer>& out) {
  const uint8_t* p = entry_tail(&e) + e.key_len;
  out.resize(e.server_count);
  for (auto& s : out) {
    size_t len = *p++;
    size_t pos = 0;
    (void)wire::Name::parse_uncompressed({p, len}, pos, s.name);
    p += len;
    s.from_child = (*p & 0x80) != 0;
    s.address_rank = static_cast<Rank>(*p++ & 0x7F);
    size_t n = *p++;
    s.addresses.resize(n);
    for (auto& a : s.addresses) {
      a = IpAddress{};
      a.family = *p++;
      std::memcpy(a.bytes.data(), p, a.size());
      p += a.size();
    }
  }
}

}  // namespace

std::vector<DelegationServer> servers_of(const DelegationEntry& e) {
  std::vector<DelegationServer> out;
  read_servers(e, out);
  return out;
}

DelegationCache::DelegationCache(const CacheConfig& config)
    : config_(config), store_(config.shards, config.delegation_max_bytes) {}

DelegationEntry* DelegationCache::build(const CacheKey& key, const Delegation& d) {
  size_t payload = payload_size_of(d);
  DelegationEntry* e = allocate_entry<DelegationEntry>(key.size + payload);
  e->key_len = key.size;
  e->rclass = d.rclass;
  e->server_count = static_cast<uint16_t>(d.servers.size());
  std::memcpy(entry_tail(e), key.bytes, key.size);
  write_servers(entry_tail(e) + key.size, d);
  return e;
}

DelegationCache::Result DelegationCache::insert(const Delegation& d, Rank rank,
                                                DnssecStatus status, uint32_t now) {
  if (d.servers.empty() || d.servers.size() > 0xFFFF) return Result::rejected;
  CacheKey key = delegation_key(d.zone, d.rclass);
  DelegationEntry* e = build(key, d);
  uint32_t ttl = clamp_ttl(d.ttl, config_.min_ttl, config_.max_ttl);
  if (status == DnssecStatus::bogus && ttl > config_.bogus_ttl) ttl = config_.bogus_ttl;
  e->rank = rank;
  e->status = status;
  e->original_ttl = ttl;
  e->expires = add_ttl(now, ttl);
  auto outcome = store_.insert(e, key, [&](const DelegationEntry& old) {
    return may_replace(old.rank, old.status, old.expired(now), rank, status);
  });
  switch (outcome) {
    case InsertOutcome::stored: return Result::stored;
    case InsertOutcome::kept: return Result::kept;
    case InsertOutcome::too_large: return Result::too_large;
  }
  return Result::rejected;
}

RestoreResult DelegationCache::restore(const Delegation& d, Rank rank, DnssecStatus status,
                                       uint32_t expires, uint32_t original_ttl, uint32_t now) {
  if (d.servers.empty() || d.servers.size() > 0xFFFF || !valid_rank(rank) ||
      !valid_status(status) || status == DnssecStatus::bogus) {
    return RestoreResult::rejected;
  }
  for (const auto& server : d.servers) {
    if (!valid_rank(server.address_rank) || server.addresses.size() > 255) {
      return RestoreResult::rejected;
    }
    for (const auto& a : server.addresses)
      if (a.family != 4 && a.family != 6) return RestoreResult::rejected;
  }
  if (!fit_restored_times(expires, original_ttl, now, config_.max_ttl, config_)) {
    return RestoreResult::expired;
  }
  CacheKey key = delegation_key(d.zone, d.rclass);
  DelegationEntry* e = build(key, d);
  e->rank = rank;
  e->status = status;
  e->original_ttl = original_ttl;
  e->expires = expires;
  return restore_result_of(store_.insert(e, key, restored_may_replace<DelegationEntry>(now)));
}

bool DelegationCache::try_zone(const wire::Name& zone, wire::RRClass rclass, uint32_t now,
                               StalePolicy policy, DelegationHit& hit) {
  CacheKey key = delegation_key(zone, rclass);
  EntryRef<DelegationEntry> ref = store_.find(key);
  if (!ref) return false;
  if (!classify(*ref, now, policy, config_, hit.freshness, hit.refresh_claimed)) {
    if (ref->gone(now, config_)) store_.erase_if_same(key, ref.get());
    return false;
  }
  hit.rank = ref->rank;
  hit.status = ref->status;
  hit.delegation.zone = key_name(ShardedStore<DelegationEntry>::key_of(*ref));
  hit.delegation.rclass = ref->rclass;
  hit.delegation.ttl =
      hit.freshness == Freshness::stale ? config_.stale_answer_ttl : ref->ttl_left(now);
  read_servers(*ref, hit.delegation.servers);
  store_.count(key, StoreCounter::hits);
  if (hit.freshness == Freshness::stale) store_.count(key, StoreCounter::stale_hits);
  if (hit.freshness == Freshness::prefetch_due) store_.count(key, StoreCounter::prefetches);
  return true;
}

bool DelegationCache::has_fresh(const wire::Name& zone, wire::RRClass rclass, uint32_t now) {
  EntryRef<DelegationEntry> ref = store_.find(delegation_key(zone, rclass));
  return ref && !ref->expired(now);
}

std::optional<DelegationHit> DelegationCache::find(const wire::Name& zone, wire::RRClass rclass,
                                                   uint32_t now, StalePolicy policy) {
  DelegationHit hit;
  if (try_zone(zone, rclass, now, StalePolicy::fresh_only, hit)) return hit;
  if (policy == StalePolicy::allow_stale && try_zone(zone, rclass, now, policy, hit)) return hit;
  store_.count(delegation_key(zone, rclass), StoreCounter::misses);
  return std::nullopt;
}

std::optional<DelegationHit> DelegationCache::find_closest(const wire::Name& name,
                                                           wire::RRClass rclass, uint32_t now,
                                                           StalePolicy policy,
                                                           bool strictly_above) {
  // A fresh cut anywhere above beats a stale one closer to the name: stale
  // data is never used when fresh data exists.
  const StalePolicy passes[2] = {StalePolicy::fresh_only, StalePolicy::allow_stale};
  for (StalePolicy pass : passes) {
    if (pass == StalePolicy::allow_stale && policy != StalePolicy::allow_stale) break;
    wire::Name zone = name;
    if (strictly_above) {
      if (zone.is_root()) return std::nullopt;
      zone = zone.parent();
    }
    while (true) {
      DelegationHit hit;
      if (try_zone(zone, rclass, now, pass, hit)) return hit;
      if (zone.is_root()) break;
      zone = zone.parent();
    }
  }
  store_.count(delegation_key(name, rclass), StoreCounter::misses);
  return std::nullopt;
}

bool DelegationCache::set_addresses(const wire::Name& zone, wire::RRClass rclass,
                                    const wire::Name& server, std::span<const IpAddress> addresses,
                                    Rank rank, uint32_t now) {
  CacheKey key = delegation_key(zone, rclass);
  EntryRef<DelegationEntry> ref = store_.find(key);
  if (!ref || ref->gone(now, config_)) return false;
  Delegation d;
  d.zone = zone;
  d.rclass = rclass;
  read_servers(*ref, d.servers);
  bool found = false;
  for (auto& s : d.servers) {
    if (!(s.name == server)) continue;
    found = true;
    if (rank < s.address_rank) return true;  // what we have is better
    s.addresses.assign(addresses.begin(), addresses.end());
    s.address_rank = rank;
  }
  if (!found) return false;
  DelegationEntry* e = build(key, d);
  e->rank = ref->rank;
  e->status = ref->status;
  e->original_ttl = ref->original_ttl;
  e->expires = ref->expires;
  const DelegationEntry* expected = ref.get();
  auto outcome = store_.insert(e, key, [&](const DelegationEntry& old) { return &old == expected; });
  return outcome == InsertOutcome::stored;
}

bool DelegationCache::add_child_view(const wire::Name& zone, wire::RRClass rclass,
                                     std::span<const DelegationServer> servers, uint32_t now) {
  CacheKey key = delegation_key(zone, rclass);
  EntryRef<DelegationEntry> ref = store_.find(key);
  if (!ref || ref->expired(now)) return false;
  Delegation d;
  d.zone = zone;
  d.rclass = rclass;
  read_servers(*ref, d.servers);
  size_t added_names = 0;
  for (const auto& s : d.servers) added_names += s.from_child ? 1 : 0;
  bool changed = false;
  for (const auto& child : servers) {
    auto it = std::find_if(d.servers.begin(), d.servers.end(),
                           [&](const DelegationServer& s) { return s.name == child.name; });
    if (it == d.servers.end()) {
      if (added_names >= kMaxChildServers) continue;
      DelegationServer s;
      s.name = child.name;
      s.from_child = true;
      s.address_rank = child.address_rank;
      d.servers.push_back(std::move(s));
      it = d.servers.end() - 1;
      ++added_names;
      changed = true;
    }
    size_t added_addresses = 0;
    for (const auto& address : child.addresses) {
      if (added_addresses >= kMaxChildAddresses || it->addresses.size() >= 255) break;
      if (std::find(it->addresses.begin(), it->addresses.end(), address) != it->addresses.end()) {
        continue;
      }
      it->addresses.push_back(address);
      ++added_addresses;
      changed = true;
    }
    if (added_addresses > 0 && child.address_rank > it->address_rank) {
      it->address_rank = child.address_rank;
    }
  }
  if (!changed) return false;
  DelegationEntry* e = build(key, d);
  e->rank = ref->rank;
  e->status = ref->status;
  e->original_ttl = ref->original_ttl;
  e->expires = ref->expires;
  const DelegationEntry* expected = ref.get();
  auto outcome = store_.insert(e, key, [&](const DelegationEntry& old) { return &old == expected; });
  return outcome == InsertOutcome::stored;
}

void DelegationCache::finish_refresh(const wire::Name& zone, wire::RRClass rclass) {
  store_.visit(delegation_key(zone, rclass), [](DelegationEntry& e) {
    e.release_refresh_claim();
    return false;
  });
}

bool DelegationCache::erase(const wire::Name& zone, wire::RRClass rclass) {
  return store_.erase(delegation_key(zone, rclass));
}

size_t DelegationCache::flush_name(const wire::Name& zone) { return store_.erase_name(zone); }

size_t DelegationCache::flush_subtree(const wire::Name& apex) { return store_.erase_subtree(apex); }

void DelegationCache::dump(std::string& out, uint32_t now) const {
  store_.for_each([&](const DelegationEntry& e) {
    std::string zone = key_name(ShardedStore<DelegationEntry>::key_of(e)).to_text();
    bool stale = e.expired(now);
    uint32_t ttl = stale ? 0 : e.ttl_left(now);
    fmt::format_to(std::back_inserter(out), "; delegation {} rank={} status={}{}\n", zone,
                   to_string(e.rank), to_string(e.status), stale ? " stale" : "");
    std::vector<DelegationServer> servers;
    read_servers(e, servers);
    std::string cls = wire::to_string(e.rclass);
    for (const auto& s : servers) {
      std::string ns = s.name.to_text();
      fmt::format_to(std::back_inserter(out), "{} {} {} NS {}{}\n", zone, ttl, cls, ns,
                     s.from_child ? " ; named by the child only" : "");
      for (const auto& a : s.addresses) {
        fmt::format_to(std::back_inserter(out), "; {} {} {} {} ({})\n", ns, ttl,
                       a.family == 4 ? "A" : "AAAA", a.to_text(), to_string(s.address_rank));
      }
    }
  });
}

}  // namespace sextant::cache
