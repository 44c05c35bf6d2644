// Glueless NS cycles (issue 13, section 3): ns.a.example needs b.example,
// whose server ns.b.example needs a.example. Detected, and the zone's other
// name servers are tried before failing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

#include "walker_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;
using wire::Rcode;
using wire::RRType;

namespace {

// cyc-a.com. is served by ns.cyc-b.net. (glueless) and ns.example.net.;
// cyc-b.net. only by ns.cyc-a.com. (glueless): a cycle with one way out.
void add_cycle(ScriptedNetwork& network, bool with_way_out) {
  std::vector<std::pair<std::string, std::string>> a_servers{{"ns.cyc-b.net.", ""}};
  if (with_way_out) a_servers.push_back({"ns.example.net.", ""});
  network.delegate(net::gtld, "cyc-a.com.", a_servers);
  network.delegate(net::gtld, "cyc-b.net.", {{"ns.cyc-a.com.", ""}});
  constexpr std::string_view cyc_a = R"(
@ 3600 SOA ns.example.net. hostmaster 1 3600 900 604800 300
@ 3600 NS ns.cyc-b.net.
@ 3600 NS ns.example.net.
ns 3600 A 198.51.100.60
www 300 A 198.51.100.61
)";
  network.serve_zone(net::example_net, "cyc-a.com.", cyc_a);
  network.serve_zone("198.51.100.60", "cyc-b.net.", R"(
@ 3600 SOA ns.cyc-a.com. hostmaster 1 3600 900 604800 300
@ 3600 NS ns.cyc-a.com.
ns 3600 A 198.51.100.60
)");
}

}  // namespace

TEST_CASE("glueless cycle: detected, and the other name server answers", "[walker][glueless]") {
  // The order in which glueless NS names are tried is random: several
  // random streams cover both orders.
  for (uint8_t seed = 1; seed <= 8; ++seed) {
    WalkerFixture f(false);
    f.seed = seed;
    add_cycle(f.network, true);
    INFO("seed " << int(seed));
    auto r = f.resolve("www.cyc-a.com.", RRType::A);
    INFO(f.network.log());
    INFO((r.ede ? r.ede->extra_text : std::string("no EDE")));
    REQUIRE(r.rcode == Rcode::NOERROR);
    CHECK(section_text(r.answer) == std::vector<std::string>{"www.cyc-a.com. A 198.51.100.61"});
    // Without a cache, each glueless name is walked from the root (A and
    // AAAA): the cycle is cut at its first turn, not run round until the
    // budget of 48 queries is spent.
    CHECK(r.upstream_queries <= 30);
  }
}

TEST_CASE("glueless cycle: without a way out, SERVFAIL soon and within the budget",
          "[walker][glueless]") {
  WalkerFixture f(false);
  add_cycle(f.network, false);
  auto start = f.loop.elapsed();
  auto r = f.resolve("www.cyc-a.com.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(r.ede.has_value());
  CHECK(r.ede->code() == wire::EdeCode::NoReachableAuthority);
  CHECK(f.loop.elapsed() - start < milliseconds{1000});
  CHECK(r.upstream_queries <= f.options.limits.max_upstream_queries);
  CHECK(f.network.sent_to("198.51.100.60") == 0);
}

TEST_CASE("glueless NS: the AAAA lookup starts after the A lookup, at the cut it cached",
          "[walker][glueless]") {
  // Walked at once, both lookups asked the root and the TLD for net. and
  // example.net. (issue 17: duplicate NS address lookups).
  WalkerFixture f;
  auto r = f.resolve("www.glueless.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  f.loop.run_for(milliseconds{500});  // the AAAA lookup ends after the answer
  INFO(f.network.log());
  const SentQuery* a = nullptr;
  const SentQuery* aaaa = nullptr;
  for (const auto& s : f.network.sent()) {
    if (s.qname.lowercased() != wire::Name::from_text("ns.example.net.")) continue;
    if (s.qtype == RRType::A && !a) a = &s;
    if (s.qtype == RRType::AAAA && !aaaa) aaaa = &s;
  }
  REQUIRE(a);
  REQUIRE(aaaa);
  CHECK(aaaa->at > a->at);
  // Straight to example.net.'s server (the cut the A lookup cached), once.
  CHECK(aaaa->server == address(net::example_net));
  CHECK(f.network.sent_for("ns.example.net.", RRType::AAAA) == 1);
  // The root was asked for com. (the question) and net. (the A lookup) only.
  CHECK(f.network.sent_to(net::root_a) + f.network.sent_to(net::root_b) <= 3);
}
