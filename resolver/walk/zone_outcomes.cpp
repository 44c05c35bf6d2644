#include "resolver/walk/zone_outcomes.h"

#include <cmath>

namespace sextant::resolver {

using std::chrono::duration;
using std::chrono::duration_cast;

ZoneOutcomes::Tally ZoneOutcomes::decayed(const Entry& e, TimePoint now) const {
  if (now <= e.at || policy_.half_life.count() <= 0) return e.tally;
  const double halves = duration_cast<duration<double>>(now - e.at).count() /
                        duration_cast<duration<double>>(policy_.half_life).count();
  const double factor = std::exp2(-halves);
  return Tally{e.tally.fruitful * factor, e.tally.nxdomain * factor, e.tally.failed * factor};
}

void ZoneOutcomes::make_room(TimePoint now) {
  // A sweep costs a pass over the table: at most one per half-life, so a
  // churn of new zones into a table of live ones costs O(1) per zone.
  if (last_sweep_ == TimePoint{} || now - last_sweep_ >= policy_.half_life) {
    last_sweep_ = now;
    for (auto it = zones_.begin(); it != zones_.end();) {
      if (decayed(it->second, now).weight() < 1.0) {
        it = zones_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (zones_.size() >= kMaxZones) zones_.erase(zones_.begin());
}

void ZoneOutcomes::record(const wire::Name& zone, Outcome outcome, TimePoint now) {
  auto it = zones_.find(zone);
  if (it == zones_.end()) {
    if (zones_.size() >= kMaxZones) make_room(now);
    it = zones_.emplace(zone, Entry{{}, now}).first;
  }
  Entry& e = it->second;
  e.tally = decayed(e, now);
  if (now > e.at) e.at = now;
  switch (outcome) {
    case Outcome::fruitful: e.tally.fruitful += 1; break;
    case Outcome::nxdomain: e.tally.nxdomain += 1; break;
    case Outcome::failed: e.tally.failed += 1; break;
  }
}

void ZoneOutcomes::retract(const wire::Name& zone, Outcome outcome, TimePoint now) {
  auto it = zones_.find(zone);
  if (it == zones_.end()) return;
  Entry& e = it->second;
  e.tally = decayed(e, now);
  if (now > e.at) e.at = now;
  double& count = outcome == Outcome::fruitful   ? e.tally.fruitful
                  : outcome == Outcome::nxdomain ? e.tally.nxdomain
                                                 : e.tally.failed;
  count = count > 1 ? count - 1 : 0;
}

ZoneOutcomes::Tally ZoneOutcomes::tally(const wire::Name& zone, TimePoint now) const {
  auto it = zones_.find(zone);
  return it == zones_.end() ? Tally{} : decayed(it->second, now);
}

bool ZoneOutcomes::mostly_fruitless(const wire::Name& zone, TimePoint now) const {
  const Tally t = tally(zone, now);
  const double weight = t.weight();
  if (weight <= 0 || weight < policy_.min_weight) return false;
  return (t.nxdomain + t.failed) > policy_.fruitless_share * weight;
}

}  // namespace sextant::resolver
