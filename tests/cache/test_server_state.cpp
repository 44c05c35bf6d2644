// Per-server state: RFC 6298 smoothing, timeouts and dead marks, EDNS
// support, RTT-band selection with exploration, its own entry bound.
#include <catch2/catch.hpp>

#include <array>

#include "cache/server_state_cache.h"
#include "cache_test_support.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;

TEST_CASE("servers: unknown servers get the default RTO", "[servers]") {
  CacheConfig config;
  ServerStateCache cache(config);
  auto s = cache.get(IpAddress::v4(192, 0, 2, 1), kT0);
  CHECK_FALSE(s.rtt_known);
  CHECK(s.rto_ms() == ServerState::kUnknownRtoMs);
  CHECK(cache.entries() == 0);  // get() does not create entries
}

TEST_CASE("servers: SRTT and RTTVAR follow RFC 6298", "[servers]") {
  CacheConfig config;
  ServerStateCache cache(config);
  auto a = IpAddress::v4(192, 0, 2, 1);
  cache.record_rtt(a, 100, kT0);
  auto s = cache.get(a, kT0);
  CHECK(s.rtt_known);
  CHECK(s.srtt_ms == 100);
  CHECK(s.rttvar_ms == 50);
  CHECK(s.rto_ms() == 300);
  cache.record_rtt(a, 20, kT0 + 1);
  s = cache.get(a, kT0 + 1);
  CHECK(s.srtt_ms == (7 * 100 + 20) / 8);
  CHECK(s.rttvar_ms == (3 * 50 + 80) / 4);
}

TEST_CASE("servers: timeouts back off and mark the server dead", "[servers]") {
  CacheConfig config;  // dead after 4 timeouts for 60 s
  ServerStateCache cache(config);
  auto a = IpAddress::v4(192, 0, 2, 1);
  cache.record_rtt(a, 50, kT0);
  uint32_t base = cache.get(a, kT0).rto_ms();
  cache.record_timeout(a, kT0);
  CHECK(cache.get(a, kT0).rto_ms() == 2 * base);
  cache.record_timeout(a, kT0);
  cache.record_timeout(a, kT0);
  CHECK_FALSE(cache.get(a, kT0).dead(kT0));
  cache.record_timeout(a, kT0);
  auto s = cache.get(a, kT0);
  CHECK(s.dead(kT0));
  CHECK_FALSE(s.dead(kT0 + 60));
  cache.record_rtt(a, 40, kT0 + 1);
  CHECK_FALSE(cache.get(a, kT0 + 1).dead(kT0 + 1));
  CHECK(cache.get(a, kT0 + 1).consecutive_timeouts == 0);
}

TEST_CASE("servers: EDNS support", "[servers]") {
  CacheConfig config;
  ServerStateCache cache(config);
  auto a = IpAddress::v4(192, 0, 2, 1);
  auto b = IpAddress::v4(192, 0, 2, 2);
  cache.record_edns(a, false, kT0);
  CHECK(cache.get(a, kT0).edns == EdnsSupport::unknown);
  cache.record_edns(a, false, kT0);
  CHECK(cache.get(a, kT0).edns == EdnsSupport::unsupported);
  cache.record_edns(a, true, kT0);
  CHECK(cache.get(a, kT0).edns == EdnsSupport::supported);
  cache.record_edns(b, true, kT0);
  cache.record_edns(b, false, kT0);
  cache.record_edns(b, false, kT0);
  CHECK(cache.get(b, kT0).edns == EdnsSupport::supported);  // one failure is not proof
}

TEST_CASE("servers: state is forgotten after server_state_ttl", "[servers]") {
  CacheConfig config;
  ServerStateCache cache(config);
  auto a = IpAddress::v4(192, 0, 2, 1);
  cache.record_rtt(a, 100, kT0);
  CHECK(cache.get(a, kT0 + config.server_state_ttl - 1).rtt_known);
  CHECK_FALSE(cache.get(a, kT0 + config.server_state_ttl).rtt_known);
}

TEST_CASE("servers: selection prefers fast servers and explores the band", "[servers]") {
  CacheConfig config;
  ServerStateCache cache(config);
  std::array<IpAddress, 4> addrs = {IpAddress::v4(10, 0, 0, 1), IpAddress::v4(10, 0, 0, 2),
                                    IpAddress::v4(10, 0, 0, 3), IpAddress::v4(10, 0, 0, 4)};
  cache.record_rtt(addrs[0], 10, kT0);    // rto 30
  cache.record_rtt(addrs[1], 1000, kT0);  // rto 3000: out of band
  // addrs[2] unknown: rto 376, within 30 + 400 -> explored
  for (int i = 0; i < 4; ++i) cache.record_timeout(addrs[3], kT0);  // dead
  std::array<int, 4> picks{};
  for (uint64_t r = 0; r < 1000; ++r) ++picks[cache.select(addrs, kT0, r)];
  CHECK(picks[0] == 500);
  CHECK(picks[2] == 500);
  CHECK(picks[1] == 0);
  CHECK(picks[3] == 0);

  // When everything is dead, the one back soonest is tried.
  std::array<IpAddress, 2> dead = {IpAddress::v4(10, 0, 1, 1), IpAddress::v4(10, 0, 1, 2)};
  for (int i = 0; i < 4; ++i) cache.record_timeout(dead[0], kT0 + 10);
  for (int i = 0; i < 4; ++i) cache.record_timeout(dead[1], kT0);
  CHECK(cache.select(dead, kT0 + 10, 0) == 1);
  CHECK(cache.select(std::span<const IpAddress>{}, kT0, 0) == 0);
}

TEST_CASE("servers: bounded by their own entry limit", "[servers][memory]") {
  CacheConfig config;
  config.server_state_max_entries = 256;
  ServerStateCache cache(config);
  for (uint32_t i = 0; i < 5000; ++i) {
    cache.record_rtt(IpAddress::v4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                                   static_cast<uint8_t>(i)),
                     10, kT0);
    REQUIRE(cache.entries() <= 256);
  }
  CHECK(cache.entries() > 128);
  std::string text;
  cache.dump(text, kT0);
  CHECK(text.find("; server 10.0.19.135 srtt=10ms") != std::string::npos);  // 4999
}
