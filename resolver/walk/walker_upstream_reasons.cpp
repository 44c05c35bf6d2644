// Why each upstream query is sent (upstream_reasons.h): counted by
// send_attempt() in WalkerStats::upstream_by_reason.
#include "resolver/walk/walker.h"

namespace sextant::resolver {

namespace {

// What a packet asks, at which cut: the same key twice in a row for one
// query is a retry (timeout, TC -> TCP, no EDNS, cookie, bogus data).
uint64_t sent_key(const Attempt& a, const wire::Name& zone) {
  return a.asked_name.hash() * 0x9e3779b97f4a7c15ULL ^ zone.hash() ^
         (uint64_t{static_cast<uint16_t>(a.sent_type)} << 48) ^ 1;
}

}  // namespace

UpstreamReason Walker::upstream_reason(SubQuery& q, const Attempt& a) {
  const uint64_t key = sent_key(a, q.cut.zone);
  const bool again = key == q.last_sent_key;
  q.last_sent_key = key;
  if (again) return UpstreamReason::retry;
  switch (q.kind) {
    case QueryKind::priming: return UpstreamReason::priming;
    case QueryKind::ns_address: return a.minimised ? UpstreamReason::qmin_step : UpstreamReason::ns_address;
    case QueryKind::ds: return a.minimised ? UpstreamReason::qmin_step : UpstreamReason::ds;
    case QueryKind::dnskey:
      if (a.minimised) return UpstreamReason::qmin_step;
      return q.early ? UpstreamReason::dnskey_early : UpstreamReason::dnskey;
    case QueryKind::client: break;
  }
  return a.minimised ? UpstreamReason::qmin_step : UpstreamReason::question;
}

}  // namespace sextant::resolver
