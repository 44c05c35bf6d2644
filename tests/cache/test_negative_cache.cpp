// Negative store (RFC 2308): NXDOMAIN and NODATA with their proofs, the
// negative TTL, its cap, the RFC 8020 NXDOMAIN cut, stale NXDOMAIN, and
// positive data removing the denials it contradicts.
#include <catch2/catch.hpp>

#include "cache/cache.h"
#include "cache/negative_cache.h"
#include "cache_test_support.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRClass;
using wire::RRType;

namespace {

std::vector<wire::RRset> nsec_proof() {
  // "a.example. NSEC c.example. A RRSIG NSEC" with a signature.
  wire::Rdata nsec = name_rdata("c.example.");
  nsec.insert(nsec.end(), {0, 6, 0x40, 0, 0, 0, 0, 3});  // A(1), RRSIG(46), NSEC(47)
  return {make_rrset("a.example.", RRType::NSEC, 3600, {nsec},
                     {rrsig_rdata(RRType::NSEC, 13, 2, 3600, "example.", 64)})};
}

}  // namespace

TEST_CASE("negative: NXDOMAIN with SOA and NSEC proof round-trips", "[negative]") {
  CacheConfig config;
  NegativeCache cache(config);
  auto proofs = nsec_proof();
  REQUIRE(cache.insert(NegativeKind::nxdomain, N("b.example."), RRType::A, RRClass::IN,
                       soa_rrset("example.", 3600, 900), proofs, DnssecStatus::secure,
                       kT0) == NegativeCache::Result::stored);
  // Any type at that name.
  auto hit = cache.lookup(N("B.example."), RRType::MX, RRClass::IN, kT0 + 100);
  REQUIRE(hit);
  CHECK(hit->kind == NegativeKind::nxdomain);
  CHECK_FALSE(hit->below_nxdomain);
  CHECK(hit->freshness == Freshness::fresh);
  CHECK(hit->ttl == 800);  // min(SOA TTL 3600, MINIMUM 900) - 100
  CHECK(hit->entry.status() == DnssecStatus::secure);
  CHECK(hit->entry.name() == N("b.example."));
  auto records = hit->entry.records();
  REQUIRE(records.size() == 2);
  CHECK(records[0].type == RRType::SOA);
  CHECK(records[0].ttl == 900);  // the SOA carries the negative TTL (RFC 2308 §3)
  CHECK(records[0].rdatas == soa_rrset("example.", 3600, 900).rdatas);
  CHECK(records[1].owner == proofs[0].owner);
  CHECK(records[1].rdatas == proofs[0].rdatas);
  CHECK(records[1].signatures == proofs[0].signatures);
  CHECK(hit->entry.soa().type == RRType::SOA);
}

TEST_CASE("negative: NODATA is per type", "[negative]") {
  CacheConfig config;
  NegativeCache cache(config);
  REQUIRE(cache.insert(NegativeKind::nodata, N("www.example."), RRType::AAAA, RRClass::IN,
                       soa_rrset("example.", 300, 3600), {}, DnssecStatus::insecure,
                       kT0) == NegativeCache::Result::stored);
  auto hit = cache.lookup(N("www.example."), RRType::AAAA, RRClass::IN, kT0);
  REQUIRE(hit);
  CHECK(hit->kind == NegativeKind::nodata);
  CHECK(hit->ttl == 300);  // SOA TTL below MINIMUM
  CHECK_FALSE(cache.lookup(N("www.example."), RRType::A, RRClass::IN, kT0));
  // NODATA says nothing about names below.
  CHECK_FALSE(cache.lookup(N("x.www.example."), RRType::AAAA, RRClass::IN, kT0));
}

TEST_CASE("negative: NXDOMAIN covers the names below it (RFC 8020)", "[negative][cut]") {
  CacheConfig config;
  NegativeCache cache(config);
  cache.insert(NegativeKind::nxdomain, N("gone.example."), RRType::A, RRClass::IN,
               soa_rrset("example.", 3600, 600), {}, DnssecStatus::insecure, kT0);
  auto hit = cache.lookup(N("a.b.gone.example."), RRType::TXT, RRClass::IN, kT0);
  REQUIRE(hit);
  CHECK(hit->kind == NegativeKind::nxdomain);
  CHECK(hit->below_nxdomain);
  CHECK(hit->entry.name() == N("gone.example."));
  // Not sideways or above.
  CHECK_FALSE(cache.lookup(N("example."), RRType::A, RRClass::IN, kT0));
  CHECK_FALSE(cache.lookup(N("other.example."), RRType::A, RRClass::IN, kT0));
  CHECK_FALSE(cache.lookup(N("gone.example2."), RRType::A, RRClass::IN, kT0));
}

TEST_CASE("negative: TTL capped by negative_max_ttl, floored, bogus short", "[negative][clamps]") {
  CacheConfig config;  // negative_max_ttl 3600
  config.negative_min_ttl = 5;
  NegativeCache cache(config);
  cache.insert(NegativeKind::nxdomain, N("a.example."), RRType::A, RRClass::IN,
               soa_rrset("example.", 86400, 86400), {}, DnssecStatus::insecure, kT0);
  cache.insert(NegativeKind::nxdomain, N("b.example."), RRType::A, RRClass::IN,
               soa_rrset("example.", 86400, 1), {}, DnssecStatus::insecure, kT0);
  cache.insert(NegativeKind::nxdomain, N("c.example."), RRType::A, RRClass::IN,
               soa_rrset("example.", 86400, 3000), {}, DnssecStatus::bogus, kT0);
  CHECK(cache.lookup(N("a.example."), RRType::A, RRClass::IN, kT0)->entry.original_ttl() == 3600);
  CHECK(cache.lookup(N("b.example."), RRType::A, RRClass::IN, kT0)->entry.original_ttl() == 5);
  CHECK(cache.lookup(N("c.example."), RRType::A, RRClass::IN, kT0)->entry.original_ttl() == 60);
}

TEST_CASE("negative: a missing or malformed SOA is rejected", "[negative]") {
  CacheConfig config;
  NegativeCache cache(config);
  CHECK(cache.insert(NegativeKind::nxdomain, N("a.example."), RRType::A, RRClass::IN,
                     a_rrset("example.", 60), {}, DnssecStatus::insecure,
                     kT0) == NegativeCache::Result::rejected);
  CHECK(cache.insert(NegativeKind::nxdomain, N("a.example."), RRType::A, RRClass::IN,
                     make_rrset("example.", RRType::SOA, 60, {{0, 0, 1}}), {},
                     DnssecStatus::insecure, kT0) == NegativeCache::Result::rejected);
}

TEST_CASE("negative: fresh -> prefetch -> stale NXDOMAIN -> gone", "[negative][transitions]") {
  CacheConfig config;
  NegativeCache cache(config);
  cache.insert(NegativeKind::nxdomain, N("x.example."), RRType::A, RRClass::IN,
               soa_rrset("example.", 1000, 1000), {}, DnssecStatus::insecure, kT0);
  auto look = [&](uint32_t now, StalePolicy p = StalePolicy::fresh_only) {
    return cache.lookup(N("x.example."), RRType::A, RRClass::IN, now, p);
  };
  CHECK(look(kT0 + 500)->freshness == Freshness::fresh);
  auto h = look(kT0 + 950);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::prefetch_due);
  CHECK(h->refresh_claimed);
  CHECK(look(kT0 + 951)->freshness == Freshness::fresh);
  CHECK_FALSE(look(kT0 + 1000));
  h = look(kT0 + 1000, StalePolicy::allow_stale);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::stale);
  CHECK(h->kind == NegativeKind::nxdomain);
  CHECK(h->ttl == 30);
  CHECK(h->stale_ede() == wire::EdeCode::StaleNxdomainAnswer);
  CHECK_FALSE(look(kT0 + 1000 + 86400, StalePolicy::allow_stale));
}

TEST_CASE("negative: a fresh ancestor NXDOMAIN is preferred to a stale exact one", "[negative]") {
  CacheConfig config;
  NegativeCache cache(config);
  cache.insert(NegativeKind::nxdomain, N("a.b.example."), RRType::A, RRClass::IN,
               soa_rrset("example.", 100, 100), {}, DnssecStatus::insecure, kT0);
  cache.insert(NegativeKind::nxdomain, N("b.example."), RRType::A, RRClass::IN,
               soa_rrset("example.", 1000, 1000), {}, DnssecStatus::insecure, kT0 + 150);
  auto h = cache.lookup(N("a.b.example."), RRType::A, RRClass::IN, kT0 + 200,
                        StalePolicy::allow_stale);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::fresh);
  CHECK(h->entry.name() == N("b.example."));
}

TEST_CASE("negative: positive data removes the denials it contradicts", "[negative]") {
  Cache cache;
  auto& neg = cache.negatives();
  neg.insert(NegativeKind::nxdomain, N("b.example."), RRType::A, RRClass::IN,
             soa_rrset("example.", 3600, 3600), {}, DnssecStatus::insecure, kT0);
  neg.insert(NegativeKind::nodata, N("c.example."), RRType::A, RRClass::IN,
             soa_rrset("example.", 3600, 3600), {}, DnssecStatus::insecure, kT0);
  neg.insert(NegativeKind::nodata, N("c.example."), RRType::TXT, RRClass::IN,
             soa_rrset("example.", 3600, 3600), {}, DnssecStatus::insecure, kT0);
  cache.insert_rrset(a_rrset("x.b.example.", 60), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0);
  cache.insert_rrset(a_rrset("c.example.", 60), Rank::answer_authoritative, DnssecStatus::insecure,
                     kT0);
  CHECK_FALSE(neg.lookup(N("b.example."), RRType::A, RRClass::IN, kT0));
  CHECK_FALSE(neg.lookup(N("c.example."), RRType::A, RRClass::IN, kT0));
  CHECK(neg.lookup(N("c.example."), RRType::TXT, RRClass::IN, kT0));
}

TEST_CASE("negative: flush and dump", "[negative][flush]") {
  CacheConfig config;
  NegativeCache cache(config);
  cache.insert(NegativeKind::nxdomain, N("a.example."), RRType::A, RRClass::IN,
               soa_rrset("example.", 3600, 600), nsec_proof(), DnssecStatus::secure, kT0);
  cache.insert(NegativeKind::nodata, N("a.example."), RRType::AAAA, RRClass::IN,
               soa_rrset("example.", 3600, 600), {}, DnssecStatus::secure, kT0);
  cache.insert(NegativeKind::nodata, N("z.other."), RRType::AAAA, RRClass::IN,
               soa_rrset("other.", 3600, 600), {}, DnssecStatus::insecure, kT0);
  std::string text;
  cache.dump(text, kT0 + 100);
  CHECK(text.find("; negative a.example. IN NXDOMAIN ttl=500") != std::string::npos);
  CHECK(text.find("; negative a.example. IN NODATA AAAA ttl=500") != std::string::npos);
  CHECK(text.find(";   example. 500 IN SOA ns1.example. hostmaster.example. 1 ") !=
        std::string::npos);
  CHECK(text.find(";   a.example. 500 IN NSEC c.example. A RRSIG NSEC") != std::string::npos);
  CHECK(cache.flush_name(N("a.example.")) == 2);
  CHECK(cache.store().entries() == 1);
  CHECK(cache.flush_subtree(N("other.")) == 1);
  CHECK(cache.store().entries() == 0);
}
