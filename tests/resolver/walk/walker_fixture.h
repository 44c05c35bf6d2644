// A walker on the scripted small internet, with the shared cache behind it
// (or none), for the conformance tests of issue 13 (server behaviour, TTL
// clamps, tracing).
#pragma once

#include <array>
#include <memory>
#include <string_view>

#include <catch2/catch.hpp>

#include "cache/cache.h"
#include "resolver/walk/walker.h"
#include "scripted_network.h"

namespace sextant::resolver::testing {

struct WalkerFixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  cache::CacheConfig cache_config;
  std::unique_ptr<cache::Cache> cache;
  WalkerOptions options;
  std::unique_ptr<Walker> walker;
  uint8_t seed = 5;

  explicit WalkerFixture(bool with_cache = true) {
    build_small_internet(network);
    options.explore_one_in = 0;
    if (with_cache) cache = std::make_unique<cache::Cache>(cache_config);
  }
  // Re-creates the cache with `cache_config` (call before the first resolve).
  void configure_cache() { cache = std::make_unique<cache::Cache>(cache_config); }
  Walker& w() {
    if (!walker) {
      std::array<uint8_t, 32> key{};
      key.fill(seed);
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key), cache.get());
    }
    return *walker;
  }
  ResolutionResult resolve(std::string_view name, wire::RRType type, ResolveOptions ro = {}) {
    ResultCapture capture;
    w().resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, ro,
                [&](const ResolutionResult& r) { capture.results.push_back(r); });
    for (int i = 0; i < 2000 && capture.results.empty(); ++i) loop.run_for(std::chrono::milliseconds{5});
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    return capture.last();
  }
  size_t sent() const { return network.sent().size(); }
};

inline ScriptedReply silent() {
  ScriptedReply r;
  r.behaviour = Behaviour::silent;
  return r;
}

}  // namespace sextant::resolver::testing
