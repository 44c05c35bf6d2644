// The walker under a random-subdomain ("water torture") flood and the
// NXNSAttack: zones whose servers are all held down fail at once without a
// packet and come back with the first answered probe; queries in flight per
// zone and per server are capped; glueless NS look-ups per referral and per
// question are bounded. Walker::quick_failure answers all this before any
// walker state is built.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>

#include "cache/cache.h"
#include "resolver/walk/server_selection.h"
#include "resolver/walk/server_state_table.h"
#include "resolver/walk/walker.h"
#include "scripted_network.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::EdeCode;
using wire::Rcode;
using wire::RRType;

namespace {

ScriptedReply silent() {
  ScriptedReply r;
  r.behaviour = Behaviour::silent;
  return r;
}

struct Fixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  cache::Cache cache;
  WalkerOptions options;
  std::unique_ptr<Walker> walker;
  milliseconds last_duration{0};

  std::shared_ptr<ServerStateTable> table = std::make_shared<ServerStateTable>();

  Fixture() {
    build_small_internet(network);
    options.explore_one_in = 0;
    options.servers = table;
  }
  // What the walker knows of a server: it answered, `rtt` late.
  void answered_in(std::string_view server, milliseconds rtt) {
    std::array<uint8_t, 32> key{};
    QueryRandomness random(key);
    ServerSelection selection(options.timeouts, random, table);
    selection.on_reply(address(server), rtt, loop.now());
  }
  // The server stopped answering (an ICMP error) `ago`: held down since.
  void failed_at(std::string_view server, milliseconds ago) {
    std::array<uint8_t, 32> key{};
    QueryRandomness random(key);
    ServerSelection selection(options.timeouts, random, table);
    selection.on_network_error(address(server), loop.now() - ago);
  }
  // example.com's delegation cached; then both its servers answer a flood
  // of random names with NXDOMAIN, slowly (a struggling zone, so the
  // per-zone cap applies), and stop answering.
  void slow_example_com() {
    REQUIRE(resolve("www.example.com.").rcode == Rcode::NOERROR);
    ScriptedReply nxdomain = slow_nxdomain("example.com.", milliseconds{400});
    network.on_subtree(net::example_com_1, "example.com.", nxdomain);
    network.on_subtree(net::example_com_2, "example.com.", nxdomain);
    std::vector<ResultCapture> flood(32);
    for (size_t i = 0; i < flood.size(); ++i) start("flood" + std::to_string(i) + ".example.com.", flood[i]);
    loop.run_for(milliseconds{1000});
    for (const auto& c : flood) REQUIRE(c.results.size() == 1);
    for (int i = 0; i < 30; ++i) {
      answered_in(net::example_com_1, milliseconds{400});
      answered_in(net::example_com_2, milliseconds{400});
    }
    REQUIRE(w().zone_outcomes().mostly_fruitless(wire::Name::from_text("example.com."), loop.now()));
    network.forget_rules(net::example_com_1, "example.com.");
    network.forget_rules(net::example_com_2, "example.com.");
    network.on_subtree(net::example_com_1, "example.com.", silent());
    network.on_subtree(net::example_com_2, "example.com.", silent());
  }
  static ScriptedReply slow_nxdomain(std::string_view zone, milliseconds delay) {
    ScriptedReply r;
    r.rcode = Rcode::NXDOMAIN;
    r.authority.push_back(rr(std::string(zone) + " 600 IN SOA ns1." + std::string(zone) + " hostmaster." +
                             std::string(zone) + " 1 3600 900 604800 600"));
    r.delay = delay;
    return r;
  }
  // Starts resolutions of `names` at once and runs the loop until every
  // one has its result (bounded); returns how many got `rcode`.
  size_t resolve_burst(const std::vector<std::string>& names, std::vector<ResultCapture>& results,
                       Rcode rcode) {
    results.assign(names.size(), ResultCapture{});
    for (size_t i = 0; i < names.size(); ++i) start(names[i], results[i]);
    for (int i = 0; i < 1000; ++i) {
      if (std::all_of(results.begin(), results.end(), [](const ResultCapture& c) { return !c.results.empty(); }))
        break;
      loop.run_for(milliseconds{10});
    }
    size_t matching = 0;
    for (const auto& c : results) {
      REQUIRE(c.results.size() == 1);
      if (c.last().rcode == rcode) ++matching;
    }
    return matching;
  }
  Walker& w() {
    if (!walker) {
      std::array<uint8_t, 32> key{};
      key.fill(7);
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key), &cache);
    }
    return *walker;
  }
  static wire::Question question(std::string_view name, RRType type = RRType::A) {
    return wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN};
  }
  // Starts a resolution; its result lands in `into`.
  void start(std::string_view name, ResultCapture& into, RRType type = RRType::A) {
    w().resolve(question(name, type), {}, [&into, this](const ResolutionResult& r) {
      into.results.push_back(r);
      into.at.push_back(loop.elapsed());
    });
  }
  ResolutionResult resolve(std::string_view name, RRType type = RRType::A) {
    ResultCapture capture;
    milliseconds begun = loop.elapsed();
    start(name, capture, type);
    for (int i = 0; i < 2000 && capture.results.empty(); ++i) loop.run_for(milliseconds{5});
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    last_duration = capture.at[0] - begun;
    return capture.last();
  }
  size_t sent_to_example_com() const {
    return network.sent_to(net::example_com_1) + network.sent_to(net::example_com_2);
  }
  // example.com's delegation cached, then both its servers stop answering
  // and the first question finds them dead.
  void kill_example_com() {
    REQUIRE(resolve("www.example.com.").rcode == Rcode::NOERROR);
    network.on_subtree(net::example_com_1, "example.com.", silent());
    network.on_subtree(net::example_com_2, "example.com.", silent());
    auto r = resolve("first.example.com.");
    REQUIRE(r.rcode == Rcode::SERVFAIL);
    REQUIRE(w().servers().is_dead(address(net::example_com_1), loop.now()));
    REQUIRE(w().servers().is_dead(address(net::example_com_2), loop.now()));
  }
};

}  // namespace

TEST_CASE("flood: a zone with every server held down fails at once, without a packet",
          "[walker][flood]") {
  Fixture f;
  f.kill_example_com();
  CHECK(f.w().stats().held_down_failures == 1);
  size_t sent = f.network.sent().size();

  for (int i = 0; i < 50; ++i) {
    auto r = f.resolve("random" + std::to_string(i) + ".example.com.");
    CHECK(r.rcode == Rcode::SERVFAIL);
    REQUIRE(r.ede.has_value());
    CHECK(r.ede->code() == EdeCode::NoReachableAuthority);
    CHECK_THAT(r.ede->extra_text, Catch::Contains("example.com.") && Catch::Contains("held down"));
    CHECK(f.last_duration < milliseconds{10});
  }
  CHECK(f.network.sent().size() == sent);
  CHECK(f.w().stats().held_down_failures == 51);
  // Other zones are untouched.
  CHECK(f.resolve("www.example.net.").rcode == Rcode::NOERROR);
}

TEST_CASE("flood: quick_failure finds the held-down zone before any walker state",
          "[walker][flood]") {
  Fixture f;
  // A child zone below example.com, delegated to a server of its own and
  // cached before example.com dies.
  f.network.delegate(net::example_com_1, "child.example.com.", {{"ns.child.example.com.", "203.0.113.5"}});
  f.network.delegate(net::example_com_2, "child.example.com.", {{"ns.child.example.com.", "203.0.113.5"}});
  f.network.serve_zone("203.0.113.5", "child.example.com.", R"(
@ 3600 SOA ns hostmaster 1 3600 900 604800 300
@ NS ns
ns A 203.0.113.5
www A 203.0.113.80
)");
  REQUIRE(f.resolve("www.child.example.com.").rcode == Rcode::NOERROR);
  f.kill_example_com();

  uint64_t before = f.w().stats().held_down_failures;
  auto quick = f.w().quick_failure(Fixture::question("x7f3a.example.com."));
  CHECK(quick.kind == Walker::QuickFailure::Kind::held_down);
  CHECK(quick.zone == wire::Name::from_text("example.com."));
  CHECK(f.w().stats().held_down_failures == before + 1);
  // Deeper names, other types: the same zone.
  CHECK(bool(f.w().quick_failure(Fixture::question("a.b.c.example.com.", RRType::TXT))));
  // A live child cut below the dead zone has servers of its own.
  CHECK_FALSE(bool(f.w().quick_failure(Fixture::question("x.child.example.com."))));
  CHECK(f.resolve("www.child.example.com.", RRType::AAAA).rcode == Rcode::NOERROR);
  // DS for example.com. is asked of com.: alive.
  CHECK_FALSE(bool(f.w().quick_failure(Fixture::question("example.com.", RRType::DS))));
  CHECK_FALSE(bool(f.w().quick_failure(Fixture::question("www.example.net."))));
  CHECK_FALSE(bool(f.w().quick_failure(Fixture::question("com."))));
  CHECK(f.w().in_flight() == 0);
}

TEST_CASE("flood: after the hold-down one query per server probes; an answer revives the zone",
          "[walker][flood]") {
  Fixture f;
  REQUIRE(f.resolve("www.example.com.").rcode == Rcode::NOERROR);
  // Dead for a while: each server swallows its next two queries only.
  f.network.on_subtree(net::example_com_1, "example.com.", silent(), 2);
  f.network.on_subtree(net::example_com_2, "example.com.", silent(), 2);
  REQUIRE(f.resolve("first.example.com.").rcode == Rcode::SERVFAIL);
  REQUIRE(bool(f.w().quick_failure(Fixture::question("x.example.com."))));

  f.loop.run_for(f.options.timeouts.dead_hold_down + milliseconds{1});
  // The hold-downs are over: the check lets the walker probe.
  CHECK_FALSE(bool(f.w().quick_failure(Fixture::question("x.example.com."))));
  size_t sent = f.sent_to_example_com();
  ResultCapture a, b, c;
  f.start("www.example.com.", a, RRType::TXT);   // probes one server
  f.start("www.example.com.", b, RRType::AAAA);  // probes the other
  f.start("nx1.example.com.", c);                // both probes claimed: fails at once
  CHECK(f.sent_to_example_com() == sent + 2);
  f.loop.run_for(milliseconds{1});
  REQUIRE(c.results.size() == 1);
  CHECK(c.last().rcode == Rcode::SERVFAIL);
  REQUIRE(c.last().ede.has_value());
  CHECK(c.last().ede->code() == EdeCode::NoReachableAuthority);
  // Both probes are answered: the zone is live again at once.
  f.loop.run_for(milliseconds{50});
  REQUIRE(a.results.size() == 1);
  REQUIRE(b.results.size() == 1);
  CHECK(a.last().rcode == Rcode::NOERROR);
  CHECK(b.last().rcode == Rcode::NOERROR);
  CHECK_FALSE(bool(f.w().quick_failure(Fixture::question("x.example.com."))));
  auto live = f.resolve("chain2.example.com.");
  CHECK(live.rcode == Rcode::NOERROR);
  CHECK(f.last_duration < milliseconds{50});
}

TEST_CASE("flood: a probe that times out holds the server down again", "[walker][flood]") {
  Fixture f;
  f.kill_example_com();
  f.loop.run_for(f.options.timeouts.dead_hold_down + milliseconds{1});
  size_t sent = f.sent_to_example_com();
  auto probe = f.resolve("probe.example.com.");
  CHECK(probe.rcode == Rcode::SERVFAIL);
  // One probe per server, not a retry storm.
  CHECK(f.sent_to_example_com() == sent + 2);
  CHECK(f.w().servers().is_dead(address(net::example_com_1), f.loop.now()));
  CHECK(f.w().servers().is_dead(address(net::example_com_2), f.loop.now()));
  sent = f.sent_to_example_com();
  CHECK(f.resolve("after.example.com.").rcode == Rcode::SERVFAIL);
  CHECK(f.last_duration < milliseconds{10});
  CHECK(f.sent_to_example_com() == sent);
}

TEST_CASE("flood: a timeout of a query sent before the server's last answer is a lost packet",
          "[walker][flood]") {
  WalkerTimeouts timeouts;
  std::array<uint8_t, 32> key{};
  QueryRandomness random(key);
  ServerSelection selection(timeouts, random);
  const auto server = address(net::example_com_1);
  const auto t0 = TimerService::TimePoint{} + std::chrono::hours(1000);
  // Queries sent at t0 and t0+10 ms; the second is answered, then the
  // first's timer fires, twice over (RTO, then the exchange timeout).
  selection.on_reply(server, std::chrono::microseconds(5000), t0 + milliseconds{15});
  selection.on_timeout(server, t0 + milliseconds{300}, t0);
  selection.on_timeout(server, t0 + milliseconds{2000}, t0);
  CHECK_FALSE(selection.is_dead(server, t0 + milliseconds{2001}));
  REQUIRE(selection.find(server).has_value());
  CHECK(selection.find(server)->consecutive_timeouts == 0);
  // Queries sent after that answer count as before.
  selection.on_timeout(server, t0 + milliseconds{400}, t0 + milliseconds{100});
  selection.on_timeout(server, t0 + milliseconds{900}, t0 + milliseconds{500});
  CHECK(selection.is_dead(server, t0 + milliseconds{901}));
}

TEST_CASE("flood: questions over the per-zone cap fail at once instead of queueing",
          "[walker][flood][limits]") {
  Fixture f;
  f.options.limits.max_outstanding_per_zone = 3;
  f.slow_example_com();

  size_t sent = f.sent_to_example_com();
  std::vector<ResultCapture> results(10);
  for (size_t i = 0; i < results.size(); ++i) f.start("n" + std::to_string(i) + ".example.com.", results[i]);
  CHECK(f.sent_to_example_com() == sent + 3);
  CHECK(f.w().outstanding().for_zone(wire::Name::from_text("example.com.")) == 3);
  f.loop.run_for(milliseconds{1});
  for (size_t i = 3; i < results.size(); ++i) {
    REQUIRE(results[i].results.size() == 1);
    const auto& r = results[i].last();
    CHECK(r.rcode == Rcode::SERVFAIL);
    CHECK_FALSE(r.drop);
    REQUIRE(r.ede.has_value());
    CHECK(r.ede->code() == EdeCode::Other);
    CHECK_THAT(r.ede->extra_text, Catch::Contains("per-zone cap"));
  }
  CHECK(f.w().stats().over_limit_zone == 7);
  // When their retransmission timers fire, the three overdue packets keep
  // their sockets (the per-server count) but give the zone's slots to the
  // retries (to the other server: fresh evidence of a dead zone).
  const auto rto = f.w().servers().rto(address(net::example_com_1));
  f.loop.run_for(rto + milliseconds{10});
  const uint32_t zone_now = f.w().outstanding().for_zone(wire::Name::from_text("example.com."));
  CHECK(zone_now >= 1);
  CHECK(zone_now <= 3);
  CHECK(f.w().outstanding().total() > zone_now);  // the overdue ones still hold sockets
  // The quick check sees it too; other zones do not.
  auto quick = f.w().quick_failure(Fixture::question("n99.example.com."));
  CHECK(quick.kind == Walker::QuickFailure::Kind::over_limit);
  CHECK_FALSE(bool(f.w().quick_failure(Fixture::question("www.example.net."))));
  CHECK(f.resolve("www.example.net.").rcode == Rcode::NOERROR);

  // Once the three are over, nothing stays counted.
  f.loop.run_for(milliseconds{5000});
  for (size_t i = 0; i < 3; ++i) CHECK(results[i].results.size() == 1);
  CHECK(f.w().outstanding().empty());
  CHECK(f.w().in_flight() == 0);
}

TEST_CASE("flood: a zone that answers is not capped by zone: a burst of new names goes out",
          "[walker][flood][limits]") {
  Fixture f;
  f.options.limits.max_outstanding_per_zone = 3;
  REQUIRE(f.resolve("www.example.com.").rcode == Rcode::NOERROR);
  size_t sent = f.sent_to_example_com();
  std::vector<ResultCapture> results(10);
  for (size_t i = 0; i < results.size(); ++i) f.start("b" + std::to_string(i) + ".example.com.", results[i]);
  CHECK(f.sent_to_example_com() == sent + 10);
  CHECK_FALSE(bool(f.w().quick_failure(Fixture::question("b99.example.com."))));
  f.loop.run_for(milliseconds{100});
  for (auto& r : results) {
    REQUIRE(r.results.size() == 1);
    CHECK(r.last().rcode == Rcode::NXDOMAIN);
  }
  CHECK(f.w().stats().over_limit_zone == 0);
}

TEST_CASE("flood: a zone at its cap still lets a due probe through", "[walker][flood][limits]") {
  Fixture f;
  f.options.limits.max_outstanding_per_zone = 1;
  f.slow_example_com();
  ResultCapture first, second, third;
  // The second server's hold-down ended a moment ago: its probe is due.
  f.failed_at(net::example_com_2, f.options.timeouts.dead_hold_down_initial + milliseconds{1});
  REQUIRE_FALSE(f.w().servers().is_dead(address(net::example_com_2), f.loop.now()));
  f.start("a.example.com.", first);   // the live server, filling the zone's one slot
  size_t to_second = f.network.sent_to(net::example_com_2);
  f.start("b.example.com.", second);  // over the cap, but the probe goes out
  CHECK(f.network.sent_to(net::example_com_2) == to_second + 1);
  f.start("c.example.com.", third);   // over the cap, probe claimed: fails at once
  f.loop.run_for(milliseconds{1});
  CHECK(second.results.empty());
  REQUIRE(third.results.size() == 1);
  CHECK(third.last().rcode == Rcode::SERVFAIL);
  f.loop.run_for(milliseconds{5000});
  CHECK(f.w().outstanding().empty());
}

TEST_CASE("flood: with over-limit drop, the result asks for no answer", "[walker][flood][limits]") {
  Fixture f;
  f.options.limits.max_outstanding_per_zone = 1;
  f.options.limits.drop_over_limit = true;
  f.slow_example_com();
  ResultCapture first, second;
  f.start("a.example.com.", first);
  f.start("b.example.com.", second);
  f.loop.run_for(milliseconds{1});
  REQUIRE(second.results.size() == 1);
  CHECK(second.last().rcode == Rcode::SERVFAIL);
  CHECK(second.last().drop);
  f.loop.run_for(milliseconds{5000});
  REQUIRE(first.results.size() == 1);
  CHECK_FALSE(first.last().drop);  // a timeout is no reason to drop
}

TEST_CASE("flood: a struggling server at its cap is skipped; with none left the question fails at once",
          "[walker][flood][limits]") {
  Fixture f;
  f.options.limits.max_outstanding_per_server = 1;
  f.options.limits.max_outstanding_per_zone = 0;
  f.slow_example_com();  // servers that struggle (slow) are capped
  ResultCapture a, b, c;
  f.start("a.example.com.", a);
  f.start("b.example.com.", b);
  f.start("c.example.com.", c);
  // One query in flight to each server: the third question has none left.
  CHECK(f.w().outstanding().for_server(address(net::example_com_1)) == 1);
  CHECK(f.w().outstanding().for_server(address(net::example_com_2)) == 1);
  f.loop.run_for(milliseconds{1});
  REQUIRE(c.results.size() == 1);
  CHECK(c.last().rcode == Rcode::SERVFAIL);
  REQUIRE(c.last().ede.has_value());
  CHECK_THAT(c.last().ede->extra_text, Catch::Contains("per-server cap"));
  CHECK(f.w().stats().over_limit_server == 1);
  CHECK(a.results.empty());
  CHECK(b.results.empty());
  f.loop.run_for(milliseconds{5000});
  CHECK(f.w().outstanding().empty());
}

namespace {
// attacker.com.'s servers answer every question with a referral to `count`
// NS names without glue in example.net. (the victim), as in NXNSAttack.
void script_nxns_referral(ScriptedNetwork& network, int count) {
  network.delegate(net::gtld, "attacker.com.", {{"ns.attacker.com.", "203.0.113.66"}});
  std::vector<std::pair<std::string, std::string>> names;
  for (int i = 0; i < count; ++i) names.push_back({"n" + std::to_string(i) + ".victim.example.net.", ""});
  network.delegate("203.0.113.66", "attacker.com.", {{"ns.attacker.com.", "203.0.113.66"}});
  network.delegate("203.0.113.66", "www.attacker.com.", names);
}

// Distinct NS names of the referral that were asked of the victim's server.
size_t victim_names_asked(const ScriptedNetwork& network) {
  std::set<std::string> names;
  for (const auto& q : network.sent()) {
    std::string name = q.qname.lowercased().to_text();
    if (q.server == address(net::example_net) && name.find(".victim.example.net.") != std::string::npos)
      names.insert(name);
  }
  return names.size();
}
}  // namespace

TEST_CASE("flood: NXNSAttack - glueless NS names resolved per referral are capped",
          "[walker][flood][nxns]") {
  Fixture f;
  script_nxns_referral(f.network, 20);
  auto r = f.resolve("www.attacker.com.");
  INFO(f.network.log());
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(victim_names_asked(f.network) <= f.options.limits.max_glueless_per_cut);
  CHECK(victim_names_asked(f.network) >= 1);
  CHECK(f.w().stats().glueless_limited >= 20 - f.options.limits.max_glueless_per_cut);
  CHECK(r.upstream_queries <= f.options.limits.max_upstream_queries);
}

TEST_CASE("flood: NXNSAttack - glueless NS names per client question are capped too",
          "[walker][flood][nxns]") {
  Fixture f;
  f.options.limits.max_glueless_per_cut = 16;
  f.options.limits.max_glueless_per_question = 3;
  script_nxns_referral(f.network, 20);
  auto r = f.resolve("www.attacker.com.");
  INFO(f.network.log());
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(victim_names_asked(f.network) <= 3);
  CHECK(f.w().stats().glueless_limited >= 17);
}

TEST_CASE("flood: a packet whose retransmission timer was cut to the deadline counts as timed out",
          "[walker][flood]") {
  Fixture f;
  f.options.limits.resolution_deadline = milliseconds{500};
  f.network.on_subtree(net::example_com_1, "example.com.", silent());
  f.network.on_subtree(net::example_com_2, "example.com.", silent());
  // Root, com., then one server of example.com. (RTO 300 ms), then the
  // other with what is left of the 500 ms: its timer and the deadline
  // fall together, and the deadline runs first.
  auto r = f.resolve("www.example.com.");
  INFO(f.network.log());
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(f.sent_to_example_com() == 2);
  for (auto server : {net::example_com_1, net::example_com_2}) {
    auto state = f.w().servers().find(address(server));
    REQUIRE(state.has_value());
    CHECK(state->consecutive_timeouts == 1);
  }
}

// A slow server is not a dead one: a burst of a thousand questions to the
// only server of a zone, which answers every query 2.5 retransmission
// timeouts late (a CPU-starved authority). The burst's timers fire
// together (one timeout), the retries time out after answers came back
// (lost packets, not evidence), and the zone is never held down.
TEST_CASE("flood: a burst to one slow server that answers everything is all answered",
          "[walker][flood][slow]") {
  Fixture f;
  ScriptedReply slow;
  slow.rcode = Rcode::NXDOMAIN;
  slow.authority.push_back(rr("example.net. 600 IN SOA ns1.example.net. hostmaster.example.net. 1 3600 900 604800 600"));
  slow.delay = f.options.timeouts.initial_rto * 5 / 2;
  f.network.on_subtree(net::example_net, "burst.example.net.", slow);
  std::vector<ResultCapture> results(1000);
  for (size_t i = 0; i < results.size(); ++i) {
    f.start("n" + std::to_string(i) + ".burst.example.net.", results[i]);
  }
  for (int i = 0; i < 1000; ++i) {
    f.loop.run_for(milliseconds{10});
    if (std::all_of(results.begin(), results.end(), [](const ResultCapture& c) { return !c.results.empty(); }))
      break;
  }
  size_t answered = 0;
  std::string first_failure;
  for (const auto& c : results) {
    REQUIRE(c.results.size() == 1);
    if (c.last().rcode == Rcode::NXDOMAIN) {
      ++answered;
    } else if (first_failure.empty() && c.last().ede) {
      first_failure = c.last().ede->extra_text;
    }
  }
  INFO(first_failure);
  CHECK(answered == results.size());
  CHECK_FALSE(f.w().servers().is_dead(address(net::example_net), f.loop.now()));
  CHECK(f.w().stats().held_down_failures == 0);
  CHECK(f.w().stats().over_limit_zone == 0);
}

// A legitimate busy zone: a fill of hundreds of real names at once, which
// its server answers with data but slower than struggling_rtt. Slow is not
// abuse: none of them is turned away by the per-zone cap (issue 16: a cold
// fill of a signed zone got 5-33 % SERVFAIL over the cap).
TEST_CASE("flood: a busy zone answering real names slowly is not capped",
          "[walker][flood][limits]") {
  Fixture f;
  f.options.limits.max_outstanding_per_zone = 100;
  f.options.limits.max_outstanding_per_server = 150;  // its one server: neither cap applies
  auto names = [&](std::string_view prefix, int count) {
    std::vector<std::string> out;
    for (int i = 0; i < count; ++i) {
      std::string name = std::string(prefix) + std::to_string(i) + ".example.net.";
      ScriptedReply data;
      data.answer.push_back(rr(name + " 300 IN A 198.51.100." + std::to_string(i % 250 + 1)));
      data.delay = milliseconds{250};
      f.network.on(net::example_net, name, RRType::A, data);
      out.push_back(name);
    }
    return out;
  };
  std::vector<ResultCapture> results;
  // The first wave finds the server slow (its RTT was unknown, so nothing
  // was capped yet); the second is asked of a zone known to be slow.
  CHECK(f.resolve_burst(names("first", 300), results, Rcode::NOERROR) == 300);
  REQUIRE(f.w().servers().find(address(net::example_net))->srtt >= f.options.limits.struggling_rtt);
  CHECK(f.resolve_burst(names("second", 300), results, Rcode::NOERROR) == 300);
  CHECK(f.w().stats().over_limit_zone == 0);
  CHECK(f.w().stats().over_limit_server == 0);
  CHECK_FALSE(f.w().zone_outcomes().mostly_fruitless(wire::Name::from_text("example.net."), f.loop.now()));
}

// The flood the cap is for: random names under a zone that answers each
// one, slowly, with NXDOMAIN. Once the zone is known slow and fruitless,
// only the cap's worth of queries is in flight and the rest fail at once.
TEST_CASE("flood: a slow zone answering random names with NXDOMAIN is capped",
          "[walker][flood][limits]") {
  Fixture f;
  f.options.limits.max_outstanding_per_zone = 100;
  auto random_names = [](std::string_view prefix) {
    std::vector<std::string> out;
    for (int i = 0; i < 300; ++i) out.push_back(std::string(prefix) + std::to_string(i) + ".example.net.");
    return out;
  };
  for (int i = 0; i < 300; ++i) {
    f.network.on_subtree(net::example_net, "r" + std::to_string(i) + ".example.net.",
                         Fixture::slow_nxdomain("example.net.", milliseconds{250}));
    f.network.on_subtree(net::example_net, "s" + std::to_string(i) + ".example.net.",
                         Fixture::slow_nxdomain("example.net.", milliseconds{250}));
  }
  std::vector<ResultCapture> results;
  CHECK(f.resolve_burst(random_names("r"), results, Rcode::NXDOMAIN) == 300);
  CHECK(f.w().stats().over_limit_zone == 0);  // the zone's RTT was unknown
  const auto zone = wire::Name::from_text("example.net.");
  CHECK(f.w().zone_outcomes().mostly_fruitless(zone, f.loop.now()));
  const size_t sent = f.network.sent_to(net::example_net);
  const size_t answered = f.resolve_burst(random_names("s"), results, Rcode::NXDOMAIN);
  CHECK(answered == 100);
  CHECK(f.w().stats().over_limit_zone == 200);
  CHECK(f.network.sent_to(net::example_net) - sent <= 110);  // the cap, and a few retries
  CHECK(f.w().outstanding().empty());
}

// On a starved loop the retransmission timers of a turn run before the
// answers already in the sockets are read, so a slow but live server can be
// held down while our packets to it are answered. A question whose server
// answered anything after its packet went out waits for that packet.
TEST_CASE("flood: a question waits for its packet when the held-down server answered since",
          "[walker][flood][slow]") {
  Fixture f;
  ScriptedReply late;  // "a": answered, but very late
  late.delay = milliseconds{1500};
  late.answer.push_back(rr("a.example.net. 300 IN A 198.51.100.7"));
  f.network.on(net::example_net, "a.example.net.", RRType::A, late);
  ScriptedReply quick;  // "b": answered at once
  quick.delay = milliseconds{50};
  quick.answer.push_back(rr("b.example.net. 300 IN A 198.51.100.8"));
  f.network.on(net::example_net, "b.example.net.", RRType::A, quick);
  f.network.on(net::example_net, "c.example.net.", RRType::A, silent());  // "c": never
  ResultCapture a, b, c;
  f.start("a.example.net.", a);  // its first packet at ~30 ms
  f.loop.run_for(milliseconds{100});
  f.start("b.example.net.", b);  // answered at ~150 ms: after a's packet went out
  f.loop.run_for(milliseconds{60});
  f.start("c.example.net.", c);  // its two timeouts hold the server down at ~610 ms
  for (int i = 0; i < 600 && a.results.empty(); ++i) f.loop.run_for(milliseconds{5});
  INFO(f.network.log());
  REQUIRE(b.results.size() == 1);
  CHECK(b.last().rcode == Rcode::NOERROR);
  REQUIRE(a.results.size() == 1);
  CHECK(f.w().stats().held_down_failures >= 1);  // c
  // a's retransmission timed out after the hold-down began, but the late
  // answer to its first packet was still waited for, and taken.
  CHECK(a.last().rcode == Rcode::NOERROR);
  CHECK(section_text(a.last().answer) == std::vector<std::string>{"a.example.net. A 198.51.100.7"});
}

TEST_CASE("flood: timeouts of queries sent min_rto apart are separate evidence",
          "[walker][flood]") {
  WalkerTimeouts timeouts;
  std::array<uint8_t, 32> key{};
  QueryRandomness random(key);
  ServerSelection selection(timeouts, random);
  const auto server = address(net::example_com_1);
  const auto t0 = TimerService::TimePoint{} + std::chrono::hours(1000);
  // A flood's first wave at a black hole: queries sent every few ms, their
  // timers firing one RTO later, before any retry could go out.
  selection.on_timeout(server, t0 + milliseconds{300}, t0);
  selection.on_timeout(server, t0 + milliseconds{310}, t0 + milliseconds{10});  // same burst
  CHECK_FALSE(selection.is_dead(server, t0 + milliseconds{310}));
  selection.on_timeout(server, t0 + milliseconds{360}, t0 + timeouts.min_rto);  // min_rto later
  CHECK(selection.is_dead(server, t0 + milliseconds{360}));
}
