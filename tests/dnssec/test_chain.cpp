// The chain of trust: DS -> DNSKEY (validate_zone_keys), trust anchors,
// negative trust anchors, and the validation budget against KeyTrap-style
// input (CVE-2023-50387).
#include <catch2/catch.hpp>

#include <chrono>
#include <random>

#include "dnssec/key_chain.h"
#include "dnssec/trust_anchors.h"
#include "dnssec/verdict_cache.h"
#include "test_helpers.h"

using namespace sextant;
using namespace sextant::dnssec;
using namespace sextant::dnssec::test;
using wire::RRType;

namespace {

struct SignedZoneKeys {
  TestKey ksk{13, 257};
  TestKey zsk{13, 256};
  wire::RRset dnskeys;

  explicit SignedZoneKeys(const char* zone = "example.") {
    dnskeys.owner = N(zone);
    dnskeys.type = RRType::DNSKEY;
    dnskeys.ttl = 3600;
    dnskeys.rdatas = {ksk.dnskey(), zsk.dnskey()};
  }
};

}  // namespace

TEST_CASE("a DNSKEY RRset signed by the key the DS names is secure", "[dnssec][chain]") {
  SignedZoneKeys z;
  z.ksk.sign(z.dnskeys, N("example."));
  ValidationBudget budget;
  const auto ds = std::vector<wire::Rdata>{z.ksk.ds(N("example."))};
  const auto result = validate_zone_keys(N("example."), z.dnskeys, ds, kNow, budget);
  REQUIRE(result.verdict.is_secure());
  REQUIRE(result.keys);
  CHECK(result.keys->keys().size() == 2);
  CHECK(result.keys->has_usable_key());
  CHECK(result.ttl_limit == 3600);
  // SHA-1 and SHA-384 DS work as well.
  CHECK(validate_zone_keys(N("example."), z.dnskeys, std::vector<wire::Rdata>{z.ksk.ds(N("example."), 1)},
                           kNow, budget)
            .verdict.is_secure());
  CHECK(validate_zone_keys(N("example."), z.dnskeys, std::vector<wire::Rdata>{z.ksk.ds(N("example."), 4)},
                           kNow, budget)
            .verdict.is_secure());
}

TEST_CASE("DS sets that leave the zone insecure (RFC 6840 5.2)", "[dnssec][chain]") {
  SignedZoneKeys z;
  z.ksk.sign(z.dnskeys, N("example."));
  ValidationBudget budget;
  // Only GOST digests.
  auto gost = z.ksk.ds(N("example."));
  gost[3] = 3;
  auto r = validate_zone_keys(N("example."), z.dnskeys, std::vector<wire::Rdata>{gost}, kNow, budget);
  CHECK(r.verdict.state == SecurityState::insecure);
  CHECK(r.verdict.ede == wire::EdeCode::UnsupportedDsDigestType);
  // Only DSA (3), DSA-NSEC3-SHA1 (6) and GOST (12): RFC 8624 MUST NOT / MAY.
  auto dsa = z.ksk.ds(N("example."));
  dsa[2] = 3;
  auto dsa_nsec3 = z.ksk.ds(N("example."));
  dsa_nsec3[2] = 6;
  auto gost_key = z.ksk.ds(N("example."));
  gost_key[2] = 12;
  r = validate_zone_keys(N("example."), z.dnskeys, std::vector<wire::Rdata>{dsa, dsa_nsec3, gost_key},
                         kNow, budget);
  CHECK(r.verdict.state == SecurityState::insecure);
  CHECK(r.verdict.ede == wire::EdeCode::UnsupportedDnskeyAlgorithm);
  CHECK_FALSE(has_usable_ds(std::vector<wire::Rdata>{gost, dsa}));
  CHECK(has_usable_ds(std::vector<wire::Rdata>{gost, z.ksk.ds(N("example."))}));
  // A DS pointing at a 512-bit RSA key: unsupported, so insecure.
  TestKey weak(8, 257, 512);
  wire::RRset keys = z.dnskeys;
  keys.rdatas = {weak.dnskey()};
  r = validate_zone_keys(N("example."), keys, std::vector<wire::Rdata>{weak.ds(N("example."))}, kNow,
                         budget);
  CHECK(r.verdict.state == SecurityState::insecure);
}

TEST_CASE("RSA/SHA-1 zones (algorithms 5 and 7) chain from a SHA-1 DS (RFC 8624 3.1, 3.3)",
          "[dnssec][chain]") {
  for (uint8_t algorithm : {5, 7}) {
    INFO("algorithm " << int(algorithm));
    TestKey ksk(algorithm, 257, 1024);
    TestKey zsk(algorithm, 256, 1024);
    wire::RRset dnskeys;
    dnskeys.owner = N("example.");
    dnskeys.type = RRType::DNSKEY;
    dnskeys.ttl = 3600;
    dnskeys.rdatas = {ksk.dnskey(), zsk.dnskey()};
    ksk.sign(dnskeys, N("example."));
    ValidationBudget budget;
    // Digest type 1 only, as older registries published it.
    const auto sha1_ds = std::vector<wire::Rdata>{ksk.ds(N("example."), 1)};
    auto result = validate_zone_keys(N("example."), dnskeys, sha1_ds, kNow, budget);
    INFO(result.verdict.reason);
    REQUIRE(result.verdict.is_secure());
    REQUIRE(result.keys);
    auto www = rrset("www.example.", RRType::A, 300, {"192.0.2.1"});
    zsk.sign(www, N("example."));
    CHECK(verify_rrset(www, *result.keys, kNow, budget).secure());
    // A DNSKEY RRset signed only by the ZSK (the DS names the KSK): bogus.
    wire::RRset unsigned_by_ksk = dnskeys;
    unsigned_by_ksk.signatures.clear();
    zsk.sign(unsigned_by_ksk, N("example."));
    CHECK(validate_zone_keys(N("example."), unsigned_by_ksk, sha1_ds, kNow, budget).verdict.is_bogus());
  }
}

TEST_CASE("DS/DNSKEY failures are bogus with the right EDE", "[dnssec][chain]") {
  SignedZoneKeys z;
  ValidationBudget budget;
  const auto ds = std::vector<wire::Rdata>{z.ksk.ds(N("example."))};
  SECTION("no RRSIG over the DNSKEY set: EDE 10") {
    auto r = validate_zone_keys(N("example."), z.dnskeys, ds, kNow, budget);
    CHECK(r.verdict.is_bogus());
    CHECK(r.verdict.ede == wire::EdeCode::RrsigsMissing);
  }
  SECTION("signed only by the ZSK, which no DS names: EDE 9") {
    z.zsk.sign(z.dnskeys, N("example."));
    auto r = validate_zone_keys(N("example."), z.dnskeys, ds, kNow, budget);
    CHECK(r.verdict.is_bogus());
    CHECK(r.verdict.ede == wire::EdeCode::DnskeyMissing);
  }
  SECTION("DS matches no key: EDE 9") {
    TestKey other(13, 257);
    z.ksk.sign(z.dnskeys, N("example."));
    auto r = validate_zone_keys(N("example."), z.dnskeys,
                                std::vector<wire::Rdata>{other.ds(N("example."))}, kNow, budget);
    CHECK(r.verdict.ede == wire::EdeCode::DnskeyMissing);
  }
  SECTION("empty DNSKEY set: EDE 9") {
    wire::RRset empty = z.dnskeys;
    empty.rdatas.clear();
    auto r = validate_zone_keys(N("example."), empty, ds, kNow, budget);
    CHECK(r.verdict.ede == wire::EdeCode::DnskeyMissing);
  }
  SECTION("expired and not yet valid: EDE 7 and 8") {
    wire::RRset expired = z.dnskeys;
    z.ksk.sign(expired, N("example."), kNow - 3 * 86400, kNow - 86400);
    CHECK(validate_zone_keys(N("example."), expired, ds, kNow, budget).verdict.ede ==
          wire::EdeCode::SignatureExpired);
    wire::RRset early = z.dnskeys;
    z.ksk.sign(early, N("example."), kNow + 86400, kNow + 3 * 86400);
    CHECK(validate_zone_keys(N("example."), early, ds, kNow, budget).verdict.ede ==
          wire::EdeCode::SignatureNotYetValid);
    // Within the 60 s skew allowance both still validate.
    wire::RRset edge = z.dnskeys;
    z.ksk.sign(edge, N("example."), kNow + 30, kNow + 86400);
    CHECK(validate_zone_keys(N("example."), edge, ds, kNow, budget).verdict.is_secure());
  }
  SECTION("a tampered key set: EDE 6") {
    z.ksk.sign(z.dnskeys, N("example."));
    TestKey intruder(13, 256);
    z.dnskeys.rdatas.push_back(intruder.dnskey());
    auto r = validate_zone_keys(N("example."), z.dnskeys, ds, kNow, budget);
    CHECK(r.verdict.ede == wire::EdeCode::DnssecBogus);
  }
  SECTION("a revoked key is not accepted as the DS's key") {
    TestKey revoked(13, 257 | 0x0080);
    wire::RRset keys = z.dnskeys;
    keys.rdatas = {revoked.dnskey()};
    revoked.sign(keys, N("example."));
    auto r = validate_zone_keys(N("example."), keys,
                                std::vector<wire::Rdata>{revoked.ds(N("example."))}, kNow, budget);
    CHECK(r.verdict.is_bogus());
  }
}

TEST_CASE("serial-number arithmetic for signature times (RFC 4034 3.1.5)", "[dnssec][chain]") {
  CHECK(serial_before(1, 2));
  CHECK_FALSE(serial_before(2, 1));
  CHECK_FALSE(serial_before(5, 5));
  // Across the 2^32 wrap: 0xFFFFFFF0 is before 0x10.
  CHECK(serial_before(0xFFFFFFF0u, 0x10u));
  CHECK_FALSE(serial_before(0x10u, 0xFFFFFFF0u));
  // A signature valid across the wrap validates at a "now" past it.
  SignedZoneKeys z;
  z.zsk.sign(z.dnskeys, N("example."), 0xFFFFFF00u, 0x00001000u);
  ZoneKeySet keys(N("example."), z.dnskeys.rdatas);
  ValidationBudget budget;
  CHECK(verify_rrset(z.dnskeys, keys, 0x00000010u, budget).secure());
  CHECK(verify_rrset(z.dnskeys, keys, 0x00002000u, budget).status == RrsetStatus::signature_expired);
}

TEST_CASE("trust anchors: built-in root, DS and DNSKEY files, closest anchor", "[dnssec][anchors]") {
  const auto root = TrustAnchors::builtin_root();
  const TrustAnchor* anchor = root.closest(N("www.example.com."));
  REQUIRE(anchor);
  CHECK(anchor->zone.is_root());
  REQUIRE(anchor->ds.size() == 2);
  DsFields ds;
  REQUIRE(read_ds(anchor->ds[0], ds));
  CHECK(ds.key_tag == 20326);
  REQUIRE(read_ds(anchor->ds[1], ds));
  CHECK(ds.key_tag == 38696);
  CHECK(has_usable_ds(anchor->ds));

  // A lab file: a DNSKEY anchor for the lab root and a DS anchor lower down.
  TestKey lab_ksk(13, 257);
  const std::string text =
      ". 3600 IN DNSKEY " + wire::rdata_to_text(RRType::DNSKEY, lab_ksk.dnskey()) + "\n" +
      "corp.example. IN DS " + wire::rdata_to_text(RRType::DS, lab_ksk.ds(N("corp.example."))) + "\n";
  const auto lab = TrustAnchors::from_text(text, "lab-anchors");
  REQUIRE(lab.anchors().size() == 2);
  // The DNSKEY anchor became the DS of that key.
  REQUIRE(lab.find(wire::Name()));
  CHECK(lab.find(wire::Name())->ds[0] == lab_ksk.ds(wire::Name()));
  CHECK(lab.closest(N("a.corp.example."))->zone == N("corp.example."));
  CHECK(lab.closest(N("example."))->zone.is_root());

  CHECK_THROWS_AS(TrustAnchors::from_text(". IN A 192.0.2.1\n"), wire::TextError);
  CHECK_THROWS_AS(TrustAnchors::from_text(""), wire::TextError);
  CHECK_THROWS_AS(TrustAnchors::from_text(". IN DNSKEY 0 3 13 " +
                                          wire::base64_encode(std::vector<uint8_t>(64, 1)) + "\n"),
                  wire::TextError);  // not a zone key
  CHECK(TrustAnchors().closest(N("example.")) == nullptr);
}

TEST_CASE("negative trust anchors switch validation off below them (RFC 7646)", "[dnssec][anchors]") {
  NegativeTrustAnchors ntas;
  ntas.add(N("broken.example."));
  CHECK(ntas.covering(N("www.broken.example.")) != nullptr);
  CHECK(ntas.covering(N("broken.example.")) != nullptr);
  CHECK(ntas.covering(N("example.")) == nullptr);
  CHECK(ntas.covering(N("notbroken.example.")) == nullptr);
  const Verdict v = ntas.verdict_for(N("a.broken.example."));
  CHECK(v.state == SecurityState::insecure);
  CHECK(v.ede == wire::EdeCode::NegativeTrustAnchor);
  CHECK(ntas.verdict_for(N("example.")).state == SecurityState::indeterminate);
  CHECK(ntas.remove(N("broken.example.")));
  CHECK(ntas.covering(N("www.broken.example.")) == nullptr);
}

namespace {

// An Ed25519-shaped DNSKEY (OpenSSL loads any 32 octets) forced to key tag
// `tag` by adjusting its last two octets.
wire::Rdata colliding_key(uint16_t tag, std::mt19937& rng) {
  wire::Rdata rdata = {0x01, 0x01, 3, 15};
  for (int i = 0; i < 32; ++i) rdata.push_back(static_cast<uint8_t>(rng()));
  for (uint32_t v = 0; v < 65536; ++v) {
    rdata[34] = static_cast<uint8_t>(v >> 8);
    rdata[35] = static_cast<uint8_t>(v);
    if (key_tag(rdata) == tag) return rdata;
  }
  throw std::runtime_error("no collision");
}

}  // namespace

TEST_CASE("KeyTrap: many keys sharing a tag and many signatures stop at the caps",
          "[dnssec][budget]") {
  std::mt19937 rng(42);
  const uint16_t tag = 4242;
  wire::RRset set = rrset("www.example.", RRType::A, 300, {"192.0.2.1"});
  std::vector<wire::Rdata> keys;
  for (int i = 0; i < 64; ++i) keys.push_back(colliding_key(tag, rng));
  for (const auto& k : keys) REQUIRE(key_tag(k) == tag);
  // 64 RRSIGs, all naming that tag, none valid.
  for (int i = 0; i < 64; ++i) {
    wire::Rdata sig = {0, 1, 15, 2, 0, 0, 1, 44};
    const uint32_t exp = kNow + 86400, inc = kNow - 86400;
    for (uint32_t v : {exp, inc}) {
      for (int s = 24; s >= 0; s -= 8) sig.push_back(static_cast<uint8_t>(v >> s));
    }
    sig.push_back(static_cast<uint8_t>(tag >> 8));
    sig.push_back(static_cast<uint8_t>(tag));
    const auto signer = N("example.");
    sig.insert(sig.end(), signer.wire().begin(), signer.wire().end());
    for (int b = 0; b < 64; ++b) sig.push_back(static_cast<uint8_t>(rng()));
    set.signatures.push_back(sig);
  }
  ZoneKeySet zone_keys(N("example."), keys);

  SECTION("default limits: at most 30 verifications, then SERVFAIL-worthy") {
    ValidationBudget budget;
    const auto start = std::chrono::steady_clock::now();
    const auto result = verify_rrset(set, zone_keys, kNow, budget);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(result.status == RrsetStatus::budget_exhausted);
    CHECK(result.verdict().is_bogus());
    CHECK(result.verdict().transient);
    CHECK(budget.verifications_used() == 30);
    CHECK(budget.exhausted() == BudgetError::verifications);
    // 64 x 64 = 4096 verifications were on offer; 30 Ed25519 checks take a
    // few milliseconds even under sanitizers.
    CHECK(elapsed < std::chrono::milliseconds(500));
    // The exhausted budget refuses any further work for this request.
    CHECK(verify_rrset(set, zone_keys, kNow, budget).status == RrsetStatus::budget_exhausted);
    CHECK(budget.verifications_used() == 30);
  }
  SECTION("per-set caps: 2 signatures x 2 keys") {
    ValidationLimits limits;
    limits.max_signatures_per_rrset = 2;
    limits.max_keys_per_tag = 2;
    ValidationBudget budget(limits);
    const auto result = verify_rrset(set, zone_keys, kNow, budget);
    CHECK(result.status == RrsetStatus::budget_exhausted);
    CHECK(budget.verifications_used() == 4);
  }
  SECTION("the DS digest phase is capped per tag too") {
    // A DS naming that tag: only max_keys_per_tag digests are computed and
    // none matches, so DNSKEY Missing, quickly.
    wire::Rdata ds = {static_cast<uint8_t>(tag >> 8), static_cast<uint8_t>(tag), 15, 2};
    ds.resize(4 + 32, 0xAB);
    wire::RRset dnskeys;
    dnskeys.owner = N("example.");
    dnskeys.type = RRType::DNSKEY;
    dnskeys.rdatas = keys;
    ValidationBudget budget;
    const auto r = validate_zone_keys(N("example."), dnskeys, std::vector<wire::Rdata>{ds}, kNow, budget);
    CHECK(r.verdict.ede == wire::EdeCode::DnskeyMissing);
    CHECK(budget.verifications_used() == 0);
  }
}

TEST_CASE("cache lifetimes of verdicts; fetch failures are transient", "[dnssec][cache]") {
  CHECK(cache_ttl_for(Verdict::secure(), 3600) == 3600);
  CHECK(cache_ttl_for(Verdict::insecure("no DS"), 3600) == 3600);
  CHECK(cache_ttl_for(Verdict::bogus(wire::EdeCode::DnssecBogus, "bad"), 3600) == 60);
  CHECK(cache_ttl_for(Verdict::bogus(wire::EdeCode::DnssecBogus, "bad"), 30) == 30);
  VerdictCachePolicy policy;
  policy.bogus_ttl = 10;
  CHECK(cache_ttl_for(Verdict::bogus(wire::EdeCode::DnssecBogus, "bad"), 3600, policy) == 10);
  const Verdict failed = fetch_failure(N("example."), RRType::DNSKEY, "timeout");
  CHECK(failed.is_bogus());
  CHECK(failed.transient);
  CHECK(failed.ede == wire::EdeCode::DnskeyMissing);
  CHECK(cache_ttl_for(failed, 3600) == 5);
  CHECK(fetch_failure(N("example."), RRType::DS, "timeout", wire::EdeCode::NoReachableAuthority).ede ==
        wire::EdeCode::NoReachableAuthority);
  CHECK(cache_ttl_for(Verdict::indeterminate("keys pending"), 3600) == 5);
}
