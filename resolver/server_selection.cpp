#include "resolver/server_selection.h"

#include <algorithm>
#include <vector>

namespace sextant::resolver {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {
// Candidates whose expected RTT is within this of the best are equivalent:
// choosing among them at random spreads load (the 13 root letters) and
// keeps estimates of near-equal servers fresh.
constexpr microseconds kEquivalenceBand{25000};
}  // namespace

const ServerState* ServerSelection::find(const ServerAddress& address) const {
  auto it = states_.find(address);
  return it == states_.end() ? nullptr : &it->second;
}

ServerState& ServerSelection::entry(const ServerAddress& address, TimerService::TimePoint now) {
  auto it = states_.find(address);
  if (it == states_.end()) {
    if (states_.size() >= kMaxEntries) {
      // Drop stale facts first; if none are stale, forget an arbitrary one
      // (the table is a hint, losing an entry only costs one exploration).
      auto lifetime = duration_cast<TimerService::Clock::duration>(timeouts_.server_state_lifetime);
      std::erase_if(states_, [&](const auto& kv) { return now - kv.second.last_update > lifetime; });
      if (states_.size() >= kMaxEntries) states_.erase(states_.begin());
    }
    it = states_.emplace(address, ServerState{}).first;
  }
  it->second.last_update = now;
  return it->second;
}

void ServerSelection::on_reply(const ServerAddress& address, microseconds rtt,
                               TimerService::TimePoint now) {
  ServerState& s = entry(address, now);
  if (rtt < microseconds{0}) rtt = microseconds{0};
  if (!s.rtt_known) {
    s.srtt = rtt;
    s.rttvar = rtt / 2;
    s.rtt_known = true;
  } else {
    // RFC 6298 §2.3 with alpha = 1/8, beta = 1/4.
    microseconds delta = s.srtt > rtt ? s.srtt - rtt : rtt - s.srtt;
    s.rttvar = (3 * s.rttvar + delta) / 4;
    s.srtt = (7 * s.srtt + rtt) / 8;
  }
  s.consecutive_timeouts = 0;
  s.dead = false;
}

void ServerSelection::on_timeout(const ServerAddress& address, TimerService::TimePoint now) {
  ServerState& s = entry(address, now);
  ++s.consecutive_timeouts;
  if (s.consecutive_timeouts >= timeouts_.dead_after_timeouts) {
    s.dead = true;
    s.dead_until = now + duration_cast<TimerService::Clock::duration>(timeouts_.dead_hold_down);
  }
}

void ServerSelection::on_network_error(const ServerAddress& address, TimerService::TimePoint now) {
  ServerState& s = entry(address, now);
  ++s.consecutive_timeouts;
  s.dead = true;
  s.dead_until = now + duration_cast<TimerService::Clock::duration>(timeouts_.dead_hold_down);
}

void ServerSelection::set_no_edns(const ServerAddress& address, TimerService::TimePoint now) {
  entry(address, now).no_edns = true;
}

void ServerSelection::set_mangles_case(const ServerAddress& address, TimerService::TimePoint now) {
  entry(address, now).mangles_case = true;
}

bool ServerSelection::is_dead(const ServerAddress& address, TimerService::TimePoint now) const {
  const ServerState* s = find(address);
  return s && s->dead && now < s->dead_until;
}

milliseconds ServerSelection::rto(const ServerAddress& address) const {
  const ServerState* s = find(address);
  milliseconds base = timeouts_.initial_rto;
  if (s && s->rtt_known) {
    base = duration_cast<milliseconds>(s->srtt + 4 * s->rttvar);
    base = std::clamp(base, timeouts_.min_rto, timeouts_.max_rto);
  }
  // Exponential backoff after consecutive timeouts (RFC 6298 §5.5).
  uint32_t shifts = s ? std::min<uint32_t>(s->consecutive_timeouts, 6) : 0;
  milliseconds backed_off = base * (1 << shifts);
  return std::min(backed_off, std::max(timeouts_.max_rto, base));
}

microseconds ServerSelection::expected_rtt(const ServerAddress& address) const {
  const ServerState* s = find(address);
  if (!s) return duration_cast<microseconds>(timeouts_.initial_rto);
  if (s->consecutive_timeouts > 0 || !s->rtt_known) return duration_cast<microseconds>(rto(address));
  return s->srtt;
}

std::optional<size_t> ServerSelection::choose(std::span<const ServerCandidate> candidates,
                                              TimerService::TimePoint now,
                                              uint32_t explore_one_in, bool include_dead) {
  std::vector<size_t> live;
  uint32_t fewest_tries = UINT32_MAX;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!include_dead && is_dead(candidates[i].address, now)) continue;
    live.push_back(i);
    fewest_tries = std::min(fewest_tries, candidates[i].tries);
  }
  if (live.empty()) return std::nullopt;
  std::erase_if(live, [&](size_t i) { return candidates[i].tries != fewest_tries; });
  if (explore_one_in != 0 && live.size() > 1 && random_.uniform(explore_one_in) == 0) {
    return live[random_.uniform(static_cast<uint32_t>(live.size()))];
  }
  microseconds best = microseconds::max();
  for (size_t i : live) best = std::min(best, expected_rtt(candidates[i].address));
  std::vector<size_t> near_best;
  for (size_t i : live) {
    if (expected_rtt(candidates[i].address) <= best + kEquivalenceBand) near_best.push_back(i);
  }
  return near_best[random_.uniform(static_cast<uint32_t>(near_best.size()))];
}

}  // namespace sextant::resolver
