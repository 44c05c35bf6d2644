// The server-state table shared by every worker's walker: what one
// ServerSelection learns the others see, the single probe after a
// hold-down, the bound, and many threads at once.
#include <catch2/catch.hpp>

#include <uv.h>

#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "resolver/daemon/loop_timer_service.h"
#include "resolver/walk/server_selection.h"
#include "resolver/walk/server_state_table.h"
#include "transports/loop_clock.h"

using namespace sextant;
using namespace sextant::resolver;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using TimePoint = TimerService::TimePoint;

namespace {

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1000);

ServerAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  std::array<uint8_t, 4> octets{a, b, c, d};
  return ServerAddress::ipv4(octets);
}

std::unique_ptr<QueryRandomness> seeded(uint8_t seed) {
  std::array<uint8_t, 32> key{};
  key.fill(seed);
  return std::make_unique<QueryRandomness>(key);
}

// One worker's view: its own timeouts and random stream, a shared table.
struct Worker {
  WalkerTimeouts timeouts;
  std::unique_ptr<QueryRandomness> random;
  ServerSelection selection;
  Worker(std::shared_ptr<ServerStateTable> table, uint8_t seed,
         const WalkerTimeouts& t = WalkerTimeouts{})
      : timeouts(t), random(seeded(seed)), selection(timeouts, *random, std::move(table)) {}
};

}  // namespace

TEST_CASE("server state table: two selections sharing it see each other's RTT and dead marks",
          "[server-table]") {
  auto table = std::make_shared<ServerStateTable>();
  Worker a(table, 1);
  Worker b(table, 2);
  const auto fast = v4(192, 0, 2, 1);
  const auto dying = v4(192, 0, 2, 2);

  a.selection.on_reply(fast, microseconds(20000), kT0);
  auto seen = b.selection.find(fast);
  REQUIRE(seen);
  CHECK(seen->rtt_known);
  CHECK(seen->srtt == microseconds(20000));
  CHECK(b.selection.rto(fast) == a.selection.rto(fast));
  CHECK(b.selection.rto(fast) != b.timeouts.initial_rto);
  // B's sample refines the one estimate (RFC 6298: 7/8 old + 1/8 new).
  b.selection.on_reply(fast, microseconds(28000), kT0);
  CHECK(a.selection.find(fast)->srtt == microseconds(21000));

  // A alone sees `dying` time out twice; B holds it down too.
  for (uint32_t i = 0; i < a.timeouts.dead_after_timeouts; ++i) a.selection.on_timeout(dying, kT0, kT0);
  CHECK(b.selection.is_dead(dying, kT0 + milliseconds(1)));
  std::vector<ServerCandidate> candidates{{dying, 0}, {fast, 0}};
  for (int i = 0; i < 20; ++i) {
    auto pick = b.selection.choose(candidates, kT0 + milliseconds(1), 1);  // explore every time
    REQUIRE(pick);
    CHECK(candidates[*pick].address == fast);
  }
  // Quirks too.
  a.selection.set_no_edns(fast, kT0);
  b.selection.set_mangles_case(dying, kT0);
  CHECK(b.selection.find(fast)->no_edns);
  CHECK(a.selection.find(dying)->mangles_case);

  // The contrast: a selection with a table of its own learned nothing.
  Worker alone(nullptr, 3);
  CHECK_FALSE(alone.selection.find(fast));
  CHECK_FALSE(alone.selection.is_dead(dying, kT0 + milliseconds(1)));
  CHECK(alone.selection.table() != table);
}

TEST_CASE("server state table: one probe after the hold-down, claimed across selections",
          "[server-table]") {
  auto table = std::make_shared<ServerStateTable>();
  Worker a(table, 1);
  Worker b(table, 2);
  const auto server = v4(192, 0, 2, 7);
  const std::vector<ServerCandidate> only{{server, 0}};
  a.selection.on_network_error(server, kT0);
  const TimePoint due = kT0 + a.timeouts.dead_hold_down_initial;
  REQUIRE(a.selection.is_dead(server, due - milliseconds(1)));
  CHECK_FALSE(b.selection.choose(only, due - milliseconds(1), 0));

  SECTION("the first chooser probes; the other keeps it held down until the probe times out") {
    CHECK_FALSE(b.selection.is_dead(server, due));
    REQUIRE(a.selection.choose(only, due, 0) == 0u);  // the probe, claimed
    CHECK(b.selection.is_dead(server, due));
    CHECK_FALSE(b.selection.choose(only, due, 0));
    CHECK_FALSE(a.selection.choose(only, due, 0));  // the claimant's other queries too
    // ...asked anyway only when every server is held down (no claim then).
    CHECK(b.selection.choose(only, due, 0, /*include_dead=*/true) == 0u);
    // The probe times out: a new hold-down, twice as long, a new probe after it.
    a.selection.on_timeout(server, due + milliseconds(300), due);
    const TimePoint next_due = due + milliseconds(300) + 2 * a.timeouts.dead_hold_down_initial;
    CHECK(b.selection.is_dead(server, next_due - milliseconds(1)));
    CHECK(b.selection.choose(only, next_due, 0) == 0u);
    CHECK_FALSE(a.selection.choose(only, next_due, 0));
  }
  SECTION("the probe's answer revives the server for everyone") {
    REQUIRE(b.selection.choose(only, due, 0) == 0u);
    CHECK_FALSE(a.selection.choose(only, due, 0));
    b.selection.on_reply(server, microseconds(30000), due + milliseconds(30));
    CHECK_FALSE(a.selection.is_dead(server, due + milliseconds(30)));
    CHECK(a.selection.choose(only, due + milliseconds(30), 0) == 0u);
    CHECK(b.selection.choose(only, due + milliseconds(30), 0) == 0u);
  }
  SECTION("a probe never reported (cancelled) lapses after one exchange's hard limit") {
    REQUIRE(a.selection.choose(only, due, 0) == 0u);
    const TimePoint lapsed = due + a.timeouts.exchange_timeout;
    CHECK(b.selection.is_dead(server, lapsed - milliseconds(1)));
    CHECK(b.selection.choose(only, lapsed, 0) == 0u);
    CHECK_FALSE(a.selection.choose(only, lapsed, 0));
  }
  SECTION("a chooser that loses the claim picks another server") {
    const auto other = v4(192, 0, 2, 8);
    b.selection.on_reply(other, microseconds(900000), kT0);  // slow, but alive
    // Explore every time, so the revived server is picked about half the time.
    std::vector<ServerCandidate> two{{server, 0}, {other, 0}};
    size_t probes = 0;
    for (int i = 0; i < 40; ++i) {
      Worker& w = i % 2 ? a : b;
      auto pick = w.selection.choose(two, due, 1);
      REQUIRE(pick);
      if (two[*pick].address == server) ++probes;
    }
    CHECK(probes == 1);
  }
}

TEST_CASE("server state table: bounded per shard, stale entries dropped first", "[server-table]") {
  ServerStateTable table;
  const auto lifetime = std::chrono::duration_cast<TimerService::Clock::duration>(
      WalkerTimeouts{}.server_state_lifetime);
  auto touch = [&](const ServerAddress& a, TimePoint now) {
    table.update(a, now, lifetime, [](ServerState& s) { ++s.consecutive_timeouts; });
  };
  // Twice the bound, spread over every shard.
  for (uint32_t i = 0; i < 2 * ServerStateTable::kMaxEntries; ++i) {
    touch(v4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
             static_cast<uint8_t>(i)),
          kT0);
  }
  CHECK(table.size() == ServerStateTable::kMaxEntries);

  // Past the lifetime: one remembered server is refreshed, then new ones
  // arrive in every shard and push out only the stale entries.
  std::optional<ServerAddress> kept;
  for (uint32_t i = 0; i < 2 * ServerStateTable::kMaxEntries && !kept; ++i) {
    auto a = v4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                static_cast<uint8_t>(i));
    if (table.get(a)) kept = a;
  }
  REQUIRE(kept);
  const TimePoint later = kT0 + lifetime + std::chrono::seconds(1);
  touch(*kept, later);
  constexpr uint32_t kNew = 2000;
  for (uint32_t i = 0; i < kNew; ++i) {
    touch(v4(172, 16, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)), later);
  }
  CHECK(table.size() == kNew + 1);
  REQUIRE(table.get(*kept));
  CHECK(table.get(*kept)->consecutive_timeouts == 2);

  table.clear();
  CHECK(table.size() == 0);
}

// 4 threads, 200 000 operations in all, on the same few servers: no crash,
// no race (ASan/TSan builds), and no lost update of a shared counter.
TEST_CASE("server state table: many threads at once lose no update", "[server-table][threads]") {
  auto table = std::make_shared<ServerStateTable>();
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 50000;
  const std::array<ServerAddress, 4> hot{v4(192, 0, 2, 1), v4(192, 0, 2, 2), v4(192, 0, 2, 3),
                                         v4(192, 0, 2, 4)};
  const auto counted = v4(198, 51, 100, 1);  // only ever times out: counts every call
  std::atomic<uint64_t> choices{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Worker w(table, static_cast<uint8_t>(t + 1));
      std::vector<ServerCandidate> candidates;
      for (const auto& a : hot) candidates.push_back({a, 0});
      // Each worker's clock stands a few ms apart from the others'.
      const TimePoint base = kT0 + milliseconds(t * 3);
      uint64_t chosen = 0;
      for (int i = 0; i < kOpsPerThread; ++i) {
        const TimePoint now = base + microseconds(i * 100);
        const ServerAddress& a = hot[static_cast<size_t>(i / 4) % hot.size()];
        switch (i % 4) {
          case 0: w.selection.on_reply(a, microseconds(1000 + i % 5000), now); break;
          case 1: w.selection.on_timeout(a, now, now); break;
          case 2:
            if (w.selection.choose(candidates, now, 8, w.selection.is_dead(a, now))) ++chosen;
            (void)w.selection.rto(a);
            break;
          // Each stands for a query sent after every timeout counted so far.
          case 3: w.selection.on_timeout(counted, now, TimePoint::max()); break;
        }
      }
      choices += chosen;
    });
  }
  for (auto& th : threads) th.join();

  auto state = table->get(counted);
  REQUIRE(state);
  CHECK(state->consecutive_timeouts == uint32_t{kThreads} * (kOpsPerThread / 4));
  CHECK(state->dead);
  CHECK(table->size() == hot.size() + 1);
  for (const auto& a : hot) {
    auto s = table->get(a);
    REQUIRE(s);
    CHECK(s->rtt_known);
    CHECK(s->srtt >= microseconds(1000));
    CHECK(s->srtt < microseconds(6000));
  }
  CHECK(choices > 0);
}

// The claim is taken under the shard's lock: however the threads race, one
// of them gets the probe.
TEST_CASE("server state table: one probe when threads race for it", "[server-table][threads]") {
  auto table = std::make_shared<ServerStateTable>();
  constexpr int kThreads = 4;
  constexpr int kRounds = 200;
  const WalkerTimeouts timeouts;
  const auto server = v4(192, 0, 2, 9);
  const std::vector<ServerCandidate> only{{server, 0}};
  Worker setup(table, 99);
  std::array<std::atomic<int>, kRounds> winners{};
  int round = -1;
  TimePoint due{};
  // Runs once per round, while every thread waits: a fresh hold-down whose
  // end is the round's "now".
  auto next_round = [&]() noexcept {
    ++round;
    const TimePoint marked = kT0 + std::chrono::seconds(10) * (round + 1);
    setup.selection.on_network_error(server, marked);
    due = marked + timeouts.dead_hold_down;
  };
  std::barrier sync(kThreads, next_round);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Worker w(table, static_cast<uint8_t>(t + 1));
      for (int r = 0; r < kRounds; ++r) {
        sync.arrive_and_wait();
        if (w.selection.choose(only, due, 0)) ++winners[static_cast<size_t>(round)];
      }
    });
  }
  for (auto& th : threads) th.join();
  int rounds_with_one_probe = 0;
  for (const auto& n : winners) rounds_with_one_probe += n.load() == 1 ? 1 : 0;
  CHECK(rounds_with_one_probe == kRounds);
}

// Why TimePoints written by different workers can be compared: every
// LoopTimerService maps its loop's uv_now() onto one monotonic clock. A loop
// created later (or idle for a while) agrees with an older one.
TEST_CASE("server state table: every worker's loop clock has the same base", "[server-table]") {
  uv_loop_t first_loop;
  uv_loop_t second_loop;
  REQUIRE(uv_loop_init(&first_loop) == 0);
  {
    transports::LoopClock first_clock(&first_loop);
    LoopTimerService first(&first_loop, first_clock);
    std::this_thread::sleep_for(milliseconds(40));
    REQUIRE(uv_loop_init(&second_loop) == 0);
    {
      transports::LoopClock second_clock(&second_loop);
      LoopTimerService second(&second_loop, second_clock);
      std::this_thread::sleep_for(milliseconds(20));
      uv_update_time(&first_loop);
      uv_update_time(&second_loop);
      const TimePoint steady = TimerService::Clock::now();
      auto apart = [](TimePoint x, TimePoint y) {
        return std::chrono::abs(std::chrono::duration_cast<microseconds>(x - y));
      };
      // uv_now() has 1 ms steps and each base is rounded down to them.
      CHECK(apart(first.now(), second.now()) <= milliseconds(5));
      CHECK(apart(first.now(), steady) <= milliseconds(5));
      CHECK(apart(second.now(), steady) <= milliseconds(5));
    }
    uv_run(&second_loop, UV_RUN_NOWAIT);  // the clock's handles finish closing
    CHECK(uv_loop_close(&second_loop) == 0);
  }
  uv_run(&first_loop, UV_RUN_NOWAIT);
  CHECK(uv_loop_close(&first_loop) == 0);
}

TEST_CASE("server state table: the bound comes from the configuration", "[server-table]") {
  ServerStateTable table(160);  // cache.server-state-entries: 160 -> 10 per shard
  const auto lifetime = std::chrono::duration_cast<TimerService::Clock::duration>(
      WalkerTimeouts{}.server_state_lifetime);
  for (uint32_t i = 0; i < 5000; ++i) {
    table.update(v4(10, 1, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)), kT0, lifetime,
                 [](ServerState& s) { ++s.consecutive_timeouts; });
  }
  CHECK(table.size() == 160);
  ServerStateTable tiny(3);  // below one per shard: still one per shard
  tiny.update(v4(10, 0, 0, 1), kT0, lifetime, [](ServerState&) {});
  CHECK(tiny.size() == 1);
}

TEST_CASE("server selection: timeouts of queries sent together count once", "[server-table]") {
  // A burst of queries to a busy server all time out together: one piece of
  // evidence, not a run of failures (with one table for every worker, such
  // a burst held the server down for everyone and failed 513 of 1,000
  // queries in a CI load test).
  auto table = std::make_shared<ServerStateTable>();
  Worker a(table, 1);
  Worker b(table, 2);
  const auto server = v4(192, 0, 2, 77);
  const TimePoint sent = kT0;
  const TimePoint timed_out = kT0 + milliseconds(400);
  for (int i = 0; i < 20; ++i) (i % 2 ? a : b).selection.on_timeout(server, timed_out, sent);
  CHECK(table->get(server)->consecutive_timeouts == 1);
  CHECK_FALSE(a.selection.is_dead(server, timed_out));
  // A query sent after that timeout was counted is new evidence.
  const TimePoint resent = timed_out + milliseconds(1);
  b.selection.on_timeout(server, resent + milliseconds(800), resent);
  CHECK(table->get(server)->consecutive_timeouts == 2);
  CHECK(a.selection.is_dead(server, resent + milliseconds(800)));
  // A reply resets the run.
  a.selection.on_reply(server, milliseconds(5), resent + milliseconds(900));
  CHECK(table->get(server)->consecutive_timeouts == 0);
  // An old query timing out late: sent before that reply, so it was lost,
  // not evidence that the server stopped answering.
  a.selection.on_timeout(server, resent + milliseconds(1500), resent);
  CHECK(table->get(server)->consecutive_timeouts == 0);
  // One sent after the reply is: the first of a new run.
  a.selection.on_timeout(server, resent + milliseconds(1600), resent + milliseconds(950));
  CHECK(table->get(server)->consecutive_timeouts == 1);
}
