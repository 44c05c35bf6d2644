// Cache micro-benchmarks (Google Benchmark):
//   BM_AnswerHit         answer-cache hit: key build + lookup + copy + patch (ns/op)
//   BM_AnswerHitSigned   the same for a DO=1 answer carrying an RRSIG
//   BM_RenderedHit/N     answer-cache hit rendered from the RRset store (the
//                        common signed A answer: no wire entry), N cached
//                        names visited in a scattered order (1,000 and
//                        100,000: memory latency shows at the larger size)
//   BM_RRsetLookup       RRset store look-up returning a counted view (ns/op)
//   BM_BytesPerSignedName  memory per cached signed name (A + one RRSIG) at
//                        100,000 names, as charged to the byte bound and as
//                        the allocator reports it (mallinfo2), for RSA-2048
//                        (256-octet) and ECDSA P-256 (64-octet) signatures;
//                        with and without the name's answer-cache entry.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <array>
#include <string>
#include <vector>

#include "cache/cache.h"

using namespace sextant;
using namespace sextant::cache;

namespace {

constexpr uint32_t kNow = 1'700'000'000;
constexpr size_t kNames = 100'000;

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, static_cast<uint16_t>(x >> 16));
  put16(v, static_cast<uint16_t>(x));
}

std::string name_for(size_t i) { return "host" + std::to_string(i) + ".example.com."; }

wire::Rdata rrsig(uint8_t algorithm, size_t sig_size) {
  wire::Rdata r;
  put16(r, 1);
  r.push_back(algorithm);
  r.push_back(3);
  put32(r, 3600);
  put32(r, kNow + 86400 * 30);
  put32(r, kNow - 86400);
  put16(r, 4711);
  const wire::Name signer_name = wire::Name::from_text("example.com.");
  const auto signer = signer_name.wire();
  r.insert(r.end(), signer.begin(), signer.end());
  for (size_t i = 0; i < sig_size; ++i) r.push_back(static_cast<uint8_t>(i));
  return r;
}

wire::RRset signed_a(const std::string& owner, uint8_t algorithm, size_t sig_size) {
  wire::RRset s;
  s.owner = wire::Name::from_text(owner);
  s.type = wire::RRType::A;
  s.ttl = 3600;
  s.rdatas = {{192, 0, 2, 1}};
  s.signatures = {rrsig(algorithm, sig_size)};
  return s;
}

// A wire answer as a resolver sends it: header, question, A record with the
// owner compressed to the question, optionally its RRSIG.
std::vector<uint8_t> answer_packet(const std::string& qname, const wire::Rdata* sig) {
  std::vector<uint8_t> p;
  put16(p, 0);
  put16(p, 0x8180);
  put16(p, 1);
  put16(p, sig ? 2 : 1);
  put16(p, 0);
  put16(p, 0);
  const wire::Name name = wire::Name::from_text(qname);  // wire() views the name's storage
  const auto w = name.wire();
  p.insert(p.end(), w.begin(), w.end());
  put16(p, 1);
  put16(p, 1);
  put16(p, 0xC00C);
  put16(p, 1);
  put16(p, 1);
  put32(p, 3600);
  put16(p, 4);
  put32(p, 0xC0000201);
  if (sig) {
    put16(p, 0xC00C);
    put16(p, 46);
    put16(p, 1);
    put32(p, 3600);
    put16(p, static_cast<uint16_t>(sig->size()));
    p.insert(p.end(), sig->begin(), sig->end());
  }
  return p;
}

CacheConfig big_config() {
  CacheConfig c;
  c.rrset_max_bytes = size_t{1} << 30;
  c.answer_max_bytes = size_t{1} << 30;
  return c;
}

void fill_answers(Cache& cache, size_t names, const wire::Rdata* sig) {
  for (size_t i = 0; i < names; ++i) {
    AnswerKey key;
    key.qname = wire::Name::from_text(name_for(i));
    key.dnssec_ok = sig != nullptr;
    cache.answers().insert(key, answer_packet(name_for(i), sig), 3600,
                           sig ? DnssecStatus::secure : DnssecStatus::insecure, kNow);
  }
}

void answer_hit(benchmark::State& state, bool signed_answer) {
  static Cache* cache = nullptr;
  static wire::Rdata sig = rrsig(13, 64);
  constexpr size_t kHot = 10'000;
  if (state.thread_index() == 0) {
    cache = new Cache(big_config());
    fill_answers(*cache, kHot, signed_answer ? &sig : nullptr);
  }
  std::vector<wire::Name> names;
  for (size_t i = 0; i < 1024; ++i) {
    wire::Name n = wire::Name::from_text(name_for((i * 7919 + state.thread_index()) % kHot));
    n.apply_case_bits(0x5555555555555555ull);  // the client's 0x20 case
    names.push_back(n);
  }
  std::array<uint8_t, 1232> out{};
  size_t i = 0;
  uint16_t id = 0;
  for (auto _ : state) {
    const wire::Name& qname = names[i++ & 1023];
    CacheKey k = make_answer_key(qname, wire::RRType::A, wire::RRClass::IN, signed_answer, false);
    size_t len = 0;
    AnswerHit hit;
    bool ok = cache->answers().lookup(k, ++id, qname, kNow + 10, out, len, hit);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete cache;
    cache = nullptr;
  }
}

void BM_AnswerHit(benchmark::State& state) { answer_hit(state, false); }
void BM_AnswerHitSigned(benchmark::State& state) { answer_hit(state, true); }

void BM_RenderedHit(benchmark::State& state) {
  static Cache* cache = nullptr;
  const size_t names_cached = static_cast<size_t>(state.range(0));
  if (state.thread_index() == 0) {
    cache = new Cache(big_config());
    for (size_t i = 0; i < names_cached; ++i) {
      cache->rrsets().insert(signed_a(name_for(i), 13, 64), Rank::answer_authoritative,
                             DnssecStatus::secure, kNow);
    }
  }
  // 4,096 questions spread over the whole set (a prime stride), client case.
  std::vector<wire::Name> names;
  for (size_t i = 0; i < 4096; ++i) {
    wire::Name n = wire::Name::from_text(name_for((i * 7919 + state.thread_index()) % names_cached));
    n.apply_case_bits(0x5555555555555555ull);
    names.push_back(n);
  }
  std::array<uint8_t, 1232> out{};
  size_t i = 0;
  uint16_t id = 0;
  for (auto _ : state) {
    const wire::Name& qname = names[i++ & 4095];
    CacheKey k = make_answer_key(qname, wire::RRType::A, wire::RRClass::IN, true, false);
    size_t len = 0;
    AnswerHit hit;
    bool ok = cache->answers().lookup(k, ++id, qname, kNow + 10, out, len, hit);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete cache;
    cache = nullptr;
  }
}

void BM_RRsetLookup(benchmark::State& state) {
  static Cache* cache = nullptr;
  constexpr size_t kHot = 10'000;
  if (state.thread_index() == 0) {
    cache = new Cache(big_config());
    for (size_t i = 0; i < kHot; ++i) {
      cache->rrsets().insert(signed_a(name_for(i), 13, 64), Rank::answer_authoritative,
                             DnssecStatus::secure, kNow);
    }
  }
  std::vector<wire::Name> names;
  for (size_t i = 0; i < 1024; ++i) names.push_back(wire::Name::from_text(name_for(i * 7 % kHot)));
  size_t i = 0;
  for (auto _ : state) {
    auto hit = cache->rrsets().lookup(names[i++ & 1023], wire::RRType::A, wire::RRClass::IN,
                                      kNow + 10);
    benchmark::DoNotOptimize(hit->rrset.rdatas().begin());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete cache;
    cache = nullptr;
  }
}

size_t heap_in_use() { return mallinfo2().uordblks + mallinfo2().hblkhd; }

// state.range(0): signature size (256 = RSA-2048, 64 = ECDSA P-256);
// state.range(1): 0 RRset store only; 1 also the name's DO=1 wire answer
// (with its RRSIG); 2 also the name's DO=0 wire answer (no RRSIG).
void BM_BytesPerSignedName(benchmark::State& state) {
  size_t sig_size = static_cast<size_t>(state.range(0));
  int with_answer = static_cast<int>(state.range(1));
  uint8_t algorithm = sig_size == 256 ? 8 : 13;
  wire::Rdata sig = rrsig(algorithm, sig_size);
  // Prepare inputs before measuring the heap.
  std::vector<wire::RRset> sets;
  sets.reserve(kNames);
  for (size_t i = 0; i < kNames; ++i) sets.push_back(signed_a(name_for(i), algorithm, sig_size));
  double charged = 0;
  double heap = 0;
  for (auto _ : state) {
    malloc_trim(0);
    size_t before = heap_in_use();
    auto* cache = new Cache(big_config());
    for (const auto& s : sets) {
      cache->rrsets().insert(s, Rank::answer_authoritative, DnssecStatus::secure, kNow);
    }
    if (with_answer) fill_answers(*cache, kNames, with_answer == 1 ? &sig : nullptr);
    size_t after = heap_in_use();
    auto stats = cache->stats();
    charged = static_cast<double>(stats.rrsets.bytes + stats.answers.bytes) / kNames;
    heap = static_cast<double>(after - before) / kNames;
    delete cache;
  }
  state.counters["charged_B_per_name"] = charged;
  state.counters["heap_B_per_name"] = heap;
}

}  // namespace

BENCHMARK(BM_AnswerHit);
BENCHMARK(BM_AnswerHit)->Threads(2);
BENCHMARK(BM_AnswerHitSigned);
BENCHMARK(BM_RenderedHit)->Arg(1000)->Arg(100000);
BENCHMARK(BM_RenderedHit)->Arg(100000)->Threads(2);
BENCHMARK(BM_RRsetLookup);
BENCHMARK(BM_RRsetLookup)->Threads(2);
BENCHMARK(BM_BytesPerSignedName)
    ->Args({256, 0})
    ->Args({64, 0})
    ->Args({256, 1})
    ->Args({64, 1})
    ->Args({256, 2})
    ->Args({64, 2})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
