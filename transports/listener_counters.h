// Counters a listener keeps for metrics: written by the listener's loop
// thread only, readable from any thread (a metrics exporter).
#pragma once

#include <atomic>
#include <cstdint>

namespace sextant::transports {

// A counter with one writer. The increment is a plain load + store (no
// locked read-modify-write), which is correct because only the owning loop
// thread writes; readers on other threads see a recent value.
class RelaxedCounter {
 public:
  void add(uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace sextant::transports
