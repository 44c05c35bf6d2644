// Whole resolutions with DNSSEC validation in the little signed internet of
// signed_world.h (a signed root, a signed "example." and an unsigned
// "plain."). Covers the secure path (AD), bogus signatures,
// expiry, DS mismatch, unsigned and unsupported delegations, NSEC and NSEC3
// denial, wildcard proofs, CD=1, the validation budget and DNSKEY fetch
// failures being transient.
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

TEST_CASE("dnssec walker: a signed answer is secure for algorithms 5, 7, 8, 13 and 15",
          "[walker][dnssec]") {
  const uint8_t algorithm = GENERATE(5, 7, 8, 13, 15);
  World world(algorithm, algorithm);
  world.signed_example();
  auto r = world.resolve("www.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::secure);
  REQUIRE(r.answer.size() == 1);
  CHECK_FALSE(r.answer[0].signatures.empty());  // DO clients get the RRSIGs
  CHECK(world.w().stats().validated_secure == 1);

  // The chain is remembered: a second name needs no DS/DNSKEY query.
  const uint64_t key_queries = world.w().stats().key_queries;
  ScriptedReply mail;
  add_records(mail.answer, world.example.sign(set_of("mail.example.", RRType::A, {"192.0.2.2"})));
  world.network.on(kExample, "mail.example.", RRType::A, mail, 1);
  auto again = world.resolve("mail.example.", RRType::A);
  CHECK(again.validation == ValidationState::secure);
  CHECK(world.w().stats().key_queries == key_queries);
}

TEST_CASE("dnssec walker: a bad signature is bogus: SERVFAIL with EDE 6", "[walker][dnssec]") {
  World world;
  world.delegate_example();
  world.serve_example_keys();
  RRset a = world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"}));
  a.signatures[0].back() ^= 0x55;
  world.answer_www(a);
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
  CHECK(ede_of(r) == 6);
  CHECK(r.answer.empty());

  SECTION("CD=1 returns the data unvalidated") {
    auto cd = world.resolve("www.example.", RRType::A, true);
    CHECK(cd.rcode == Rcode::NOERROR);
    CHECK(cd.validation == ValidationState::unchecked);
    CHECK(cd.answer.size() == 1);
  }
}

TEST_CASE("dnssec walker: an expired signature is bogus with EDE 7", "[walker][dnssec]") {
  World world;
  world.delegate_example();
  world.serve_example_keys();
  world.answer_www(world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"}),
                                      kWallStart - 10 * 86400, kWallStart - 5 * 86400));
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(ede_of(r) == 7);
}

TEST_CASE("dnssec walker: a DS that matches no DNSKEY is bogus", "[walker][dnssec]") {
  World world;
  TestKey other(13, 257);
  world.delegate_example(other.ds(N("example.")));
  world.serve_example_keys();
  world.answer_www(world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"})));
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
  CHECK((ede_of(r) == 9 || ede_of(r) == 6));
}

TEST_CASE("dnssec walker: an unsigned child of a signed parent is insecure", "[walker][dnssec]") {
  World world;
  auto r = world.resolve("www.plain.", RRType::A);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::insecure);
  CHECK(r.answer.size() == 1);
}

TEST_CASE("dnssec walker: a DS with only an unsupported algorithm makes the zone insecure",
          "[walker][dnssec]") {
  // DSA (3, 6) and GOST (12) are not validated (RFC 8624 3.1); 200 is
  // unassigned: insecure with EDE 1 (RFC 4035 5.2, RFC 6840 5.2).
  const uint8_t unsupported = GENERATE(3, 6, 12, 200);
  World world;
  wire::Rdata ds = world.example.key.ds(N("example."));
  ds[2] = unsupported;
  world.delegate_example(ds);
  world.serve_example_keys();
  world.answer_www(world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"})));
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::insecure);
  CHECK(ede_of(r) == 1);
  CHECK(r.answer.size() == 1);
}

TEST_CASE("dnssec walker: NSEC NXDOMAIN and NODATA are secure, proofs in authority",
          "[walker][dnssec]") {
  World world;
  world.signed_example();
  ScriptedReply nx;
  nx.rcode = Rcode::NXDOMAIN;
  add_records(nx.authority, world.example.soa());
  add_records(nx.authority, world.example.sign(set_of(
                                "example.", RRType::NSEC,
                                {"www.example. NS SOA RRSIG NSEC DNSKEY"}, 300)));
  world.network.on(kExample, "nx.example.", RRType::A, nx);
  ScriptedReply nodata;
  add_records(nodata.authority, world.example.soa());
  add_records(nodata.authority, world.example.sign(set_of("www.example.", RRType::NSEC,
                                                          {"example. A RRSIG NSEC"}, 300)));
  world.network.on(kExample, "www.example.", RRType::AAAA, nodata);

  auto r = world.resolve("nx.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NXDOMAIN);
  CHECK(r.validation == ValidationState::secure);
  REQUIRE(r.authority.size() == 2);
  CHECK(r.authority[0].type == RRType::SOA);
  CHECK(r.authority[1].type == RRType::NSEC);
  CHECK_FALSE(r.authority[1].signatures.empty());

  auto n = world.resolve("www.example.", RRType::AAAA);
  CHECK(n.rcode == Rcode::NOERROR);
  CHECK(n.answer.empty());
  CHECK(n.validation == ValidationState::secure);
  CHECK(has_type(n.authority, RRType::NSEC));

  SECTION("a negative answer without its NSEC is bogus") {
    ScriptedReply bare;
    bare.rcode = Rcode::NXDOMAIN;
    add_records(bare.authority, world.example.soa());
    world.network.on(kExample, "gone.example.", RRType::A, bare);
    auto b = world.resolve("gone.example.", RRType::A);
    CHECK(b.rcode == Rcode::SERVFAIL);
    CHECK(b.validation == ValidationState::bogus);
  }
}

TEST_CASE("dnssec walker: NSEC3 NXDOMAIN and NODATA are secure; high iterations insecure",
          "[walker][dnssec]") {
  const uint16_t iterations = GENERATE(0, 100);
  World world;
  world.signed_example();
  const Name zone = N("example.");
  // A two-record NSEC3 chain: the apex and www.
  auto apex_hash = *dnssec::nsec3_hash(zone, {}, iterations);
  auto www_hash = *dnssec::nsec3_hash(N("www.example."), {}, iterations);
  const std::string apex_owner = nsec3_owner(zone, zone, iterations);
  const std::string www_owner = nsec3_owner(N("www.example."), zone, iterations);
  RRset apex = world.example.sign(set_of(
      apex_owner, RRType::NSEC3,
      {fmt::format("1 0 {} - {} NS SOA RRSIG DNSKEY NSEC3PARAM", iterations,
                   wire::base32hex_encode(www_hash))},
      300));
  RRset www = world.example.sign(set_of(
      www_owner, RRType::NSEC3,
      {fmt::format("1 0 {} - {} A RRSIG", iterations, wire::base32hex_encode(apex_hash))}, 300));
  ScriptedReply nx;
  nx.rcode = Rcode::NXDOMAIN;
  add_records(nx.authority, world.example.soa());
  add_records(nx.authority, apex);
  add_records(nx.authority, www);
  world.network.on(kExample, "nx.example.", RRType::A, nx);
  ScriptedReply nodata;
  add_records(nodata.authority, world.example.soa());
  add_records(nodata.authority, www);
  world.network.on(kExample, "www.example.", RRType::AAAA, nodata);

  auto r = world.resolve("nx.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NXDOMAIN);
  CHECK(has_type(r.authority, RRType::NSEC3));
  auto n = world.resolve("www.example.", RRType::AAAA);
  CHECK(n.rcode == Rcode::NOERROR);
  if (iterations == 0) {
    CHECK(r.validation == ValidationState::secure);
    CHECK(n.validation == ValidationState::secure);
  } else {
    CHECK(r.validation == ValidationState::insecure);
    CHECK(ede_of(r) == 27);
    CHECK(n.validation == ValidationState::insecure);
  }
}

TEST_CASE("dnssec walker: a wildcard answer comes with its proof", "[walker][dnssec]") {
  World world;
  world.signed_example();
  RRset a = set_of("*.wild.example.", RRType::A, {"192.0.2.9"});
  a = world.example.sign(a);
  a.owner = N("a.wild.example.");
  ScriptedReply reply;
  add_records(reply.answer, a);
  add_records(reply.authority, world.example.sign(set_of(
                                   "*.wild.example.", RRType::NSEC, {"www.example. A RRSIG NSEC"}, 300)));
  world.network.on(kExample, "a.wild.example.", RRType::A, reply);
  auto r = world.resolve("a.wild.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::secure);
  CHECK(has_type(r.authority, RRType::NSEC));

  SECTION("without the proof it is bogus") {
    ScriptedReply bare;
    RRset b = world.example.sign(set_of("*.wild.example.", RRType::A, {"192.0.2.9"}));
    b.owner = N("b.wild.example.");
    add_records(bare.answer, b);
    world.network.on(kExample, "b.wild.example.", RRType::A, bare);
    auto x = world.resolve("b.wild.example.", RRType::A);
    CHECK(x.rcode == Rcode::SERVFAIL);
  }
}

TEST_CASE("dnssec walker: a KeyTrap-like answer stops at the validation budget",
          "[walker][dnssec]") {
  World world;
  world.options.dnssec.limits.max_verifications_per_request = 5;
  world.delegate_example();
  world.serve_example_keys();
  // Many signatures claiming the zone key, all broken: each costs a verification.
  RRset a = set_of("www.example.", RRType::A, {"192.0.2.1"});
  for (int i = 0; i < 8; ++i) {
    a = world.example.sign(a);
    a.signatures.back().back() ^= 0x01;
  }
  world.answer_www(a);
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(ede_of(r) == 6);
  CHECK(r.elapsed < milliseconds{1000});
}

TEST_CASE("dnssec walker: a failed DNSKEY fetch is transient", "[walker][dnssec]") {
  World world;
  world.delegate_example();
  world.answer_www(world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"})));
  ScriptedReply broken;
  broken.rcode = Rcode::SERVFAIL;
  world.network.on(kExample, "example.", RRType::DNSKEY, broken, 1);
  world.serve_example_keys();
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
  CHECK((ede_of(r) == 9 || ede_of(r) == 22));
  // Remembered briefly: asked again at once, no new DNSKEY query.
  const size_t dnskey_queries = world.network.sent_for("example.", RRType::DNSKEY);
  auto again = world.resolve("www.example.", RRType::A);
  CHECK(again.rcode == Rcode::SERVFAIL);
  CHECK(world.network.sent_for("example.", RRType::DNSKEY) == dnskey_queries);
  // Remembered for seconds only: the keys are asked again later and the
  // zone validates.
  world.loop.run_for(milliseconds{6000});
  auto later = world.resolve("www.example.", RRType::A);
  INFO(later.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(later.rcode == Rcode::NOERROR);
  CHECK(later.validation == ValidationState::secure);
}

TEST_CASE("dnssec walker: without anchors or with validation off nothing is validated",
          "[walker][dnssec]") {
  World world;
  world.signed_example();
  SECTION("validation off (the WalkerOptions default)") {
    world.options.dnssec.enabled = false;
    auto r = world.resolve("www.example.", RRType::A);
    CHECK(r.validation == ValidationState::unchecked);
    CHECK(r.rcode == Rcode::NOERROR);
  }
  SECTION("enabled without anchors: insecure") {
    world.options.dnssec.anchors.reset();
    auto r = world.resolve("www.example.", RRType::A);
    CHECK(r.validation == ValidationState::insecure);
    CHECK(r.rcode == Rcode::NOERROR);
  }
  SECTION("a negative trust anchor: insecure with EDE 33") {
    auto ntas = std::make_shared<dnssec::NegativeTrustAnchors>();
    ntas->add(N("example."));
    world.options.dnssec.negative_anchors = ntas;
    auto r = world.resolve("www.example.", RRType::A);
    CHECK(r.validation == ValidationState::insecure);
    CHECK(ede_of(r) == 33);
  }
}

TEST_CASE("dnssec walker: aggressive NSEC answers covered names from validated records (RFC 8198)",
          "[walker][dnssec]") {
  const bool aggressive = GENERATE(true, false);
  World world;
  cache::Cache cache;
  world.cache = &cache;
  world.options.dnssec.aggressive_nsec = aggressive;
  world.signed_example();
  auto nxdomain_reply = [&] {
    ScriptedReply nx;
    nx.rcode = Rcode::NXDOMAIN;
    add_records(nx.authority, world.example.soa());
    add_records(nx.authority, world.example.sign(set_of(
                                  "example.", RRType::NSEC,
                                  {"www.example. NS SOA RRSIG NSEC DNSKEY"}, 300)));
    return nx;
  };
  world.network.on(kExample, "nx.example.", RRType::A, nxdomain_reply());
  world.network.on(kExample, "other.example.", RRType::A, nxdomain_reply());
  auto first = world.resolve("nx.example.", RRType::A);
  REQUIRE(first.rcode == Rcode::NXDOMAIN);
  REQUIRE(first.validation == ValidationState::secure);

  auto r = world.resolve("other.example.", RRType::A);
  CHECK(r.rcode == Rcode::NXDOMAIN);
  CHECK(r.validation == ValidationState::secure);
  CHECK(has_type(r.authority, RRType::NSEC));
  if (aggressive) {
    CHECK(world.network.sent_for("other.example.", RRType::A) == 0);
    CHECK(world.w().stats().aggressive_answers == 1);
  } else {
    CHECK(world.network.sent_for("other.example.", RRType::A) >= 1);
    CHECK(world.w().stats().aggressive_answers == 0);
  }
}

TEST_CASE("dnssec walker: a denial learned by one worker's walker answers on another's (RFC 8198)",
          "[walker][dnssec]") {
  // The daemon gives every worker's walker the same DenialMemory: SO_REUSEPORT
  // may hand a client's next query to any worker.
  World world;
  cache::Cache cache;
  world.cache = &cache;
  world.options.dnssec.aggressive_nsec = true;
  world.options.denials = std::make_shared<DenialMemory>();
  world.signed_example();
  ScriptedReply nx;
  nx.rcode = Rcode::NXDOMAIN;
  add_records(nx.authority, world.example.soa());
  add_records(nx.authority, world.example.sign(set_of("example.", RRType::NSEC,
                                                      {"www.example. NS SOA RRSIG NSEC DNSKEY"}, 300)));
  world.network.on(kExample, "nx.example.", RRType::A, nx);
  world.network.on(kExample, "other.example.", RRType::A, nx);
  auto first = world.resolve("nx.example.", RRType::A);
  REQUIRE(first.rcode == Rcode::NXDOMAIN);
  REQUIRE(first.validation == ValidationState::secure);
  REQUIRE_FALSE(world.options.denials->empty());

  RootHints hints;
  NameServerHint hint;
  hint.name = N("a.root-servers.net.");
  hint.addresses.push_back(address(kRoot));
  hints.servers.push_back(hint);
  Walker second(world.network, world.loop, world.options, hints, seeded_random(), &cache);
  ResultCapture capture;
  second.resolve(wire::Question{N("other.example."), RRType::A, wire::RRClass::IN},
                 ResolveOptions{.dnssec_ok = true},
                 [&capture](const ResolutionResult& r) { capture.results.push_back(r); });
  for (int i = 0; i < 2000 && capture.results.empty(); ++i) world.loop.run_for(milliseconds{5});
  INFO(world.network.log());
  REQUIRE(capture.results.size() == 1);
  const ResolutionResult& r = capture.results[0];
  CHECK(r.rcode == Rcode::NXDOMAIN);
  CHECK(r.validation == ValidationState::secure);
  CHECK(has_type(r.authority, RRType::NSEC));
  CHECK(world.network.sent_for("other.example.", RRType::A) == 0);
  CHECK(second.stats().aggressive_answers == 1);
}
