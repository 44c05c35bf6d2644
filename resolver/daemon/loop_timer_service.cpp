#include "resolver/daemon/loop_timer_service.h"

namespace sextant::resolver {

struct LoopTimerService::Timer {
  uv_timer_t handle;
  LoopTimerService* owner;
  TimerId id;
  std::function<void()> callback;
};

struct LoopTimerService::DueHandles {
  uv_check_t check;  // runs the due timers after the poll phase
  uv_idle_t idle;    // active while timers are due: the poll does not block
  LoopTimerService* owner;
  int open = 2;
};

LoopTimerService::LoopTimerService(uv_loop_t* loop, transports::LoopClock& clock)
    : loop_(loop), clock_(clock), due_handles_(new DueHandles{}) {
  base_ = Clock::now() - std::chrono::milliseconds(uv_now(loop_));
  due_handles_->owner = this;
  uv_check_init(loop_, &due_handles_->check);
  due_handles_->check.data = due_handles_;
  uv_idle_init(loop_, &due_handles_->idle);
  due_handles_->idle.data = due_handles_;
  uv_check_start(&due_handles_->check, on_check);
  // The check handle alone must not keep a loop running that has nothing
  // else to do (a worker stops when its handles are closed).
  uv_unref(reinterpret_cast<uv_handle_t*>(&due_handles_->check));
}

LoopTimerService::~LoopTimerService() {
  due_handles_->owner = nullptr;
  auto close_one = [](uv_handle_t* h) {
    auto* d = static_cast<DueHandles*>(h->data);
    if (--d->open == 0) delete d;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&due_handles_->check), close_one);
  uv_close(reinterpret_cast<uv_handle_t*>(&due_handles_->idle), close_one);
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
  // Cancellable until it runs: it stays in timers_.
  if (self->due_.empty()) uv_idle_start(&self->due_handles_->idle, [](uv_idle_t*) {});
  self->due_.push_back(t->id);
}

void LoopTimerService::on_check(uv_check_t* handle) {
  auto* d = static_cast<DueHandles*>(handle->data);
  if (d->owner) d->owner->run_due();
}

void LoopTimerService::run_due() {
  if (due_.empty()) return;
  uv_idle_stop(&due_handles_->idle);
  std::vector<TimerId> due;
  due.swap(due_);
  for (TimerId id : due) {
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled after it fired
    Timer* t = it->second;
    std::function<void()> callback = std::move(t->callback);
    timers_.erase(it);
    release(t);
    callback();  // may schedule or cancel timers, or destroy nothing else
  }
}

}  // namespace sextant::resolver
