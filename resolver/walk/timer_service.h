// Time and timers as the walker sees them, injected so unit tests run on a
// fake clock. The daemon implements this on its libuv loop.
//
// Both clocks are read once per event-loop turn (the implementation caches
// them), so every decision taken while handling one event agrees on "now":
// monotonic time drives timeouts and RTTs, wall-clock seconds drive TTLs and
// (later) RRSIG validity windows.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace sextant::resolver {

class TimerService {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = std::chrono::steady_clock::time_point;
  using TimerId = uint64_t;

  virtual ~TimerService() = default;

  // Monotonic time of the current loop turn.
  virtual TimePoint now() const = 0;
  // UNIX time in seconds of the current loop turn.
  virtual uint32_t wall_seconds() const = 0;
  // Runs `callback` once, `delay` from now, from the loop (never from inside
  // schedule(), even for a zero delay). Returns an id for cancel().
  virtual TimerId schedule(std::chrono::milliseconds delay, std::function<void()> callback) = 0;
  // The callback of `id` will not run. Unknown or already fired ids are ignored.
  virtual void cancel(TimerId id) = 0;
};

}  // namespace sextant::resolver
