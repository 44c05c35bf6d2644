// RateLimiter: the token bucket per prefix, prefix grouping, the bounded
// table, and many threads at once.
#include <catch2/catch.hpp>

#include <thread>

#include "resolver/front/rate_limiter.h"
#include "tests/resolver/front/pipeline_fixture.h"

using namespace sextant;
using namespace sextant::resolver;

namespace {

ClientAddress client(const std::string& text) {
  sockaddr_storage ss = testing::socket_address(text);
  ClientAddress a;
  REQUIRE(ClientAddress::from(reinterpret_cast<const sockaddr*>(&ss), a));
  return a;
}

wire::SipKey key() {
  wire::SipKey k{};
  k.fill(0x33);
  return k;
}

size_t allowed(RateLimiter& l, const ClientAddress& a, uint64_t now, size_t n) {
  size_t ok = 0;
  for (size_t i = 0; i < n; ++i) ok += l.allow(a, now);
  return ok;
}

constexpr uint64_t kSecond = 1'000'000;

}  // namespace

TEST_CASE("rate limiter: a burst, then the rate", "[rrl]") {
  RateLimitSettings s;
  s.rate = 10;
  s.burst = 5;
  RateLimiter l(s, key());
  const uint64_t t0 = 1000 * kSecond;
  auto a = client("192.0.2.1");
  CHECK(allowed(l, a, t0, 20) == 5);
  // 100 ms later one token came back.
  CHECK(allowed(l, a, t0 + kSecond / 10, 3) == 1);
  // A second later: the burst again (never more than it).
  CHECK(allowed(l, a, t0 + 2 * kSecond, 20) == 5);
  // Steadily at the rate: every query passes.
  uint64_t t = t0 + 10 * kSecond;
  size_t ok = 0;
  for (int i = 0; i < 100; ++i, t += kSecond / 10) ok += l.allow(a, t);
  CHECK(ok == 100);
  // At twice the rate, about half do (after the burst).
  ok = 0;
  for (int i = 0; i < 200; ++i, t += kSecond / 20) ok += l.allow(a, t);
  CHECK(ok >= 100);
  CHECK(ok <= 106);
}

TEST_CASE("rate limiter: addresses share their prefix's bucket", "[rrl]") {
  RateLimitSettings s;
  s.rate = 4;
  RateLimiter l(s, key());
  const uint64_t t0 = 5000 * kSecond;
  CHECK(allowed(l, client("192.0.2.1"), t0, 2) == 2);
  CHECK(allowed(l, client("192.0.2.200"), t0, 5) == 2);      // same /24
  CHECK(allowed(l, client("::ffff:192.0.2.7"), t0, 1) == 0);  // the same IPv4 client
  CHECK(allowed(l, client("192.0.3.1"), t0, 5) == 4);        // another /24
  CHECK(allowed(l, client("2001:db8:0:1::1"), t0, 5) == 4);
  CHECK(allowed(l, client("2001:db8:0:ff::2"), t0, 5) == 0);  // same /56
  CHECK(allowed(l, client("2001:db8:0:100::1"), t0, 5) == 4); // next /56

  RateLimitSettings per_host = s;
  per_host.ipv4_prefix = 32;
  RateLimiter hosts(per_host, key());
  CHECK(allowed(hosts, client("192.0.2.1"), t0, 5) == 4);
  CHECK(allowed(hosts, client("192.0.2.2"), t0, 5) == 4);
}

TEST_CASE("rate limiter: the table is bounded and keeps the prefixes that owe most", "[rrl]") {
  RateLimitSettings s;
  s.rate = 2;
  s.table_bytes = 64 * 16;  // 16 lines, 128 slots
  RateLimiter l(s, key());
  CHECK(l.memory_bytes() == 1024);
  CHECK(l.slots() == 128);
  const uint64_t t0 = 9000 * kSecond;
  auto flooder = client("203.0.113.1");
  CHECK(allowed(l, flooder, t0, 50) == 2);
  // Thousands of other prefixes, each asking once (each owes little).
  for (uint32_t i = 0; i < 5000; ++i) {
    ClientAddress a;
    a.family = AF_INET;
    a.size = 4;
    a.bytes[0] = 10;
    a.bytes[1] = static_cast<uint8_t>(i >> 8);
    a.bytes[2] = static_cast<uint8_t>(i);
    l.allow(a, t0 + 1);
  }
  CHECK(l.occupied() <= 128);
  // The flooder's debt survived: it is still limited.
  CHECK(allowed(l, flooder, t0 + 2, 5) == 0);
}

TEST_CASE("rate limiter: a disused entry whose time wrapped is not held against it", "[rrl]") {
  RateLimitSettings s;
  s.rate = 1;
  RateLimiter l(s, key());
  auto a = client("192.0.2.9");
  const uint64_t t0 = 20 * kSecond;
  CHECK(allowed(l, a, t0, 3) == 1);
  // Nearly 2^44 microseconds (203 days) later the 44-bit time reads as ten
  // seconds before the entry was written: more debt than any live bucket
  // can have, so the entry is known stale.
  CHECK(allowed(l, a, t0 + (uint64_t{1} << 44) - 10 * kSecond, 1) == 1);
}

TEST_CASE("rate limiter: threads together never exceed the burst", "[rrl]") {
  RateLimitSettings s;
  s.rate = 1000;
  s.burst = 1000;
  RateLimiter l(s, key());
  auto a = client("198.51.100.1");
  std::atomic<size_t> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      size_t mine = 0;
      for (int i = 0; i < 2000; ++i) mine += l.allow(a, 42 * kSecond);
      ok += mine;
    });
  for (auto& t : threads) t.join();
  // The clock stood still: exactly the burst passes, give or take the
  // fail-open of a CAS lost more than its retries.
  CHECK(ok.load() >= 1000);
  CHECK(ok.load() <= 1010);
}
