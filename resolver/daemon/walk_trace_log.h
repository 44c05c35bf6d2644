// The walker's step-by-step account (resolver/walk/walk_trace.h) in the
// daemon's log: every resolution is told, one "walk:" line per step, while
// the log level is debug (server.log-level, changed by a reload at once).
#pragma once

#include <string_view>

#include "resolver/daemon/log.h"
#include "resolver/walk/walk_trace.h"

namespace sextant::resolver {

class LogWalkTrace final : public WalkTrace {
 public:
  bool enabled() const noexcept override { return log::enabled(LogLevel::debug); }
  void line(std::string_view text) override {
    if (log::enabled(LogLevel::debug)) log::write(LogLevel::debug, fmt::format("walk: {}", text));
  }
};

}  // namespace sextant::resolver
