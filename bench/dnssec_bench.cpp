// Signature verifications per second per DNSSEC algorithm, through the same
// path the validator takes for an answer (RRSIG checks, canonical RRset,
// signed data, EVP verify with a key loaded once), plus the raw EVP verify,
// NSEC3 hashing at RFC 9276 iteration counts and a KeyTrap-shaped RRset
// under the default budget.
//
//   build-release/bench/dnssec_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <map>
#include <memory>

#include "dnssec/digests.h"
#include "dnssec/rrsig_verify.h"
#include "dnssec/validation_budget.h"
#include "dnssec/zone_key_set.h"
#include "tests/dnssec/test_helpers.h"

using namespace sextant;
using namespace sextant::dnssec;
using namespace sextant::dnssec::test;

namespace {

struct Fixture {
  TestKey key;
  wire::RRset set;
  ZoneKeySet keys;
  std::vector<uint8_t> data;
  RrsigFields sig;

  Fixture(uint8_t algorithm, int rsa_bits)
      : key(algorithm, 256, rsa_bits),
        set(rrset("www.example.", wire::RRType::A, 300, {"192.0.2.1", "192.0.2.2"})) {
    key.sign(set, N("example."));
    keys = ZoneKeySet(N("example."), std::vector<wire::Rdata>{key.dnskey()});
    data = signed_data(set, set.signatures[0]);
    read_rrsig(set.signatures[0], sig);
  }
};

Fixture& fixture(uint8_t algorithm, int rsa_bits) {
  // One fixture per (algorithm, size), built outside the timed loop.
  static std::map<std::pair<int, int>, std::unique_ptr<Fixture>> fixtures;
  auto& f = fixtures[{algorithm, rsa_bits}];
  if (!f) f = std::make_unique<Fixture>(algorithm, rsa_bits);
  return *f;
}

void BM_VerifyRRset(benchmark::State& state) {
  const auto algorithm = static_cast<uint8_t>(state.range(0));
  const int bits = static_cast<int>(state.range(1));
  Fixture& f = fixture(algorithm, bits);
  ValidationLimits unlimited;
  unlimited.max_verifications_per_request = UINT32_MAX;
  ValidationBudget budget(unlimited);
  for (auto _ : state) {
    auto result = verify_rrset(f.set, f.keys, kNow, budget);
    if (!result.secure()) state.SkipWithError("did not verify");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["verifications/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_RawVerify(benchmark::State& state) {
  const auto algorithm = static_cast<uint8_t>(state.range(0));
  const int bits = static_cast<int>(state.range(1));
  Fixture& f = fixture(algorithm, bits);
  const PublicKey& key = f.keys.keys()[0].key;
  for (auto _ : state) {
    const bool ok = key.verify(f.sig.signature, f.data);
    if (!ok) state.SkipWithError("did not verify");
    benchmark::DoNotOptimize(ok);
  }
  state.counters["verifications/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Algorithm, RSA modulus bits (ignored for the others).
void Algorithms(benchmark::internal::Benchmark* b) {
  b->ArgNames({"alg", "bits"});
  b->Args({5, 1024});
  b->Args({5, 2048});
  b->Args({7, 2048});
  b->Args({8, 2048});
  b->Args({8, 4096});
  b->Args({10, 2048});
  b->Args({13, 0});
  b->Args({14, 0});
  b->Args({15, 0});
  b->Args({16, 0});
}

BENCHMARK(BM_VerifyRRset)->Apply(Algorithms);
BENCHMARK(BM_RawVerify)->Apply(Algorithms);

void BM_Nsec3Hash(benchmark::State& state) {
  const auto iterations = static_cast<uint16_t>(state.range(0));
  const auto name = N("some-name.example.com.");
  const std::vector<uint8_t> salt = {0xaa, 0xbb, 0xcc, 0xdd};
  for (auto _ : state) benchmark::DoNotOptimize(nsec3_hash(name, salt, iterations));
  state.counters["hashes/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Nsec3Hash)->Arg(0)->Arg(10)->Arg(50)->Arg(150);

// An RRset with 64 RRSIGs over 64 Ed25519 keys sharing one tag: the time
// to reach the budget's SERVFAIL.
void BM_KeyTrapUntilBudget(benchmark::State& state) {
  std::vector<wire::Rdata> keys;
  const uint16_t tag = 4242;
  uint32_t seed = 1;
  for (int i = 0; i < 64; ++i) {
    wire::Rdata rdata = {0x01, 0x01, 3, 15};
    for (int j = 0; j < 32; ++j) rdata.push_back(static_cast<uint8_t>((seed = seed * 1103515245 + 12345) >> 16));
    for (uint32_t v = 0; v < 65536; ++v) {
      rdata[34] = static_cast<uint8_t>(v >> 8);
      rdata[35] = static_cast<uint8_t>(v);
      if (key_tag(rdata) == tag) break;
    }
    keys.push_back(rdata);
  }
  wire::RRset set = rrset("www.example.", wire::RRType::A, 300, {"192.0.2.1"});
  for (int i = 0; i < 64; ++i) {
    wire::Rdata sig = {0, 1, 15, 2, 0, 0, 1, 44};
    for (uint32_t v : {kNow + 86400, kNow - 86400}) {
      for (int s = 24; s >= 0; s -= 8) sig.push_back(static_cast<uint8_t>(v >> s));
    }
    sig.push_back(static_cast<uint8_t>(tag >> 8));
    sig.push_back(static_cast<uint8_t>(tag));
    const auto signer = N("example.");
    sig.insert(sig.end(), signer.wire().begin(), signer.wire().end());
    for (int b = 0; b < 64; ++b) sig.push_back(static_cast<uint8_t>(i + b));
    set.signatures.push_back(sig);
  }
  ZoneKeySet zone_keys(N("example."), keys);
  for (auto _ : state) {
    ValidationBudget budget;
    auto result = verify_rrset(set, zone_keys, kNow, budget);
    if (result.status != RrsetStatus::budget_exhausted) state.SkipWithError("budget not reached");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_KeyTrapUntilBudget)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
