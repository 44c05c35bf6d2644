// What the front's defences add to a cache hit (Google Benchmark), beside
// the hit itself measured in the same binary and run (the peer):
//   BM_AnswerHit              answer-cache hit: key build + lookup + copy + patch
//   BM_RateLimitOnePrefix     RateLimiter::allow() for one client (one slot,
//                             a CAS per call); Threads(2): both workers on
//                             the same slot, the worst case for the shared table
//   BM_RateLimitManyPrefixes  65,536 client /24s in turn (cache misses on the
//                             4 MB table)
//   BM_CookieValid            ServerCookies::judge() of a valid 24-octet
//                             cookie: one SipHash to verify, the echo
//   BM_CookieClientOnly       judge() of a client cookie alone: one SipHash
//                             to make the server cookie
// Rate limiting costs only when `rate-limit.rate` is set; cookies only for
// queries that carry one. Read the ns/op against BM_AnswerHit's.
#include <benchmark/benchmark.h>

#include <array>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "resolver/front/rate_limiter.h"
#include "resolver/front/server_cookies.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::resolver;

namespace {

constexpr uint32_t kNow = 1'700'000'000;
constexpr size_t kHot = 10'000;

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}

std::string name_for(size_t i) { return "host" + std::to_string(i) + ".example.com."; }

// Header, question, one A record compressed to the question.
std::vector<uint8_t> answer_packet(const std::string& qname) {
  std::vector<uint8_t> p;
  for (uint16_t x : {0, 0x8180, 1, 1, 0, 0}) put16(p, x);
  const wire::Name name = wire::Name::from_text(qname);  // wire() points into it
  auto w = name.wire();
  p.insert(p.end(), w.begin(), w.end());
  for (uint16_t x : {1, 1, 0xC00C, 1, 1, 0, 3600, 4, 0xC000, 0x0201}) put16(p, x);
  return p;
}

void BM_AnswerHit(benchmark::State& state) {
  CacheConfig config;
  config.rrset_max_bytes = size_t{1} << 28;
  config.answer_max_bytes = size_t{1} << 28;
  Cache cache(config);
  for (size_t i = 0; i < kHot; ++i) {
    AnswerKey key;
    key.qname = wire::Name::from_text(name_for(i));
    cache.answers().insert(key, answer_packet(name_for(i)), 3600, DnssecStatus::insecure, kNow);
  }
  std::vector<wire::Name> names;
  for (size_t i = 0; i < 1024; ++i) {
    wire::Name n = wire::Name::from_text(name_for(i * 7919 % kHot));
    n.apply_case_bits(0x5555555555555555ull);
    names.push_back(n);
  }
  std::array<uint8_t, 1232> out{};
  size_t i = 0;
  uint16_t id = 0;
  for (auto _ : state) {
    const wire::Name& qname = names[i++ & 1023];
    CacheKey k = make_answer_key(qname, wire::RRType::A, wire::RRClass::IN, false, false);
    size_t len = 0;
    AnswerHit hit;
    bool ok = cache.answers().lookup(k, ++id, qname, kNow + 10, out, len, hit);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

ClientAddress v4(uint32_t a) {
  ClientAddress c;
  c.family = AF_INET;
  c.size = 4;
  c.bytes[0] = static_cast<uint8_t>(a >> 24);
  c.bytes[1] = static_cast<uint8_t>(a >> 16);
  c.bytes[2] = static_cast<uint8_t>(a >> 8);
  c.bytes[3] = static_cast<uint8_t>(a);
  return c;
}

RateLimiter* shared_limiter = nullptr;

// A rate no client reaches: every call takes a token, none is refused.
RateLimitSettings unreachable_rate() {
  RateLimitSettings s;
  s.rate = 10'000'000;
  s.burst = 10'000'000;
  return s;
}

void BM_RateLimitOnePrefix(benchmark::State& state) {
  if (state.thread_index() == 0) shared_limiter = new RateLimiter(unreachable_rate(), wire::SipKey{1, 2, 3});
  const ClientAddress client = v4(0xC0000201);
  uint64_t now_us = 1'000'000;
  for (auto _ : state) {
    bool ok = shared_limiter->allow(client, now_us);
    now_us += 1;
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete shared_limiter;
    shared_limiter = nullptr;
  }
}

void BM_RateLimitManyPrefixes(benchmark::State& state) {
  RateLimiter limiter(unreachable_rate(), wire::SipKey{1, 2, 3});
  uint64_t now_us = 1'000'000;
  uint32_t i = 0;
  for (auto _ : state) {
    bool ok = limiter.allow(v4(0x0A000000u + ((i++ & 0xFFFF) << 8)), now_us);
    now_us += 1;
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}

CookieSettings cookie_settings() {
  CookieSettings s;
  s.secret = wire::SipKey{0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f,
                          0x48, 0xe7, 0xdc, 0x84, 0x9e, 0x37, 0xbf, 0xcf};
  return s;
}

void BM_CookieValid(benchmark::State& state) {
  ServerCookies cookies(cookie_settings());
  const ClientAddress client = v4(0xC0000201);
  const std::array<uint8_t, 8> client_cookie{1, 2, 3, 4, 5, 6, 7, 8};
  ServerCookies::Judgement first = cookies.judge(client_cookie, client, kNow);
  std::vector<uint8_t> option(first.reply.begin(), first.reply.begin() + first.reply_size);
  if (cookies.judge(option, client, kNow + 1).verdict != ServerCookies::Verdict::valid) {
    state.SkipWithError("the server cookie does not verify");
    return;
  }
  for (auto _ : state) {
    ServerCookies::Judgement j = cookies.judge(option, client, kNow + 1);
    benchmark::DoNotOptimize(j);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_CookieClientOnly(benchmark::State& state) {
  ServerCookies cookies(cookie_settings());
  const ClientAddress client = v4(0xC0000201);
  const std::array<uint8_t, 8> client_cookie{1, 2, 3, 4, 5, 6, 7, 8};
  for (auto _ : state) {
    ServerCookies::Judgement j = cookies.judge(client_cookie, client, kNow);
    benchmark::DoNotOptimize(j);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_AnswerHit);
BENCHMARK(BM_RateLimitOnePrefix);
BENCHMARK(BM_RateLimitOnePrefix)->Threads(2);
BENCHMARK(BM_RateLimitManyPrefixes);
BENCHMARK(BM_CookieValid);
BENCHMARK(BM_CookieClientOnly);

BENCHMARK_MAIN();
