// The SOA timers of an RPZ zone fed by a primary: refresh, retry with a
// back-off before the first success, NOTIFY, expire.
#include <catch2/catch.hpp>

#include "resolver/policy/rpz_feed_timers.h"

using namespace sextant::resolver::policy;

TEST_CASE("a zone is checked at start, then every refresh") {
  RpzFeedTimers t;
  t.start(100, false);
  CHECK(t.due(100));
  t.succeeded(100, SoaTimers{60, 10, 3600});
  CHECK_FALSE(t.due(159));
  CHECK(t.due(160));
  CHECK(t.last_success() == Approx(100));
}

TEST_CASE("a failed check retries after the SOA's retry; expire is counted from the last success") {
  RpzFeedTimers t;
  t.start(0, false);
  t.succeeded(0, SoaTimers{60, 10, 100});
  t.failed(60);
  CHECK(t.next_check() == Approx(70));
  CHECK(t.consecutive_failures() == 1);
  CHECK_FALSE(t.expired(99));
  CHECK(t.expired(100));
  t.succeeded(101, SoaTimers{60, 10, 100});
  CHECK_FALSE(t.expired(150));
  CHECK(t.consecutive_failures() == 0);
}

TEST_CASE("before any success, failures back off up to the default retry") {
  RpzFeedTimers t;
  t.start(0, false);
  double now = 0;
  double last_wait = 0;
  for (int i = 0; i < 12; ++i) {
    t.failed(now);
    double wait = t.next_check() - now;
    CHECK(wait >= last_wait);
    CHECK(wait <= 600);
    last_wait = wait;
    now = t.next_check();
  }
  CHECK(last_wait == Approx(600));
}

TEST_CASE("NOTIFY makes the zone due at once, at most once per minimum interval") {
  RpzFeedTimers t(5);
  t.start(0, true);
  t.succeeded(0, SoaTimers{3600, 600, 86400});
  t.notified(2);
  CHECK_FALSE(t.due(4));
  CHECK(t.due(5));
  t.succeeded(5, SoaTimers{3600, 600, 86400});
  t.notified(20);
  CHECK(t.due(20));
}

TEST_CASE("absurd SOA figures are bounded") {
  RpzFeedTimers t;
  t.start(0, false);
  t.succeeded(0, SoaTimers{0, 0, 0});
  CHECK(t.next_check() == Approx(RpzFeedTimers::kMinInterval));
  t.succeeded(0, SoaTimers{0xFFFFFFFFu, 0, 0});
  CHECK(t.next_check() == Approx(RpzFeedTimers::kMaxInterval));
}
