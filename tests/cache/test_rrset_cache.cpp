// RRset store: storage layout round trip, the freshness transitions with an
// injected clock (fresh -> prefetch -> stale -> gone), rank rules, clamps,
// bogus TTL, flushes and dump.
#include <catch2/catch.hpp>

#include "cache/rrset_cache.h"
#include "cache_test_support.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRClass;
using wire::RRType;

TEST_CASE("rrset: stores records and signatures in one block and returns them", "[rrset]") {
  CacheConfig config;
  RRsetCache cache(config);
  auto rrset = make_rrset("WWW.Example.COM.", RRType::A, 300,
                          {a_rdata(192, 0, 2, 1), a_rdata(192, 0, 2, 2)},
                          {rrsig_rdata(RRType::A, 13, 3, 300, "example.com.", 64)});
  REQUIRE(cache.insert(rrset, Rank::answer_authoritative, DnssecStatus::secure, kT0) ==
          RRsetCache::Result::stored);

  auto hit = cache.lookup(N("www.example.com."), RRType::A, RRClass::IN, kT0 + 10);
  REQUIRE(hit);
  CHECK(hit->freshness == Freshness::fresh);
  CHECK(hit->ttl == 290);
  const CachedRRset& c = hit->rrset;
  CHECK(c.owner() == N("www.example.com."));
  CHECK(c.owner().to_text() == "www.example.com.");  // stored lower-cased
  CHECK(c.type() == RRType::A);
  CHECK(c.rank() == Rank::answer_authoritative);
  CHECK(c.status() == DnssecStatus::secure);
  CHECK(c.original_ttl() == 300);
  wire::RRset back = c.to_rrset(hit->ttl);
  CHECK(back.rdatas == rrset.rdatas);
  CHECK(back.signatures == rrset.signatures);
  CHECK(back.ttl == 290);
  CHECK(c.rdatas().size() == 2);
  CHECK(c.signatures().size() == 1);

  CHECK_FALSE(cache.lookup(N("www.example.com."), RRType::AAAA, RRClass::IN, kT0));
  CHECK_FALSE(cache.lookup(N("www.example.com."), RRType::A, RRClass::CH, kT0));
  CHECK_FALSE(cache.lookup(N("example.com."), RRType::A, RRClass::IN, kT0));
}

TEST_CASE("rrset: fresh -> expiring (prefetch once) -> stale -> gone", "[rrset][transitions]") {
  CacheConfig config;  // prefetch at 10 %, stale_max 1 day, stale TTL 30
  RRsetCache cache(config);
  REQUIRE(cache.insert(a_rrset("a.example.", 1000), Rank::answer_authoritative,
                       DnssecStatus::insecure, kT0) == RRsetCache::Result::stored);
  auto look = [&](uint32_t now, StalePolicy p = StalePolicy::fresh_only) {
    return cache.lookup(N("a.example."), RRType::A, RRClass::IN, now, p);
  };

  // Fresh for the first 90 % of the TTL.
  auto h = look(kT0 + 899);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::fresh);
  CHECK_FALSE(h->refresh_claimed);

  // Last 10 %: the first hit is told to prefetch, later hits are not.
  h = look(kT0 + 901);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::prefetch_due);
  CHECK(h->refresh_claimed);
  CHECK(h->ttl == 99);
  h = look(kT0 + 902);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::fresh);
  CHECK_FALSE(h->refresh_claimed);

  // The prefetch failed: finish_refresh lets the next hit try again.
  cache.finish_refresh(N("a.example."), RRType::A, RRClass::IN);
  h = look(kT0 + 903);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::prefetch_due);

  // Expired: no data for a fresh-only lookup; stale data when the
  // resolver's refresh failed, with TTL 30 and one refresh claim.
  CHECK_FALSE(look(kT0 + 1000));
  h = look(kT0 + 1000, StalePolicy::allow_stale);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::stale);
  CHECK(h->ttl == 30);
  CHECK(h->refresh_claimed);  // the prefetch claim is older than refresh_claim_timeout
  h = look(kT0 + 1001, StalePolicy::allow_stale);
  REQUIRE(h);
  CHECK_FALSE(h->refresh_claimed);  // one refresh in flight per key
  // A lost claim expires after refresh_claim_timeout.
  h = look(kT0 + 1001 + config.refresh_claim_timeout, StalePolicy::allow_stale);
  REQUIRE(h);
  CHECK(h->refresh_claimed);

  // Up to stale_max past expiry, then gone (and removed).
  CHECK(look(kT0 + 1000 + 86399, StalePolicy::allow_stale));
  CHECK_FALSE(look(kT0 + 1000 + 86400, StalePolicy::allow_stale));
  CHECK(cache.store().entries() == 0);
}

TEST_CASE("rrset: fresh data replaces stale data and stale is never preferred", "[rrset]") {
  CacheConfig config;
  RRsetCache cache(config);
  cache.insert(a_rrset("a.example.", 100, 1), Rank::answer_authoritative, DnssecStatus::insecure, kT0);
  // Expired now; new data (even of lower rank) replaces it.
  REQUIRE(cache.insert(a_rrset("a.example.", 100, 2), Rank::additional, DnssecStatus::insecure,
                       kT0 + 200) == RRsetCache::Result::stored);
  auto h = cache.lookup(N("a.example."), RRType::A, RRClass::IN, kT0 + 201, StalePolicy::allow_stale);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::fresh);
  CHECK(h->rrset.to_rrset(0).rdatas.front() == a_rdata(192, 0, 2, 2));
}

TEST_CASE("rrset: serve-stale and prefetch can be switched off", "[rrset][transitions]") {
  CacheConfig config;
  config.serve_stale = false;
  config.prefetch = false;
  RRsetCache cache(config);
  cache.insert(a_rrset("a.example.", 1000), Rank::answer_authoritative, DnssecStatus::insecure, kT0);
  auto h = cache.lookup(N("a.example."), RRType::A, RRClass::IN, kT0 + 990);
  REQUIRE(h);
  CHECK(h->freshness == Freshness::fresh);
  CHECK_FALSE(h->refresh_claimed);
  CHECK_FALSE(cache.lookup(N("a.example."), RRType::A, RRClass::IN, kT0 + 1000,
                           StalePolicy::allow_stale));
  CHECK(cache.store().entries() == 0);  // gone immediately
}

TEST_CASE("rrset: a 1 s TTL is not prefetched, a 2 s TTL is in its last second", "[rrset][transitions]") {
  CacheConfig config;  // prefetch_min_ttl = 2
  RRsetCache cache(config);
  cache.insert(a_rrset("one.example.", 1), Rank::answer_authoritative, DnssecStatus::insecure, kT0);
  auto h1 = cache.lookup(N("one.example."), RRType::A, RRClass::IN, kT0);
  REQUIRE(h1);
  CHECK(h1->freshness == Freshness::fresh);

  cache.insert(a_rrset("two.example.", 2), Rank::answer_authoritative, DnssecStatus::insecure, kT0);
  auto h2 = cache.lookup(N("two.example."), RRType::A, RRClass::IN, kT0);
  REQUIRE(h2);
  CHECK(h2->freshness == Freshness::fresh);  // 2 s left: not yet
  auto h3 = cache.lookup(N("two.example."), RRType::A, RRClass::IN, kT0 + 1);
  REQUIRE(h3);
  CHECK(h3->freshness == Freshness::prefetch_due);  // its last second
}

TEST_CASE("rrset: RFC 2181 rank rules", "[rrset][rank]") {
  CacheConfig config;
  RRsetCache cache(config);
  auto value = [&](uint32_t now) {
    auto h = cache.lookup(N("ns.example."), RRType::A, RRClass::IN, now);
    REQUIRE(h);
    return h->rrset.to_rrset(0).rdatas.front()[3];
  };

  SECTION("glue does not overwrite an authoritative answer") {
    REQUIRE(cache.insert(a_rrset("ns.example.", 3600, 1), Rank::answer_authoritative,
                         DnssecStatus::insecure, kT0) == RRsetCache::Result::stored);
    CHECK(cache.insert(a_rrset("ns.example.", 3600, 2), Rank::additional, DnssecStatus::insecure,
                       kT0 + 1) == RRsetCache::Result::kept);
    CHECK(cache.insert(a_rrset("ns.example.", 3600, 3), Rank::authority, DnssecStatus::insecure,
                       kT0 + 1) == RRsetCache::Result::kept);
    CHECK(cache.insert(a_rrset("ns.example.", 3600, 4), Rank::answer_nonauth,
                       DnssecStatus::insecure, kT0 + 1) == RRsetCache::Result::kept);
    CHECK(value(kT0 + 2) == 1);
    // ...until the authoritative copy expires.
    CHECK(cache.insert(a_rrset("ns.example.", 3600, 5), Rank::additional, DnssecStatus::insecure,
                       kT0 + 3600) == RRsetCache::Result::stored);
    CHECK(value(kT0 + 3601) == 5);
  }
  SECTION("an authoritative answer replaces glue, equal rank replaces") {
    cache.insert(a_rrset("ns.example.", 3600, 1), Rank::additional, DnssecStatus::insecure, kT0);
    CHECK(value(kT0) == 1);
    CHECK(cache.insert(a_rrset("ns.example.", 3600, 2), Rank::answer_authoritative,
                       DnssecStatus::insecure, kT0) == RRsetCache::Result::stored);
    CHECK(value(kT0) == 2);
    CHECK(cache.insert(a_rrset("ns.example.", 3600, 3), Rank::answer_authoritative,
                       DnssecStatus::insecure, kT0) == RRsetCache::Result::stored);
    CHECK(value(kT0) == 3);
  }
  SECTION("validated data is not replaced by unvalidated data; it replaces it") {
    cache.insert(a_rrset("ns.example.", 3600, 1), Rank::answer_nonauth, DnssecStatus::secure, kT0);
    CHECK(cache.insert(a_rrset("ns.example.", 3600, 2), Rank::answer_authoritative,
                       DnssecStatus::indeterminate, kT0) == RRsetCache::Result::kept);
    CHECK(value(kT0) == 1);
    cache.insert(a_rrset("other.example.", 3600, 1), Rank::answer_authoritative,
                 DnssecStatus::indeterminate, kT0);
    CHECK(cache.insert(a_rrset("other.example.", 3600, 2), Rank::answer_nonauth,
                       DnssecStatus::secure, kT0) == RRsetCache::Result::stored);
  }
  SECTION("lookups for answers can skip glue") {
    cache.insert(a_rrset("ns.example.", 3600, 1), Rank::additional, DnssecStatus::insecure, kT0);
    CHECK(cache.lookup(N("ns.example."), RRType::A, RRClass::IN, kT0));
    CHECK_FALSE(cache.lookup(N("ns.example."), RRType::A, RRClass::IN, kT0,
                             StalePolicy::fresh_only, Rank::answer_nonauth));
  }
}

TEST_CASE("rrset: TTL clamps and bogus TTL", "[rrset][clamps]") {
  CacheConfig config;
  config.min_ttl = 60;
  config.max_ttl = 86400;
  config.bogus_ttl = 60;
  RRsetCache cache(config);
  auto ttl_of = [&](const char* name) {
    auto h = cache.lookup(N(name), RRType::A, RRClass::IN, kT0);
    REQUIRE(h);
    return h->rrset.original_ttl();
  };
  cache.insert(a_rrset("big.example.", 7 * 86400), Rank::answer_authoritative,
               DnssecStatus::insecure, kT0);
  cache.insert(a_rrset("small.example.", 5), Rank::answer_authoritative, DnssecStatus::insecure,
               kT0);
  cache.insert(a_rrset("neg.example.", 0x80000001u), Rank::answer_authoritative,
               DnssecStatus::insecure, kT0);
  cache.insert(a_rrset("bogus.example.", 3600), Rank::answer_authoritative, DnssecStatus::bogus,
               kT0);
  CHECK(ttl_of("big.example.") == 86400);
  CHECK(ttl_of("small.example.") == 60);
  CHECK(ttl_of("neg.example.") == 60);  // top bit set means 0 (RFC 2181 §8), then the floor
  CHECK(ttl_of("bogus.example.") == 60);
  CHECK_FALSE(cache.lookup(N("big.example."), RRType::A, RRClass::IN, kT0 + 86400));
}

TEST_CASE("rrset: invalid input is rejected", "[rrset]") {
  CacheConfig config;
  RRsetCache cache(config);
  CHECK(cache.insert(make_rrset("a.", RRType::A, 60, {}), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0) == RRsetCache::Result::rejected);
  CHECK(cache.insert(make_rrset("a.", RRType::OPT, 60, {{1}}), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0) == RRsetCache::Result::rejected);
  CHECK(cache.insert(make_rrset("a.", RRType::TXT, 60, {wire::Rdata(70000, 1)}),
                     Rank::answer_authoritative, DnssecStatus::insecure,
                     kT0) == RRsetCache::Result::rejected);
}

TEST_CASE("rrset: flush a name, a subtree; dump", "[rrset][flush]") {
  CacheConfig config;
  RRsetCache cache(config);
  for (const char* n : {"example.", "www.example.", "a.b.example.", "example2.", "com."}) {
    cache.insert(a_rrset(n, 300), Rank::answer_authoritative, DnssecStatus::insecure, kT0);
    cache.insert(make_rrset(n, RRType::TXT, 300, {{3, 'a', 'b', 'c'}}), Rank::answer_authoritative,
                 DnssecStatus::insecure, kT0);
  }
  CHECK(cache.store().entries() == 10);
  CHECK(cache.flush_name(N("WWW.example.")) == 2);
  CHECK_FALSE(cache.lookup(N("www.example."), RRType::A, RRClass::IN, kT0));
  CHECK(cache.lookup(N("example."), RRType::A, RRClass::IN, kT0));
  CHECK(cache.flush_subtree(N("example.")) == 4);
  CHECK(cache.lookup(N("example2."), RRType::TXT, RRClass::IN, kT0));
  CHECK(cache.store().entries() == 4);

  cache.insert(make_rrset("sig.example.", RRType::A, 300, {a_rdata(192, 0, 2, 7)},
                          {rrsig_rdata(RRType::A, 13, 2, 300, "example.", 4)}),
               Rank::answer_authoritative, DnssecStatus::secure, kT0);
  std::string text;
  cache.dump(text, kT0 + 100);
  CHECK(text.find("sig.example. 200 IN A 192.0.2.7\n") != std::string::npos);
  CHECK(text.find("sig.example. 200 IN RRSIG A 13 2 300 ") != std::string::npos);
  CHECK(text.find("status=secure") != std::string::npos);
  CHECK(text.find("example2. 200 IN TXT \"abc\"\n") != std::string::npos);
}
