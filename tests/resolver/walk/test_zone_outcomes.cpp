// The per-zone outcome window behind the per-zone cap (zone_outcomes.h):
// thresholds, decay in time, bounded size.
#include <catch2/catch.hpp>

#include <string>

#include "resolver/walk/zone_outcomes.h"

using namespace sextant;
using namespace sextant::resolver;
using std::chrono::milliseconds;
using Outcome = ZoneOutcomes::Outcome;

namespace {
const auto t0 = TimerService::TimePoint{} + std::chrono::hours(1000);
const wire::Name zone = wire::Name::from_text("example.com.");

void record(ZoneOutcomes& w, Outcome o, int times, TimerService::TimePoint at = t0) {
  for (int i = 0; i < times; ++i) w.record(zone, o, at);
}
}  // namespace

TEST_CASE("zone outcomes: a zone never heard of is not fruitless", "[walker][zone_outcomes]") {
  ZoneOutcomes w;
  CHECK_FALSE(w.mostly_fruitless(zone, t0));
  CHECK(w.tally(zone, t0).weight() == 0);
  CHECK(w.size() == 0);  // asking records nothing
}

TEST_CASE("zone outcomes: fruitless only with enough evidence", "[walker][zone_outcomes]") {
  ZoneOutcomes w;  // min_weight 16, share 0.5
  record(w, Outcome::nxdomain, 15);
  CHECK_FALSE(w.mostly_fruitless(zone, t0));
  record(w, Outcome::failed, 1);
  CHECK(w.mostly_fruitless(zone, t0));
  CHECK(w.tally(zone, t0).nxdomain == Approx(15));
  CHECK(w.tally(zone, t0).failed == Approx(1));
}

TEST_CASE("zone outcomes: the fruitless share must be above the threshold", "[walker][zone_outcomes]") {
  ZoneOutcomes w;
  record(w, Outcome::fruitful, 10);
  record(w, Outcome::nxdomain, 5);
  record(w, Outcome::failed, 5);
  CHECK_FALSE(w.mostly_fruitless(zone, t0));  // exactly half
  record(w, Outcome::failed, 1);
  CHECK(w.mostly_fruitless(zone, t0));
  record(w, Outcome::fruitful, 2);
  CHECK_FALSE(w.mostly_fruitless(zone, t0));

  ZoneOutcomes strict(ZoneOutcomePolicy{milliseconds{5000}, 4, 0.9});
  for (int i = 0; i < 9; ++i) strict.record(zone, Outcome::nxdomain, t0);
  strict.record(zone, Outcome::fruitful, t0);
  CHECK_FALSE(strict.mostly_fruitless(zone, t0));  // 90 %, not above it
  strict.record(zone, Outcome::nxdomain, t0);
  CHECK(strict.mostly_fruitless(zone, t0));
}

TEST_CASE("zone outcomes: tallies halve every half-life", "[walker][zone_outcomes]") {
  ZoneOutcomes w;  // half-life 5 s
  record(w, Outcome::nxdomain, 32);
  CHECK(w.tally(zone, t0 + milliseconds{5000}).nxdomain == Approx(16));
  CHECK(w.mostly_fruitless(zone, t0 + milliseconds{5000}));
  CHECK(w.tally(zone, t0 + milliseconds{10000}).nxdomain == Approx(8));
  // Old evidence fades below the minimum: a flood that stopped is forgotten.
  CHECK_FALSE(w.mostly_fruitless(zone, t0 + milliseconds{10000}));
  // A clock read earlier than the last record decays nothing.
  CHECK(w.tally(zone, t0 - milliseconds{1000}).nxdomain == Approx(32));
}

TEST_CASE("zone outcomes: fresh answers outweigh a faded flood", "[walker][zone_outcomes]") {
  ZoneOutcomes w;
  record(w, Outcome::nxdomain, 64);
  CHECK(w.mostly_fruitless(zone, t0));
  const auto later = t0 + milliseconds{15000};  // three half-lives: 8 left
  record(w, Outcome::fruitful, 9, later);
  CHECK(w.tally(zone, later).nxdomain == Approx(8));
  CHECK(w.tally(zone, later).fruitful == Approx(9));
  CHECK_FALSE(w.mostly_fruitless(zone, later));
  // ...and a flood that starts again takes over.
  record(w, Outcome::failed, 2, later);
  CHECK(w.mostly_fruitless(zone, later));
}

TEST_CASE("zone outcomes: zones are judged apart", "[walker][zone_outcomes]") {
  ZoneOutcomes w;
  record(w, Outcome::nxdomain, 20);
  const auto other = wire::Name::from_text("example.net.");
  for (int i = 0; i < 20; ++i) w.record(other, Outcome::fruitful, t0);
  CHECK(w.mostly_fruitless(zone, t0));
  CHECK_FALSE(w.mostly_fruitless(other, t0));
  CHECK_FALSE(w.mostly_fruitless(wire::Name::from_text("com."), t0));
}

TEST_CASE("zone outcomes: the table is bounded and drops faded zones first",
          "[walker][zone_outcomes]") {
  ZoneOutcomes w;
  for (size_t i = 0; i < ZoneOutcomes::kMaxZones; ++i) {
    w.record(wire::Name::from_text("z" + std::to_string(i) + ".test."), Outcome::nxdomain, t0);
  }
  CHECK(w.size() == ZoneOutcomes::kMaxZones);
  // Full of live zones: a new one takes an arbitrary one's place.
  const auto busy = wire::Name::from_text("busy.test.");
  for (int i = 0; i < 40; ++i) w.record(busy, Outcome::nxdomain, t0);
  CHECK(w.size() == ZoneOutcomes::kMaxZones);
  CHECK(w.mostly_fruitless(busy, t0));
  // Later, the one-reply zones have faded: the next new zone sweeps them
  // away, and the zone with evidence left stays.
  const auto later = t0 + milliseconds{10000};
  for (size_t i = 0; i < 100; ++i) {
    w.record(wire::Name::from_text("new" + std::to_string(i) + ".test."), Outcome::fruitful, later);
  }
  CHECK(w.size() <= 102);
  CHECK(w.tally(busy, later).nxdomain == Approx(10));
  // Still bounded when every zone is new at the same instant.
  for (size_t i = 0; i < 2 * ZoneOutcomes::kMaxZones; ++i) {
    w.record(wire::Name::from_text("n" + std::to_string(i) + ".test."), Outcome::failed, later);
  }
  CHECK(w.size() <= ZoneOutcomes::kMaxZones);
}

TEST_CASE("zone outcomes: a late answer takes back its packet's timeout", "[walker][zone_outcomes]") {
  ZoneOutcomes w;
  // A busy zone whose every packet outlives its retransmission timer but
  // is answered: each timeout is taken back when the answer comes.
  for (int i = 0; i < 40; ++i) {
    w.record(zone, Outcome::failed, t0);
    w.retract(zone, Outcome::failed, t0);
    w.record(zone, Outcome::fruitful, t0);
  }
  CHECK(w.tally(zone, t0).failed == Approx(0));
  CHECK(w.tally(zone, t0).fruitful == Approx(40));
  CHECK_FALSE(w.mostly_fruitless(zone, t0));
  // Never below zero, and nothing for a zone never recorded.
  w.retract(zone, Outcome::nxdomain, t0);
  CHECK(w.tally(zone, t0).nxdomain == 0);
  w.retract(wire::Name::from_text("other.test."), Outcome::failed, t0);
  CHECK(w.size() == 1);
}
