// Trust anchors in whole resolutions (RFC 4035 §5, RFC 6840 §5.2): an
// anchor whose DNSKEY RRset cannot be fetched or matches no anchor key makes
// everything below it SERVFAIL (EDE 9), never insecure; an anchor whose
// algorithms or digests are all unsupported makes it insecure; a configured
// anchor below an unsigned delegation starts an island of security.
#include <catch2/catch.hpp>

#include "signed_world.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using namespace sextant::resolver::testing::signed_world;
using dnssec::test::TestKey;
using std::chrono::milliseconds;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

namespace {

constexpr std::string_view kIsland = "192.0.2.70";

std::shared_ptr<dnssec::TrustAnchors> anchors_of(
    std::initializer_list<std::pair<std::string_view, wire::Rdata>> entries) {
  auto anchors = std::make_shared<dnssec::TrustAnchors>();
  for (const auto& [zone, ds] : entries) anchors->add_ds(N(zone), ds);
  return anchors;
}

// "sub.plain." is a signed zone below the unsigned "plain." (no DS can
// exist for it): only a configured anchor makes it secure.
struct Island {
  SignedZone zone{"sub.plain.", 13};

  explicit Island(World& world) {
    world.network.delegate(kPlain, "sub.plain.", {{"ns.sub.plain.", std::string(kIsland)}});
    ScriptedReply keys;
    add_records(keys.answer, zone.dnskey_set());
    world.network.on(kIsland, "sub.plain.", RRType::DNSKEY, keys);
    ScriptedReply www;
    add_records(www.answer, zone.sign(set_of("www.sub.plain.", RRType::A, {"192.0.2.71"})));
    world.network.on(kIsland, "www.sub.plain.", RRType::A, www);
  }
  wire::Rdata ds() const { return zone.key.ds(N("sub.plain.")); }
};

}  // namespace

TEST_CASE("anchors: a root DNSKEY RRset that cannot be fetched is SERVFAIL, never insecure",
          "[walker][dnssec][anchors]") {
  World world;
  world.signed_example();
  ScriptedReply failure;
  bool silent = false;
  SECTION("the root servers do not answer the DNSKEY query") {
    failure.behaviour = Behaviour::silent;
    silent = true;
  }
  SECTION("the root servers answer SERVFAIL") { failure.rcode = Rcode::SERVFAIL; }
  SECTION("the root servers answer NODATA") {
    add_records(failure.authority,
                world.root.sign(set_of(".", RRType::SOA,
                                       {"a.root-servers.net. hostmaster. 1 3600 600 86400 300"})));
  }
  // A limited rule takes precedence over the world's own DNSKEY answer.
  world.network.on(kRoot, ".", RRType::DNSKEY, failure, 1000);
  for (std::string_view name : {"www.example.", "www.plain."}) {
    INFO(name);
    auto r = world.resolve(name, RRType::A);
    INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
    CHECK(r.rcode == Rcode::SERVFAIL);
    CHECK(r.answer.empty());
    if (silent) {
      // The root's servers count as unreachable for a while after the
      // DNSKEY query timed out: the next question fails at once (EDE 22).
      CHECK((ede_of(r) == 9 || ede_of(r) == 22));
    } else {
      CHECK(r.validation == ValidationState::bogus);
      CHECK(ede_of(r) == 9);
    }
  }
  if (!silent) {
    // CD=1 still gets the data (RFC 4035 3.2.2).
    auto cd = world.resolve("www.example.", RRType::A, true);
    CHECK(cd.rcode == Rcode::NOERROR);
    CHECK(cd.validation == ValidationState::unchecked);
  }
}

TEST_CASE("anchors: a root DNSKEY RRset that matches no anchor is SERVFAIL with EDE 9",
          "[walker][dnssec][anchors]") {
  World world;
  world.signed_example();
  TestKey other(13, 257);
  world.options.dnssec.anchors = anchors_of({{".", other.ds(Name())}});
  for (std::string_view name : {"www.example.", "www.plain."}) {
    INFO(name);
    auto r = world.resolve(name, RRType::A);
    INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
    CHECK(r.rcode == Rcode::SERVFAIL);
    CHECK(r.validation == ValidationState::bogus);
    CHECK(ede_of(r) == 9);
  }
}

TEST_CASE("anchors: an anchor with only unsupported algorithms or digests leaves the tree insecure",
          "[walker][dnssec][anchors]") {
  World world;
  world.signed_example();
  wire::Rdata ds = world.root.key.ds(Name());
  uint16_t expected_ede = 0;
  SECTION("DSA") {
    ds[2] = 3;
    expected_ede = 1;
  }
  SECTION("GOST digest") {
    ds[3] = 3;
    expected_ede = 2;
  }
  world.options.dnssec.anchors = anchors_of({{".", ds}});
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::insecure);
  CHECK(ede_of(r) == expected_ede);
  CHECK(r.answer.size() == 1);
}

TEST_CASE("anchors: an island of security below an unsigned delegation",
          "[walker][dnssec][anchors]") {
  World world;
  world.signed_example();
  Island island(world);

  SECTION("only the island is anchored: it is secure, the rest insecure") {
    world.options.dnssec.anchors = anchors_of({{"sub.plain.", island.ds()}});
    auto r = world.resolve("www.sub.plain.", RRType::A);
    INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
    CHECK(r.rcode == Rcode::NOERROR);
    CHECK(r.validation == ValidationState::secure);
    CHECK(world.resolve("www.example.", RRType::A).validation == ValidationState::insecure);
  }
  SECTION("root and island anchored; the unsigned parent learnt first does not hide the island") {
    world.options.dnssec.anchors =
        anchors_of({{".", world.root.key.ds(Name())}, {"sub.plain.", island.ds()}});
    auto plain = world.resolve("www.plain.", RRType::A);
    REQUIRE(plain.validation == ValidationState::insecure);
    auto r = world.resolve("www.sub.plain.", RRType::A);
    INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
    CHECK(r.rcode == Rcode::NOERROR);
    CHECK(r.validation == ValidationState::secure);
  }
  SECTION("a CNAME from the unsigned parent into the island: the island part is still checked") {
    world.options.dnssec.anchors =
        anchors_of({{".", world.root.key.ds(Name())}, {"sub.plain.", island.ds()}});
    ScriptedReply alias;
    alias.answer.push_back(rr("alias.plain. 300 IN CNAME www.sub.plain."));
    world.network.on(kPlain, "alias.plain.", RRType::A, alias);
    auto good = world.resolve("alias.plain.", RRType::A);
    CHECK(good.rcode == Rcode::NOERROR);
    CHECK(good.validation == ValidationState::insecure);
    CHECK(good.answer.size() == 2);
    ScriptedReply forged;
    forged.answer.push_back(rr("www.sub.plain. 300 IN A 203.0.113.66"));
    world.network.on(kIsland, "www.sub.plain.", RRType::A, forged, 1000);
    world.network.on(kPlain, "alias2.plain.", RRType::A, [] {
      ScriptedReply r;
      r.answer.push_back(rr("alias2.plain. 300 IN CNAME www.sub.plain."));
      return r;
    }());
    auto bad = world.resolve("alias2.plain.", RRType::A);
    CHECK(bad.rcode == Rcode::SERVFAIL);
    CHECK(bad.validation == ValidationState::bogus);
  }
  SECTION("a forged island answer is bogus, not insecure") {
    world.options.dnssec.anchors =
        anchors_of({{".", world.root.key.ds(Name())}, {"sub.plain.", island.ds()}});
    ScriptedReply forged;
    forged.answer.push_back(rr("www.sub.plain. 300 IN A 203.0.113.66"));
    world.network.on(kIsland, "www.sub.plain.", RRType::A, forged, 1000);
    auto r = world.resolve("www.sub.plain.", RRType::A);
    CHECK(r.rcode == Rcode::SERVFAIL);
    CHECK(r.validation == ValidationState::bogus);
  }
  SECTION("the island's keys cannot be fetched: SERVFAIL below it") {
    world.options.dnssec.anchors = anchors_of({{"sub.plain.", island.ds()}});
    ScriptedReply refused;
    refused.rcode = Rcode::REFUSED;
    world.network.on(kIsland, "sub.plain.", RRType::DNSKEY, refused, 1000);
    auto r = world.resolve("www.sub.plain.", RRType::A);
    CHECK(r.rcode == Rcode::SERVFAIL);
    CHECK(ede_of(r) == 9);
  }
}

TEST_CASE("anchors: a trust point with no trusted key left (RFC 5011, all revoked) is SERVFAIL",
          "[walker][dnssec][anchors]") {
  World world;
  world.signed_example();
  auto anchors = std::make_shared<dnssec::TrustAnchors>();
  anchors->add_zone(Name());
  world.options.dnssec.anchors = anchors;
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
  CHECK(ede_of(r) == 9);
  // Trust comes back when the operator gives a key again.
  world.w().set_trust_anchors(anchors_of({{".", world.root.key.ds(Name())}}), true);
  world.loop.run_for(milliseconds{10});
  auto again = world.resolve("www.example.", RRType::A);
  CHECK(again.validation == ValidationState::secure);
}
