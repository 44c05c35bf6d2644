// cache.min-ttl and cache.max-ttl as Unbound's cache-min-ttl and
// cache-max-ttl: the client sees the clamped TTL, and data is fetched again
// when the clamped TTL ends.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

#include "walker_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;
using wire::Rcode;
using wire::RRType;

// ---------------------------------------------------------------------------
// TTL clamps (cache.min-ttl / cache.max-ttl)

TEST_CASE("ttl clamps: the client sees the raised TTL, and data is fetched again when it ends",
          "[walker][ttl]") {
  WalkerFixture f;
  f.cache_config.min_ttl = 30;
  f.configure_cache();
  f.options.min_ttl = 30;
  ScriptedReply shortlived;
  shortlived.answer.push_back(rr("short.example.com. 5 IN A 192.0.2.5"));
  f.network.on(net::example_com_1, "short.example.com.", RRType::A, shortlived);
  f.network.on(net::example_com_2, "short.example.com.", RRType::A, shortlived);
  auto first = f.resolve("short.example.com.", RRType::A);
  REQUIRE(first.answer.size() == 1);
  CHECK(first.answer[0].ttl == 30);
  const size_t asked = f.network.sent_for("short.example.com.", RRType::A);
  f.loop.run_for(seconds{20});
  auto cached = f.resolve("short.example.com.", RRType::A);
  REQUIRE(cached.answer.size() == 1);
  CHECK(cached.answer[0].ttl <= 10);
  CHECK(cached.answer[0].ttl >= 9);
  CHECK(f.network.sent_for("short.example.com.", RRType::A) == asked);
  f.loop.run_for(seconds{11});
  auto refetched = f.resolve("short.example.com.", RRType::A);
  CHECK(refetched.answer[0].ttl == 30);
  CHECK(f.network.sent_for("short.example.com.", RRType::A) == asked + 1);
}

TEST_CASE("ttl clamps: the client sees the lowered TTL, and data is fetched again when it ends",
          "[walker][ttl]") {
  WalkerFixture f;
  f.cache_config.max_ttl = 20;
  f.configure_cache();
  f.options.max_ttl = 20;
  auto first = f.resolve("www.example.com.", RRType::A);  // TTL 300 in the zone
  REQUIRE(first.answer.size() == 1);
  CHECK(first.answer[0].ttl == 20);
  const size_t asked = f.network.sent_for("www.example.com.", RRType::A);
  f.loop.run_for(seconds{19});
  CHECK(f.resolve("www.example.com.", RRType::A).answer[0].ttl <= 1);
  CHECK(f.network.sent_for("www.example.com.", RRType::A) == asked);
  f.loop.run_for(seconds{2});
  CHECK(f.resolve("www.example.com.", RRType::A).answer[0].ttl == 20);
  CHECK(f.network.sent_for("www.example.com.", RRType::A) == asked + 1);
}

TEST_CASE("ttl clamps: a CNAME chain and a zero TTL are raised too", "[walker][ttl]") {
  WalkerFixture f(false);
  f.options.min_ttl = 30;
  ScriptedReply zero;
  zero.answer.push_back(rr("zero.example.com. 0 IN CNAME www.example.com."));
  zero.answer.push_back(rr("www.example.com. 0 IN A 192.0.2.80"));
  f.network.on(net::example_com_1, "zero.example.com.", RRType::A, zero);
  f.network.on(net::example_com_2, "zero.example.com.", RRType::A, zero);
  auto r = f.resolve("zero.example.com.", RRType::A);
  REQUIRE(r.answer.size() == 2);
  CHECK(r.answer[0].ttl == 30);
  CHECK(r.answer[1].ttl == 30);
}
