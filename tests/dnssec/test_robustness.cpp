// Malformed and random input never crashes the validator (run under ASan
// and UBSan in the sanitizer build) and never validates.
#include <catch2/catch.hpp>

#include <random>

#include "dnssec/aggressive_nsec.h"
#include "dnssec/key_chain.h"
#include "dnssec/nsec3_proofs.h"
#include "dnssec/nsec_proofs.h"
#include "dnssec/validator.h"
#include "test_helpers.h"

using namespace sextant;
using namespace sextant::dnssec;
using namespace sextant::dnssec::test;
using wire::RRType;

namespace {

wire::Rdata random_bytes(std::mt19937& rng, size_t max) {
  wire::Rdata out(rng() % (max + 1));
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

}  // namespace

TEST_CASE("random rdata in every DNSSEC field is rejected without crashing", "[dnssec][robustness]") {
  std::mt19937 rng(7);
  const auto zone = N("example.");
  TestKey ksk(15, 257);
  for (int round = 0; round < 300; ++round) {
    wire::RRset set = rrset("www.example.", RRType::A, 300, {"192.0.2.1"});
    wire::RRset dnskeys = rrset("example.", RRType::DNSKEY, 300, {});
    std::vector<wire::Rdata> ds;
    for (int i = 0; i < 4; ++i) {
      set.signatures.push_back(random_bytes(rng, 120));
      dnskeys.rdatas.push_back(random_bytes(rng, 80));
      dnskeys.signatures.push_back(random_bytes(rng, 120));
      ds.push_back(random_bytes(rng, 40));
    }
    // A plausible header with random contents after it, too.
    wire::Rdata sig = {0, 1, 15, 2, 0, 0, 1, 44, 0x6a, 0, 0, 0, 0x60, 0, 0, 0, 0, 1};
    auto tail = random_bytes(rng, 60);
    sig.insert(sig.end(), tail.begin(), tail.end());
    set.signatures.push_back(sig);
    dnskeys.rdatas.push_back(ksk.dnskey());
    ds.push_back(ksk.ds(zone));

    ZoneKeySet keys(zone, dnskeys.rdatas);
    ValidationBudget budget;
    CHECK_FALSE(verify_rrset(set, keys, kNow, budget).secure());
    CHECK_FALSE(validate_zone_keys(zone, dnskeys, ds, kNow, budget).verdict.is_secure());

    std::vector<wire::RRset> denial;
    for (int i = 0; i < 3; ++i) {
      wire::RRset n = rrset("a.example.", RRType::NSEC, 300, {});
      n.rdatas.push_back(random_bytes(rng, 40));
      denial.push_back(n);
      wire::RRset n3 = rrset("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.", RRType::NSEC3, 300, {});
      n3.rdatas.push_back(random_bytes(rng, 60));
      denial.push_back(n3);
    }
    const auto nsecs = collect_nsec(denial, zone);
    nsec_prove_nxdomain(nsecs, zone, N("b.example."));
    nsec_prove_nodata(nsecs, zone, N("b.example."), RRType::A);
    const auto nsec3s = collect_nsec3(denial, zone);
    Nsec3Prover prover(zone, nsec3s, budget);
    prover.prove_nxdomain(N("b.c.example."));
    prover.prove_nodata(N("b.example."), RRType::DS);
    synthesize_from_nsec(denial, zone, N("q.example."), RRType::A);
    synthesize_from_nsec3(denial, zone, N("q.example."), RRType::A, budget);

    KnownZones zones;
    zones.add_secure(zone, std::make_shared<ZoneKeySet>(keys));
    ResponseToValidate r;
    r.qname = N("www.example.");
    r.zone = zone;
    r.kind = static_cast<ResponseKind>(round % 4);
    r.answer = {set};
    r.authority = denial;
    ValidationBudget request_budget;
    const auto v = validate_response(r, zones, nullptr, kNow, request_budget);
    CHECK(v.verdict.state != SecurityState::secure);
  }
}
