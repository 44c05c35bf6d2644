#include "resolver/daemon/loop_timer_service.h"

namespace sextant::resolver {

struct LoopTimerService::Timer {
  uv_timer_t handle;
  LoopTimerService* owner;
  TimerId id;
  std::function<void()> callback;
};

LoopTimerService::LoopTimerService(uv_loop_t* loop, transports::LoopClock& clock)
    : loop_(loop), clock_(clock) {
  base_ = Clock::now() - std::chrono::milliseconds(uv_now(loop_));
}

LoopTimerService::~LoopTimerService() {
  for (auto& [id, t] : timers_) {
    uv_timer_stop(&t->handle);
    t->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&t->handle),
             [](uv_handle_t* h) { delete reinterpret_cast<Timer*>(h); });
  }
}

TimerService::TimePoint LoopTimerService::now() const { return base_ + std::chrono::milliseconds(uv_now(loop_)); }

uint32_t LoopTimerService::wall_seconds() const { return static_cast<uint32_t>(clock_.unix_seconds()); }

TimerService::TimerId LoopTimerService::schedule(std::chrono::milliseconds delay, std::function<void()> callback) {
  auto* t = new Timer{};
  t->owner = this;
  t->id = next_id_++;
  t->callback = std::move(callback);
  uv_timer_init(loop_, &t->handle);
  // A zero delay still waits for the next loop iteration: libuv runs timers
  // at the start of an iteration, never from inside uv_timer_start.
  uv_timer_start(&t->handle, on_timer, static_cast<uint64_t>(std::max<int64_t>(0, delay.count())), 0);
  timers_.emplace(t->id, t);
  return t->id;
}

void LoopTimerService::cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  Timer* t = it->second;
  timers_.erase(it);
  release(t);
}

void LoopTimerService::release(Timer* t) {
  uv_timer_stop(&t->handle);
  t->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&t->handle), [](uv_handle_t* h) { delete reinterpret_cast<Timer*>(h); });
}

void LoopTimerService::on_timer(uv_timer_t* handle) {
  auto* t = reinterpret_cast<Timer*>(handle);
  LoopTimerService* self = t->owner;
  if (!self) return;
  std::function<void()> callback = std::move(t->callback);
  self->timers_.erase(t->id);
  self->release(t);
  callback();
}

}  // namespace sextant::resolver
