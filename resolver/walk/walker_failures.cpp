// How a query fails: SERVFAIL with an Extended DNS Error that says why
// (RFC 8914), and the resolution deadline. Failing at once for zones whose
// servers are all held down is in walker_shedding.cpp.
#include "resolver/walk/walker.h"

#include <fmt/format.h>

#include <algorithm>

namespace sextant::resolver {

using std::chrono::duration_cast;
using wire::EdeCode;
using wire::Name;
using wire::Rcode;

void Walker::on_deadline(uint64_t resolution_id) {
  Resolution* r = find_resolution(resolution_id);
  if (!r || r->finished) return;
  ++stats_.deadline_expired;
  r->deadline_timer = 0;
  // A packet whose retransmission timer was cut to the deadline (and so
  // fires with it, after it) timed out all the same: without this, on a
  // starved loop, questions near their deadline fill a dead zone's slots
  // and never give the evidence that holds its servers down.
  const auto now = timers_.now();
  for (const auto& sub : r->queries) {
    for (auto& a : sub->attempts) {
      if (a.overdue || now < a.rto_due) continue;
      a.overdue = true;
      note_zone_outcome(a.zone, ZoneOutcomes::Outcome::failed);
      servers_.on_timeout(a.server, now, a.sent_at);
      ++stats_.upstream_timeouts;
      ++sub->tally.timeouts;
    }
  }
  FailureTally total;
  for (const auto& sub : r->queries) {
    total.timeouts += sub->tally.timeouts;
    total.network_errors += sub->tally.network_errors;
  }
  SubQuery& q = *r->queries[0];
  EdeCode code = total.timeouts + total.network_errors > 0 ? EdeCode::NoReachableAuthority
                                                           : EdeCode::Other;
  fail_query(*r, q,
             code,
             fmt::format("no answer within the resolution deadline of {} ms ({} timeouts)",
                         options_.limits.resolution_deadline.count(), total.timeouts));
  step(*r, q);
}

void Walker::fail_query(Resolution& r, SubQuery& q, EdeCode code, std::string text) {
  if (r.trace) {
    trace_line(r, &q, fmt::format("failing with SERVFAIL, EDE {}: {}", static_cast<uint16_t>(code), text));
  }
  cancel_all_attempts(q);
  q.result = ResolutionResult{};
  q.result.rcode = Rcode::SERVFAIL;
  q.result.ede = wire::ExtendedErrorOption{static_cast<uint16_t>(code), std::move(text)};
  q.state = QueryState::finished;
}

void Walker::fail_unreachable(Resolution& r, SubQuery& q) {
  if (fall_back_from_forward(r, q)) return;  // forward-first: walk instead
  const FailureTally& t = q.tally;
  std::string zone = q.cut.zone.to_text();
  bool any_address = std::any_of(q.cut.servers.begin(), q.cut.servers.end(),
                                 [](const NameServerEntry& e) { return !e.addresses.empty(); });
  if (!any_address && q.cut.servers.empty()) {
    fail_query(r, q, EdeCode::NoReachableAuthority, fmt::format("no name servers for {}", zone));
    return;
  }
  if (t.private_skipped > 0 && t.timeouts + t.network_errors + t.local_errors + t.lame + t.server_errors == 0) {
    fail_query(r, q, EdeCode::NoReachableAuthority,
               fmt::format("name servers of {} are on private or loopback addresses, which are "
                           "not queried",
                           zone));
    return;
  }
  if (t.auth_failures > 0) {
    // RFC 8914 §4.24: an unrecoverable error talking to the upstream.
    std::string why = fmt::format("no upstream of {} answered: {} failed authentication ({}), {} timeouts, "
                                  "{} network errors",
                                  zone, t.auth_failures, t.auth_detail, t.timeouts, t.network_errors);
    // Bounded: a flood of distinct zones costs at most this many entries.
    constexpr size_t kMaxRemembered = 4096;
    if (auth_failure_memory_.size() >= kMaxRemembered) auth_failure_memory_.clear();
    auth_failure_memory_[q.cut.zone] = {why, timers_.now() + options_.timeouts.dead_hold_down};
    fail_query(r, q, EdeCode::NetworkError, std::move(why));
    return;
  }
  if (t.timeouts + t.network_errors == 0) {
    // Failing fast on upstreams held down for their authentication failure.
    auto it = auth_failure_memory_.find(q.cut.zone);
    if (it != auth_failure_memory_.end() && timers_.now() < it->second.until) {
      fail_query(r, q, EdeCode::NetworkError, it->second.why + " (remembered)");
      return;
    }
  } else {
    auth_failure_memory_.erase(q.cut.zone);
  }
  EdeCode code = (t.network_errors > 0 && t.timeouts == 0) ? EdeCode::NetworkError
                                                           : EdeCode::NoReachableAuthority;
  std::string local = t.local_errors > 0 ? fmt::format(", {} not sent (local)", t.local_errors) : "";
  fail_query(r, q, code,
             fmt::format("no reachable authority for {} ({} timeouts, {} network errors, {} "
                         "lame, {} error replies, {} spoofed or malformed{})",
                         zone, t.timeouts, t.network_errors, t.lame, t.server_errors,
                         t.spoofed + t.malformed, local));
}

}  // namespace sextant::resolver
