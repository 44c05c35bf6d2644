// Byte-bounded eviction: memory stays under the bound while 10x more than
// fits is inserted, the least recently used entries go first, and the
// accounting returns to zero when everything is removed.
#include <catch2/catch.hpp>

#include <string>

#include "cache/answer_cache.h"
#include "cache/negative_cache.h"
#include "cache/rrset_cache.h"
#include "cache_test_support.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRClass;
using wire::RRType;

namespace {

std::string name_for(size_t i) { return "host" + std::to_string(i) + ".example.com."; }

wire::RRset signed_a(const std::string& owner, size_t sig_size) {
  return make_rrset(owner.c_str(), RRType::A, 3600, {a_rdata(192, 0, 2, 1)},
                    {rrsig_rdata(RRType::A, 8, 3, 3600, "example.com.", sig_size)});
}

}  // namespace

TEST_CASE("eviction: RRset memory stays under the byte bound at 10x overload",
          "[eviction][memory]") {
  CacheConfig config;
  config.shards = 8;
  config.rrset_max_bytes = 256 * 1024;
  RRsetCache cache(config);

  // Find how many signed names fit, then insert ten times that.
  size_t per_entry = 0;
  {
    RRsetCache probe(config);
    probe.insert(signed_a(name_for(0), 256), Rank::answer_authoritative, DnssecStatus::secure, kT0);
    per_entry = probe.lookup(N(name_for(0).c_str()), RRType::A, RRClass::IN, kT0)->rrset.charge();
  }
  REQUIRE(per_entry > 256);
  size_t fits = config.rrset_max_bytes / per_entry;
  size_t total = 10 * fits;
  size_t peak = 0;
  for (size_t i = 0; i < total; ++i) {
    auto r = cache.insert(signed_a(name_for(i), 256), Rank::answer_authoritative,
                          DnssecStatus::secure, kT0);
    REQUIRE(r == RRsetCache::Result::stored);
    size_t bytes = cache.store().bytes();
    if (bytes > peak) peak = bytes;
    REQUIRE(bytes <= config.rrset_max_bytes);
  }
  INFO("per entry " << per_entry << " fits " << fits << " peak " << peak);
  CHECK(peak <= config.rrset_max_bytes);
  CHECK(cache.store().counter(StoreCounter::evictions) >= total - fits);
  // The cache is not left nearly empty either: most of the budget is used.
  CHECK(cache.store().bytes() > config.rrset_max_bytes / 2);
  CHECK(cache.store().entries() < fits + 1);
  // The newest survive, the oldest are gone.
  CHECK(cache.lookup(N(name_for(total - 1).c_str()), RRType::A, RRClass::IN, kT0));
  CHECK_FALSE(cache.lookup(N(name_for(0).c_str()), RRType::A, RRClass::IN, kT0));

  cache.clear();
  CHECK(cache.store().entries() == 0);
  // Only the bucket arrays remain charged.
  CHECK(cache.store().bytes() < 8 * 4096);
}

TEST_CASE("eviction: recently used entries survive (LRU)", "[eviction]") {
  CacheConfig config;
  config.shards = 1;
  config.rrset_max_bytes = 64 * 1024;
  RRsetCache cache(config);
  size_t i = 0;
  cache.insert(a_rrset("hot.example.", 3600), Rank::answer_authoritative, DnssecStatus::insecure,
               kT0);
  // Keep touching "hot" while flooding the store with 20x its budget.
  for (; i < 5000; ++i) {
    cache.insert(a_rrset(name_for(i).c_str(), 3600), Rank::answer_authoritative,
                 DnssecStatus::insecure, kT0);
    REQUIRE(cache.lookup(N("hot.example."), RRType::A, RRClass::IN, kT0));
    REQUIRE(cache.store().bytes() <= config.rrset_max_bytes);
  }
  CHECK(cache.store().counter(StoreCounter::evictions) > 4000);
}

TEST_CASE("eviction: an entry larger than a shard's share is refused", "[eviction]") {
  CacheConfig config;
  config.shards = 4;
  config.rrset_max_bytes = 4096;  // 1 KiB per shard
  RRsetCache cache(config);
  auto big = make_rrset("big.example.", RRType::TXT, 60, {wire::Rdata(2000, 'x')});
  CHECK(cache.insert(big, Rank::answer_authoritative, DnssecStatus::insecure, kT0) ==
        RRsetCache::Result::too_large);
  CHECK(cache.store().entries() == 0);
  CHECK(cache.store().counter(StoreCounter::rejected) == 1);
}

TEST_CASE("eviction: answer and negative stores are bounded too", "[eviction][memory]") {
  CacheConfig config;
  config.shards = 4;
  config.answer_max_bytes = 64 * 1024;
  config.negative_max_bytes = 64 * 1024;
  AnswerCache answers(config);
  NegativeCache negatives(config);
  for (size_t i = 0; i < 5000; ++i) {
    std::string n = name_for(i);
    AnswerKey key;
    key.qname = N(n.c_str());
    key.qtype = RRType::A;
    auto packet = PacketWriter(1, answer_flags(), n.c_str(), RRType::A)
                      .record(1, n.c_str(), RRType::A, 300, a_rdata(192, 0, 2, 1))
                      .bytes();
    REQUIRE(answers.insert(key, packet, 300, DnssecStatus::insecure, kT0) ==
            AnswerCache::Result::stored);
    REQUIRE(answers.store().bytes() <= config.answer_max_bytes);
    negatives.insert(NegativeKind::nxdomain, N(n.c_str()), RRType::A, RRClass::IN,
                     soa_rrset("example.com.", 300, 300), {}, DnssecStatus::insecure, kT0);
    REQUIRE(negatives.store().bytes() <= config.negative_max_bytes);
  }
  CHECK(answers.store().counter(StoreCounter::evictions) > 0);
  CHECK(negatives.store().counter(StoreCounter::evictions) > 0);
}

TEST_CASE("keys: word-wise lower-casing equals octet-wise lower-casing", "[keys]") {
  for (unsigned b = 0; b < 256; ++b) {
    uint64_t word = 0;
    for (int k = 0; k < 8; ++k) word |= uint64_t{static_cast<uint8_t>(b + k * 37)} << (8 * k);
    uint64_t lowered = ascii_lower_word(word);
    for (int k = 0; k < 8; ++k) {
      auto in = static_cast<uint8_t>(word >> (8 * k));
      auto out = static_cast<uint8_t>(lowered >> (8 * k));
      REQUIRE(out == wire::ascii_lower(in));
    }
  }
  CHECK(make_key(N("WwW.EXAMPLE.com."), 1, 1).hash == make_key(N("www.example.com."), 1, 1).hash);
  CHECK(make_key(N("www.example.com."), 1, 1).hash != make_key(N("www.example.com."), 28, 1).hash);
}
