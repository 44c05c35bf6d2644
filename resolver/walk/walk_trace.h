// Where the walker tells, step by step, what it does for a question: the
// zone cut it starts from, each server it asks and why that one, how each
// reply was judged (referral, answer, lame, NODATA...), what it cached, the
// DNSSEC verdict and the result (Knot Resolver's per-request trace,
// Unbound's verbose iterator log).
//
// The walker knows no logger: the daemon gives it a WalkTrace that writes
// to its log at debug level (WalkerOptions::trace), and `sextant control
// trace` hands one resolution a TraceCollector (ResolveOptions::trace).
// Nothing is formatted unless a resolution has a trace: the cost of an
// untraced resolution is one pointer test per step.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sextant::resolver {

class WalkTrace {
 public:
  virtual ~WalkTrace() = default;
  // Whether lines are wanted now; asked once when a resolution starts (a
  // log sink answers with the log level, which a reload may change).
  virtual bool enabled() const noexcept { return true; }
  // One line, without a newline. Called on the walker's loop thread.
  virtual void line(std::string_view text) = 0;
};

// Keeps every line; safe to read from another thread while the walker's
// thread adds to it. Bounded: past max_lines, lines are counted, not kept.
class TraceCollector final : public WalkTrace {
 public:
  explicit TraceCollector(size_t max_lines = 2000) : max_lines_(max_lines) {}
  void line(std::string_view text) override {
    std::lock_guard lock(mu_);
    if (lines_.size() < max_lines_) {
      lines_.emplace_back(text);
    } else {
      ++dropped_;
    }
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }
  size_t dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  size_t dropped_ = 0;
  size_t max_lines_;
};

}  // namespace sextant::resolver
