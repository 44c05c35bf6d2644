// Two walkers (two workers of one daemon) sharing one server-state table
// through WalkerOptions::servers: a server one of them found dead is not
// asked by the other, and after the hold-down only one of them probes it.
//
// Each walker has its own fake loop and scripted network (like each worker
// has its own libuv loop and sockets); the loops are kept at the same time,
// as every worker's loop clock reads the same monotonic clock.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "resolver/walk/server_state_table.h"
#include "resolver/walk/walker.h"
#include "scripted_network.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::Rcode;
using wire::RRType;

namespace {

// One worker: its loop, its network (where example.com's first server never
// answers) and its walker.
struct WorkerSide {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  std::unique_ptr<Walker> walker;

  WorkerSide(std::shared_ptr<ServerStateTable> table, uint8_t seed) {
    build_small_internet(network);
    ScriptedReply silent;
    silent.behaviour = Behaviour::silent;
    network.on_subtree(net::example_com_1, "example.com.", silent);
    WalkerOptions options;
    // Every choice at random among the usable servers: a walker that does
    // not know example_com_1 is dead asks it about every other time.
    options.explore_one_in = 1;
    options.servers = std::move(table);
    // One hold-down length throughout (no doubling from a short first one):
    // these tests are about who sees a hold-down, not how long it lasts.
    options.timeouts.dead_hold_down_initial = options.timeouts.dead_hold_down;
    std::array<uint8_t, 32> key{};
    key.fill(seed);
    walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                      std::make_unique<QueryRandomness>(key));
  }

  void start(std::string_view name, RRType type, ResultCapture& capture) {
    walker->resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, {},
                    [&capture](const ResolutionResult& r) { capture.results.push_back(r); });
  }
  ResolutionResult resolve(std::string_view name, RRType type) {
    ResultCapture capture;
    start(name, type, capture);
    for (int i = 0; i < 2000 && capture.results.empty(); ++i) loop.run_for(milliseconds{5});
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    return capture.last();
  }
  // Lets this worker's clock catch up with `now` (no event runs early).
  void advance_to(TimerService::TimePoint now) {
    if (now > loop.now()) {
      loop.run_for(std::chrono::duration_cast<milliseconds>(now - loop.now()));
    }
  }
  size_t sent_to_since(std::string_view server, milliseconds since) const {
    size_t n = 0;
    for (const auto& q : network.sent()) {
      if (q.server == address(server) && q.at >= since) ++n;
    }
    return n;
  }
};

const RRType kTypes[] = {RRType::A, RRType::AAAA, RRType::TXT, RRType::MX, RRType::NS,
                         RRType::SOA};

// Walker A asks example.com until it holds example_com_1 down (its two
// timeouts), within a bounded number of questions.
void kill_first_server(WorkerSide& a) {
  a.resolve("www.example.net.", RRType::A);  // primes the root
  for (int i = 0; i < 20 && !a.walker->servers().is_dead(address(net::example_com_1), a.loop.now());
       ++i) {
    a.resolve(i % 2 ? "www.example.com." : "a.b.c.d.e.f.g.example.com.", kTypes[i % 6]);
  }
  INFO(a.network.log());
  REQUIRE(a.walker->servers().is_dead(address(net::example_com_1), a.loop.now()));
  REQUIRE(a.network.sent_to(net::example_com_1) >= 2);
}

// B, after A found example_com_1 dead: six questions in example.com. Returns
// how many packets B sent to the dead server.
size_t questions_after_a_found_it_dead(std::shared_ptr<ServerStateTable> table_a,
                                       std::shared_ptr<ServerStateTable> table_b) {
  WorkerSide a(std::move(table_a), 21);
  WorkerSide b(std::move(table_b), 22);
  kill_first_server(a);
  b.advance_to(a.loop.now());
  b.resolve("www.example.net.", RRType::A);  // primes B's root: nothing in example.com
  for (int i = 0; i < 6; ++i) {
    auto r = b.resolve("www.example.com.", kTypes[i]);
    INFO(b.network.log());
    CHECK((r.rcode == Rcode::NOERROR));
  }
  // Still inside A's hold-down: the question is what B knew, not a probe.
  const auto dead_until = a.walker->servers().find(address(net::example_com_1))->dead_until;
  CHECK(b.loop.now() < dead_until);
  CHECK(b.network.sent_to(net::example_com_2) >= 6);  // the live one answered
  return b.network.sent_to(net::example_com_1);
}

}  // namespace

TEST_CASE("shared servers: a server one walker found dead is not asked by the other",
          "[walker][shared-servers]") {
  auto table = std::make_shared<ServerStateTable>();
  CHECK(questions_after_a_found_it_dead(table, table) == 0);
}

// The problem the shared table solves, shown with the same script: with a
// table each, B has to find out on its own (and pays the timeouts).
TEST_CASE("shared servers: with a table each, the other walker asks the dead server again",
          "[walker][shared-servers]") {
  CHECK(questions_after_a_found_it_dead(nullptr, nullptr) > 0);
}

TEST_CASE("shared servers: a walker without a shared table uses one of its own",
          "[walker][shared-servers]") {
  WorkerSide alone(nullptr, 5);
  REQUIRE(alone.walker->options().servers);
  CHECK(alone.walker->options().servers == alone.walker->servers().table());
  auto table = std::make_shared<ServerStateTable>();
  WorkerSide shared(table, 6);
  CHECK(shared.walker->options().servers == table);
  CHECK(shared.walker->servers().table() == table);
}

// After the hold-down both walkers get questions for the zone at the same
// moment; between them they send one probe to the dead server (it times out
// again, so it is held down for another hold-down; nothing else asks it).
TEST_CASE("shared servers: one probe after the hold-down across two walkers",
          "[walker][shared-servers]") {
  auto table = std::make_shared<ServerStateTable>();
  WorkerSide a(table, 31);
  WorkerSide b(table, 32);
  kill_first_server(a);
  b.advance_to(a.loop.now());
  b.resolve("www.example.net.", RRType::A);
  a.advance_to(b.loop.now());

  auto state = table->get(address(net::example_com_1));
  REQUIRE(state);
  REQUIRE(state->dead);
  const auto due = state->dead_until;
  a.advance_to(due);
  b.advance_to(due);
  REQUIRE_FALSE(a.walker->servers().is_dead(address(net::example_com_1), a.loop.now()));
  const milliseconds since = a.loop.elapsed();
  REQUIRE(b.loop.elapsed() == since);

  // Four questions in each walker at once, every choice at random.
  std::vector<ResultCapture> captures(8);
  for (size_t i = 0; i < 4; ++i) {
    a.start("www.example.com.", kTypes[i], captures[i]);
    b.start("www.example.com.", kTypes[i + 1], captures[4 + i]);
  }
  // Both loops in step, for less than one hold-down.
  for (milliseconds t{0}; t < milliseconds{3000}; t += milliseconds{5}) {
    a.loop.run_for(milliseconds{5});
    b.loop.run_for(milliseconds{5});
  }
  for (auto& c : captures) {
    REQUIRE(c.results.size() == 1);
    CHECK((c.last().rcode == Rcode::NOERROR));
  }
  INFO(a.network.log());
  INFO(b.network.log());
  const size_t probes = a.sent_to_since(net::example_com_1, since) +
                        b.sent_to_since(net::example_com_1, since);
  CHECK(probes == 1);
  // The probe timed out: held down again, for everyone.
  CHECK(a.walker->servers().is_dead(address(net::example_com_1), a.loop.now()));
  CHECK(b.walker->servers().is_dead(address(net::example_com_1), b.loop.now()));
}
