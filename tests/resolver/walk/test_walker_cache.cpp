// The walker with cache/ behind it: delegations, RRsets and negative
// answers learned by one resolution shorten the next; what failed the
// bailiwick checks never gets in.
#include <catch2/catch.hpp>

#include "cache/cache.h"
#include "resolver/walk/walker.h"
#include "scripted_network.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::Rcode;
using wire::RRType;

namespace {

struct Fixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  cache::Cache cache;
  WalkerOptions options;
  std::unique_ptr<Walker> walker;

  Fixture() {
    build_small_internet(network);
    options.explore_one_in = 0;
  }
  Walker& w() {
    if (!walker) {
      std::array<uint8_t, 32> key{};
      key.fill(3);
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key), &cache);
    }
    return *walker;
  }
  ResolutionResult resolve(std::string_view name, RRType type, ResolveOptions options = {}) {
    ResultCapture capture;
    w().resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, options,
                [&](const ResolutionResult& r) { capture.results.push_back(r); });
    for (int i = 0; i < 2000 && capture.results.empty(); ++i) loop.run_for(milliseconds{5});
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    return capture.last();
  }
};

}  // namespace

TEST_CASE("walker+cache: a repeated question is answered without packets", "[walker][cache]") {
  Fixture f;
  auto first = f.resolve("www.example.com.", RRType::A);
  REQUIRE(first.rcode == Rcode::NOERROR);
  size_t sent = f.network.sent().size();
  auto second = f.resolve("www.example.com.", RRType::A);
  CHECK(second.rcode == Rcode::NOERROR);
  CHECK(section_text(second.answer) == section_text(first.answer));
  CHECK(f.network.sent().size() == sent);
  CHECK(second.upstream_queries == 0);
}

TEST_CASE("walker+cache: a known delegation is used directly", "[walker][cache]") {
  Fixture f;
  f.resolve("www.example.com.", RRType::A);
  size_t sent = f.network.sent().size();
  auto r = f.resolve("chain2.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  REQUIRE(f.network.sent().size() == sent + 1);
  const auto& q = f.network.sent().back();
  CHECK((q.server == address(net::example_com_1) || q.server == address(net::example_com_2)));
}

TEST_CASE("walker+cache: CNAME chains and negative answers come back from the cache",
          "[walker][cache]") {
  Fixture f;
  auto chain = f.resolve("alias.example.com.", RRType::A);
  REQUIRE(chain.rcode == Rcode::NOERROR);
  auto nx = f.resolve("nope.example.com.", RRType::A);
  REQUIRE(nx.rcode == Rcode::NXDOMAIN);
  size_t sent = f.network.sent().size();

  auto chain_again = f.resolve("alias.example.com.", RRType::A);
  CHECK(section_text(chain_again.answer) == section_text(chain.answer));
  auto nx_again = f.resolve("nope.example.com.", RRType::A);
  CHECK(nx_again.rcode == Rcode::NXDOMAIN);
  REQUIRE(nx_again.authority.size() == 1);
  CHECK(nx_again.authority[0].type == RRType::SOA);
  // RFC 8020: nothing exists below an NXDOMAIN.
  auto below = f.resolve("deeper.nope.example.com.", RRType::A);
  CHECK(below.rcode == Rcode::NXDOMAIN);
  CHECK(f.network.sent().size() == sent);
}

TEST_CASE("walker+cache: addresses found for a glueless NS are kept", "[walker][cache]") {
  Fixture f;
  f.resolve("www.glueless.com.", RRType::A);
  CHECK(f.network.sent_for("ns.example.net.", RRType::A) == 1);
  auto r = f.resolve("other.glueless.com.", RRType::A);
  CHECK(r.rcode == Rcode::NXDOMAIN);
  CHECK(f.network.sent_for("ns.example.net.", RRType::A) == 1);
  CHECK(f.network.sent().back().server == address(net::example_net));
}

TEST_CASE("walker+cache: out-of-bailiwick data never reaches the cache", "[walker][cache]") {
  Fixture f;
  ScriptedReply poison;
  poison.answer.push_back(rr("poison.example.com. 300 IN CNAME www.example.net."));
  poison.answer.push_back(rr("www.example.net. 300 IN A 6.6.6.6"));
  poison.answer.push_back(rr("www.victim.org. 300 IN A 6.6.6.6"));
  poison.authority.push_back(rr("victim.org. 300 IN NS ns.evil.org."));
  poison.additional.push_back(rr("ns1.example.net. 300 IN A 6.6.6.6"));
  f.network.on(net::example_com_1, "poison.example.com.", RRType::A, poison);
  f.network.on(net::example_com_2, "poison.example.com.", RRType::A, poison);
  auto r = f.resolve("poison.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  const uint32_t now = f.loop.wall_seconds();
  auto victim = f.cache.rrsets().lookup(wire::Name::from_text("www.victim.org."), RRType::A,
                                        wire::RRClass::IN, now);
  CHECK_FALSE(victim.has_value());
  CHECK_FALSE(f.cache.delegations()
                  .find(wire::Name::from_text("victim.org."), wire::RRClass::IN, now)
                  .has_value());
  auto target = f.cache.rrsets().lookup(wire::Name::from_text("www.example.net."), RRType::A,
                                        wire::RRClass::IN, now);
  REQUIRE(target.has_value());
  for (auto rdata : target->rrset.rdatas()) {
    CHECK(ServerAddress::from_rdata(rdata)->to_string() == "198.51.100.80");
  }
  auto ns_glue = f.cache.rrsets().lookup(wire::Name::from_text("ns1.example.net."), RRType::A,
                                         wire::RRClass::IN, now);
  CHECK_FALSE(ns_glue.has_value());
}

TEST_CASE("walker+cache: DS is asked of the parent even when the child's cut is known",
          "[walker][cache]") {
  Fixture f;
  f.resolve("www.example.com.", RRType::A);  // caches the example.com cut
  size_t sent = f.network.sent().size();
  auto r = f.resolve("example.com.", RRType::DS);
  REQUIRE(r.rcode == Rcode::NOERROR);
  REQUIRE(r.answer.size() == 1);
  CHECK(r.answer[0].type == RRType::DS);
  REQUIRE(f.network.sent().size() > sent);
  CHECK(f.network.sent().back().server == address(net::gtld));
}

// Regression: a prefetch refresh was answered from the walker's own RRset
// cache, which still held the data about to expire, so the refreshed answer
// expired at the same moment and clients saw a miss every TTL.
TEST_CASE("walker+cache: a refresh asks upstream for the answer, using the cached delegation",
          "[walker][cache]") {
  Fixture f;
  auto first = f.resolve("www.example.com.", RRType::A);
  REQUIRE(first.rcode == Rcode::NOERROR);
  size_t sent = f.network.sent().size();
  ResolveOptions refresh;
  refresh.refresh = true;
  auto again = f.resolve("www.example.com.", RRType::A, refresh);
  CHECK(again.rcode == Rcode::NOERROR);
  CHECK(section_text(again.answer) == section_text(first.answer));
  REQUIRE(f.network.sent().size() == sent + 1);  // just the answer, no referral walk
  const auto& q = f.network.sent().back();
  CHECK((q.server == address(net::example_com_1) || q.server == address(net::example_com_2)));
}

TEST_CASE("walker: a CD=1 DO client gets the server's NSEC proofs, fresh and from the cache",
          "[walker][cache][dnssec]") {
  // A validating forwarder in front of us asks with CD=1 and checks the
  // proofs itself (RFC 4035 §3.2.2): dropping them made its answers bogus.
  Fixture f;
  f.options.dnssec.enabled = true;  // no anchor: nothing would validate anyway
  f.options.qname_minimisation = false;
  ScriptedReply nx;
  nx.rcode = Rcode::NXDOMAIN;
  nx.authority.push_back(rr("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 300"));
  nx.authority.push_back(rr("example.com. 300 IN NSEC alias.example.com. SOA NS RRSIG NSEC"));
  f.network.on(net::example_com_1, "nope.example.com.", RRType::A, nx);
  f.network.on(net::example_com_2, "nope.example.com.", RRType::A, nx);
  auto has_nsec = [](const ResolutionResult& r) {
    return std::any_of(r.authority.begin(), r.authority.end(), [](const wire::RRset& s) { return s.type == RRType::NSEC; });
  };
  ResolveOptions cd{.dnssec_ok = true, .checking_disabled = true};
  auto first = f.resolve("nope.example.com.", RRType::A, cd);
  CHECK(first.rcode == Rcode::NXDOMAIN);
  CHECK(has_nsec(first));
  const size_t sent = f.network.sent().size();
  auto cached = f.resolve("nope.example.com.", RRType::A, cd);
  CHECK(f.network.sent().size() == sent);  // from the negative cache
  CHECK(cached.rcode == Rcode::NXDOMAIN);
  CHECK(has_nsec(cached));
  // Without DO there is nothing to pass on.
  auto plain = f.resolve("nope.example.com.", RRType::A, ResolveOptions{.checking_disabled = true});
  CHECK_FALSE(has_nsec(plain));
}
