// The validator facade on the RFC 4035 Appendix B responses, with the
// Appendix A zone signed here by generated keys (the RFC's signatures are
// placeholders): B.1 answer, B.2 NXDOMAIN, B.3 NODATA, B.4 referral to a
// signed zone, B.5 referral to an unsigned zone, B.6 wildcard expansion,
// B.7 wildcard NODATA, B.8 DS NODATA from the child zone; then the states
// and EDEs around them.
#include <catch2/catch.hpp>

#include "cache/dnssec_status.h"
#include "dnssec/key_chain.h"
#include "dnssec/validator.h"
#include "test_helpers.h"

using namespace sextant;
using namespace sextant::dnssec;
using namespace sextant::dnssec::test;
using wire::RRType;

namespace {

// The example. zone of RFC 4035 Appendix A, signed with a fresh KSK/ZSK.
struct ExampleZone {
  TestKey ksk{13, 257};
  TestKey zsk{15, 256};
  KnownZones zones;

  ExampleZone() {
    wire::RRset dnskeys = rrset("example.", RRType::DNSKEY, 3600, {});
    dnskeys.rdatas = {ksk.dnskey(), zsk.dnskey()};
    ksk.sign(dnskeys, N("example."));
    ValidationBudget budget;
    auto keys = validate_zone_keys(N("example."), dnskeys,
                                   std::vector<wire::Rdata>{ksk.ds(N("example."))}, kNow, budget);
    REQUIRE(keys.verdict.is_secure());
    zones.add_secure(N("example."), keys.keys);
  }

  wire::RRset sig(wire::RRset set, int labels = -1) const {
    zsk.sign(set, N("example."), kNow - 86400, kNow + 86400, labels);
    return set;
  }
  wire::RRset soa() const {
    return sig(rrset("example.", RRType::SOA, 3600,
                     {"ns1.example. bugs.x.w.example. 1081539377 3600 300 3600000 3600"}));
  }
  wire::RRset nsec(const char* owner, const char* text) const {
    return sig(rrset(owner, RRType::NSEC, 3600, {text}));
  }
};

ResponseValidation run(const ExampleZone& z, const ResponseToValidate& r, uint32_t now = kNow) {
  ValidationBudget budget;
  return validate_response(r, z.zones, nullptr, now, budget);
}

ResponseToValidate response(const char* qname, RRType qtype, ResponseKind kind) {
  ResponseToValidate r;
  r.qname = N(qname);
  r.qtype = qtype;
  r.kind = kind;
  r.zone = N("example.");
  return r;
}

}  // namespace

TEST_CASE("RFC 4035 B.1: answer x.w.example MX is secure", "[dnssec][validator]") {
  ExampleZone z;
  auto r = response("x.w.example.", RRType::MX, ResponseKind::answer);
  r.answer = {z.sig(rrset("x.w.example.", RRType::MX, 3600, {"1 xx.example."}))};
  r.authority = {z.sig(rrset("example.", RRType::NS, 3600, {"ns1.example.", "ns2.example."}))};
  const auto v = run(z, r);
  CHECK(v.verdict.is_secure());
  CHECK(v.answer_states == std::vector<SecurityState>{SecurityState::secure});
  CHECK(v.authority_states == std::vector<SecurityState>{SecurityState::secure});
  CHECK(v.ttl_limit == 3600);
}

TEST_CASE("RFC 4035 B.2: NXDOMAIN ml.example is secure", "[dnssec][validator]") {
  ExampleZone z;
  auto r = response("ml.example.", RRType::A, ResponseKind::nxdomain);
  r.authority = {z.soa(), z.nsec("b.example.", "ns1.example. NS RRSIG NSEC"),
                 z.nsec("example.", "a.example. NS SOA MX RRSIG NSEC DNSKEY")};
  CHECK(run(z, r).verdict.is_secure());
  // Drop the wildcard-denying NSEC: bogus, NSEC Missing.
  r.authority.pop_back();
  const auto v = run(z, r);
  CHECK(v.verdict.is_bogus());
  CHECK(v.verdict.ede == wire::EdeCode::NsecMissing);
}

TEST_CASE("RFC 4035 B.3: NODATA ns1.example MX is secure", "[dnssec][validator]") {
  ExampleZone z;
  auto r = response("ns1.example.", RRType::MX, ResponseKind::nodata);
  r.authority = {z.soa(), z.nsec("ns1.example.", "ns2.example. A RRSIG NSEC")};
  CHECK(run(z, r).verdict.is_secure());
  // Claiming NODATA for A, which the NSEC lists: bogus.
  auto lie = response("ns1.example.", RRType::A, ResponseKind::nodata);
  lie.authority = r.authority;
  CHECK(run(z, lie).verdict.ede == wire::EdeCode::NsecMissing);
}

TEST_CASE("RFC 4035 B.4: referral to the signed zone a.example", "[dnssec][validator]") {
  ExampleZone z;
  auto r = response("mc.a.example.", RRType::MX, ResponseKind::referral);
  TestKey child_ksk(13, 257);
  wire::RRset ds = rrset("a.example.", RRType::DS, 3600, {});
  ds.rdatas = {child_ksk.ds(N("a.example."))};
  r.authority = {rrset("a.example.", RRType::NS, 3600, {"ns1.a.example.", "ns2.a.example."}),
                 z.sig(ds)};
  const auto v = run(z, r);
  CHECK(v.verdict.is_secure());
  CHECK(v.delegation == N("a.example."));
  CHECK(v.delegation_state == SecurityState::secure);
  CHECK(v.delegation_ds == ds.rdatas);
  CHECK(v.authority_states[0] == SecurityState::indeterminate);  // parent-side NS
  CHECK(v.authority_states[1] == SecurityState::secure);
}

TEST_CASE("RFC 4035 B.5: referral to the unsigned zone b.example", "[dnssec][validator]") {
  ExampleZone z;
  auto r = response("mc.b.example.", RRType::MX, ResponseKind::referral);
  r.authority = {rrset("b.example.", RRType::NS, 3600, {"ns1.b.example.", "ns2.b.example."}),
                 z.nsec("b.example.", "ns1.example. NS RRSIG NSEC")};
  const auto v = run(z, r);
  CHECK(v.verdict.is_secure());
  CHECK(v.delegation_state == SecurityState::insecure);
  // Without the NSEC the missing DS is not proven: bogus.
  r.authority.pop_back();
  const auto bad = run(z, r);
  CHECK(bad.delegation_state == SecurityState::bogus);
  CHECK(bad.verdict.ede == wire::EdeCode::NsecMissing);
  // A forged referral at ns1.example, whose real NSEC has no NS bit: that
  // NSEC proves there is no delegation, not an unsigned one (RFC 6840 4.4).
  auto forged = response("www.ns1.example.", RRType::A, ResponseKind::referral);
  forged.authority = {rrset("ns1.example.", RRType::NS, 3600, {"ns.attacker.test."}),
                      z.nsec("ns1.example.", "ns2.example. A RRSIG NSEC")};
  const auto fake = run(z, forged);
  CHECK(fake.delegation_state == SecurityState::bogus);
  CHECK(fake.verdict.is_bogus());
}

TEST_CASE("RFC 4035 B.6: wildcard expansion a.z.w.example MX", "[dnssec][validator]") {
  ExampleZone z;
  auto r = response("a.z.w.example.", RRType::MX, ResponseKind::answer);
  r.answer = {z.sig(rrset("a.z.w.example.", RRType::MX, 3600, {"1 ai.example."}), 2)};
  r.authority = {z.sig(rrset("example.", RRType::NS, 3600, {"ns1.example.", "ns2.example."})),
                 z.nsec("x.y.w.example.", "xx.example. MX RRSIG NSEC")};
  CHECK(run(z, r).verdict.is_secure());
  // The expansion without the NSEC proving a.z.w.example absent is bogus.
  r.authority.pop_back();
  const auto v = run(z, r);
  CHECK(v.verdict.is_bogus());
  CHECK(v.verdict.ede == wire::EdeCode::NsecMissing);
}

TEST_CASE("RFC 4035 B.7: wildcard NODATA a.z.w.example AAAA", "[dnssec][validator]") {
  ExampleZone z;
  auto r = response("a.z.w.example.", RRType::AAAA, ResponseKind::nodata);
  r.authority = {z.soa(), z.nsec("x.y.w.example.", "xx.example. MX RRSIG NSEC"),
                 z.nsec("*.w.example.", "x.w.example. MX RRSIG NSEC")};
  CHECK(run(z, r).verdict.is_secure());
}

TEST_CASE("RFC 4035 B.8: a DS NODATA from the child zone itself is not accepted",
          "[dnssec][validator]") {
  ExampleZone z;
  auto r = response("example.", RRType::DS, ResponseKind::nodata);
  r.authority = {z.soa(), z.nsec("example.", "a.example. NS SOA MX RRSIG NSEC DNSKEY")};
  const auto v = run(z, r);
  CHECK(v.verdict.is_bogus());
  CHECK(v.verdict.ede == wire::EdeCode::NsecMissing);
}

TEST_CASE("validator states and EDEs", "[dnssec][validator]") {
  ExampleZone z;
  auto answer = response("ai.example.", RRType::A, ResponseKind::answer);
  answer.answer = {z.sig(rrset("ai.example.", RRType::A, 3600, {"192.0.2.9"}))};

  SECTION("secure, and the signature's remaining time caps the TTL") {
    const auto v = run(z, answer, kNow + 86400 - 100);
    CHECK(v.verdict.is_secure());
    CHECK(v.ttl_limit == 100);
  }
  SECTION("tampered data: bogus, EDE 6") {
    answer.answer[0].rdatas = {rd(RRType::A, "192.0.2.10")};
    CHECK(run(z, answer).verdict.ede == wire::EdeCode::DnssecBogus);
  }
  SECTION("unsigned data in a signed zone: bogus, EDE 10") {
    answer.answer[0].signatures.clear();
    // First: is ai.example. an unsigned child served by the same servers?
    // The walker asks DS; the parent's denial shows no cut there, so the
    // name is inside example. and holds example.'s keys.
    auto v = run(z, answer);
    REQUIRE(v.needs_keys);
    CHECK(*v.needs_keys == N("ai.example."));
    z.zones.add_secure(N("ai.example."), z.zones.lookup(N("example."))->keys);
    CHECK(run(z, answer).verdict.ede == wire::EdeCode::RrsigsMissing);
    // Had the DS query proven an unsigned delegation, the data is insecure.
    z.zones.add_insecure(N("ai.example."), Verdict::insecure("no DS"));
    CHECK(run(z, answer).verdict.state == SecurityState::insecure);
  }
  SECTION("expired / not yet valid: EDE 7 / 8") {
    CHECK(run(z, answer, kNow + 3 * 86400).verdict.ede == wire::EdeCode::SignatureExpired);
    CHECK(run(z, answer, kNow - 3 * 86400).verdict.ede == wire::EdeCode::SignatureNotYetValid);
  }
  SECTION("keys not known yet: indeterminate, naming the zone to fetch") {
    KnownZones none;
    ValidationBudget budget;
    const auto v = validate_response(answer, none, nullptr, kNow, budget);
    CHECK(v.verdict.state == SecurityState::indeterminate);
    REQUIRE(v.needs_keys);
    CHECK(*v.needs_keys == N("example."));
  }
  SECTION("a zone proven unsigned makes everything below insecure") {
    KnownZones unsigned_zones;
    unsigned_zones.add_insecure(wire::Name(), Verdict::insecure("no DS for the TLD"));
    answer.answer[0].signatures.clear();
    ValidationBudget budget;
    const auto v = validate_response(answer, unsigned_zones, nullptr, kNow, budget);
    CHECK(v.verdict.state == SecurityState::insecure);
  }
  SECTION("negative trust anchor: insecure, EDE 33") {
    NegativeTrustAnchors ntas;
    ntas.add(N("example."));
    answer.answer[0].signatures.clear();
    ValidationBudget budget;
    const auto v = validate_response(answer, z.zones, &ntas, kNow, budget);
    CHECK(v.verdict.state == SecurityState::insecure);
    CHECK(v.verdict.ede == wire::EdeCode::NegativeTrustAnchor);
  }
  SECTION("a CNAME into another signed zone asks for that zone's keys") {
    TestKey other(13, 257);
    auto chain = response("www.example.", RRType::A, ResponseKind::answer);
    chain.answer = {z.sig(rrset("www.example.", RRType::CNAME, 3600, {"www.other.test."})),
                    rrset("www.other.test.", RRType::A, 300, {"192.0.2.7"})};
    other.sign(chain.answer[1], N("other.test."));
    auto v = run(z, chain);
    REQUIRE(v.needs_keys);
    CHECK(*v.needs_keys == N("other.test."));
    // Once the walker has established that zone as unsigned: insecure overall.
    z.zones.add_insecure(N("other.test."), Verdict::insecure("no DS"));
    v = run(z, chain);
    CHECK(v.verdict.state == SecurityState::insecure);
    CHECK(v.answer_states == std::vector<SecurityState>{SecurityState::secure, SecurityState::insecure});
  }
  SECTION("a CNAME synthesised from a signed DNAME needs no signature") {
    auto r = response("a.d.example.", RRType::A, ResponseKind::answer);
    r.answer = {z.sig(rrset("d.example.", RRType::DNAME, 3600, {"x.w.example."})),
                rrset("a.d.example.", RRType::CNAME, 3600, {"a.x.w.example."})};
    CHECK(run(z, r).verdict.is_secure());
    r.answer[1] = rrset("a.d.example.", RRType::CNAME, 3600, {"evil.test."});
    z.zones.add_secure(N("d.example."), z.zones.lookup(N("example."))->keys);  // no cut there
    z.zones.add_secure(N("a.d.example."), z.zones.lookup(N("example."))->keys);
    CHECK(run(z, r).verdict.ede == wire::EdeCode::RrsigsMissing);
  }
  SECTION("NODATA after a CNAME is proven for the chain's target") {
    auto r = response("alias.example.", RRType::MX, ResponseKind::nodata);
    r.answer = {z.sig(rrset("alias.example.", RRType::CNAME, 3600, {"ns1.example."}))};
    r.authority = {z.soa(), z.nsec("ns1.example.", "ns2.example. A RRSIG NSEC")};
    CHECK(run(z, r).verdict.is_secure());
  }
  SECTION("a parent's signature over data below its cut is bogus") {
    auto r = response("www.sub.example.", RRType::A, ResponseKind::answer);
    r.zone = N("sub.example.");
    r.answer = {z.sig(rrset("www.sub.example.", RRType::A, 3600, {"192.0.2.1"}))};
    const auto v = run(z, r);
    CHECK(v.verdict.is_bogus());
    CHECK(v.answer_states[0] == SecurityState::bogus);
  }
  SECTION("the budget runs out: bogus, transient") {
    ValidationLimits limits;
    limits.max_verifications_per_request = 1;
    ValidationBudget budget(limits);
    auto r = response("ml.example.", RRType::A, ResponseKind::nxdomain);
    r.authority = {z.soa(), z.nsec("b.example.", "ns1.example. NS RRSIG NSEC"),
                   z.nsec("example.", "a.example. NS SOA MX RRSIG NSEC DNSKEY")};
    const auto v = validate_response(r, z.zones, nullptr, kNow, budget);
    CHECK(v.verdict.is_bogus());
    CHECK(v.verdict.transient);
    CHECK(budget.exhausted() == BudgetError::verifications);
  }
}

TEST_CASE("the walker's loop: anchor -> root keys -> DS -> zone keys -> answer",
          "[dnssec][validator][chain]") {
  // A lab root anchored by its own KSK, delegating example. with a DS.
  TestKey root_ksk(8, 257, 2048);
  TestKey root_zsk(13, 256);
  const auto anchors = TrustAnchors::from_text(
      ". IN DNSKEY " + wire::rdata_to_text(RRType::DNSKEY, root_ksk.dnskey()) + "\n", "lab");
  ExampleZone example;  // its own KSK/ZSK; zones below are filled step by step
  KnownZones zones;
  ValidationBudget budget;

  auto answer = response("x.w.example.", RRType::MX, ResponseKind::answer);
  answer.answer = {example.sig(rrset("x.w.example.", RRType::MX, 3600, {"1 xx.example."}))};

  // 1. Nothing known: the validator asks for example.'s keys.
  auto v = validate_response(answer, zones, nullptr, kNow, budget);
  REQUIRE(v.needs_keys);
  CHECK(*v.needs_keys == N("example."));

  // 2. The walker fetches DS example. from the root: it needs the root's keys.
  auto ds_answer = response("example.", RRType::DS, ResponseKind::answer);
  ds_answer.zone = wire::Name();
  wire::RRset ds = rrset("example.", RRType::DS, 86400, {});
  ds.rdatas = {example.ksk.ds(N("example."))};
  root_zsk.sign(ds, wire::Name());
  ds_answer.answer = {ds};
  v = validate_response(ds_answer, zones, nullptr, kNow, budget);
  REQUIRE(v.needs_keys);
  CHECK(v.needs_keys->is_root());

  // 3. Root DNSKEY against the anchor.
  wire::RRset root_keys = rrset(".", RRType::DNSKEY, 172800, {});
  root_keys.rdatas = {root_ksk.dnskey(), root_zsk.dnskey()};
  root_ksk.sign(root_keys, wire::Name());
  const TrustAnchor* anchor = anchors.closest(N("x.w.example."));
  REQUIRE(anchor);
  zones.add(anchor->zone, validate_zone_keys(anchor->zone, root_keys, anchor->ds, kNow, budget));

  // 4. The DS answer now validates; its rdata feeds the zone's key check.
  v = validate_response(ds_answer, zones, nullptr, kNow, budget);
  REQUIRE(v.verdict.is_secure());
  wire::RRset example_keys = rrset("example.", RRType::DNSKEY, 3600, {});
  example_keys.rdatas = {example.ksk.dnskey(), example.zsk.dnskey()};
  example.ksk.sign(example_keys, N("example."));
  REQUIRE(has_usable_ds(ds_answer.answer[0].rdatas));
  zones.add(N("example."),
            validate_zone_keys(N("example."), example_keys, ds_answer.answer[0].rdatas, kNow, budget));

  // 5. The answer is secure, well within the default budget.
  v = validate_response(answer, zones, nullptr, kNow, budget);
  CHECK(v.verdict.is_secure());
  CHECK(budget.verifications_used() <= 4);
  CHECK(budget.exhausted() == BudgetError::none);

  // A DS set the root did not sign breaks the chain: bogus.
  ds_answer.answer[0].signatures.clear();
  CHECK(validate_response(ds_answer, zones, nullptr, kNow, budget).verdict.ede ==
        wire::EdeCode::RrsigsMissing);
}

// The resolver stores SecurityState in the cache as cache::DnssecStatus with
// a cast; keep the values in step (header-only, no link dependency).
static_assert(static_cast<int>(SecurityState::indeterminate) ==
              static_cast<int>(cache::DnssecStatus::indeterminate));
static_assert(static_cast<int>(SecurityState::insecure) == static_cast<int>(cache::DnssecStatus::insecure));
static_assert(static_cast<int>(SecurityState::secure) == static_cast<int>(cache::DnssecStatus::secure));
static_assert(static_cast<int>(SecurityState::bogus) == static_cast<int>(cache::DnssecStatus::bogus));

TEST_CASE("a zone whose DS set has only unsupported algorithms answers insecure",
          "[dnssec][validator][chain]") {
  ExampleZone z;
  auto ds = z.ksk.ds(N("example."));
  ds[2] = 3;  // DSA: RFC 8624 says MUST NOT validate
  wire::RRset keys = rrset("example.", RRType::DNSKEY, 3600, {});
  keys.rdatas = {z.ksk.dnskey(), z.zsk.dnskey()};
  z.ksk.sign(keys, N("example."));
  ValidationBudget budget;
  KnownZones zones;
  zones.add(N("example."), validate_zone_keys(N("example."), keys, std::vector<wire::Rdata>{ds}, kNow, budget));
  auto r = response("ai.example.", RRType::A, ResponseKind::answer);
  r.answer = {rrset("ai.example.", RRType::A, 3600, {"192.0.2.9"})};  // even unsigned
  const auto v = validate_response(r, zones, nullptr, kNow, budget);
  CHECK(v.verdict.state == SecurityState::insecure);
  CHECK(v.verdict.ede == wire::EdeCode::UnsupportedDnskeyAlgorithm);
  CHECK(budget.verifications_used() == 0);
}

TEST_CASE("known zones: an unsigned ancestor covers its subtree down to the next trust anchor",
          "[dnssec][validator]") {
  KnownZones zones;
  zones.add_insecure(N("plain."), Verdict::insecure("no DS"));
  CHECK(zones.lookup(N("plain.")) != nullptr);
  REQUIRE(zones.lookup(N("sub.plain.")) != nullptr);
  CHECK(zones.lookup(N("sub.plain."))->verdict.state == SecurityState::insecure);
  // A configured anchor at sub.plain. starts its own chain.
  TrustAnchors anchors;
  TestKey key(13, 257);
  anchors.add_ds(N("sub.plain."), key.ds(N("sub.plain.")));
  zones.set_anchor_zones(anchors.anchors());
  CHECK(zones.lookup(N("sub.plain.")) == nullptr);
  CHECK(zones.lookup(N("www.sub.plain.")) == nullptr);
  CHECK(zones.lookup(N("other.plain.")) != nullptr);
  // Once the island is known, it decides for its subtree; a broken zone
  // below the island covers its own subtree again.
  zones.add_bogus(N("bad.sub.plain."), Verdict::bogus(wire::EdeCode::DnssecBogus, "test"));
  CHECK(zones.lookup(N("www.sub.plain.")) == nullptr);
  REQUIRE(zones.lookup(N("x.bad.sub.plain.")) != nullptr);
  CHECK(zones.lookup(N("x.bad.sub.plain."))->verdict.is_bogus());
  // An anchor zone that is itself insecure (unsupported algorithms) covers its subtree.
  zones.add_insecure(N("sub.plain."), Verdict::insecure("DSA only"));
  REQUIRE(zones.lookup(N("www.sub.plain.")) != nullptr);
  CHECK(zones.lookup(N("www.sub.plain."))->zone == N("sub.plain."));
}
