// Whole resolutions through the scripted network: priming, referrals,
// QNAME minimisation, glueless delegations, CNAME/DNAME, negative answers,
// wildcards, ANY, the root and TLDs themselves, in-flight deduplication.
#include <catch2/catch.hpp>

#include <algorithm>

#include "resolver/walk/walker.h"
#include "scripted_network.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::Rcode;
using wire::RRType;

namespace {

std::unique_ptr<QueryRandomness> seeded_random(uint8_t seed = 7) {
  std::array<uint8_t, 32> key{};
  key.fill(seed);
  return std::make_unique<QueryRandomness>(key);
}

struct Fixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  WalkerOptions options;
  std::unique_ptr<Walker> walker;

  Fixture() {
    build_small_internet(network);
    options.explore_one_in = 0;
  }
  Walker& w() {
    if (!walker) {
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        seeded_random());
    }
    return *walker;
  }
  void ask(ResultCapture& capture, std::string_view name, RRType type) {
    w().resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, {},
                [&capture, this](const ResolutionResult& r) {
                  capture.results.push_back(r);
                  capture.at.push_back(loop.elapsed());
                });
  }
  ResolutionResult resolve(std::string_view name, RRType type, milliseconds run = milliseconds{10000}) {
    ResultCapture capture;
    milliseconds start = loop.elapsed();
    ask(capture, name, type);
    // Stop soon after the answer, so later questions find the state fresh.
    for (milliseconds waited{0}; capture.results.empty() && waited < run; waited += milliseconds{5}) {
      loop.run_for(milliseconds{5});
    }
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    last_duration = capture.at[0] - start;
    return capture.last();
  }
  milliseconds last_duration{0};
};

std::vector<std::string> lowered_queries(const ScriptedNetwork& network, size_t from = 0) {
  std::vector<std::string> out;
  for (size_t i = from; i < network.sent().size(); ++i) {
    const auto& q = network.sent()[i];
    out.push_back(q.server.to_string() + " " + q.qname.lowercased().to_text() + " " +
                  wire::to_string(q.qtype));
  }
  return out;
}

}  // namespace

TEST_CASE("walker: nothing is sent before the first question", "[walker]") {
  Fixture f;
  f.w();
  f.loop.run_for(milliseconds{5000});
  CHECK(f.network.sent().empty());
  CHECK_FALSE(f.w().root_primed());
}

TEST_CASE("walker: the first question primes the root, later ones do not", "[walker][priming]") {
  Fixture f;
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
  REQUIRE(!f.network.sent().empty());
  const auto& first = f.network.sent().front();
  CHECK(first.qname.is_root());
  CHECK(first.qtype == RRType::NS);
  CHECK(f.w().root_primed());
  CHECK(f.w().stats().primings == 1);

  f.resolve("www.example.net.", RRType::A);
  CHECK(f.network.sent_for(".", RRType::NS) == 1);
}

TEST_CASE("walker: the primed NS set replaces the hints", "[walker][priming]") {
  Fixture f;
  // The hinted server says the root is served by b only.
  ScriptedReply priming;
  priming.answer.push_back(rr(". 518400 IN NS b.root-servers.net."));
  priming.additional.push_back(rr("b.root-servers.net. 518400 IN A 199.9.14.201"));
  f.network.on(net::root_a, ".", RRType::NS, priming);
  f.walker = std::make_unique<Walker>(f.network, f.loop, f.options,
                                      RootHints::parse(". 1 NS a.root-servers.net.\n"
                                                       "a.root-servers.net. 1 A 198.41.0.4\n"),
                                      seeded_random());
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(f.network.sent_to(net::root_a) == 1);  // the priming query only
  CHECK(f.network.sent_to(net::root_b) >= 1);
}

TEST_CASE("walker: failed priming falls back to the hints", "[walker][priming]") {
  Fixture f;
  ScriptedReply refused;
  refused.rcode = Rcode::REFUSED;
  f.network.on(net::root_a, ".", RRType::NS, refused);
  f.network.on(net::root_b, ".", RRType::NS, refused);
  auto r = f.resolve("www.example.com.", RRType::A);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK_FALSE(f.w().root_primed());
}

TEST_CASE("walker: referrals root -> TLD -> SLD with QNAME minimisation", "[walker][qmin]") {
  Fixture f;
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  auto queries = lowered_queries(f.network, 1);  // after priming
  REQUIRE(queries.size() == 3);
  CHECK(queries[0].find(" com. A") != std::string::npos);
  CHECK((queries[0].rfind(std::string(net::root_a), 0) == 0 ||
         queries[0].rfind(std::string(net::root_b), 0) == 0));
  CHECK(queries[1] == std::string(net::gtld) + " example.com. A");
  CHECK((queries[2] == std::string(net::example_com_1) + " www.example.com. A" ||
         queries[2] == std::string(net::example_com_2) + " www.example.com. A"));
  // No answer is flagged authoritative or validated by the walker.
  CHECK(r.validation == ValidationState::unchecked);
  CHECK_FALSE(r.ede.has_value());
}

TEST_CASE("walker: without QNAME minimisation every server sees the full name", "[walker][qmin]") {
  Fixture f;
  f.options.qname_minimisation = false;
  auto r = f.resolve("www.example.com.", RRType::AAAA);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. AAAA 2001:db8::80"});
  for (size_t i = 1; i < f.network.sent().size(); ++i) {
    CHECK(f.network.sent()[i].qname.lowercased().to_text() == "www.example.com.");
    CHECK(f.network.sent()[i].qtype == RRType::AAAA);
  }
}

TEST_CASE("walker: minimisation of a deep name is bounded (RFC 9156 limits)", "[walker][qmin]") {
  Fixture f;
  auto r = f.resolve("a.b.c.d.e.f.g.example.com.", RRType::A);
  INFO(f.network.log() << (r.ede ? r.ede->extra_text : ""));
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) ==
        std::vector<std::string>{"a.b.c.d.e.f.g.example.com. A 192.0.2.7"});
  size_t to_example = f.network.sent_to(net::example_com_1) + f.network.sent_to(net::example_com_2);
  // Labels below the cut: 7. One label per step for the first steps, then
  // bigger jumps; never more queries than MAX_MINIMISE_COUNT.
  CHECK(to_example >= 2);
  CHECK(to_example <= f.options.qmin_max_minimise_count);
  // The first query to example.com's servers shows just one more label.
  auto queries = lowered_queries(f.network);
  auto first = std::find_if(queries.begin(), queries.end(), [](const std::string& q) {
    return q.rfind(std::string(net::example_com_1), 0) == 0 ||
           q.rfind(std::string(net::example_com_2), 0) == 0;
  });
  REQUIRE(first != queries.end());
  CHECK(first->find(" g.example.com. A") != std::string::npos);
}

TEST_CASE("walker: relaxed minimisation falls back when a server says NXDOMAIN for an ENT",
          "[walker][qmin]") {
  Fixture f;
  ScriptedReply broken;
  broken.rcode = Rcode::NXDOMAIN;
  broken.authority.push_back(
      rr("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 300"));
  f.network.on(net::example_com_1, "g.example.com.", RRType::A, broken);
  f.network.on(net::example_com_2, "g.example.com.", RRType::A, broken);
  auto r = f.resolve("a.b.c.d.e.f.g.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) ==
        std::vector<std::string>{"a.b.c.d.e.f.g.example.com. A 192.0.2.7"});
  CHECK(f.w().stats().qmin_fallbacks >= 1);
  CHECK(f.network.sent_for("a.b.c.d.e.f.g.example.com.", RRType::A) >= 1);
}

TEST_CASE("walker: glueless delegation resolves the NS address first", "[walker][glueless]") {
  Fixture f;
  auto r = f.resolve("www.glueless.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.glueless.com. A 203.0.113.80"});
  CHECK(f.network.sent_for("ns.example.net.", RRType::A) == 1);
  CHECK(f.network.sent_for("www.glueless.com.", RRType::A) == 1);
  // The NS name's resolution is not part of the client's answer.
  CHECK(r.authority.empty());
}

TEST_CASE("walker: CNAME into another zone is chased and the chain returned", "[walker][cname]") {
  Fixture f;
  auto r = f.resolve("alias.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) ==
        std::vector<std::string>{"alias.example.com. CNAME www.example.net.",
                                 "www.example.net. A 198.51.100.80"});
}

TEST_CASE("walker: an in-zone CNAME chain comes in one response", "[walker][cname]") {
  Fixture f;
  auto r = f.resolve("chain1.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) ==
        std::vector<std::string>{"chain1.example.com. CNAME chain2.example.com.",
                                 "chain2.example.com. CNAME www.example.com.",
                                 "www.example.com. A 192.0.2.80"});
  CHECK(f.network.sent_for("chain1.example.com.", RRType::A) == 1);
}

TEST_CASE("walker: a query for the CNAME itself is not chased", "[walker][cname]") {
  Fixture f;
  auto r = f.resolve("alias.example.com.", RRType::CNAME);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) ==
        std::vector<std::string>{"alias.example.com. CNAME www.example.net."});
}

TEST_CASE("walker: DNAME is followed with a synthesised CNAME", "[walker][dname]") {
  Fixture f;
  auto r = f.resolve("sales.dept.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) ==
        std::vector<std::string>{"dept.example.com. DNAME example.net.",
                                 "sales.dept.example.com. CNAME sales.example.net.",
                                 "sales.example.net. A 198.51.100.81"});
  // The synthesised CNAME carries the DNAME's TTL (RFC 6672 §3.4).
  REQUIRE(r.answer.size() == 3);
  CHECK(r.answer[1].ttl == r.answer[0].ttl);
}

TEST_CASE("walker: NXDOMAIN carries the SOA with the negative TTL", "[walker][negative]") {
  Fixture f;
  auto r = f.resolve("nope.example.com.", RRType::A);
  CHECK(r.rcode == Rcode::NXDOMAIN);
  CHECK(r.answer.empty());
  REQUIRE(r.authority.size() == 1);
  CHECK(r.authority[0].type == RRType::SOA);
  CHECK(r.authority[0].owner == wire::Name::from_text("example.com."));
  CHECK(r.authority[0].ttl == 300);  // min(SOA TTL 3600, MINIMUM 300)
}

TEST_CASE("walker: NODATA carries the SOA", "[walker][negative]") {
  Fixture f;
  auto r = f.resolve("www.example.com.", RRType::MX);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.answer.empty());
  REQUIRE(r.authority.size() == 1);
  CHECK(r.authority[0].type == RRType::SOA);
}

TEST_CASE("walker: NXDOMAIN at the end of a CNAME chain keeps the chain", "[walker][negative]") {
  Fixture f;
  f.network.serve_zone(net::example_com_1, "example.com.", R"(
@ 3600 SOA ns1 hostmaster 1 3600 900 604800 300
@ NS ns1
ns1 A 192.0.2.53
dangling CNAME gone.example.net.
)");
  f.network.serve_zone(net::example_com_2, "example.com.", R"(
@ 3600 SOA ns1 hostmaster 1 3600 900 604800 300
@ NS ns1
ns1 A 192.0.2.53
dangling CNAME gone.example.net.
)");
  auto r = f.resolve("dangling.example.com.", RRType::A);
  CHECK(r.rcode == Rcode::NXDOMAIN);
  CHECK(section_text(r.answer) ==
        std::vector<std::string>{"dangling.example.com. CNAME gone.example.net."});
  REQUIRE(r.authority.size() == 1);
  CHECK(r.authority[0].owner == wire::Name::from_text("example.net."));
}

TEST_CASE("walker: wildcard answers are returned under the query name", "[walker]") {
  Fixture f;
  auto r = f.resolve("anything.wild.example.com.", RRType::TXT);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) ==
        std::vector<std::string>{"anything.wild.example.com. TXT \"wildcard\""});
}

TEST_CASE("walker: ANY gets a minimal answer (RFC 8482)", "[walker]") {
  Fixture f;
  auto r = f.resolve("www.example.com.", RRType::ANY);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(r.answer.size() == 1);
  f.options.minimal_any = false;
  f.walker.reset();
  auto full = f.resolve("www.example.com.", RRType::ANY);
  CHECK(full.answer.size() == 3);
}

TEST_CASE("walker: the root and TLDs themselves", "[walker]") {
  Fixture f;
  auto root_ns = f.resolve(".", RRType::NS);
  REQUIRE(root_ns.rcode == Rcode::NOERROR);
  CHECK(section_text(root_ns.answer) ==
        std::vector<std::string>{". NS a.root-servers.net.", ". NS b.root-servers.net."});

  auto root_soa = f.resolve(".", RRType::SOA);
  REQUIRE(root_soa.rcode == Rcode::NOERROR);
  REQUIRE(root_soa.answer.size() == 1);
  CHECK(root_soa.answer[0].type == RRType::SOA);

  auto com_ns = f.resolve("com.", RRType::NS);
  REQUIRE(com_ns.rcode == Rcode::NOERROR);
  CHECK(section_text(com_ns.answer) == std::vector<std::string>{"com. NS a.gtld-servers.net."});

  auto com_a = f.resolve("com.", RRType::A);
  CHECK(com_a.rcode == Rcode::NOERROR);
  CHECK(com_a.answer.empty());
  REQUIRE(com_a.authority.size() == 1);
  CHECK(com_a.authority[0].owner == wire::Name::from_text("com."));

  auto tld_nx = f.resolve("nosuchtld.", RRType::A);
  CHECK(tld_nx.rcode == Rcode::NXDOMAIN);
}

TEST_CASE("walker: identical questions in flight share one resolution", "[walker][dedup]") {
  Fixture f;
  ResultCapture a, b, c, other;
  f.ask(a, "www.example.com.", RRType::A);
  f.ask(b, "WWW.Example.COM.", RRType::A);
  f.ask(c, "www.example.com.", RRType::A);
  f.ask(other, "www.example.com.", RRType::AAAA);
  CHECK(f.w().in_flight() == 3);  // A, AAAA and the root priming
  f.loop.run_for(milliseconds{5000});
  REQUIRE(a.results.size() == 1);
  REQUIRE(b.results.size() == 1);
  REQUIRE(c.results.size() == 1);
  REQUIRE(other.results.size() == 1);
  CHECK(section_text(b.last().answer) == section_text(a.last().answer));
  CHECK(f.w().stats().deduplicated == 2);
  CHECK(f.network.sent_for("www.example.com.", RRType::A) == 1);
  CHECK(f.w().in_flight() == 0);
}

TEST_CASE("walker: callbacks never run inside resolve()", "[walker]") {
  Fixture f;
  bool called = false;
  f.w().resolve(wire::Question{wire::Name::from_text("x.example."), RRType::A, wire::RRClass::CH},
                {}, [&](const ResolutionResult& r) {
                  called = true;
                  CHECK(r.rcode == Rcode::REFUSED);
                });
  CHECK_FALSE(called);
  f.loop.run_for(milliseconds{1});
  CHECK(called);
}

TEST_CASE("walker: meta query types are not resolved", "[walker]") {
  Fixture f;
  auto r = f.resolve("example.com.", RRType::AXFR);
  CHECK(r.rcode == Rcode::NOTIMP);
  REQUIRE(r.ede.has_value());
  CHECK(r.ede->code() == wire::EdeCode::NotSupported);
  CHECK(f.network.sent().empty());
}

TEST_CASE("walker: upstream queries carry EDNS 1232, DO, no RD and random IDs", "[walker]") {
  Fixture f;
  f.resolve("www.example.com.", RRType::A);
  std::vector<uint16_t> ids;
  bool mixed_case_seen = false;
  for (const auto& q : f.network.sent()) {
    CHECK(q.edns);
    CHECK(q.dnssec_ok);
    CHECK_FALSE(q.recursion_desired);
    ids.push_back(q.id);
    if (!q.qname.equals_exact(q.qname.lowercased())) mixed_case_seen = true;
  }
  std::sort(ids.begin(), ids.end());
  CHECK(std::unique(ids.begin(), ids.end()) - ids.begin() >= static_cast<long>(ids.size()) - 1);
  CHECK(mixed_case_seen);  // 0x20
}

TEST_CASE("walker: DS is answered by the parent zone", "[walker]") {
  Fixture f;
  auto r = f.resolve("example.com.", RRType::DS);
  REQUIRE(r.rcode == Rcode::NOERROR);
  REQUIRE(r.answer.size() == 1);
  CHECK(r.answer[0].type == RRType::DS);
  CHECK(f.network.sent_to(net::example_com_1) + f.network.sent_to(net::example_com_2) == 0);
}

TEST_CASE("walker: the 0x20 pattern does not leak into answers", "[walker][0x20]") {
  Fixture f;
  auto r = f.resolve("Chain1.Example.COM.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  REQUIRE(r.answer.size() == 3);
  // Names the server compressed against the question come back lower-cased
  // (the case the walker means), neither in the 0x20 pattern nor in this
  // client's case, which would reach other clients through the cache. The
  // client's own spelling is restored by the answer's compression against
  // its question.
  CHECK(r.answer[0].owner.equals_exact(wire::Name::from_text("chain1.example.com.")));
  auto target = wire::Name::from_wire(r.answer[0].rdatas[0]);
  CHECK(target.to_text() == "chain2.example.com.");
  CHECK(r.answer[2].owner.to_text() == "www.example.com.");
}
