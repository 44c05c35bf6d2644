// The chain of trust fetched beside the walk (issue 17).
//
// Validation (walker_dnssec.cpp) builds the chain top-down once the answer
// is in: the root's keys, then each zone's DS (from the referral this
// request saw, else a DS query) and DNSKEY set. Fetched only then, each
// zone's DNSKEY costs one more round trip after the answer, one after the
// other: on a cold resolver, `www.example.com A` took the three referrals'
// round trips and then the same three again for the keys.
//
// So, as soon as a client query knows a zone's servers (it starts at a cut,
// or a referral brings it down to one) and the zone is signed as far as the
// walk can tell (it is a trust anchor's zone, or the referral carried a DS
// set with a digest and algorithm we support), the zone's DNSKEY set is
// fetched at once by an "early" sub-query, concurrently with the walk's
// next step:
//
//   send ─▶ wait ─▶ referral to a signed zone ─┬─▶ send (next step) ─▶ ...
//                                              └─▶ DNSKEY sub-query (early)
//
// The early sub-query is registered as the request's DNSKEY fetch of the
// zone (ValidationContext::fetches), so when validation needs the keys it
// takes them if they came, or waits for that same fetch (wait_keys) if not:
// nothing is asked twice and validation waits only for what it needs. The
// parent query does not wait for it (it is not in children_running): an
// answer that needs no keys (insecure, or the keys known meanwhile) ends the
// request at once and the fetch is cancelled with it. Nothing is fetched
// for a zone this worker already knows (trust memo), or whose DS is not
// known from a referral (a cut taken from the cache): the DS comes first
// there, as before. The DNSKEY data is validated exactly as before; an early
// fetch only moves the packet earlier.
#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "dnssec/key_chain.h"
#include "resolver/walk/walker.h"

namespace sextant::resolver {

using wire::Name;
using wire::RRType;

namespace {

// Early fetches leave room in the request's budget of DS/DNSKEY fetches for
// the ones validation itself asks for.
constexpr size_t kMaxEarlyFetches = kMaxKeyFetchesPerRequest / 2;
// Requests parked on one shared fetch, and shared fetches per type: beyond
// these a request simply asks for itself.
constexpr size_t kMaxJoined = 256;
constexpr size_t kMaxSharedFetches = 1024;

// The referral into `zone` carried a DS set we could use.
bool referral_has_usable_ds(const ValidationContext& ctx, const Name& zone) {
  for (const auto& ev : ctx.referrals) {
    if (!(ev.zone == zone)) continue;
    for (const auto& set : ev.response.authority) {
      if (set.type == RRType::DS && set.owner == zone && dnssec::has_usable_ds(set.rdatas)) return true;
    }
  }
  return false;
}

}  // namespace

void Walker::prefetch_zone_keys(Resolution& r, SubQuery& q) {
  if (q.kind != QueryKind::client || q.cut.forward || !validating(r) || !options_.dnssec.anchors) return;
  const Name& zone = q.cut.zone;
  ValidationContext& ctx = validation_context(r);
  if (ctx.zones.lookup(zone)) return;
  for (const auto& f : ctx.fetches) {
    if (f.type == RRType::DNSKEY && f.zone == zone) return;
  }
  if (auto it = trust_memo_.find(zone.lowercased());
      it != trust_memo_.end() && it->second.expires > timers_.wall_seconds()) {
    return;
  }
  const dnssec::TrustAnchor* anchor = options_.dnssec.anchors->closest(zone);
  if (!anchor) return;
  const bool signed_zone = anchor->zone == zone ? dnssec::has_usable_ds(anchor->ds)
                                                : referral_has_usable_ds(ctx, zone);
  if (!signed_zone) return;
  // Glueless servers: the walk is about to look their addresses up itself;
  // a fetch started now would race it for them (and find a cycle). The keys
  // are fetched when validation needs them, as before.
  const bool addressed = std::any_of(q.cut.servers.begin(), q.cut.servers.end(),
                                     [](const NameServerEntry& ns) { return !ns.addresses.empty(); });
  if (!addressed) return;
  size_t early = 0;
  for (const auto& f : ctx.fetches) early += r.queries[f.query]->early ? 1 : 0;
  if (early >= kMaxEarlyFetches || ctx.fetches.size() >= kMaxKeyFetchesPerRequest ||
      q.depth + 1 > options_.limits.max_subquery_depth) {
    return;
  }
  SubQuery& child =
      add_query(r, QueryKind::dnskey, q.index, wire::Question{zone, RRType::DNSKEY, wire::RRClass::IN});
  child.early = true;
  ++stats_.key_queries;
  ctx.fetches.push_back({zone, RRType::DNSKEY, child.index, false});
  if (r.trace) {
    trace_line(r, &q, fmt::format("fetching the DNSKEY set of {} beside the walk", zone.to_text()));
  }
  start_key_fetch(r, child);
}

// ---------------------------------------------------------------------------
// Fetches shared between requests
//
// Twenty cold questions under one zone each reached the zone and asked its
// DNSKEY set (and DS) themselves, before any of them had validated it into
// the worker's trust memo. Now the first request's sub-query asks; the
// others' sub-queries for the same (zone, type) are parked in `wait` and
// take its outcome when it ends (a copy of its result and the response
// kept for validation: each request still validates for itself). If it
// fails, or its request ends first, they ask for themselves.

void Walker::start_key_fetch(Resolution& r, SubQuery& child) {
  auto& table = shared_key_fetches_[child.question.type == RRType::DS ? 0 : 1];
  const Name zone = child.question.name.lowercased();
  if (auto it = table.find(zone); it != table.end()) {
    Resolution* owner = find_resolution(it->second.leader.resolution);
    if (owner && !owner->finished && owner != &r &&
        !owner->queries[it->second.leader.query]->reported && it->second.joined.size() < kMaxJoined) {
      it->second.joined.push_back({r.id, child.index});
      child.state = QueryState::wait;
      if (r.trace) {
        trace_line(r, &child, fmt::format("waiting for the same fetch of request r{}", owner->id));
      }
      return;
    }
    if (owner != &r) {
      restart_key_fetches(std::move(it->second.joined));  // (never left behind)
      table.erase(it);
    }
  }
  if (table.size() < kMaxSharedFetches && !table.contains(zone)) {
    table.emplace(zone, SharedKeyFetch{{r.id, child.index}, {}});
  }
  // From a fresh loop turn, like glueless lookups: a child failing at once
  // must not re-enter its parent's step(); and the referral that brought
  // the walk here is cached by then, so the fetch starts at the zone.
  QueryRef ref{r.id, child.index};
  defer([this, ref] {
    Resolution* plan = find_resolution(ref.resolution);
    if (!plan || plan->finished) return;
    step(*plan, *plan->queries[ref.query]);
  });
}

void Walker::key_fetch_ended(Resolution& r, const SubQuery& q) {
  auto& table = shared_key_fetches_[q.question.type == RRType::DS ? 0 : 1];
  auto it = table.find(q.question.name.lowercased());
  if (it == table.end() || it->second.leader.resolution != r.id || it->second.leader.query != q.index) return;
  std::vector<QueryRef> joined = std::move(it->second.joined);
  table.erase(it);
  if (joined.empty()) return;
  const bool answered = (q.result.rcode == wire::Rcode::NOERROR || q.result.rcode == wire::Rcode::NXDOMAIN) &&
                        !q.segments.empty();
  if (!answered) return restart_key_fetches(std::move(joined));
  struct Outcome {
    ResolutionResult result;
    std::vector<ValidationSegment> segments;
    std::optional<ServerAddress> last_reply_from;
    ZoneCut cut;
  };
  auto outcome = std::make_shared<Outcome>(Outcome{q.result, q.segments, q.last_reply_from, q.cut});
  defer([this, joined = std::move(joined), outcome] {
    for (const QueryRef& ref : joined) {
      Resolution* plan = find_resolution(ref.resolution);
      if (!plan || plan->finished) continue;
      SubQuery& s = *plan->queries[ref.query];
      if (s.reported || s.state != QueryState::wait || !s.attempts.empty()) continue;
      s.result = outcome->result;
      s.segments = outcome->segments;
      for (auto& seg : s.segments) seg.done = false;
      s.last_reply_from = outcome->last_reply_from;
      s.cut = outcome->cut;
      s.state = QueryState::finished;
      if (plan->trace) trace_line(*plan, &s, "took the outcome of the shared fetch");
      step(*plan, s);
    }
  });
}

void Walker::release_key_fetches(Resolution& r) {
  for (const auto& q : r.queries) {
    if (q->reported || (q->kind != QueryKind::ds && q->kind != QueryKind::dnskey)) continue;
    auto& table = shared_key_fetches_[q->question.type == RRType::DS ? 0 : 1];
    auto it = table.find(q->question.name.lowercased());
    if (it == table.end() || it->second.leader.resolution != r.id || it->second.leader.query != q->index) {
      continue;
    }
    std::vector<QueryRef> joined = std::move(it->second.joined);
    table.erase(it);
    restart_key_fetches(std::move(joined));
  }
}

void Walker::restart_key_fetches(std::vector<QueryRef> joined) {
  if (joined.empty()) return;
  defer([this, joined = std::move(joined)] {
    for (const QueryRef& ref : joined) {
      Resolution* plan = find_resolution(ref.resolution);
      if (!plan || plan->finished) continue;
      SubQuery& s = *plan->queries[ref.query];
      if (s.reported || s.state != QueryState::wait || !s.attempts.empty()) continue;
      s.state = QueryState::init;
      start_key_fetch(*plan, s);  // the first one asks, the others wait for it
    }
  });
}

}  // namespace sextant::resolver
