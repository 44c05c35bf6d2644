// The time as one event-loop turn sees it.
//
// Wall-clock time is read at most once per loop phase and then reused, so
// every TTL computation and every DNSSEC signature-validity check made while
// handling one batch of I/O sees the same "now" (Unbound keeps one *env->now
// per event for the same reason). The cached value is dropped by a uv_prepare
// handle (just before the loop may block in poll) and by a uv_check handle
// (just after the I/O callbacks of a turn), and re-read lazily on the next
// use. Timeouts use the loop's monotonic uv_now() instead.
//
// Each worker thread installs its clock as LoopClock::current(), so code deep
// in the resolver can reach it without threading it through every call.
#pragma once

#include <uv.h>

#include <cstdint>

namespace sextant::transports {

class LoopClock {
 public:
  // Starts the (unreferenced: they never keep the loop alive) prepare and
  // check handles on `loop`. Must be created on the loop's thread.
  explicit LoopClock(uv_loop_t* loop);
  // Closes the handles; their memory is released when the loop next runs its
  // close callbacks, so the loop must run (or be drained) afterwards.
  ~LoopClock();
  LoopClock(const LoopClock&) = delete;
  LoopClock& operator=(const LoopClock&) = delete;

  // Seconds since the Unix epoch, the same value for the whole turn.
  int64_t unix_seconds() noexcept { return unix_ms() / 1000; }
  // Milliseconds since the Unix epoch, the same value for the whole turn.
  int64_t unix_ms() noexcept;
  // Monotonic milliseconds (uv_now: updated by libuv once per loop iteration).
  uint64_t monotonic_ms() const noexcept { return uv_now(loop_); }

  // How many times the wall clock was actually read (tests, metrics).
  uint64_t wall_clock_reads() const noexcept { return reads_; }
  // Forget the cached value now (e.g. after a long synchronous computation).
  void invalidate() noexcept { valid_ = false; }

  uv_loop_t* loop() const noexcept { return loop_; }

  // The clock of the calling thread's worker loop, or null outside one.
  static LoopClock* current() noexcept;
  // Installs `clock` as this thread's current clock (null to clear).
  static void set_current(LoopClock* clock) noexcept;

 private:
  struct Handles;  // heap-allocated so they can outlive the clock until closed

  uv_loop_t* loop_;
  Handles* handles_;
  int64_t cached_ms_ = 0;
  bool valid_ = false;
  uint64_t reads_ = 0;
};

}  // namespace sextant::transports
