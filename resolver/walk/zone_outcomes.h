// What each zone cut's servers have been answering lately, for the per-zone
// cap (walker_shedding.cpp): a decaying tally of fruitful replies (data,
// NODATA, referrals) against fruitless ones (NXDOMAIN, error rcodes, lame
// replies, network errors, packets with no reply within their
// retransmission timeout, taken back if a late answer comes).
//
// Slowness alone does not tell a flood from a busy zone: a zone filled with
// thousands of real names at once answers as slowly as one flooded with
// random names. What differs is what it answers. A random-subdomain
// ("water torture") flood gets NXDOMAIN from a zone that answers, and
// timeouts from one that does not; real names mostly get data. BIND adapts
// its per-server fetch quota to a moving average of the timeout ratio
// (fetch-quota-params); this window adds NXDOMAIN and errors to the
// timeouts, and decays in time rather than per 100 queries, so an old
// verdict fades even for a zone no longer asked.
//
// Each tally halves every `half_life`. A zone counts as mostly fruitless
// when its decayed weight is at least `min_weight` (enough recent evidence)
// and the fruitless share of it is above `fruitless_share`.
//
// Bounded: at most kMaxZones zones (one per walker, so per worker); a full
// table first drops the zones whose evidence has decayed away, and if none
// has, an arbitrary one (it costs that zone `min_weight` replies to be
// judged again). Recording for a zone already known allocates nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "resolver/walk/timer_service.h"
#include "wire/name.h"

namespace sextant::resolver {

struct ZoneOutcomePolicy {
  std::chrono::milliseconds half_life{5000};
  double min_weight = 16;
  double fruitless_share = 0.5;
};

class ZoneOutcomes {
 public:
  using TimePoint = TimerService::TimePoint;
  static constexpr size_t kMaxZones = 4096;

  enum class Outcome : uint8_t {
    fruitful,   // an answer, NODATA, a referral, a CNAME/DNAME to follow
    nxdomain,   // the name does not exist
    failed,     // error rcode, lame reply, network error, no reply within the RTO
  };

  explicit ZoneOutcomes(ZoneOutcomePolicy policy = {}) : policy_(policy) {}

  void record(const wire::Name& zone, Outcome outcome, TimePoint now);
  // Takes back one outcome recorded earlier (never below zero): a packet
  // whose retransmission timer fired counts as failed at once, and when
  // its late answer comes after all, the failure is taken back and the
  // answer recorded.
  void retract(const wire::Name& zone, Outcome outcome, TimePoint now);

  // The decayed tallies as of `now` (all zero for a zone never recorded).
  struct Tally {
    double fruitful = 0;
    double nxdomain = 0;
    double failed = 0;
    double weight() const noexcept { return fruitful + nxdomain + failed; }
  };
  Tally tally(const wire::Name& zone, TimePoint now) const;

  // Enough recent evidence, and most of it NXDOMAIN or failures.
  bool mostly_fruitless(const wire::Name& zone, TimePoint now) const;

  size_t size() const noexcept { return zones_.size(); }
  const ZoneOutcomePolicy& policy() const noexcept { return policy_; }

 private:
  struct Entry {
    Tally tally;
    TimePoint at{};  // when `tally` was last decayed
  };
  Tally decayed(const Entry& e, TimePoint now) const;
  void make_room(TimePoint now);

  ZoneOutcomePolicy policy_;
  std::unordered_map<wire::Name, Entry, wire::NameHash> zones_;
  TimePoint last_sweep_{};
};

}  // namespace sextant::resolver
