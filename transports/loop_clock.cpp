#include "transports/loop_clock.h"

#include <ctime>
#include <stdexcept>

namespace sextant::transports {

namespace {
thread_local LoopClock* t_current_clock = nullptr;
}  // namespace

struct LoopClock::Handles {
  uv_prepare_t prepare;
  uv_check_t check;
  LoopClock* owner = nullptr;
  int open = 0;

  static void on_close(uv_handle_t* h) {
    auto* self = static_cast<Handles*>(h->data);
    if (--self->open == 0) delete self;
  }
  static void on_turn_boundary(LoopClock* owner) {
    if (owner) owner->valid_ = false;
  }
};

LoopClock::LoopClock(uv_loop_t* loop) : loop_(loop), handles_(new Handles) {
  handles_->owner = this;
  int rc = uv_prepare_init(loop, &handles_->prepare);
  if (rc != 0) {
    delete handles_;
    throw std::runtime_error("LoopClock: uv_prepare_init failed");
  }
  handles_->prepare.data = handles_;
  ++handles_->open;
  rc = uv_check_init(loop, &handles_->check);
  if (rc != 0) {
    handles_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->prepare), &Handles::on_close);
    throw std::runtime_error("LoopClock: uv_check_init failed");
  }
  handles_->check.data = handles_;
  ++handles_->open;

  // Before poll: the loop may now block for a long time, so what timers and
  // idle callbacks saw is stale for the I/O callbacks that follow.
  uv_prepare_start(&handles_->prepare, [](uv_prepare_t* h) {
    Handles::on_turn_boundary(static_cast<Handles*>(h->data)->owner);
  });
  // After the I/O callbacks of this turn: the next turn reads afresh.
  uv_check_start(&handles_->check, [](uv_check_t* h) {
    Handles::on_turn_boundary(static_cast<Handles*>(h->data)->owner);
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->prepare));
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->check));
}

LoopClock::~LoopClock() {
  if (t_current_clock == this) t_current_clock = nullptr;
  handles_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&handles_->prepare), &Handles::on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&handles_->check), &Handles::on_close);
}

int64_t LoopClock::unix_ms() noexcept {
  if (!valid_) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    cached_ms_ = static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
    valid_ = true;
    ++reads_;
  }
  return cached_ms_;
}

LoopClock* LoopClock::current() noexcept { return t_current_clock; }

void LoopClock::set_current(LoopClock* clock) noexcept { t_current_clock = clock; }

}  // namespace sextant::transports
