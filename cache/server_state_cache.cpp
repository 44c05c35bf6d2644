#include "cache/server_state_cache.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

namespace sextant::cache {

namespace {

CacheKey address_key(const IpAddress& addr) {
  CacheKey key;
  key.bytes[0] = addr.family;
  std::memcpy(key.bytes + 1, addr.bytes.data(), addr.size());
  key.size = static_cast<uint16_t>(1 + addr.size());
  key.name_size = key.size;
  key.name_hash = hash_bytes(key.bytes, key.size);
  key.hash = key.name_hash;
  return key;
}

size_t shards_for(const CacheConfig& config) {
  size_t n = config.server_state_max_entries / 64;
  if (n < 1) n = 1;
  return n < config.shards ? n : config.shards;
}

}  // namespace

uint32_t ServerState::rto_ms() const noexcept {
  uint64_t rto = rtt_known ? uint64_t{srtt_ms} + 4 * uint64_t{rttvar_ms} : kUnknownRtoMs;
  uint32_t shift = consecutive_timeouts < 16 ? consecutive_timeouts : 16;
  rto <<= shift;
  return rto > kMaxRtoMs ? kMaxRtoMs : static_cast<uint32_t>(rto);
}

ServerStateCache::ServerStateCache(const CacheConfig& config)
    : config_(config),
      store_(shards_for(config), SIZE_MAX / 2, config.server_state_max_entries) {}

ServerState ServerStateCache::get(const IpAddress& addr, uint32_t now) {
  ServerState out;
  store_.visit(address_key(addr), [&](ServerStateEntry& e) {
    if (now - e.state.updated >= config_.server_state_ttl && now >= e.state.updated) return true;
    out = e.state;
    return false;
  });
  return out;
}

template <typename Fn>
void ServerStateCache::update(const IpAddress& addr, uint32_t now, Fn&& fn) {
  CacheKey key = address_key(addr);
  bool found = store_.visit(key, [&](ServerStateEntry& e) {
    if (now >= e.state.updated && now - e.state.updated >= config_.server_state_ttl) {
      e.state = ServerState{};
    }
    fn(e.state);
    e.state.updated = now;
    return false;
  });
  if (found) return;
  ServerStateEntry* e = allocate_entry<ServerStateEntry>(key.size);
  e->key_len = key.size;
  std::memcpy(entry_tail(e), key.bytes, key.size);
  fn(e->state);
  e->state.updated = now;
  e->expires = UINT32_MAX;
  // A concurrent first update may have inserted meanwhile: the later one
  // wins, which loses at most one sample.
  store_.insert(e, key, [](const ServerStateEntry&) { return true; });
}

void ServerStateCache::record_rtt(const IpAddress& addr, uint32_t rtt_ms, uint32_t now) {
  update(addr, now, [&](ServerState& s) {
    if (!s.rtt_known) {
      s.srtt_ms = rtt_ms;
      s.rttvar_ms = rtt_ms / 2;
      s.rtt_known = true;
    } else {
      // RFC 6298 §2.3 with alpha = 1/8, beta = 1/4.
      uint32_t delta = s.srtt_ms > rtt_ms ? s.srtt_ms - rtt_ms : rtt_ms - s.srtt_ms;
      s.rttvar_ms = (3 * s.rttvar_ms + delta) / 4;
      s.srtt_ms = (7 * s.srtt_ms + rtt_ms) / 8;
    }
    s.consecutive_timeouts = 0;
    s.dead_until = 0;
  });
}

void ServerStateCache::record_timeout(const IpAddress& addr, uint32_t now) {
  update(addr, now, [&](ServerState& s) {
    ++s.consecutive_timeouts;
    if (s.consecutive_timeouts >= config_.server_dead_after_timeouts) {
      s.dead_until = add_ttl(now, config_.server_dead_seconds);
    }
  });
}

void ServerStateCache::record_edns(const IpAddress& addr, bool edns_ok, uint32_t now) {
  update(addr, now, [&](ServerState& s) {
    if (edns_ok) {
      s.edns = EdnsSupport::supported;
      s.edns_failures = 0;
    } else if (s.edns != EdnsSupport::supported) {
      if (s.edns_failures < 255) ++s.edns_failures;
      if (s.edns_failures >= 2) s.edns = EdnsSupport::unsupported;
    }
  });
}

size_t ServerStateCache::select(std::span<const IpAddress> candidates, uint32_t now,
                                uint64_t random, uint32_t band_ms) {
  if (candidates.empty()) return 0;
  std::vector<uint32_t> rto(candidates.size());
  std::vector<uint32_t> dead_until(candidates.size());
  uint32_t best = UINT32_MAX;
  for (size_t i = 0; i < candidates.size(); ++i) {
    ServerState s = get(candidates[i], now);
    dead_until[i] = s.dead(now) ? s.dead_until : 0;
    rto[i] = s.rto_ms();
    if (!dead_until[i] && rto[i] < best) best = rto[i];
  }
  if (best == UINT32_MAX) {
    size_t soonest = 0;
    for (size_t i = 1; i < candidates.size(); ++i) {
      if (dead_until[i] < dead_until[soonest]) soonest = i;
    }
    return soonest;
  }
  uint64_t limit = uint64_t{best} + band_ms;
  size_t in_band = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!dead_until[i] && rto[i] <= limit) ++in_band;
  }
  size_t pick = static_cast<size_t>(random % in_band);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!dead_until[i] && rto[i] <= limit && pick-- == 0) return i;
  }
  return 0;  // not reached
}

void ServerStateCache::dump(std::string& out, uint32_t now) const {
  store_.for_each([&](const ServerStateEntry& e) {
    IpAddress addr;
    auto key = ShardedStore<ServerStateEntry>::key_of(e);
    addr.family = key[0];
    std::memcpy(addr.bytes.data(), key.data() + 1, key.size() - 1);
    const ServerState& s = e.state;
    const char* edns = s.edns == EdnsSupport::supported     ? "yes"
                       : s.edns == EdnsSupport::unsupported ? "no"
                                                            : "unknown";
    fmt::format_to(std::back_inserter(out),
                   "; server {} srtt={}ms rttvar={}ms rto={}ms timeouts={} dead={} edns={}\n",
                   addr.to_text(), s.srtt_ms, s.rttvar_ms, s.rto_ms(), s.consecutive_timeouts,
                   s.dead(now) ? s.dead_until - now : 0, edns);
  });
}

}  // namespace sextant::cache
