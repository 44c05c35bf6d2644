// Denial-of-existence logic on the records of RFC 4035 Appendix A/B (NSEC)
// and RFC 5155 Appendix A/B (NSEC3). The RFCs' signatures are placeholders,
// so these tests exercise the proofs directly; test_validator.cpp signs a
// copy of the zone with generated keys and runs the full path.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>

#include "dnssec/nsec3_proofs.h"
#include "dnssec/nsec_proofs.h"
#include "test_helpers.h"

using namespace sextant;
using namespace sextant::dnssec;
using namespace sextant::dnssec::test;
using wire::RRType;

namespace {

// The NSEC chain of the RFC 4035 Appendix A zone "example.".
const std::pair<const char*, const char*> kRfc4035Chain[] = {
    {"example.", "a.example. NS SOA MX RRSIG NSEC DNSKEY"},
    {"a.example.", "ai.example. NS DS RRSIG NSEC"},
    {"ai.example.", "b.example. A HINFO AAAA RRSIG NSEC"},
    {"b.example.", "ns1.example. NS RRSIG NSEC"},
    {"ns1.example.", "ns2.example. A RRSIG NSEC"},
    {"ns2.example.", "*.w.example. A RRSIG NSEC"},
    {"*.w.example.", "x.w.example. MX RRSIG NSEC"},
    {"x.w.example.", "x.y.w.example. MX RRSIG NSEC"},
    {"x.y.w.example.", "xx.example. MX RRSIG NSEC"},
    {"xx.example.", "example. A HINFO AAAA RRSIG NSEC"},
};

std::vector<NsecRecord> nsecs(std::initializer_list<const char*> owners) {
  std::vector<wire::RRset> sets;
  for (const char* owner : owners) {
    bool found = false;
    for (const auto& [o, text] : kRfc4035Chain) {
      if (std::string(o) == owner) {
        sets.push_back(rrset(o, RRType::NSEC, 3600, {text}));
        found = true;
      }
    }
    if (!found) sets.push_back(rrset(owner, RRType::NSEC, 3600, {}));  // caller builds it
  }
  return collect_nsec(sets, N("example."));
}

std::vector<NsecRecord> nsec_set(std::vector<std::pair<const char*, const char*>> records) {
  std::vector<wire::RRset> sets;
  for (const auto& [owner, text] : records) sets.push_back(rrset(owner, RRType::NSEC, 3600, {text}));
  return collect_nsec(sets, N("example."));
}

const wire::Name kZone = wire::Name::from_text("example.");

}  // namespace

TEST_CASE("RFC 4035 B.2: NXDOMAIN for ml.example is proven by two NSECs", "[dnssec][nsec]") {
  const auto records = nsecs({"b.example.", "example."});
  const auto proof = nsec_prove_nxdomain(records, kZone, N("ml.example."));
  CHECK(proof.status == DenialStatus::proven);
  CHECK(proof.closest_encloser == N("example."));
  // Either NSEC alone is not enough.
  CHECK(nsec_prove_nxdomain(nsecs({"b.example."}), kZone, N("ml.example.")).status ==
        DenialStatus::not_proven);
  CHECK(nsec_prove_nxdomain(nsecs({"example."}), kZone, N("ml.example.")).status ==
        DenialStatus::not_proven);
  // A name that exists is never NXDOMAIN.
  CHECK_FALSE(nsec_prove_nxdomain(nsecs({"b.example.", "example.", "ns1.example."}), kZone,
                                  N("ns1.example."))
                  .proven());
  CHECK(nsec_prove_nxdomain(records, kZone, N("ml.example.")).verdict().ede == std::nullopt);
  CHECK(nsec_prove_nxdomain(nsecs({"b.example."}), kZone, N("ml.example.")).verdict().ede ==
        wire::EdeCode::NsecMissing);
}

TEST_CASE("RFC 4035 B.3: NODATA for ns1.example MX", "[dnssec][nsec]") {
  const auto records = nsecs({"ns1.example."});
  CHECK(nsec_prove_nodata(records, kZone, N("ns1.example."), RRType::MX).proven());
  CHECK(nsec_prove_nodata(records, kZone, N("NS1.Example."), RRType::MX).proven());
  CHECK_FALSE(nsec_prove_nodata(records, kZone, N("ns1.example."), RRType::A).proven());
  CHECK_FALSE(nsec_prove_nodata(records, kZone, N("ns2.example."), RRType::MX).proven());
}

TEST_CASE("RFC 4035 B.4 and B.5: signed and unsigned referrals", "[dnssec][nsec]") {
  // B.4: a.example has a DS; the NSEC cannot deny it.
  CHECK_FALSE(nsec_prove_nodata(nsecs({"a.example."}), kZone, N("a.example."), RRType::DS).proven());
  // B.5: b.example is delegated without DS: the parent's NSEC proves it.
  const auto proof = nsec_prove_nodata(nsecs({"b.example."}), kZone, N("b.example."), RRType::DS);
  CHECK(proof.proven());
  CHECK(proof.delegation);  // the NS bit: an unsigned delegation
  // ns1.example has no DS either, but no NS: a NODATA that shows no zone cut.
  const auto no_cut = nsec_prove_nodata(nsecs({"ns1.example."}), kZone, N("ns1.example."), RRType::DS);
  CHECK(no_cut.proven());
  CHECK_FALSE(no_cut.delegation);
  // That same parent-side NSEC proves nothing about the child's own data...
  CHECK_FALSE(nsec_prove_nodata(nsecs({"b.example."}), kZone, N("b.example."), RRType::A).proven());
  // ... nor about names below the cut, although they sort inside its span.
  CHECK_FALSE(
      nsec_prove_nxdomain(nsecs({"b.example.", "example."}), kZone, N("mc.b.example.")).proven());
}

TEST_CASE("RFC 4035 B.6: wildcard expansion a.z.w.example needs the NSEC covering it",
          "[dnssec][nsec]") {
  const auto records = nsecs({"x.y.w.example."});
  const auto proof = nsec_prove_wildcard_answer(records, kZone, N("a.z.w.example."), 2);
  CHECK(proof.proven());
  CHECK(proof.closest_encloser == N("w.example."));
  // Labels that claim a closer wildcard parent are refuted by the same NSEC.
  CHECK_FALSE(nsec_prove_wildcard_answer(records, kZone, N("a.z.w.example."), 3).proven());
  // No NSEC, no proof.
  CHECK_FALSE(nsec_prove_wildcard_answer({}, kZone, N("a.z.w.example."), 2).proven());
  // x.w.example exists: an answer for it can't be a wildcard expansion.
  CHECK_FALSE(nsec_prove_wildcard_answer(nsecs({"x.w.example."}), kZone, N("x.w.example."), 2).proven());
  // An existing intermediate name (x.w.example) below the wildcard's parent.
  CHECK_FALSE(
      nsec_prove_wildcard_answer(nsecs({"x.w.example."}), kZone, N("a.x.w.example."), 2).proven());
}

TEST_CASE("RFC 4035 B.7: wildcard NODATA for a.z.w.example AAAA", "[dnssec][nsec]") {
  const auto records = nsecs({"x.y.w.example.", "*.w.example."});
  const auto proof = nsec_prove_nodata(records, kZone, N("a.z.w.example."), RRType::AAAA);
  CHECK(proof.proven());
  CHECK(proof.closest_encloser == N("w.example."));
  // The wildcard has MX: no NODATA for MX.
  CHECK_FALSE(nsec_prove_nodata(records, kZone, N("a.z.w.example."), RRType::MX).proven());
  // Without the wildcard's NSEC it is not proven.
  CHECK_FALSE(nsec_prove_nodata(nsecs({"x.y.w.example."}), kZone, N("a.z.w.example."), RRType::AAAA)
                  .proven());
}

TEST_CASE("RFC 4035 B.8: the child's apex NSEC cannot deny its own DS", "[dnssec][nsec]") {
  const auto proof = nsec_prove_nodata(nsecs({"example."}), kZone, N("example."), RRType::DS);
  CHECK(proof.status == DenialStatus::not_proven);
  CHECK(proof.reason.find("parent") != std::string::npos);
  // The same NSEC does prove NODATA for a type the apex lacks.
  CHECK(nsec_prove_nodata(nsecs({"example."}), kZone, N("example."), RRType::A).proven());
}

TEST_CASE("NSEC guards: CNAME, DNAME, empty non-terminals, outside names", "[dnssec][nsec]") {
  // CNAME at the name: NODATA only for CNAME's own absence checks.
  auto cname = nsec_set({{"c.example.", "d.example. CNAME RRSIG NSEC"}});
  CHECK_FALSE(nsec_prove_nodata(cname, kZone, N("c.example."), RRType::A).proven());
  // DNAME: names below the owner are redirected, not nonexistent.
  auto dname = nsec_set({{"d.example.", "f.example. DNAME RRSIG NSEC"}, {"example.", "a.example. NS SOA RRSIG NSEC"}});
  CHECK_FALSE(nsec_prove_nxdomain(dname, kZone, N("x.d.example.")).proven());
  CHECK(nsec_prove_nodata(dname, kZone, N("d.example."), RRType::A).proven());
  // y.w.example is an empty non-terminal: x.w.example's NSEC has next x.y.w.example.
  CHECK(nsec_prove_nodata(nsecs({"x.w.example."}), kZone, N("y.w.example."), RRType::A).proven());
  // Names outside the zone.
  CHECK_FALSE(nsec_prove_nxdomain(nsecs({"b.example.", "example."}), kZone, N("ml.example.org.")).proven());
  // Wrap-around: the last NSEC covers everything after xx.example.
  CHECK(nsecs({"xx.example."})[0].covers(N("yy.example.")));
  CHECK(nsecs({"xx.example."})[0].covers(N("z.xx.example.")));
  CHECK_FALSE(nsecs({"xx.example."})[0].covers(N("example.")));
  CHECK_FALSE(nsecs({"xx.example."})[0].covers(N("a.example.")));
}

// ---------------------------------------------------------------- NSEC3 --

namespace {

// RFC 5155 Appendix A: hash -> (next hash, types); all with opt-out in the RFC.
const std::pair<const char*, const char*> kRfc5155Chain[] = {
    {"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG"},
    {"2t7b4g4vsa5smi47k61mv5bv1a22bojr", "2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"},
    {"2vptu5timamqttgl4luu9kg21e0aor3s", "35mthgpgcu1qg68fab165klnsnk3dpvl MX RRSIG"},
    {"35mthgpgcu1qg68fab165klnsnk3dpvl", "b4um86eghhds6nea196smvmlo4ors995 NS DS RRSIG"},
    {"b4um86eghhds6nea196smvmlo4ors995", "gjeqe526plbf1g8mklp59enfd789njgi MX RRSIG"},
    {"gjeqe526plbf1g8mklp59enfd789njgi", "ji6neoaepv8b5o6k4ev33abha8ht9fgc A HINFO AAAA RRSIG"},
    {"ji6neoaepv8b5o6k4ev33abha8ht9fgc", "k8udemvp1j2f7eg6jebps17vp3n8i58h"},
    {"k8udemvp1j2f7eg6jebps17vp3n8i58h", "kohar7mbb8dc2ce8a9qvl8hon4k53uhi"},
    {"kohar7mbb8dc2ce8a9qvl8hon4k53uhi", "q04jkcevqvmu85r014c7dkba38o0ji5r A RRSIG"},
    {"q04jkcevqvmu85r014c7dkba38o0ji5r", "r53bq7cc2uvmubfu5ocmm6pers9tk9en A RRSIG"},
    {"r53bq7cc2uvmubfu5ocmm6pers9tk9en", "t644ebqk9bibcna874givr6joj62mlhv MX RRSIG"},
    {"t644ebqk9bibcna874givr6joj62mlhv", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A HINFO AAAA RRSIG"},
};

std::vector<wire::RRset> nsec3_sets(std::initializer_list<const char*> prefixes, int flags,
                                    int iterations = 12) {
  std::vector<wire::RRset> sets;
  for (const char* prefix : prefixes) {
    for (const auto& [hash, rest] : kRfc5155Chain) {
      if (std::string(hash).rfind(prefix, 0) == 0) {
        const std::string text = fmt::format("1 {} {} aabbccdd {}", flags, iterations, rest);
        sets.push_back(rrset(std::string(hash) + ".example.", RRType::NSEC3, 3600, {text}));
      }
    }
  }
  return sets;
}

struct Nsec3Case {
  std::vector<Nsec3Record> records;
  ValidationBudget budget;
  Nsec3Prover prover;
  Nsec3Case(std::initializer_list<const char*> prefixes, int flags, ValidationLimits limits = {},
            int iterations = 12)
      : records(collect_nsec3(nsec3_sets(prefixes, flags, iterations), N("example."))),
        budget(limits),
        prover(N("example."), records, budget) {}
};

}  // namespace

TEST_CASE("RFC 5155 B.1: NXDOMAIN for a.c.x.w.example", "[dnssec][nsec3]") {
  Nsec3Case with_opt_out({"0p9m", "b4um", "35mt"}, 1);
  REQUIRE(with_opt_out.records.size() == 3);
  // The RFC's records carry opt-out, and the next closer c.x.w.example lies
  // in an opt-out span: an unsigned delegation could exist there.
  const auto opt = with_opt_out.prover.prove_nxdomain(N("a.c.x.w.example."));
  CHECK(opt.status == DenialStatus::opt_out);
  CHECK(opt.verdict().state == SecurityState::insecure);
  Nsec3Case plain({"0p9m", "b4um", "35mt"}, 0);
  const auto proof = plain.prover.prove_nxdomain(N("a.c.x.w.example."));
  CHECK(proof.status == DenialStatus::proven);
  CHECK(proof.closest_encloser == N("x.w.example."));
  // Remove any one of the three records and the proof fails.
  CHECK(Nsec3Case({"0p9m", "35mt"}, 0).prover.prove_nxdomain(N("a.c.x.w.example.")).status ==
        DenialStatus::not_proven);
  CHECK(Nsec3Case({"b4um", "35mt"}, 0).prover.prove_nxdomain(N("a.c.x.w.example.")).status ==
        DenialStatus::not_proven);
  CHECK(Nsec3Case({"0p9m", "b4um"}, 0).prover.prove_nxdomain(N("a.c.x.w.example.")).status ==
        DenialStatus::not_proven);
}

TEST_CASE("RFC 5155 B.2 and B.2.1: NODATA and the empty non-terminal", "[dnssec][nsec3]") {
  CHECK(Nsec3Case({"2t7b"}, 1).prover.prove_nodata(N("ns1.example."), RRType::MX).proven());
  CHECK_FALSE(Nsec3Case({"2t7b"}, 1).prover.prove_nodata(N("ns1.example."), RRType::A).proven());
  CHECK(Nsec3Case({"ji6n"}, 1).prover.prove_nodata(N("y.w.example."), RRType::A).proven());
  CHECK_FALSE(Nsec3Case({"35mt"}, 1).prover.prove_nodata(N("y.w.example."), RRType::A).proven());
}

TEST_CASE("RFC 5155 B.3: referral to an opt-out unsigned zone", "[dnssec][nsec3]") {
  // c.example is delegated inside an opt-out span: DS denied, delegation insecure.
  const auto proof = Nsec3Case({"0p9m", "35mt"}, 1).prover.prove_nodata(N("c.example."), RRType::DS);
  CHECK(proof.status == DenialStatus::opt_out);
  CHECK(proof.closest_encloser == N("example."));
  // Without opt-out the same records prove nothing.
  CHECK(Nsec3Case({"0p9m", "35mt"}, 0).prover.prove_nodata(N("c.example."), RRType::DS).status ==
        DenialStatus::not_proven);
  // a.example's NSEC3 has DS: a secure delegation.
  CHECK_FALSE(Nsec3Case({"35mt"}, 1).prover.prove_nodata(N("a.example."), RRType::DS).proven());
}

TEST_CASE("RFC 5155 B.4: wildcard expansion a.z.w.example", "[dnssec][nsec3]") {
  CHECK(Nsec3Case({"q04j"}, 0).prover.prove_wildcard_answer(N("a.z.w.example."), 2).proven());
  CHECK(Nsec3Case({"q04j"}, 1).prover.prove_wildcard_answer(N("a.z.w.example."), 2).status ==
        DenialStatus::opt_out);
  CHECK_FALSE(Nsec3Case({"r53b"}, 0).prover.prove_wildcard_answer(N("a.z.w.example."), 2).proven());
  CHECK_FALSE(Nsec3Case({"q04j"}, 0).prover.prove_wildcard_answer(N("a.z.w.example."), 4).proven());
}

TEST_CASE("RFC 5155 B.5: wildcard NODATA for a.z.w.example AAAA", "[dnssec][nsec3]") {
  const auto proof =
      Nsec3Case({"k8ud", "q04j", "r53b"}, 0).prover.prove_nodata(N("a.z.w.example."), RRType::AAAA);
  CHECK(proof.proven());
  CHECK(proof.closest_encloser == N("w.example."));
  CHECK_FALSE(
      Nsec3Case({"q04j", "r53b"}, 0).prover.prove_nodata(N("a.z.w.example."), RRType::AAAA).proven());
  CHECK_FALSE(
      Nsec3Case({"k8ud", "q04j"}, 0).prover.prove_nodata(N("a.z.w.example."), RRType::AAAA).proven());
  CHECK_FALSE(
      Nsec3Case({"k8ud", "q04j", "r53b"}, 0).prover.prove_nodata(N("a.z.w.example."), RRType::MX).proven());
}

TEST_CASE("RFC 5155 B.6: the child's apex NSEC3 cannot deny its own DS", "[dnssec][nsec3]") {
  CHECK_FALSE(Nsec3Case({"0p9m"}, 1).prover.prove_nodata(N("example."), RRType::DS).proven());
}

TEST_CASE("NSEC3 iteration limit and hash budget (RFC 9276, CVE-2023-50868)", "[dnssec][nsec3]") {
  // 51 iterations: insecure with EDE 27 before any hashing happens.
  Nsec3Case high({"0p9m", "b4um", "35mt"}, 0, {}, 51);
  const auto proof = high.prover.prove_nxdomain(N("a.c.x.w.example."));
  CHECK(proof.status == DenialStatus::iterations_too_high);
  CHECK(proof.verdict().state == SecurityState::insecure);
  CHECK(proof.verdict().ede == wire::EdeCode::UnsupportedNsec3Iterations);
  CHECK(high.budget.nsec3_hashes_used() == 0);
  // The limit is configurable.
  ValidationLimits strict;
  strict.max_nsec3_iterations = 10;
  CHECK(Nsec3Case({"2t7b"}, 0, strict).prover.prove_nodata(N("ns1.example."), RRType::MX).status ==
        DenialStatus::iterations_too_high);
  // A hash budget of 2 cannot finish a closest-encloser proof of a 5-label name.
  ValidationLimits tiny;
  tiny.max_nsec3_hashes_per_request = 2;
  Nsec3Case poor({"0p9m", "b4um", "35mt"}, 0, tiny);
  const auto starved = poor.prover.prove_nxdomain(N("a.c.x.w.example."));
  CHECK(starved.status == DenialStatus::budget_exhausted);
  CHECK(starved.verdict().is_bogus());
  CHECK(starved.verdict().transient);
  CHECK(poor.budget.exhausted() == BudgetError::nsec3_hashes);
  CHECK(poor.budget.nsec3_hashes_used() == 2);
  // Hashes are computed once per name: B.1 needs five names.
  Nsec3Case counted({"0p9m", "b4um", "35mt"}, 0);
  CHECK(counted.prover.prove_nxdomain(N("a.c.x.w.example.")).proven());
  // a.c.x.w, c.x.w (reused as next closer), x.w and *.x.w.
  CHECK(counted.budget.nsec3_hashes_used() == 4);
}

TEST_CASE("NSEC3 records that do not count", "[dnssec][nsec3]") {
  // Unknown hash algorithm, flags other than 0/1, owner two labels deep,
  // owner label that is not base32hex: all ignored.
  std::vector<wire::RRset> sets = {
      rrset("2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.", RRType::NSEC3, 3600,
            {"2 0 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"}),
      rrset("2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.", RRType::NSEC3, 3600,
            {"1 2 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"}),
      rrset("2t7b4g4vsa5smi47k61mv5bv1a22bojr.sub.example.", RRType::NSEC3, 3600,
            {"1 0 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"}),
      rrset("wt7b4g4vsa5smi47k61mv5bv1a22bojr.example.", RRType::NSEC3, 3600,
            {"1 0 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"}),
  };
  CHECK(collect_nsec3(sets, N("example.")).empty());
}
