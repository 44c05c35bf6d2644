// The walker's TimerService on a worker's libuv loop. Monotonic time comes
// from uv_now() (updated once per loop iteration) and wall-clock seconds
// from the worker's LoopClock (read once per turn), so the cache, the walker
// and the validator all see one "now" per event.
#pragma once

#include <uv.h>

#include <memory>
#include <unordered_map>

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
  static void on_timer(uv_timer_t* handle);
  void release(Timer* t);

  uv_loop_t* loop_;
  transports::LoopClock& clock_;
  TimePoint base_;  // steady_clock time at uv_now() == 0
  TimerId next_id_ = 1;
  std::unordered_map<TimerId, Timer*> timers_;
};

}  // namespace sextant::resolver
