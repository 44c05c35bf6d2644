// The Cache object: flush across stores, dump, statistics.
#include <catch2/catch.hpp>

#include "cache/cache.h"
#include "cache_test_support.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRClass;
using wire::RRType;

namespace {

void fill(Cache& cache) {
  cache.insert_rrset(a_rrset("www.example.", 300), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0);
  cache.insert_rrset(a_rrset("mail.example.", 300), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0);
  cache.insert_rrset(a_rrset("www.other.", 300), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0);
  cache.negatives().insert(NegativeKind::nxdomain, N("nx.example."), RRType::A, RRClass::IN,
                           soa_rrset("example.", 300, 300), {}, DnssecStatus::insecure, kT0);
  Delegation d;
  d.zone = N("example.");
  d.ttl = 300;
  d.servers.push_back({N("ns.example."), {IpAddress::v4(192, 0, 2, 53)}, Rank::additional});
  cache.delegations().insert(d, Rank::authority, DnssecStatus::insecure, kT0);
  // An answer with an entry of its own: no AAAA RRset renders it (an A
  // answer would be rendered from the A RRset and take no entry).
  AnswerKey key;
  key.qname = N("www.example.");
  key.qtype = RRType::AAAA;
  wire::Rdata aaaa(16, 0);
  aaaa[0] = 0x20;
  aaaa[15] = 1;
  REQUIRE(cache.answers().insert(key,
                                 PacketWriter(1, answer_flags(), "www.example.", RRType::AAAA)
                                     .record(1, "www.example.", RRType::AAAA, 300, aaaa)
                                     .bytes(),
                                 300, DnssecStatus::insecure, kT0) == AnswerCache::Result::stored);
}

}  // namespace

TEST_CASE("cache: flush a name from every store", "[cache][flush]") {
  Cache cache;
  fill(cache);
  CHECK(cache.flush_name(N("www.example.")) == 2);  // RRset + answer
  CHECK_FALSE(cache.rrsets().lookup(N("www.example."), RRType::A, RRClass::IN, kT0));
  CHECK(cache.answers().store().entries() == 0);
  CHECK(cache.rrsets().lookup(N("mail.example."), RRType::A, RRClass::IN, kT0));
  CHECK(cache.flush_name(N("example.")) == 1);  // the delegation
  CHECK_FALSE(cache.delegations().find(N("example."), RRClass::IN, kT0));
}

TEST_CASE("cache: flush a subtree and everything", "[cache][flush]") {
  Cache cache;
  fill(cache);
  CHECK(cache.flush_subtree(N("example.")) == 5);  // 2 RRsets, NXDOMAIN, delegation, answer
  CHECK(cache.rrsets().lookup(N("www.other."), RRType::A, RRClass::IN, kT0));
  CHECK_FALSE(cache.negatives().lookup(N("nx.example."), RRType::A, RRClass::IN, kT0));
  fill(cache);
  cache.flush_all();
  auto s = cache.stats();
  CHECK(s.total().entries == 0);
}

TEST_CASE("cache: dump covers every store", "[cache][dump]") {
  Cache cache;
  fill(cache);
  std::string text = cache.dump(kT0 + 100);
  CHECK(text.find("www.example. 200 IN A 192.0.2.1\n") != std::string::npos);
  CHECK(text.find("; negative nx.example. IN NXDOMAIN ttl=200") != std::string::npos);
  CHECK(text.find("example. 200 IN NS ns.example.\n") != std::string::npos);
  CHECK(text.find("; answer www.example. IN AAAA rcode=0 ttl=200") != std::string::npos);
}

TEST_CASE("cache: statistics count hits, misses, stale, prefetch, evictions", "[cache][stats]") {
  CacheConfig config;
  Cache cache(config);
  cache.insert_rrset(a_rrset("a.example.", 100), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0);
  (void)cache.rrsets().lookup(N("a.example."), RRType::A, RRClass::IN, kT0);
  (void)cache.rrsets().lookup(N("b.example."), RRType::A, RRClass::IN, kT0);
  (void)cache.rrsets().lookup(N("a.example."), RRType::A, RRClass::IN, kT0 + 95);  // prefetch
  (void)cache.rrsets().lookup(N("a.example."), RRType::A, RRClass::IN, kT0 + 150,
                              StalePolicy::allow_stale);
  auto s = cache.stats();
  CHECK(s.rrsets.entries == 1);
  CHECK(s.rrsets.bytes > 0);
  CHECK(s.rrsets.hits == 3);
  CHECK(s.rrsets.misses == 1);
  CHECK(s.rrsets.prefetches == 1);
  CHECK(s.rrsets.stale_served == 1);
  CHECK(s.rrsets.inserts == 1);
  CHECK(s.rrsets.evictions == 0);
  CHECK(s.total().bytes >= s.rrsets.bytes);
}
