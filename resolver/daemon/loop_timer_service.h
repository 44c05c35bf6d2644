// The walker's TimerService on a worker's libuv loop. Monotonic time comes
// from uv_now() (updated once per loop iteration) and wall-clock seconds
// from the worker's LoopClock (read once per turn), so the cache, the walker
// and the validator all see one "now" per event.
//
// A timer that is due runs after the loop has read its sockets, not before:
// libuv runs timers at the start of an iteration and polls I/O after them,
// so a loop that fell behind (a busy or starved worker) would fire a burst
// of retransmission timers for queries whose answers already sit in the
// sockets, and hold down servers that answered in time. Due timers are
// queued and run in the check phase of the same iteration, after the poll
// (which an idle handle keeps from blocking while any are queued).
#pragma once

#include <uv.h>

#include <memory>
#include <unordered_map>
#include <vector>

#include "resolver/walk/timer_service.h"
#include "transports/loop_clock.h"

namespace sextant::resolver {

class LoopTimerService final : public TimerService {
 public:
  LoopTimerService(uv_loop_t* loop, transports::LoopClock& clock);
  // Cancels every pending timer; the handles finish closing on the loop.
  ~LoopTimerService() override;

  TimePoint now() const override;
  uint32_t wall_seconds() const override;
  TimerId schedule(std::chrono::milliseconds delay, std::function<void()> callback) override;
  void cancel(TimerId id) override;

  size_t pending() const noexcept { return timers_.size(); }

 private:
  struct Timer;
  struct DueHandles;
  static void on_timer(uv_timer_t* handle);
  static void on_check(uv_check_t* handle);
  void run_due();
  void release(Timer* t);

  uv_loop_t* loop_;
  transports::LoopClock& clock_;
  TimePoint base_;  // steady_clock time at uv_now() == 0
  TimerId next_id_ = 1;
  std::unordered_map<TimerId, Timer*> timers_;
  std::vector<TimerId> due_;  // fired, to run after this iteration's poll
  DueHandles* due_handles_;   // the check and idle handles (closed on the loop)
};

}  // namespace sextant::resolver
