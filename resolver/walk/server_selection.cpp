#include "resolver/walk/server_selection.h"

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

// Held down: skipped unless every server is. A claimed probe counts too, so
// that only the claimant's query asks the server while it is in doubt.
bool held_down(const std::optional<ServerState>& s, TimerService::TimePoint now) {
  return s && s->dead && (now < s->dead_until || now < s->probe_claimed_until);
}

// The hold-down ended and nobody probes it yet: the next query is its probe.
bool probe_due(const std::optional<ServerState>& s, TimerService::TimePoint now) {
  return s && s->dead && !held_down(s, now);
}
}  // namespace

ServerSelection::ServerSelection(const WalkerTimeouts& timeouts, QueryRandomness& random,
                                 std::shared_ptr<ServerStateTable> table)
    : timeouts_(timeouts),
      random_(random),
      table_(table ? std::move(table) : std::make_shared<ServerStateTable>()) {}

template <typename Fn>
decltype(auto) ServerSelection::update(const ServerAddress& address, TimerService::TimePoint now,
                                       Fn&& fn) {
  auto lifetime = duration_cast<TimerService::Clock::duration>(timeouts_.server_state_lifetime);
  return table_->update(address, now, lifetime, std::forward<Fn>(fn));
}

std::optional<ServerState> ServerSelection::find(const ServerAddress& address) const {
  return table_->get(address);
}

void ServerSelection::mark_dead(ServerState& s, TimerService::TimePoint now) const {
  s.dead = true;
  milliseconds hold = timeouts_.dead_hold_down_initial * (1 << std::min<uint32_t>(s.hold_downs, 16));
  hold = std::min(std::max(hold, milliseconds{1}), timeouts_.dead_hold_down);
  if (s.hold_downs < 32) ++s.hold_downs;
  s.dead_until = now + duration_cast<TimerService::Clock::duration>(hold);
  // A probe that timed out is over; the next one comes after this hold-down.
  s.probe_claimed_until = {};
}

void ServerSelection::on_reply(const ServerAddress& address, microseconds rtt,
                               TimerService::TimePoint now) {
  if (rtt < microseconds{0}) rtt = microseconds{0};
  update(address, now, [&](ServerState& s) {
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
    s.hold_downs = 0;
    s.probe_claimed_until = {};
    if (now > s.last_reply) s.last_reply = now;
  });
}

void ServerSelection::on_timeout(const ServerAddress& address, TimerService::TimePoint now,
                                 TimerService::TimePoint sent_at) {
  update(address, now, [&](ServerState& s) {
    // Queries sent together time out together: one piece of evidence. A
    // query sent after the last counted timeout fired is another, and so is
    // one sent at least min_rto after the query last counted (a flood's
    // first wave at a dead server so holds it down within about one RTO,
    // instead of only after its retries time out too).
    const bool after_last = sent_at >= s.last_timeout_counted;
    const bool spaced = sent_at - s.last_counted_sent >= timeouts_.min_rto;
    if (s.consecutive_timeouts > 0 && !after_last && !spaced) return;
    if (sent_at < s.last_reply) return;  // it answered since: this one was lost
    s.last_timeout_counted = now;
    s.last_counted_sent = sent_at;
    ++s.consecutive_timeouts;
    if (s.consecutive_timeouts >= timeouts_.dead_after_timeouts) mark_dead(s, now);
  });
}

void ServerSelection::on_network_error(const ServerAddress& address, TimerService::TimePoint now) {
  update(address, now, [&](ServerState& s) {
    ++s.consecutive_timeouts;
    mark_dead(s, now);
  });
}

void ServerSelection::set_no_edns(const ServerAddress& address, TimerService::TimePoint now) {
  update(address, now, [](ServerState& s) { s.no_edns = true; });
}

void ServerSelection::set_mangles_case(const ServerAddress& address, TimerService::TimePoint now) {
  update(address, now, [](ServerState& s) { s.mangles_case = true; });
}

void ServerSelection::set_server_cookie(const ServerAddress& address, std::span<const uint8_t> cookie,
                                        TimerService::TimePoint now) {
  update(address, now, [&](ServerState& s) {
    s.sends_cookies = true;
    s.server_cookie_size = static_cast<uint8_t>(std::min(cookie.size(), s.server_cookie.size()));
    std::copy_n(cookie.begin(), s.server_cookie_size, s.server_cookie.begin());
  });
}

bool ServerSelection::claim_probe(const ServerAddress& address, TimerService::TimePoint now) {
  return update(address, now, [&](ServerState& s) {
    // Decided again under the lock: the snapshot choose() worked from may
    // be stale by now.
    if (!s.dead) return true;  // a reply revived it meanwhile: an ordinary query
    if (now < s.dead_until || now < s.probe_claimed_until) return false;
    // Until the probe's reply or timeout clears it; if the probe is
    // cancelled instead, the claim lapses after one exchange's hard limit.
    s.probe_claimed_until =
        now + duration_cast<TimerService::Clock::duration>(timeouts_.exchange_timeout);
    return true;
  });
}

bool ServerSelection::is_dead(const ServerAddress& address, TimerService::TimePoint now) const {
  return held_down(find(address), now);
}

milliseconds ServerSelection::rto_of(const std::optional<ServerState>& s) const {
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

milliseconds ServerSelection::rto(const ServerAddress& address) const {
  return rto_of(find(address));
}

microseconds ServerSelection::expected_rtt_of(const std::optional<ServerState>& s) const {
  if (!s) return duration_cast<microseconds>(timeouts_.initial_rto);
  if (s->consecutive_timeouts > 0 || !s->rtt_known) return duration_cast<microseconds>(rto_of(s));
  return s->srtt;
}

std::optional<size_t> ServerSelection::choose(std::span<const ServerCandidate> candidates,
                                              TimerService::TimePoint now,
                                              uint32_t explore_one_in, bool include_dead) {
  // One snapshot per candidate (one shard lock each), so a choice is made
  // on consistent numbers even while other workers update the table.
  std::vector<std::optional<ServerState>> states;
  states.reserve(candidates.size());
  for (const auto& c : candidates) states.push_back(find(c.address));
  std::vector<bool> lost_probe(candidates.size(), false);

  // Each failed probe claim removes one candidate, so this ends.
  for (;;) {
    std::vector<size_t> live;
    uint32_t fewest_tries = UINT32_MAX;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (lost_probe[i]) continue;
      if (!include_dead && held_down(states[i], now)) continue;
      live.push_back(i);
      fewest_tries = std::min(fewest_tries, candidates[i].tries);
    }
    if (live.empty()) return std::nullopt;
    std::erase_if(live, [&](size_t i) { return candidates[i].tries != fewest_tries; });
    std::optional<size_t> pick;
    if (explore_one_in != 0 && live.size() > 1 && random_.uniform(explore_one_in) == 0) {
      pick = live[random_.uniform(static_cast<uint32_t>(live.size()))];
    } else {
      microseconds best = microseconds::max();
      for (size_t i : live) best = std::min(best, expected_rtt_of(states[i]));
      std::vector<size_t> near_best;
      for (size_t i : live) {
        if (expected_rtt_of(states[i]) <= best + kEquivalenceBand) near_best.push_back(i);
      }
      pick = near_best[random_.uniform(static_cast<uint32_t>(near_best.size()))];
    }
    if (include_dead || !probe_due(states[*pick], now)) return pick;
    if (claim_probe(candidates[*pick].address, now)) return pick;
    lost_probe[*pick] = true;  // another query probes it: held down for us
  }
}

}  // namespace sextant::resolver
