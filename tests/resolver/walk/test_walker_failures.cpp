// The walker under failure and attack: lame and dead servers, loops,
// exhausted budgets, spoofed and out-of-bailiwick data, 0x20 mangling,
// truncation, servers without EDNS, private addresses.
#include <catch2/catch.hpp>

#include <algorithm>

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

struct Fixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  WalkerOptions options;
  std::unique_ptr<Walker> walker;
  milliseconds last_duration{0};

  Fixture() {
    build_small_internet(network);
    options.explore_one_in = 0;
  }
  Walker& w() {
    if (!walker) {
      std::array<uint8_t, 32> key{};
      key.fill(11);
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key));
    }
    return *walker;
  }
  ResolutionResult resolve(std::string_view name, RRType type,
                           milliseconds run = milliseconds{10000}) {
    ResultCapture capture;
    milliseconds start = loop.elapsed();
    w().resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, {},
                [&](const ResolutionResult& r) {
                  capture.results.push_back(r);
                  capture.at.push_back(loop.elapsed());
                });
    // Stop soon after the answer, so later questions find the state fresh.
    for (milliseconds waited{0}; capture.results.empty() && waited < run; waited += milliseconds{5}) {
      loop.run_for(milliseconds{5});
    }
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    last_duration = capture.at[0] - start;
    return capture.last();
  }
  // Primes the root and warms up the path to example.com's parent, so a
  // test measures only what it is about.
  void warm_up() { resolve("www.example.net.", RRType::A); }
};

ScriptedReply behaving(Behaviour b, uint32_t /*unused*/ = 0) {
  ScriptedReply r;
  r.behaviour = b;
  return r;
}

bool sent_anything_to(const ScriptedNetwork& network, std::string_view server) {
  return network.sent_to(server) > 0;
}

}  // namespace

TEST_CASE("walker: a lame server (REFUSED) is skipped for the next one", "[walker][lame]") {
  Fixture f;
  ScriptedReply refused;
  refused.rcode = Rcode::REFUSED;
  refused.aa = false;
  f.network.on_subtree(net::example_com_1, "example.com.", refused);
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
  CHECK(f.network.sent_to(net::example_com_2) >= 1);
}

TEST_CASE("walker: an upward referral is lame", "[walker][lame]") {
  Fixture f;
  ScriptedReply upward;
  upward.aa = false;
  upward.authority.push_back(rr("com. 172800 IN NS a.gtld-servers.net."));
  upward.additional.push_back(rr("a.gtld-servers.net. 172800 IN A 192.5.6.30"));
  f.network.on_subtree(net::example_com_1, "example.com.", upward);
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
}

TEST_CASE("walker: a dead server costs one short timeout, not a resolution", "[walker][dead]") {
  Fixture f;
  f.warm_up();
  f.network.on_subtree(net::example_com_1, "example.com.", behaving(Behaviour::silent));
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  // com referral (10 ms) + at most one initial RTO (300 ms) + the answer.
  CHECK(f.last_duration < milliseconds{500});
  // Whichever server came first, the live one answered.
  CHECK(f.network.sent_to(net::example_com_2) >= 1);
}

TEST_CASE("walker: a dead server is held down and skipped by later queries", "[walker][dead]") {
  Fixture f;
  f.options.explore_one_in = 1;  // pick at random, so the dead server gets picked
  f.warm_up();
  f.network.on_subtree(net::example_com_1, "example.com.", behaving(Behaviour::silent));
  // Enough resolutions that the dead server was picked at least twice.
  for (int i = 0; i < 6; ++i) f.resolve("www.example.com.", i % 2 ? RRType::A : RRType::AAAA);
  size_t to_dead = f.network.sent_to(net::example_com_1);
  CHECK(to_dead >= 1);
  CHECK(to_dead <= 2);  // dead after two timeouts
  CHECK(f.w().servers().is_dead(address(net::example_com_1), f.loop.now()));
  auto r = f.resolve("www.example.com.", RRType::TXT);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(f.last_duration < milliseconds{100});
  CHECK(f.network.sent_to(net::example_com_1) == to_dead);
  // After the hold-down, it is probed again.
  f.loop.run_for(f.options.timeouts.dead_hold_down + milliseconds{1});
  CHECK_FALSE(f.w().servers().is_dead(address(net::example_com_1), f.loop.now()));
}

TEST_CASE("walker: a late answer from a slow server is still taken", "[walker][dead]") {
  Fixture f;
  f.warm_up();
  ScriptedReply slow;
  slow.delay = milliseconds{400};  // beyond the initial RTO of 300 ms
  slow.answer.push_back(rr("www.example.com. 300 IN A 192.0.2.80"));
  f.network.on(net::example_com_1, "www.example.com.", RRType::A, slow);
  f.network.on_subtree(net::example_com_2, "example.com.", behaving(Behaviour::silent));
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(f.last_duration < milliseconds{800});
  // The slow server's RTT is now known and reflects its real speed.
  const std::optional<ServerState> state = f.w().servers().find(address(net::example_com_1));
  REQUIRE(state);
  CHECK(state->rtt_known);
  CHECK(state->srtt >= std::chrono::microseconds(390000));
}

TEST_CASE("walker: all servers dead -> SERVFAIL with EDE 22 within the deadline, remembered",
          "[walker][dead]") {
  Fixture f;
  f.warm_up();
  f.network.on_subtree(net::example_com_1, "example.com.", behaving(Behaviour::silent));
  f.network.on_subtree(net::example_com_2, "example.com.", behaving(Behaviour::silent));
  auto r = f.resolve("www.example.com.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(r.ede.has_value());
  CHECK(r.ede->code() == EdeCode::NoReachableAuthority);
  CHECK(f.last_duration <= f.options.limits.resolution_deadline);
  CHECK(f.last_duration < milliseconds{2500});
  size_t sent = f.network.sent().size();

  // Asked again at once: the failure is remembered (servers held down).
  auto again = f.resolve("www.example.com.", RRType::AAAA);
  INFO(f.network.log());
  CHECK(again.rcode == Rcode::SERVFAIL);
  REQUIRE(again.ede.has_value());
  CHECK(again.ede->code() == EdeCode::NoReachableAuthority);
  CHECK(f.last_duration < milliseconds{100});
  CHECK(f.network.sent_to(net::example_com_1) + f.network.sent_to(net::example_com_2) <=
        sent);  // no new packet to the dead servers
}

TEST_CASE("walker: network errors -> next server, EDE 23 when all fail so", "[walker][dead]") {
  Fixture f;
  f.warm_up();
  f.network.on_subtree(net::example_com_1, "example.com.", behaving(Behaviour::network_error));
  auto ok = f.resolve("www.example.com.", RRType::A);
  CHECK(ok.rcode == Rcode::NOERROR);

  Fixture g;
  g.warm_up();
  g.network.on_subtree(net::example_com_1, "example.com.", behaving(Behaviour::network_error));
  g.network.on_subtree(net::example_com_2, "example.com.", behaving(Behaviour::network_error));
  auto r = g.resolve("www.example.com.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(r.ede.has_value());
  CHECK(r.ede->code() == EdeCode::NetworkError);
  CHECK(g.last_duration < milliseconds{100});
}

TEST_CASE("walker: the resolution deadline bounds slow servers", "[walker][budget]") {
  Fixture f;
  f.options.limits.resolution_deadline = milliseconds{1000};
  f.warm_up();
  ScriptedReply slow;
  slow.delay = milliseconds{1800};
  slow.answer.push_back(rr("www.example.com. 300 IN A 192.0.2.80"));
  f.network.on(net::example_com_1, "www.example.com.", RRType::A, slow);
  f.network.on(net::example_com_2, "www.example.com.", RRType::A, slow);
  auto r = f.resolve("www.example.com.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(r.ede.has_value());
  CHECK(f.last_duration <= milliseconds{1000});
  CHECK(f.network.outstanding() == 0);  // everything cancelled
}

TEST_CASE("walker: a referral loop ends in a bounded SERVFAIL", "[walker][loop]") {
  Fixture f;
  f.warm_up();
  // com sends loop.com to 203.0.113.10, which refers loop.com to itself.
  f.network.delegate(net::gtld, "loop.com.", {{"ns.loop.com.", "203.0.113.10"}});
  f.network.delegate("203.0.113.10", "loop.com.", {{"ns.loop.com.", "203.0.113.10"}});
  auto r = f.resolve("www.loop.com.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(r.ede.has_value());
  CHECK(r.upstream_queries <= f.options.limits.max_upstream_queries);
  CHECK(f.network.sent_to("203.0.113.10") <= 2);
}

TEST_CASE("walker: mutually glueless delegations end in a bounded SERVFAIL", "[walker][loop]") {
  Fixture f;
  f.warm_up();
  f.network.delegate(net::gtld, "cycle1.com.", {{"ns.cycle2.com.", ""}});
  f.network.delegate(net::gtld, "cycle2.com.", {{"ns.cycle1.com.", ""}});
  auto r = f.resolve("www.cycle1.com.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(r.ede.has_value());
  CHECK(r.upstream_queries <= f.options.limits.max_upstream_queries);
  CHECK(f.last_duration < milliseconds{1000});
}

TEST_CASE("walker: a CNAME loop ends in SERVFAIL", "[walker][loop]") {
  Fixture f;
  auto r = f.resolve("loop1.example.com.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(r.ede.has_value());
  CHECK(r.ede->extra_text.find("loop") != std::string::npos);

  // A loop across zones, one response at a time.
  Fixture g;
  ScriptedReply to_net;
  to_net.answer.push_back(rr("ping.example.com. 300 IN CNAME pong.example.net."));
  g.network.on(net::example_com_1, "ping.example.com.", std::nullopt, to_net);
  g.network.on(net::example_com_2, "ping.example.com.", std::nullopt, to_net);
  ScriptedReply to_com;
  to_com.answer.push_back(rr("pong.example.net. 300 IN CNAME ping.example.com."));
  g.network.on(net::example_net, "pong.example.net.", std::nullopt, to_com);
  auto cross = g.resolve("ping.example.com.", RRType::A);
  CHECK(cross.rcode == Rcode::SERVFAIL);
  CHECK(g.network.sent_for("ping.example.com.", RRType::A) <= 2);
}

TEST_CASE("walker: budgets exhausted give SERVFAIL", "[walker][budget]") {
  SECTION("upstream queries") {
    Fixture f;
    // Root + com, not example.com (the priming has a budget of its own).
    f.options.limits.max_upstream_queries = 2;
    auto r = f.resolve("www.example.com.", RRType::A);
    CHECK(r.rcode == Rcode::SERVFAIL);
    REQUIRE(r.ede.has_value());
    CHECK(r.ede->extra_text.find("budget") != std::string::npos);
  }
  SECTION("CNAME hops") {
    Fixture f;
    f.options.limits.max_cname_hops = 1;
    auto r = f.resolve("chain1.example.com.", RRType::A);
    CHECK(r.rcode == Rcode::SERVFAIL);
    REQUIRE(r.ede.has_value());
    CHECK(r.ede->extra_text.find("CNAME") != std::string::npos);
  }
  SECTION("sub-query depth") {
    Fixture f;
    f.options.limits.max_subquery_depth = 0;  // no glueless lookups at all
    auto r = f.resolve("www.glueless.com.", RRType::A);
    CHECK(r.rcode == Rcode::SERVFAIL);
    CHECK(f.network.sent_for("ns.example.net.", RRType::A) == 0);
  }
  SECTION("referrals") {
    Fixture f;
    f.options.limits.max_referrals = 1;
    auto r = f.resolve("www.example.com.", RRType::A);
    CHECK(r.rcode == Rcode::SERVFAIL);
  }
}

TEST_CASE("walker: spoofed replies are dropped", "[walker][spoof]") {
  for (Behaviour b : {Behaviour::wrong_id, Behaviour::wrong_question, Behaviour::wrong_source}) {
    Fixture f;
    f.warm_up();
    ScriptedReply spoof;
    spoof.behaviour = b;
    spoof.answer.push_back(rr("www.example.com. 300 IN A 6.6.6.6"));
    // Each server first sends the spoof, then behaves.
    f.network.on(net::example_com_1, "www.example.com.", RRType::A, spoof, 1);
    f.network.on(net::example_com_2, "www.example.com.", RRType::A, spoof, 1);
    auto r = f.resolve("www.example.com.", RRType::A);
    INFO("behaviour " << static_cast<int>(b));
    REQUIRE(r.rcode == Rcode::NOERROR);
    CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
    CHECK(f.w().stats().spoofed_dropped >= 1);
  }
}

TEST_CASE("walker: garbage replies -> next server", "[walker][spoof]") {
  Fixture f;
  f.warm_up();
  f.network.on_subtree(net::example_com_1, "example.com.", behaving(Behaviour::garbage));
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
}

TEST_CASE("walker: out-of-bailiwick records are neither used nor returned", "[walker][spoof]") {
  SECTION("poisoned answer data") {
    Fixture f;
    ScriptedReply poison;
    poison.answer.push_back(rr("poison.example.com. 300 IN CNAME www.example.net."));
    poison.answer.push_back(rr("www.example.net. 300 IN A 6.6.6.6"));
    poison.answer.push_back(rr("www.victim.org. 300 IN A 6.6.6.6"));
    poison.additional.push_back(rr("ns1.example.net. 300 IN A 6.6.6.6"));
    f.network.on(net::example_com_1, "poison.example.com.", RRType::A, poison);
    f.network.on(net::example_com_2, "poison.example.com.", RRType::A, poison);
    auto r = f.resolve("poison.example.com.", RRType::A);
    REQUIRE(r.rcode == Rcode::NOERROR);
    CHECK(section_text(r.answer) ==
          std::vector<std::string>{"poison.example.com. CNAME www.example.net.",
                                   "www.example.net. A 198.51.100.80"});
    // The target was asked of its own authority.
    CHECK(f.network.sent_to(net::example_net) >= 1);
    // And later questions for it are not answered from the poison.
    auto later = f.resolve("www.example.net.", RRType::A);
    CHECK(section_text(later.answer) ==
          std::vector<std::string>{"www.example.net. A 198.51.100.80"});
    CHECK_FALSE(sent_anything_to(f.network, "6.6.6.6"));
  }
  SECTION("glue for an NS name outside the referring zone") {
    Fixture f;
    ScriptedReply referral;
    referral.aa = false;
    referral.authority.push_back(rr("evil.com. 172800 IN NS ns.example.net."));
    referral.additional.push_back(rr("ns.example.net. 172800 IN A 6.6.6.6"));
    f.network.on_subtree(net::gtld, "evil.com.", referral);
    f.network.serve_zone(net::example_net, "evil.com.", R"(
@ 3600 SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 600
@ NS ns.example.net.
www A 203.0.113.99
)");
    auto r = f.resolve("www.evil.com.", RRType::A);
    REQUIRE(r.rcode == Rcode::NOERROR);
    CHECK(section_text(r.answer) == std::vector<std::string>{"www.evil.com. A 203.0.113.99"});
    CHECK_FALSE(sent_anything_to(f.network, "6.6.6.6"));
    CHECK(f.network.sent_for("ns.example.net.", RRType::A) == 1);  // resolved properly
  }
}

TEST_CASE("walker: 0x20 not echoed -> the same server over TCP", "[walker][0x20]") {
  Fixture f;
  f.warm_up();
  ScriptedReply mangled;
  mangled.behaviour = Behaviour::mangle_case;
  mangled.answer.push_back(rr("www.example.com. 300 IN A 192.0.2.80"));
  f.network.on(net::example_com_1, "www.example.com.", RRType::A, mangled);
  f.network.on(net::example_com_2, "www.example.com.", RRType::A, mangled);
  size_t before = f.network.sent().size();
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(f.w().stats().case_mismatches == 1);
  std::vector<SentQuery> tail(f.network.sent().begin() + static_cast<long>(before),
                              f.network.sent().end());
  REQUIRE(tail.size() >= 2);
  const auto& last = tail.back();
  const auto& previous = tail[tail.size() - 2];
  CHECK(previous.protocol == UpstreamProtocol::udp);
  CHECK(last.protocol == UpstreamProtocol::tcp);
  CHECK(last.server == previous.server);
  // The server is remembered: the next query to it goes to TCP directly.
  const std::optional<ServerState> state = f.w().servers().find(last.server);
  REQUIRE(state);
  CHECK(state->mangles_case);
}

TEST_CASE("walker: TC=1 -> the same server over TCP", "[walker][tcp]") {
  Fixture f;
  f.warm_up();
  ScriptedReply big;
  big.behaviour = Behaviour::truncate_udp;
  big.answer.push_back(rr("www.example.com. 300 IN A 192.0.2.80"));
  f.network.on(net::example_com_1, "www.example.com.", RRType::A, big);
  f.network.on(net::example_com_2, "www.example.com.", RRType::A, big);
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
  CHECK(f.network.sent().back().protocol == UpstreamProtocol::tcp);
  CHECK(f.w().stats().tcp_fallbacks == 1);
}

TEST_CASE("walker: FORMERR to EDNS -> retry without EDNS, remembered", "[walker][edns]") {
  Fixture f;
  f.warm_up();
  ScriptedReply old;
  old.behaviour = Behaviour::formerr_to_edns;
  old.answer.push_back(rr("www.example.com. 300 IN A 192.0.2.80"));
  f.network.on(net::example_com_1, "www.example.com.", RRType::A, old);
  f.network.on(net::example_com_2, "www.example.com.", RRType::A, old);
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  const auto& last = f.network.sent().back();
  CHECK_FALSE(last.edns);
  const std::optional<ServerState> state = f.w().servers().find(last.server);
  REQUIRE(state);
  CHECK(state->no_edns);
  CHECK(f.w().stats().edns_fallbacks == 1);
}

TEST_CASE("walker: name servers on private addresses are not queried by default",
          "[walker][private]") {
  auto setup = [](Fixture& f) {
    f.network.delegate(net::gtld, "intranet.com.", {{"ns.intranet.com.", "10.1.2.3"}});
    f.network.serve_zone("10.1.2.3", "intranet.com.", R"(
@ 3600 SOA ns hostmaster 1 3600 900 604800 600
@ NS ns
ns A 10.1.2.3
www A 10.1.2.80
)");
  };
  Fixture f;
  setup(f);
  auto r = f.resolve("www.intranet.com.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(r.ede.has_value());
  CHECK(r.ede->code() == EdeCode::NoReachableAuthority);
  CHECK(r.ede->extra_text.find("private") != std::string::npos);
  CHECK(f.network.sent_to("10.1.2.3") == 0);

  Fixture allowed;
  allowed.options.allow_private_servers = true;
  setup(allowed);
  auto ok = allowed.resolve("www.intranet.com.", RRType::A);
  CHECK(ok.rcode == Rcode::NOERROR);
  CHECK(allowed.network.sent_to("10.1.2.3") >= 1);
}

TEST_CASE("walker: IPv6 addresses are used when IPv4 is off", "[walker]") {
  Fixture f;
  f.options.use_ipv4 = false;
  f.walker = std::make_unique<Walker>(f.network, f.loop, f.options,
                                      RootHints::parse(". 1 NS a.root-servers.net.\n"
                                                       "a.root-servers.net. 1 AAAA 2001:db8:53::1\n"),
                                      std::make_unique<QueryRandomness>());
  ScriptedReply root_ns;
  root_ns.answer.push_back(rr(". 518400 IN NS a.root-servers.net."));
  root_ns.additional.push_back(rr("a.root-servers.net. 518400 IN AAAA 2001:db8:53::1"));
  f.network.on("2001:db8:53::1", ".", RRType::NS, root_ns);
  f.network.serve_zone("2001:db8:53::1", ".", R"(
@ 86400 SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400
@ NS a.root-servers.net.
a.root-servers.net. AAAA 2001:db8:53::1
test. NS ns.test.
ns.test. AAAA 2001:db8:53::2
ns.test. A 192.0.2.99
)");
  f.network.serve_zone("2001:db8:53::2", "test.", R"(
@ SOA ns hostmaster 1 3600 900 604800 600
@ NS ns
www A 192.0.2.1
)");
  auto r = f.resolve("www.test.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(f.network.sent_to("192.0.2.99") == 0);
  for (const auto& q : f.network.sent()) CHECK(q.server.is_ipv6());
}

TEST_CASE("walker: destroying the walker mid-resolution cancels everything", "[walker]") {
  Fixture f;
  bool called = false;
  f.w().resolve(wire::Question{wire::Name::from_text("www.example.com."), RRType::A,
                               wire::RRClass::IN},
                {}, [&](const ResolutionResult&) { called = true; });
  f.loop.run_for(milliseconds{15});
  f.walker.reset();
  f.loop.run_until_idle();
  CHECK_FALSE(called);
  CHECK(f.network.outstanding() == 0);
}

// Servers that swallowed queries for a while are held down: until the
// hold-down ends the zone's questions fail at once without a packet; then
// one question probes, and its answer makes the zone live again at once.
TEST_CASE("walker: servers held down after a silent spell fail the zone until a probe is answered",
          "[walker][dead]") {
  Fixture f;
  f.warm_up();
  // Each server swallows its next two queries, then answers normally.
  f.network.on_subtree(net::example_com_1, "example.com.", behaving(Behaviour::silent), 2);
  f.network.on_subtree(net::example_com_2, "example.com.", behaving(Behaviour::silent), 2);
  auto r = f.resolve("www.example.com.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(f.w().servers().is_dead(address(net::example_com_1), f.loop.now()));
  CHECK(f.w().servers().is_dead(address(net::example_com_2), f.loop.now()));

  auto to_zone = [&] {
    return f.network.sent_to(net::example_com_1) + f.network.sent_to(net::example_com_2);
  };
  size_t sent = to_zone();
  auto held = f.resolve("www.example.com.", RRType::AAAA);
  CHECK(held.rcode == Rcode::SERVFAIL);
  REQUIRE(held.ede.has_value());
  CHECK(held.ede->code() == EdeCode::NoReachableAuthority);
  CHECK_THAT(held.ede->extra_text, Catch::Contains("held down"));
  CHECK(to_zone() == sent);

  // Past the hold-down: the probe is answered, and so is the question.
  f.loop.run_for(f.options.timeouts.dead_hold_down + milliseconds{1});
  auto again = f.resolve("www.example.com.", RRType::A);
  INFO(f.network.log());
  CHECK(again.rcode == Rcode::NOERROR);
  CHECK(f.last_duration < milliseconds{500});
  CHECK_FALSE(f.w().servers().is_dead(address(net::example_com_1), f.loop.now()));
}

// A query our own side could not send (every upstream socket in use during a
// burst, shutdown) says nothing about the zone's servers: it must not hold
// them down, nor fail the zone's other questions.
TEST_CASE("walker: queries our side could not send do not make a zone unreachable", "[walker][dead]") {
  Fixture f;
  f.warm_up();
  f.network.on(net::example_com_1, "local.example.com.", RRType::A, behaving(Behaviour::local_error));
  f.network.on(net::example_com_2, "local.example.com.", RRType::A, behaving(Behaviour::local_error));
  auto local = f.resolve("local.example.com.", RRType::A);
  CHECK(local.rcode == Rcode::SERVFAIL);
  REQUIRE(local.ede.has_value());
  CHECK_THAT(local.ede->extra_text, Catch::Contains("not sent (local)"));
  CHECK_THAT(local.ede->extra_text, Catch::Contains("0 network errors"));
  CHECK_FALSE(f.w().servers().is_dead(address(net::example_com_1), f.loop.now()));
  CHECK_FALSE(f.w().servers().is_dead(address(net::example_com_2), f.loop.now()));

  // The next question for the zone is asked upstream, and answered.
  auto again = f.resolve("www.example.com.", RRType::A);
  INFO(f.network.log());
  CHECK(again.rcode == Rcode::NOERROR);
}
