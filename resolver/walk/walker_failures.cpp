// How a query fails: SERVFAIL with an Extended DNS Error that says why
// (RFC 8914), the resolution deadline, and the short memory of zones whose
// servers all failed just now, so that the next question for such a zone
// fails at once instead of waiting out every timeout again.
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

bool Walker::remembered_unreachable(const wire::Name& zone, TimerService::TimePoint now) const {
  auto it = unreachable_zones_.find(zone);
  return it != unreachable_zones_.end() && now < it->second;
}

void Walker::remember_unreachable(const wire::Name& zone, TimerService::TimePoint now) {
  // Bounded: expired entries go first, and a flood of distinct zones only
  // costs the memory of this cap.
  constexpr size_t kMaxRemembered = 4096;
  if (unreachable_zones_.size() >= kMaxRemembered) std::erase_if(unreachable_zones_, [&](const auto& e) { return e.second <= now; });
  if (unreachable_zones_.size() >= kMaxRemembered) unreachable_zones_.clear();
  unreachable_zones_[zone] = now + std::chrono::duration_cast<TimerService::Clock::duration>(
                                       options_.timeouts.unreachable_zone_memory);
}

void Walker::fail_unreachable(Resolution& r, SubQuery& q) {
  const FailureTally& t = q.tally;
  // Remembered only when the servers themselves failed: a query our own
  // side could not send (e.g. every upstream socket busy in a burst) must
  // not fail the zone's other questions for a while.
  if (t.timeouts + t.network_errors > 0 && t.lame + t.server_errors + t.local_errors == 0)
    remember_unreachable(q.cut.zone, timers_.now());
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
