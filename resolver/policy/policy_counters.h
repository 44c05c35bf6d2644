// Hits per list, zone and action, counted by the workers without sharing a
// cache line: each worker has its own row of counters, one slot per list or
// zone. Slots are handed out by name and keep their number across reloads,
// so a counter does not restart when the policy is rebuilt. Read (summed
// over workers) by the metrics exporter.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "resolver/policy/policy_answer.h"

namespace sextant::resolver::policy {

class PolicyCounters {
 public:
  static constexpr size_t kMaxSlots = 1024;  // the last one counts everything beyond
  static constexpr size_t kActions = 8;      // RpzAction values

  explicit PolicyCounters(unsigned workers);

  // The slot of (kind, name), created on first use. Thread-safe.
  uint32_t slot(PolicyKind kind, const std::string& name);

  // On the worker's own thread only.
  void add(unsigned worker, uint32_t slot, RpzAction action) noexcept {
    if (worker >= rows_.size() || slot >= kMaxSlots) return;
    auto& c = rows_[worker]->cells[slot][static_cast<size_t>(action)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  struct Sample {
    PolicyKind kind;
    std::string name;
    RpzAction action;
    uint64_t hits;
  };
  // Every (slot, action) with at least one hit, summed over workers.
  std::vector<Sample> samples() const;

 private:
  struct Row {
    std::array<std::array<std::atomic<uint64_t>, kActions>, kMaxSlots> cells{};
  };
  std::vector<std::unique_ptr<Row>> rows_;
  mutable std::mutex mu_;
  std::vector<std::pair<PolicyKind, std::string>> names_;
};

}  // namespace sextant::resolver::policy
