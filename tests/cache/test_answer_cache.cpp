// Answer (packet) cache: the hit path patches ID, question case and TTLs
// without allocating; prefetch, stale (TTL 30, EDE 3/19), consistency of the
// entry's lifetime with its records' TTLs, OPT stripping, rejections,
// flushes by owner name.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "cache/answer_cache.h"
#include "cache/cache.h"
#include "cache_test_support.h"
#include "wire/packet_scan.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRClass;
using wire::RRType;

// Counts heap allocations on this thread while `g_counting` is set, to show
// that the hit path does not allocate.
namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
}  // namespace

// Every non-aligned form is replaced so that allocation and release always
// pair up (ASan checks that); the aligned forms keep their defaults.
namespace {
void* counted_malloc(size_t size) noexcept {
  if (g_counting) ++g_allocations;
  return std::malloc(size ? size : 1);
}
}  // namespace
void* operator new(size_t size) {
  if (void* p = counted_malloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) {
  if (void* p = counted_malloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

AnswerKey key_for(const char* name, RRType type, bool dnssec_ok = false) {
  AnswerKey k;
  k.qname = N(name);
  k.qtype = type;
  k.qclass = RRClass::IN;
  k.dnssec_ok = dnssec_ok;
  return k;
}

// www.example.com A -> CNAME web.example.net (3600) -> A (300) + an
// additional record with TTL 7200 and an OPT record.
std::vector<uint8_t> cname_answer() {
  return PacketWriter(0xAAAA, answer_flags(), "www.example.com.", RRType::A)
      .record(1, "www.example.com.", RRType::CNAME, 3600, name_rdata("web.example.net."))
      .record(1, "web.example.net.", RRType::A, 300, a_rdata(192, 0, 2, 80))
      .record(3, "ns.example.net.", RRType::A, 7200, a_rdata(192, 0, 2, 53))
      .opt(false)
      .bytes();
}

std::vector<uint32_t> ttls_of(std::span<const uint8_t> packet) {
  std::vector<uint32_t> out;
  wire::for_each_scanned_record(packet, [&](const wire::ScannedRecord& r) {
    if (r.type != RRType::OPT) out.push_back(r.ttl);
    return true;
  });
  return out;
}

}  // namespace

TEST_CASE("answer: a hit patches ID, question case and TTLs", "[answer]") {
  CacheConfig config;
  AnswerCache cache(config);
  auto packet = cname_answer();
  REQUIRE(cache.insert(key_for("www.example.com.", RRType::A), packet, 3600,
                       DnssecStatus::insecure, kT0) == AnswerCache::Result::stored);

  std::array<uint8_t, 1232> out{};
  size_t len = 0;
  AnswerHit hit;
  wire::Name sent = N("wWw.ExAmple.cOm.");
  CacheKey key = make_answer_key(key_for("www.example.com.", RRType::A));
  g_allocations = 0;
  g_counting = true;
  bool served = cache.lookup(key, 0x4242, sent, kT0 + 100, out, len, hit);
  g_counting = false;
  REQUIRE(served);
  CHECK(g_allocations == 0);
  CHECK(hit.freshness == Freshness::fresh);
  CHECK(hit.ttl == 200);  // the entry lives as long as its shortest record (300)
  CHECK(hit.rcode == 0);
  CHECK_FALSE(hit.negative);

  // OPT was dropped: 11 octets shorter, ARCOUNT one less.
  REQUIRE(len == packet.size() - 11);
  std::span<const uint8_t> answer(out.data(), len);
  CHECK(get16(&answer[0]) == 0x4242);
  CHECK(get16(&answer[2]) == get16(&packet[2]));
  CHECK(get16(&answer[10]) == 1);
  CHECK(std::equal(sent.wire().begin(), sent.wire().end(), answer.begin() + 12));
  CHECK(ttls_of(answer) == std::vector<uint32_t>{3500, 200, 7100});
  wire::PacketScan scan;
  CHECK(wire::scan_packet(answer, scan, {}));
  CHECK_FALSE(scan.has_opt);
}

TEST_CASE("answer: an answer rendered from the RRset store does not allocate either",
          "[answer][rrset-answer]") {
  Cache cache;
  auto set = make_rrset("www.example.com.", RRType::A, 300, {a_rdata(192, 0, 2, 1)},
                        {rrsig_rdata(RRType::A, 13, 3, 300, "example.com.", 64)});
  REQUIRE(cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0) ==
          RRsetCache::Result::stored);
  std::array<uint8_t, 512> out{};
  size_t len = 0;
  AnswerHit hit;
  wire::Name sent = N("wWw.ExAmple.cOm.");
  for (bool dnssec_ok : {false, true}) {
    CacheKey key = make_answer_key(key_for("www.example.com.", RRType::A, dnssec_ok));
    g_allocations = 0;
    g_counting = true;
    bool served = cache.answers().lookup(key, 0x4242, sent, kT0 + 100, out, len, hit);
    g_counting = false;
    REQUIRE(served);
    CHECK(g_allocations == 0);
    CHECK(hit.status == DnssecStatus::secure);
    std::span<const uint8_t> answer(out.data(), len);
    CHECK(get16(&answer[0]) == 0x4242);
    CHECK(std::equal(sent.wire().begin(), sent.wire().end(), answer.begin() + 12));
    auto expected = dnssec_ok ? std::vector<uint32_t>{200, 200} : std::vector<uint32_t>{200};
    CHECK(ttls_of(answer) == expected);
  }
  CHECK(cache.answers().store().entries() == 0);
}

TEST_CASE("answer: entry lifetime is the minimum of its records' and the given TTL",
          "[answer][consistency]") {
  CacheConfig config;
  AnswerCache cache(config);
  auto key = key_for("www.example.com.", RRType::A);
  // The resolver says the RRsets it used expire in 100 s.
  cache.insert(key, cname_answer(), 100, DnssecStatus::insecure, kT0);
  std::array<uint8_t, 1232> out{};
  size_t len = 0;
  AnswerHit hit;
  REQUIRE(cache.lookup(key, 1, key.qname, kT0 + 99, out, len, hit));
  CHECK(hit.ttl == 1);
  CHECK_FALSE(cache.lookup(key, 1, key.qname, kT0 + 100, out, len, hit));
  CHECK(hit.stale_available);
}

TEST_CASE("answer: fresh -> prefetch -> stale (TTL 30, EDE 3) -> gone", "[answer][transitions]") {
  CacheConfig config;
  AnswerCache cache(config);
  auto key = key_for("www.example.com.", RRType::A);
  cache.insert(key, cname_answer(), 3600, DnssecStatus::insecure, kT0);  // lives 300 s
  std::array<uint8_t, 1232> out{};
  size_t len = 0;
  AnswerHit hit;

  REQUIRE(cache.lookup(key, 1, key.qname, kT0 + 269, out, len, hit));
  CHECK(hit.freshness == Freshness::fresh);
  REQUIRE(cache.lookup(key, 1, key.qname, kT0 + 271, out, len, hit));
  CHECK(hit.freshness == Freshness::prefetch_due);
  CHECK(hit.refresh_claimed);
  REQUIRE(cache.lookup(key, 1, key.qname, kT0 + 272, out, len, hit));
  CHECK(hit.freshness == Freshness::fresh);  // one prefetch per entry
  CHECK_FALSE(hit.refresh_claimed);

  // Expired: a fresh-only lookup misses but reports stale data exists.
  CHECK_FALSE(cache.lookup(key, 1, key.qname, kT0 + 300, out, len, hit));
  CHECK(hit.stale_available);
  // The refresh failed: serve stale with every TTL 30.
  REQUIRE(cache.lookup(key, 7, key.qname, kT0 + 400, out, len, hit, StalePolicy::allow_stale));
  CHECK(hit.freshness == Freshness::stale);
  CHECK(hit.ttl == 30);
  CHECK(hit.stale_ede() == wire::EdeCode::StaleAnswer);
  CHECK(ttls_of({out.data(), len}) == std::vector<uint32_t>{30, 30, 30});

  // A re-insert (the refresh succeeded) makes it fresh again.
  cache.insert(key, cname_answer(), 3600, DnssecStatus::insecure, kT0 + 500);
  REQUIRE(cache.lookup(key, 1, key.qname, kT0 + 500, out, len, hit, StalePolicy::allow_stale));
  CHECK(hit.freshness == Freshness::fresh);
  CHECK(ttls_of({out.data(), len}) == std::vector<uint32_t>{3600, 300, 7200});

  // Gone after stale_max.
  CHECK_FALSE(cache.lookup(key, 1, key.qname, kT0 + 800 + 86400, out, len, hit,
                           StalePolicy::allow_stale));
  CHECK_FALSE(hit.stale_available);
  CHECK(cache.store().entries() == 0);
}

TEST_CASE("answer: negative answers use the negative TTL and EDE 19 when stale", "[answer]") {
  CacheConfig config;
  AnswerCache cache(config);
  auto key = key_for("nope.example.com.", RRType::A);
  auto packet = PacketWriter(1, answer_flags(3), "nope.example.com.", RRType::A)
                    .record(2, "example.com.", RRType::SOA, 7200,
                            soa_rdata("ns.example.com.", "h.example.com.", 1, 600))
                    .bytes();
  REQUIRE(cache.insert(key, packet, 7200, DnssecStatus::insecure, kT0) ==
          AnswerCache::Result::stored);
  std::array<uint8_t, 512> out{};
  size_t len = 0;
  AnswerHit hit;
  REQUIRE(cache.lookup(key, 1, key.qname, kT0, out, len, hit));
  CHECK(hit.negative);
  CHECK(hit.rcode == 3);
  CHECK(hit.ttl == 600);  // min(SOA TTL, MINIMUM)
  CHECK(ttls_of({out.data(), len}) == std::vector<uint32_t>{600});
  REQUIRE(cache.lookup(key, 1, key.qname, kT0 + 600, out, len, hit, StalePolicy::allow_stale));
  CHECK(hit.freshness == Freshness::stale);
  CHECK(hit.stale_ede() == wire::EdeCode::StaleNxdomainAnswer);
}

TEST_CASE("answer: TTL clamps apply to stored answers", "[answer][clamps]") {
  CacheConfig config;
  config.max_ttl = 1000;
  config.negative_max_ttl = 50;
  AnswerCache cache(config);
  auto key = key_for("a.example.", RRType::A);
  auto packet = PacketWriter(1, answer_flags(), "a.example.", RRType::A)
                    .record(1, "a.example.", RRType::A, 999999, a_rdata(1, 2, 3, 4))
                    .bytes();
  cache.insert(key, packet, 999999, DnssecStatus::insecure, kT0);
  std::array<uint8_t, 512> out{};
  size_t len = 0;
  AnswerHit hit;
  REQUIRE(cache.lookup(key, 1, key.qname, kT0, out, len, hit));
  CHECK(hit.ttl == 1000);
  CHECK(ttls_of({out.data(), len}) == std::vector<uint32_t>{1000});

  auto nodata_key = key_for("a.example.", RRType::AAAA);
  auto nodata = PacketWriter(1, answer_flags(), "a.example.", RRType::AAAA)
                    .record(2, "example.", RRType::SOA, 3600,
                            soa_rdata("ns.example.", "h.example.", 1, 3600))
                    .bytes();
  cache.insert(nodata_key, nodata, 3600, DnssecStatus::insecure, kT0);
  REQUIRE(cache.lookup(nodata_key, 1, nodata_key.qname, kT0, out, len, hit));
  CHECK(hit.negative);
  CHECK(hit.ttl == 50);
}

TEST_CASE("answer: keys separate DO and CD and type", "[answer]") {
  CacheConfig config;
  AnswerCache cache(config);
  cache.insert(key_for("www.example.com.", RRType::A, true), cname_answer(), 3600,
               DnssecStatus::secure, kT0);
  std::array<uint8_t, 1232> out{};
  size_t len = 0;
  AnswerHit hit;
  auto plain = key_for("www.example.com.", RRType::A, false);
  CHECK_FALSE(cache.lookup(plain, 1, plain.qname, kT0, out, len, hit));
  auto with_do = key_for("www.example.com.", RRType::A, true);
  CHECK(cache.lookup(with_do, 1, with_do.qname, kT0, out, len, hit));
  CHECK(hit.status == DnssecStatus::secure);
  auto cd = with_do;
  cd.checking_disabled = true;
  CHECK_FALSE(cache.lookup(cd, 1, cd.qname, kT0, out, len, hit));
}

TEST_CASE("answer: a buffer too small is a miss, not an overflow", "[answer]") {
  CacheConfig config;
  AnswerCache cache(config);
  auto key = key_for("www.example.com.", RRType::A);
  cache.insert(key, cname_answer(), 3600, DnssecStatus::insecure, kT0);
  std::array<uint8_t, 40> small{};
  size_t len = 0;
  AnswerHit hit;
  CHECK_FALSE(cache.lookup(key, 1, key.qname, kT0, small, len, hit));
  CHECK(len == 0);
}

TEST_CASE("answer: malformed or unsuitable packets are rejected", "[answer]") {
  CacheConfig config;
  AnswerCache cache(config);
  auto key = key_for("www.example.com.", RRType::A);
  auto good = cname_answer();
  SECTION("garbage") {
    std::vector<uint8_t> p(good.begin(), good.begin() + 20);
    CHECK(cache.insert(key, p, 60, DnssecStatus::insecure, kT0) == AnswerCache::Result::rejected);
  }
  SECTION("another question") {
    CHECK(cache.insert(key_for("other.example.com.", RRType::A), good, 60, DnssecStatus::insecure,
                       kT0) == AnswerCache::Result::rejected);
    CHECK(cache.insert(key_for("www.example.com.", RRType::AAAA), good, 60,
                       DnssecStatus::insecure, kT0) == AnswerCache::Result::rejected);
  }
  SECTION("truncated answers (TC) and queries (QR=0)") {
    auto tc = good;
    tc[2] |= 0x02;
    CHECK(cache.insert(key, tc, 60, DnssecStatus::insecure, kT0) == AnswerCache::Result::rejected);
    auto query = good;
    query[2] &= 0x7F;
    CHECK(cache.insert(key, query, 60, DnssecStatus::insecure, kT0) ==
          AnswerCache::Result::rejected);
  }
  SECTION("OPT that is not the last record") {
    auto p = PacketWriter(1, answer_flags(), "www.example.com.", RRType::A)
                 .opt(false)
                 .record(3, "ns.example.net.", RRType::A, 60, a_rdata(1, 1, 1, 1))
                 .bytes();
    CHECK(cache.insert(key, p, 60, DnssecStatus::insecure, kT0) == AnswerCache::Result::rejected);
  }
  CHECK(cache.store().entries() == 0);
}

TEST_CASE("answer: flushing a name removes answers that mention it", "[answer][flush]") {
  Cache cache;
  auto key = key_for("www.example.com.", RRType::A);
  cache.answers().insert(key, cname_answer(), 3600, DnssecStatus::insecure, kT0);
  auto other = key_for("x.example.org.", RRType::A);
  cache.answers().insert(other,
                         PacketWriter(1, answer_flags(), "x.example.org.", RRType::A)
                             .record(1, "x.example.org.", RRType::A, 60, a_rdata(1, 2, 3, 4))
                             .bytes(),
                         60, DnssecStatus::insecure, kT0);
  REQUIRE(cache.answers().store().entries() == 2);
  // The CNAME target is an owner inside the www answer.
  cache.flush_name(N("web.example.net."));
  CHECK(cache.answers().store().entries() == 1);
  cache.flush_subtree(N("org."));
  CHECK(cache.answers().store().entries() == 0);
}

TEST_CASE("answer: dump lists entries", "[answer]") {
  CacheConfig config;
  AnswerCache cache(config);
  cache.insert(key_for("www.example.com.", RRType::A, true), cname_answer(), 3600,
               DnssecStatus::secure, kT0);
  std::string text;
  cache.dump(text, kT0 + 10);
  CHECK(text.find("; answer www.example.com. IN A +do rcode=0 ttl=290") != std::string::npos);
}

// Regression: an insecure answer's informational EDE (27, too many NSEC3
// iterations; 1, unsupported algorithm) was lost once served from the cache.
TEST_CASE("answer: the informational EDE of an answer comes back with every hit", "[answer]") {
  CacheConfig config;
  AnswerCache cache(config);
  auto key = key_for("www.example.com.", RRType::A);
  REQUIRE(cache.insert(key, cname_answer(), 3600, DnssecStatus::insecure, kT0,
                       wire::EdeCode::UnsupportedNsec3Iterations) == AnswerCache::Result::stored);
  std::array<uint8_t, 1232> out{};
  size_t len = 0;
  AnswerHit hit;
  REQUIRE(cache.lookup(make_answer_key(key), 1, key.qname, kT0 + 1, out, len, hit));
  REQUIRE(hit.info_ede.has_value());
  CHECK(*hit.info_ede == wire::EdeCode::UnsupportedNsec3Iterations);

  auto other = key_for("www.example.com.", RRType::A, true);
  REQUIRE(cache.insert(other, cname_answer(), 3600, DnssecStatus::secure, kT0) ==
          AnswerCache::Result::stored);
  AnswerHit plain;
  REQUIRE(cache.lookup(make_answer_key(other), 1, other.qname, kT0 + 1, out, len, plain));
  CHECK_FALSE(plain.info_ede.has_value());
}
