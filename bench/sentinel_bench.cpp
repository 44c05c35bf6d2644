// What RFC 8509 adds to the answer path: QueryPipeline::deliver() looks at
// the first label of every secure A/AAAA answer's name (cache hits
// included). For an ordinary name only its length is read; a sentinel name
// is parsed and its key tag looked up among the root's trust anchors.
#include <benchmark/benchmark.h>

#include "dnssec/trust_anchors.h"
#include "resolver/front/root_key_sentinel.h"
#include "wire/name.h"

using namespace sextant;

namespace {

void BM_SentinelOrdinaryName(benchmark::State& state) {
  const wire::Name qname = wire::Name::from_text("www.example.com.");
  for (auto _ : state) benchmark::DoNotOptimize(resolver::parse_root_key_sentinel(qname));
}
BENCHMARK(BM_SentinelOrdinaryName);

// A 29-octet first label that is no sentinel: the prefix compare runs.
void BM_SentinelSameLengthLabel(benchmark::State& state) {
  const wire::Name qname = wire::Name::from_text("abcdefghijklmnopqrstuvwxyz012.example.com.");
  for (auto _ : state) benchmark::DoNotOptimize(resolver::parse_root_key_sentinel(qname));
}
BENCHMARK(BM_SentinelSameLengthLabel);

// A sentinel question: parse, then the key tag against the built-in root anchors.
void BM_SentinelQuestion(benchmark::State& state) {
  const wire::Name qname = wire::Name::from_text("root-key-sentinel-is-ta-20326.example.com.");
  const dnssec::TrustAnchors anchors = dnssec::TrustAnchors::builtin_root();
  for (auto _ : state) {
    const auto sentinel = resolver::parse_root_key_sentinel(qname);
    benchmark::DoNotOptimize(resolver::sentinel_fails(sentinel, &anchors));
  }
}
BENCHMARK(BM_SentinelQuestion);

}  // namespace

BENCHMARK_MAIN();
