// Flood defences (random-subdomain / "water torture" floods): questions for
// a zone whose every server is held down fail at once with SERVFAIL and
// EDE 22, without a packet; queries in flight to a struggling zone (its
// servers held down, timing out or slow, and its recent replies mostly
// NXDOMAIN or none: zone_outcomes.h) and to one struggling server are
// capped, and a question over a cap fails at once instead of waiting for a
// socket. quick_failure() finds both before a question gets any walker
// state, so that such a failure costs about what a cache hit costs.
//
// The hold-downs themselves are the server-state table's
// (server_selection.h): two timeouts in a row with no answer in between
// hold a server down for WalkerTimeouts::dead_hold_down, then one query at
// a time probes it; any answer makes it live again at once.
#include <fmt/format.h>

#include <algorithm>

#include "resolver/walk/walker.h"

namespace sextant::resolver {

using wire::EdeCode;
using wire::Name;

bool Walker::all_held_down(const std::vector<ServerAddress>& servers,
                           TimerService::TimePoint now) const {
  if (servers.empty()) return false;
  for (const auto& address : servers) {
    if (!servers_.is_dead(address, now)) return false;
  }
  return true;
}

bool Walker::struggling(const ServerAddress& address, TimerService::TimePoint now) const {
  if (servers_.is_dead(address, now)) return true;
  const std::optional<ServerState> s = servers_.find(address);
  if (!s) return false;  // never asked: no reason to doubt it
  const bool timing_out = s->consecutive_timeouts > 0;
  const bool slow = s->rtt_known && s->srtt >= options_.limits.struggling_rtt;
  return timing_out || slow;
}

bool Walker::answered_since_sent(const SubQuery& q) const {
  return std::any_of(q.attempts.begin(), q.attempts.end(), [&](const Attempt& a) {
    const std::optional<ServerState> s = servers_.find(a.server);
    return s && s->last_reply > a.sent_at;
  });
}

bool Walker::all_struggling(const std::vector<ServerAddress>& servers,
                            TimerService::TimePoint now) const {
  if (servers.empty()) return false;
  return std::all_of(servers.begin(), servers.end(),
                     [&](const ServerAddress& a) { return struggling(a, now); });
}

bool Walker::zone_struggling(const Name& zone, const std::vector<ServerAddress>& servers,
                             TimerService::TimePoint now) const {
  // Slow is not enough: a zone filled with real names at once is slow too.
  // Its replies tell a busy zone (data) from a flooded one (NXDOMAIN for
  // random names, or no reply at all).
  return all_struggling(servers, now) && zone_outcomes_.mostly_fruitless(zone, now);
}

bool Walker::server_struggling(const ServerAddress& address, const Name& zone,
                               TimerService::TimePoint now) const {
  // The same for one server: a server answering a busy zone's real names
  // may hold most of the worker's sockets (the socket budget still bounds
  // it); a flood spread over many zones of one server is fruitless in each.
  return struggling(address, now) && zone_outcomes_.mostly_fruitless(zone, now);
}

void Walker::note_zone_outcome(const Name& zone, ZoneOutcomes::Outcome outcome) {
  zone_outcomes_.record(zone, outcome, timers_.now());
}

void Walker::note_zone_reply(const Attempt& a, ResponseKind kind) {
  using Outcome = ZoneOutcomes::Outcome;
  if (a.overdue) zone_outcomes_.retract(a.zone, Outcome::failed, timers_.now());
  switch (kind) {
    case ResponseKind::nxdomain: return note_zone_outcome(a.zone, Outcome::nxdomain);
    case ResponseKind::lame:
    case ResponseKind::server_error: return note_zone_outcome(a.zone, Outcome::failed);
    case ResponseKind::answer:
    case ResponseKind::nodata:
    case ResponseKind::referral:
    case ResponseKind::chase:
    case ResponseKind::cname_loop:
    case ResponseKind::dname_overflow: return note_zone_outcome(a.zone, Outcome::fruitful);
  }
}

Walker::QuickFailure Walker::quick_failure(const wire::Question& question) {
  QuickFailure out;
  const uint32_t zone_cap = options_.limits.max_outstanding_per_zone;
  const bool caps_matter = zone_cap != 0 && !outstanding_.empty() && !struggling_zones_.empty();
  if (!cache_ || (held_down_zones_.empty() && !caps_matter)) return out;
  // The walk starts at the closest cut (for DS: strictly above the name,
  // walker_subqueries.cpp closest_cut); the root's servers come from
  // priming and are never judged here.
  Name name = question.name;
  if (question.type == wire::RRType::DS) {
    if (name.is_root()) return out;
    name = name.parent();
  }
  // First only this walker's own tables: most misses match neither, and
  // then cost no cache look-up at all.
  Name zone = name;
  const std::vector<ServerAddress>* servers = nullptr;
  const std::vector<ServerAddress>* struggling = nullptr;
  for (;; zone = zone.parent()) {
    if (zone.is_root()) return out;
    servers = held_down_zones_.find(zone);
    if (caps_matter && outstanding_.for_zone(zone) >= zone_cap) struggling = struggling_zones_.find(zone);
    if (servers || struggling) break;
  }
  // The zone found must be the closest cached cut: a live child cut
  // between it and the name has servers of its own.
  const uint32_t wall = timers_.wall_seconds();
  auto& delegations = cache_->delegations();
  for (Name below = name; below.label_count() > zone.label_count(); below = below.parent()) {
    if (delegations.has_fresh(below, wire::RRClass::IN, wall)) return out;
  }
  if (!delegations.has_fresh(zone, wire::RRClass::IN, wall)) return out;
  const auto now = timers_.now();
  if (servers) {
    if (all_held_down(*servers, now)) {
      ++stats_.held_down_failures;
      out.kind = QuickFailure::Kind::held_down;
      out.zone = zone;
      return out;
    }
    // A probe is due, or one was answered: the walker asks the zone again.
    held_down_zones_.forget(zone);
  }
  if (struggling) {
    // A server whose probe is due gets it from the walker, cap or not.
    const bool probe_due = std::any_of(struggling->begin(), struggling->end(), [&](const auto& a) {
      const std::optional<ServerState> s = servers_.find(a);
      return s && s->dead && !servers_.is_dead(a, now);
    });
    if (!probe_due && zone_struggling(zone, *struggling, now)) {
      ++stats_.over_limit_zone;
      out.kind = QuickFailure::Kind::over_limit;
      out.zone = zone;
      return out;
    }
    struggling_zones_.forget(zone);
  }
  return out;
}

void Walker::fail_held_down(Resolution& r, SubQuery& q, std::vector<ServerAddress> servers) {
  // A forward zone's upstreams come from the settings, not the cache, so
  // quick_failure() cannot judge them; fail_unreachable() falls back to a
  // walk (forward-first) or keeps an authentication failure's EDE 23.
  if (q.cut.forward) return fail_unreachable(r, q);
  ++stats_.held_down_failures;
  const FailureTally& t = q.tally;
  std::string text = fmt::format(
      "no reachable authority for {}: every server is held down after timeouts ({} timeouts, {} "
      "network errors here)",
      q.cut.zone.to_text(), t.timeouts, t.network_errors);
  held_down_zones_.remember(q.cut.zone, std::move(servers));
  fail_query(r, q, EdeCode::NoReachableAuthority, std::move(text));
}

void Walker::fail_over_limit(Resolution& r, SubQuery& q, bool per_zone) {
  const WalkerLimits& limits = options_.limits;
  std::string text;
  if (per_zone) {
    ++stats_.over_limit_zone;
    text = fmt::format("{} queries already in flight to {} (the per-zone cap)",
                       limits.max_outstanding_per_zone, q.cut.zone.to_text());
  } else {
    ++stats_.over_limit_server;
    text = fmt::format("every server of {} has {} queries in flight (the per-server cap)",
                       q.cut.zone.to_text(), limits.max_outstanding_per_server);
  }
  fail_query(r, q, EdeCode::Other, std::move(text));
  q.result.drop = limits.drop_over_limit;
}

}  // namespace sextant::resolver
