// Cookies and UDP rate limiting through the whole front pipeline: what a
// client sees in its answers, what is dropped, what slips, and who is exempt.
#include <catch2/catch.hpp>

#include "tests/resolver/front/pipeline_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using transports::Transport;
using wire::Rcode;

namespace {

const std::vector<uint8_t> kClientCookie = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8};

QuerySpec with_cookie(std::span<const uint8_t> cookie, std::string name = "www.example.com.") {
  QuerySpec q;
  q.name = std::move(name);
  q.options.push_back(cookie_option(cookie));
  return q;
}

void limit(PipelineFixture& f, uint32_t rate, uint32_t slip) {
  RateLimitSettings rl;
  rl.rate = rate;
  wire::SipKey key{};
  key.fill(5);
  f.settings.defences.rate_limiter = std::make_shared<RateLimiter>(rl, key);
  f.settings.defences.slip = slip;
}

}  // namespace

TEST_CASE("pipeline: answers carry the client's cookie and a server cookie", "[cookies][pipeline]") {
  PipelineFixture f;
  auto first = f.ask(with_cookie(kClientCookie));
  REQUIRE(first);
  CHECK(first->rcode() == Rcode::NOERROR);
  auto cookie = cookie_of(*first);
  REQUIRE(cookie);
  REQUIRE(cookie->size() == 24);
  CHECK(std::equal(kClientCookie.begin(), kClientCookie.end(), cookie->begin()));
  CHECK((*cookie)[8] == 1);  // RFC 9018 version

  // Back with it: valid (cache hit path: the OPT is appended in place).
  auto second = f.ask(with_cookie(*cookie));
  REQUIRE(second);
  CHECK(cookie_of(*second) == cookie);
  CHECK(f.defence_stats.cookies[static_cast<size_t>(ServerCookies::Verdict::valid)] == 1);
  CHECK(f.defence_stats.cookies[static_cast<size_t>(ServerCookies::Verdict::client_only)] == 1);

  // No cookie: none in the answer either.
  auto plain = f.ask(QuerySpec{});
  REQUIRE(plain);
  CHECK_FALSE(cookie_of(*plain));
  // Error answers carry it too.
  auto refused = f.ask(with_cookie(kClientCookie, "x.example.com."));  // NXDOMAIN through the walker
  REQUIRE(refused);
  CHECK(cookie_of(*refused));
}

TEST_CASE("pipeline: a malformed cookie gets FORMERR", "[cookies][pipeline]") {
  PipelineFixture f;
  std::vector<uint8_t> bad(11, 0x11);
  auto a = f.ask(with_cookie(bad));
  REQUIRE(a);
  CHECK(a->rcode() == Rcode::FORMERR);
  CHECK(f.network.sent().empty());
}

TEST_CASE("pipeline: cookies can be turned off", "[cookies][pipeline]") {
  PipelineFixture f;
  f.settings.defences.cookies.enabled = false;
  auto a = f.ask(with_cookie(kClientCookie));
  REQUIRE(a);
  CHECK_FALSE(cookie_of(*a));
}

TEST_CASE("pipeline: over the rate limit UDP queries are dropped, every Nth slips with TC", "[rrl][pipeline]") {
  PipelineFixture f;
  limit(f, 5, 3);
  REQUIRE(f.ask(QuerySpec{}));  // warm the cache
  size_t answered = 1, truncated = 0, dropped = 0;
  for (int i = 0; i < 30; ++i) {
    auto a = f.ask(QuerySpec{});
    if (!a) {
      ++dropped;
      continue;
    }
    if (a->header.tc()) {
      ++truncated;
      CHECK(a->answer.empty());
      CHECK(a->questions.size() == 1);
    } else {
      ++answered;
    }
  }
  CHECK(answered == 5);  // the burst (= the rate)
  CHECK(truncated == 8); // 26 limited, every third slips
  CHECK(dropped == 18);
  CHECK(f.defence_stats.slipped == 8);
  CHECK(f.defence_stats.rate_limited == 18);
  // Time passes: tokens come back.
  f.loop.run_for(std::chrono::milliseconds(1000));
  auto later = f.ask(QuerySpec{});
  REQUIRE(later);
  CHECK_FALSE(later->header.tc());
  // Another /24 was never limited.
  auto other = f.ask(QuerySpec{}, "192.0.3.10");
  REQUIRE(other);
  CHECK_FALSE(other->header.tc());
}

TEST_CASE("pipeline: TCP, valid cookies and exempt prefixes are not limited", "[rrl][pipeline]") {
  PipelineFixture f;
  limit(f, 2, 0);
  f.settings.defences.exempt = PrefixList({parse_prefix("198.51.100.0/24")});
  REQUIRE(f.ask(QuerySpec{}));
  for (int i = 0; i < 5; ++i) f.ask(QuerySpec{});
  CHECK_FALSE(f.ask(QuerySpec{}));  // limited over UDP
  for (int i = 0; i < 10; ++i) {
    auto tcp = f.ask(QuerySpec{}, "192.0.2.10", Transport::tcp);
    REQUIRE(tcp);
    CHECK_FALSE(tcp->header.tc());
  }
  for (int i = 0; i < 10; ++i) REQUIRE(f.ask(QuerySpec{}, "198.51.100.7"));
  CHECK(f.defence_stats.rate_exempt >= 8);

  // A client with a valid cookie goes through; the same client without is limited.
  limit(f, 2, 0);
  f.pipeline.reset();
  auto first = f.ask(with_cookie(kClientCookie), "203.0.113.5");
  REQUIRE(first);
  auto cookie = *cookie_of(*first);
  REQUIRE(f.ask(QuerySpec{}, "203.0.113.5"));  // the second token of the burst
  for (int i = 0; i < 10; ++i) REQUIRE(f.ask(with_cookie(cookie), "203.0.113.5"));
  CHECK_FALSE(f.ask(QuerySpec{}, "203.0.113.5"));
}

TEST_CASE("pipeline: a limited client with a cookie slips with BADCOOKIE and a fresh cookie", "[rrl][cookies][pipeline]") {
  PipelineFixture f;
  limit(f, 1, 1);  // every limited query slips
  REQUIRE(f.ask(with_cookie(kClientCookie)));
  auto slipped = f.ask(with_cookie(kClientCookie));
  REQUIRE(slipped);
  CHECK(slipped->rcode() == Rcode::BADCOOKIE);
  auto cookie = cookie_of(*slipped);
  REQUIRE(cookie);
  REQUIRE(cookie->size() == 24);
  CHECK(f.defence_stats.badcookie == 1);
  // Retrying with that cookie (as dig does) is answered.
  auto retried = f.ask(with_cookie(*cookie));
  REQUIRE(retried);
  CHECK(retried->rcode() == Rcode::NOERROR);
  CHECK_FALSE(retried->answer.empty());
}

TEST_CASE("pipeline: limited malformed queries are dropped, never slipped", "[rrl][pipeline]") {
  PipelineFixture f;
  limit(f, 1, 1);
  auto q = make_query(QuerySpec{});
  q.push_back(0);  // trailing octet: FORMERR
  auto first = f.ask(q);
  REQUIRE(first);
  CHECK(first->rcode() == Rcode::FORMERR);
  CHECK_FALSE(f.ask(q));
}
