// Micro-benchmarks of the policy's query stage, the work added in front of
// every cache hit: preparing the name (LookupName) and probing a view's
// tables, for a name no list matches (the common case) and for a listed one,
// with an empty view, and with a 1,000,000-name blocklist beside a
// 1,000,000-trigger RPZ (bench/policy.py measures the same end to end).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "resolver/policy/policy.h"

using namespace sextant;
using namespace sextant::resolver::policy;

namespace {

constexpr size_t kEntries = 1'000'000;

std::string listed(size_t i) { return fmt::format("ads{}.track{}.bench.com.", i, i % 97); }

const View& big_view() {
  static const View view = [] {
    View v;
    v.name = "default";
    BlocklistOptions o;
    o.name = "bench";
    auto list = std::make_shared<Blocklist>(o);
    for (size_t i = 0; i < kEntries; ++i) list->add(wire::Name::from_text(listed(i)), false);
    list->finish();
    v.blocklists.push_back(list);
    RpzZoneBuilder b(wire::Name::from_text("rpz.bench."), {}, "generated");
    for (size_t i = 0; i < kEntries; ++i) {
      std::string owner = fmt::format("{}t{}.threat{}.example.rpz.bench.", i % 20 == 0 ? "*." : "", i, i % 89);
      b.add(wire::ResourceRecord{wire::Name::from_text(owner), wire::RRType::CNAME, wire::RRClass::IN, 300,
                                 wire::Rdata{0}});
    }
    v.rpz.push_back(b.finish());
    return v;
  }();
  return view;
}

// A rotating set of names no list matches, like the cache-hit benchmark's.
std::vector<wire::Name> unlisted() {
  std::vector<wire::Name> names;
  for (int i = 0; i < 1000; ++i) names.push_back(wire::Name::from_text(fmt::format("n{}.big-signed.test.", 100000 + i)));
  return names;
}

void BM_LookupName(benchmark::State& state) {
  auto names = unlisted();
  size_t i = 0;
  for (auto _ : state) {
    LookupName l(names[i++ % names.size()]);
    benchmark::DoNotOptimize(l.suffix_hash(0));
  }
}
BENCHMARK(BM_LookupName);

void run_check(benchmark::State& state, const View& view, const std::vector<wire::Name>& names) {
  uint8_t client_bytes[4] = {127, 0, 0, 1};
  Address client = Address::v4(client_bytes);
  size_t i = 0;
  for (auto _ : state) {
    LookupName l(names[i++ % names.size()]);
    view.prefetch(l);
    QueryDecision d;
    view.check_query(l, wire::RRType::A, client, d);
    benchmark::DoNotOptimize(d.answer.disposition);
  }
}

void BM_QueryStage_EmptyView(benchmark::State& state) {
  View empty;
  run_check(state, empty, unlisted());
}
BENCHMARK(BM_QueryStage_EmptyView);

void BM_QueryStage_1M_Unlisted(benchmark::State& state) { run_check(state, big_view(), unlisted()); }
BENCHMARK(BM_QueryStage_1M_Unlisted);

void BM_QueryStage_1M_Listed(benchmark::State& state) {
  std::vector<wire::Name> names;
  for (size_t i = 0; i < 1000; ++i) names.push_back(wire::Name::from_text(listed(i * 997)));
  run_check(state, big_view(), names);
}
BENCHMARK(BM_QueryStage_1M_Listed);

}  // namespace

BENCHMARK_MAIN();
