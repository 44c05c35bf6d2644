// The running policy of the daemon: built at start-up, rebuilt by a reload,
// partly replaced by an RPZ feed, and swapped into every worker whole.
//
// A swap builds the next Policy aside (the running one keeps answering),
// points every worker's pipeline at it, flushes the answers of views whose
// answer policy changed (only the names that changed, where that can be
// told), and lets the old policy go: old and new are both in memory only
// while the new one is built and swapped in.
//
// The RPZ feed (zone transfers, not built here) plugs in through
// replace_rpz_zone(): it builds a zone with policy::RpzZoneBuilder from the
// transferred records and hands it over; a zone that fails to build is
// simply not handed over, so the previous copy stays.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "resolver/config/policy_config.h"
#include "resolver/policy/policy.h"
#include "resolver/policy/policy_builder.h"
#include "resolver/policy/policy_counters.h"

namespace sextant::resolver {

// What the metrics show of the policy.
struct PolicySnapshot {
  struct Component {
    const char* kind;  // "local-data", "allowlist", "blocklist", "rpz"
    std::string name;
    size_t entries = 0;
    size_t bytes = 0;
  };
  struct Zone {
    std::string name;
    std::optional<uint32_t> serial;
    int64_t loaded_at = 0;  // seconds since the epoch
  };
  std::vector<Component> components;
  std::vector<Zone> zones;
  std::vector<policy::PolicyCounters::Sample> hits;
  uint64_t swaps = 0;
  uint64_t flushed_answers = 0;
};

class PolicyRuntime {
 public:
  // Points every worker at `next`; false if some worker did not switch in
  // time (the previous policy is then kept alive).
  using SwitchWorkers = std::function<bool(const std::shared_ptr<const policy::Policy>& next)>;

  PolicyRuntime(unsigned workers, cache::Cache& cache);

  // Start-up: builds from the configuration; throws policy::PolicyError.
  policy::BuildReport load(const PolicyConfig& config);
  // Reload: rebuilds (failing components keep their previous copy), swaps,
  // flushes. Returns the lines of the reload's reply.
  std::string reload(const PolicyConfig& config, const SwitchWorkers& switch_workers);
  // The RPZ feed: replaces every use of the zone named `name`. False (and
  // nothing changes) when no view uses such a zone.
  bool replace_rpz_zone(const std::string& name, std::shared_ptr<const policy::RpzZone> zone,
                        const SwitchWorkers& switch_workers, std::string* report = nullptr);

  std::shared_ptr<const policy::Policy> current() const;
  policy::PolicyCounters& counters() noexcept { return counters_; }
  PolicySnapshot snapshot() const;

 private:
  // Swaps and flushes (caller holds build_mu_); returns the number of answers flushed.
  size_t install(std::shared_ptr<const policy::Policy> next, const SwitchWorkers& switch_workers, bool& switched);

  cache::Cache& cache_;
  policy::PolicyCounters counters_;
  policy::ViewTags tags_;
  // Reloads and the feed take turns (a build of millions of names takes
  // seconds); mu_ guards only the pointer and the figures, so metrics and
  // new workers are never kept waiting by a build.
  std::mutex build_mu_;
  mutable std::mutex mu_;
  std::shared_ptr<const policy::Policy> policy_;
  // Policies a slow worker may still read (a switch that timed out).
  std::vector<std::shared_ptr<const policy::Policy>> retired_;
  uint64_t swaps_ = 0;
  uint64_t flushed_ = 0;
};

}  // namespace sextant::resolver
