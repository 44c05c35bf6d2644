// RFC 8198 aggressive use of validated NSEC/NSEC3 records.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>

#include "dnssec/aggressive_nsec.h"
#include "test_helpers.h"

using namespace sextant;
using namespace sextant::dnssec;
using namespace sextant::dnssec::test;
using wire::RRType;

namespace {

std::vector<wire::RRset> rfc4035_chain() {
  return {
      rrset("example.", RRType::NSEC, 3600, {"a.example. NS SOA MX RRSIG NSEC DNSKEY"}),
      rrset("a.example.", RRType::NSEC, 3600, {"ai.example. NS DS RRSIG NSEC"}),
      rrset("ai.example.", RRType::NSEC, 3600, {"b.example. A HINFO AAAA RRSIG NSEC"}),
      rrset("b.example.", RRType::NSEC, 1800, {"ns1.example. NS RRSIG NSEC"}),
      rrset("ns1.example.", RRType::NSEC, 3600, {"ns2.example. A RRSIG NSEC"}),
      rrset("ns2.example.", RRType::NSEC, 3600, {"*.w.example. A RRSIG NSEC"}),
      rrset("*.w.example.", RRType::NSEC, 3600, {"x.w.example. MX RRSIG NSEC"}),
      rrset("x.w.example.", RRType::NSEC, 3600, {"x.y.w.example. MX RRSIG NSEC"}),
      rrset("x.y.w.example.", RRType::NSEC, 3600, {"xx.example. MX RRSIG NSEC"}),
      rrset("xx.example.", RRType::NSEC, 3600, {"example. A HINFO AAAA RRSIG NSEC"}),
  };
}

}  // namespace

TEST_CASE("aggressive NSEC: NXDOMAIN and NODATA from cached records", "[dnssec][aggressive]") {
  const auto chain = rfc4035_chain();
  const auto zone = N("example.");

  auto nx = synthesize_from_nsec(chain, zone, N("ml.example."), RRType::A);
  CHECK(nx.outcome == AggressiveOutcome::nxdomain);
  // b.example covers ml.example; example. covers *.example.
  std::sort(nx.used.begin(), nx.used.end());
  CHECK(nx.used == std::vector<size_t>{0, 3});
  CHECK(nx.ttl == 1800);

  auto nodata = synthesize_from_nsec(chain, zone, N("ns1.example."), RRType::MX);
  CHECK(nodata.outcome == AggressiveOutcome::nodata);
  CHECK(nodata.used == std::vector<size_t>{4});

  // Wildcard NODATA and the existing wildcard.
  CHECK(synthesize_from_nsec(chain, zone, N("a.z.w.example."), RRType::AAAA).outcome ==
        AggressiveOutcome::nodata);
  CHECK(synthesize_from_nsec(chain, zone, N("a.z.w.example."), RRType::MX).outcome ==
        AggressiveOutcome::none);  // the wildcard answers it: ask upstream
  // Existing data: nothing to synthesise.
  CHECK(synthesize_from_nsec(chain, zone, N("ns1.example."), RRType::A).outcome ==
        AggressiveOutcome::none);
  // Below a delegation the parent's NSEC proves nothing.
  CHECK(synthesize_from_nsec(chain, zone, N("www.b.example."), RRType::A).outcome ==
        AggressiveOutcome::none);
  // Only part of the chain cached: the wildcard is not denied.
  std::vector<wire::RRset> partial = {chain[3]};
  CHECK(synthesize_from_nsec(partial, zone, N("ml.example."), RRType::A).outcome ==
        AggressiveOutcome::none);
}

TEST_CASE("aggressive NSEC3: only without opt-out", "[dnssec][aggressive]") {
  auto records = [](int flags) {
    std::vector<wire::RRset> sets;
    const std::pair<const char*, const char*> chain[] = {
        {"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG"},
        {"b4um86eghhds6nea196smvmlo4ors995", "gjeqe526plbf1g8mklp59enfd789njgi MX RRSIG"},
        {"35mthgpgcu1qg68fab165klnsnk3dpvl", "b4um86eghhds6nea196smvmlo4ors995 NS DS RRSIG"},
        {"2t7b4g4vsa5smi47k61mv5bv1a22bojr", "2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"},
    };
    for (const auto& [hash, rest] : chain) {
      sets.push_back(rrset(std::string(hash) + ".example.", RRType::NSEC3, 3600,
                           {fmt::format("1 {} 12 aabbccdd {}", flags, rest)}));
    }
    return sets;
  };
  ValidationBudget budget;
  const auto plain = records(0);
  auto nx = synthesize_from_nsec3(plain, N("example."), N("a.c.x.w.example."), RRType::A, budget);
  CHECK(nx.outcome == AggressiveOutcome::nxdomain);
  std::sort(nx.used.begin(), nx.used.end());
  CHECK(nx.used == std::vector<size_t>{0, 1, 2});
  CHECK(synthesize_from_nsec3(plain, N("example."), N("ns1.example."), RRType::MX, budget).outcome ==
        AggressiveOutcome::nodata);
  const auto opt_out = records(1);
  CHECK(synthesize_from_nsec3(opt_out, N("example."), N("a.c.x.w.example."), RRType::A, budget)
            .outcome == AggressiveOutcome::none);
}
