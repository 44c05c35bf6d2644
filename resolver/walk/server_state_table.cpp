#include "resolver/walk/server_state_table.h"

#include <fmt/format.h>

namespace sextant::resolver {

namespace {
// The shard comes from the top bits of the address hash after a
// multiplicative mix, so it does not correlate with the low bits the
// shard's own unordered_map uses for its buckets.
constexpr uint64_t kMix = 0x9E3779B97F4A7C15ull;
constexpr int kShardBits = 4;
static_assert((size_t{1} << kShardBits) == ServerStateTable::kShards);
}  // namespace

ServerStateTable::Shard& ServerStateTable::shard_for(const ServerAddress& address) const {
  uint64_t h = static_cast<uint64_t>(ServerAddressHash{}(address)) * kMix;
  return shards_[static_cast<size_t>(h >> (64 - kShardBits))];
}

ServerState& ServerStateTable::Shard::entry(const ServerAddress& address,
                                            TimerService::TimePoint now,
                                            TimerService::Clock::duration stale_after,
                                            size_t max_entries) {
  auto it = states.find(address);
  if (it == states.end()) {
    if (states.size() >= max_entries) {
      std::erase_if(states, [&](const auto& kv) { return now - kv.second.last_update > stale_after; });
      if (states.size() >= max_entries) states.erase(states.begin());
    }
    it = states.emplace(address, ServerState{}).first;
  }
  // Another worker's clock may stand a few ms behind the writer before it:
  // never move last_update backwards (it only decides staleness).
  if (now > it->second.last_update) it->second.last_update = now;
  return it->second;
}

std::optional<ServerState> ServerStateTable::get(const ServerAddress& address) const {
  Shard& shard = shard_for(address);
  std::lock_guard lock(shard.mu);
  auto it = shard.states.find(address);
  if (it == shard.states.end()) return std::nullopt;
  return it->second;
}

void ServerStateTable::restore(const ServerAddress& address, const ServerState& state,
                               TimerService::TimePoint now) {
  Shard& shard = shard_for(address);
  std::lock_guard lock(shard.mu);
  if (shard.states.count(address)) return;
  ServerState& entry = shard.entry(address, now, std::chrono::hours(24), max_per_shard_);
  entry = state;
  entry.last_update = now;
}

size_t ServerStateTable::size() const {
  size_t total = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    total += shard.states.size();
  }
  return total;
}

std::string ServerStateTable::dump(TimerService::TimePoint now) const {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  std::string out;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [address, st] : shard.states) {
      out += fmt::format("; server {}", address.to_string_with_port());
      if (st.rtt_known)
        out += fmt::format(" srtt={}ms rttvar={}ms", duration_cast<milliseconds>(st.srtt).count(),
                           duration_cast<milliseconds>(st.rttvar).count());
      if (st.consecutive_timeouts) out += fmt::format(" timeouts={}", st.consecutive_timeouts);
      if (st.dead && st.dead_until > now)
        out += fmt::format(" held-down={}ms", duration_cast<milliseconds>(st.dead_until - now).count());
      if (st.no_edns) out += " no-edns";
      if (st.mangles_case) out += " mangles-case";
      if (st.sends_cookies) out += " cookies";
      out += '\n';
    }
  }
  return out;
}

void ServerStateTable::clear() {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    shard.states.clear();
  }
}

}  // namespace sextant::resolver
