#include "transports/worker_pool.h"

#include <fmt/format.h>

#include <cstdio>
#include <stdexcept>

#include "transports/loop_clock.h"
#include "transports/socket_util.h"

namespace sextant::transports {

struct WorkerPool::Worker {
  WorkerPool* pool = nullptr;
  std::thread thread;
  uv_loop_t loop{};
  uv_async_t wakeup{};
  uv_timer_t force_timer{};
  WorkerContext context;
  std::unique_ptr<LoopClock> clock;
  std::vector<std::unique_ptr<Listener>> listeners;

  // Shared with other threads, under `mu`.
  std::mutex mu;
  std::vector<Task> tasks;
  bool accepting = false;  // the wakeup handle is open and tasks are taken
  bool stop_requested = false;

  // Loop thread only.
  bool handler_started = false;  // hooks.start returned: hooks.stop is owed
  bool shutting_down = false;
  bool listeners_finished = false;
  bool finished = false;
  unsigned listeners_pending = 0;
};

WorkerPool::WorkerPool(WorkerPoolConfig config, std::vector<ListenerFactory> factories,
                       WorkerHooks hooks)
    : config_(config), factories_(std::move(factories)), hooks_(std::move(hooks)) {
  if (!hooks_.start) throw std::invalid_argument("WorkerPool: WorkerHooks.start is required");
  unsigned n = config_.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->pool = this;
    w->context.index = i;
    workers_.push_back(std::move(w));
  }
}

WorkerPool::WorkerPool(WorkerPoolConfig config, std::vector<ListenerFactory> factories,
                       QueryHandler& shared)
    : WorkerPool(config, std::move(factories),
                 WorkerHooks{.start = [h = &shared](const WorkerContext&) { return h; }, .stop = {}}) {
  shared_handler_ = &shared;
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  if (started_) throw std::logic_error("WorkerPool::start called twice");
  started_ = true;
  ignore_sigpipe();
  for (auto& w : workers_) {
    Worker* raw = w.get();
    raw->thread = std::thread([this, raw] { run_worker(*raw); });
  }
  std::exception_ptr error;
  {
    std::unique_lock lock(start_mu_);
    start_cv_.wait(lock, [&] { return started_workers_ == workers_.size(); });
    error = start_error_;
  }
  if (error) {
    stop();
    std::rethrow_exception(error);
  }
}

bool WorkerPool::post(unsigned index, Task task) {
  if (index >= workers_.size() || !task) return false;
  Worker& w = *workers_[index];
  std::lock_guard lock(w.mu);
  if (!w.accepting) return false;
  w.tasks.push_back(std::move(task));
  // Under the lock, so the loop cannot close the handle in between.
  uv_async_send(&w.wakeup);
  return true;
}

void WorkerPool::stop() {
  if (!started_ || stopped_) {
    stopped_ = true;
    return;
  }
  for (auto& w : workers_) {
    if (w->thread.get_id() == std::this_thread::get_id()) {
      // Joining ourselves would deadlock; post a task to another thread instead.
      throw std::logic_error("WorkerPool::stop called from a worker thread");
    }
  }
  stopped_ = true;
  for (auto& w : workers_) {
    std::lock_guard lock(w->mu);
    w->stop_requested = true;
    if (w->accepting) uv_async_send(&w->wakeup);
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void WorkerPool::run_worker(Worker& w) {
  std::exception_ptr error;
  bool loop_ready = false;
  try {
    if (int rc = uv_loop_init(&w.loop); rc != 0) {
      throw std::runtime_error(fmt::format("worker {}: uv_loop_init: {}", w.context.index, uv_strerror(rc)));
    }
    loop_ready = true;
    w.context.loop = &w.loop;
    uv_async_init(&w.loop, &w.wakeup, &WorkerPool::on_wakeup);
    w.wakeup.data = &w;
    uv_timer_init(&w.loop, &w.force_timer);
    w.force_timer.data = &w;
    w.clock = std::make_unique<LoopClock>(&w.loop);
    LoopClock::set_current(w.clock.get());
    {
      std::lock_guard lock(w.mu);
      w.accepting = true;
    }

    QueryHandler* handler = hooks_.start(w.context);
    w.handler_started = true;
    if (handler == nullptr) {
      throw std::runtime_error(fmt::format("worker {}: WorkerHooks.start returned no handler", w.context.index));
    }
    w.context.handler = handler;
    for (auto& factory : factories_) {
      std::unique_ptr<Listener> listener = factory(w.context);
      if (!listener) {
        throw std::runtime_error(fmt::format("worker {}: a listener factory returned nothing", w.context.index));
      }
      w.listeners.push_back(std::move(listener));
    }
  } catch (...) {
    error = std::current_exception();
  }

  {
    std::lock_guard lock(start_mu_);
    ++started_workers_;
    if (error && !start_error_) start_error_ = error;
  }
  start_cv_.notify_all();
  if (!loop_ready) return;

  // Runs until stop(): the wakeup handle keeps the loop alive until then.
  uv_run(&w.loop, UV_RUN_DEFAULT);

  // Every handle is closed now; listeners may go.
  w.listeners.clear();
  if (uv_loop_close(&w.loop) == UV_EBUSY) {
    // Something left a handle open past the forced close; close what remains.
    uv_walk(
        &w.loop,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    uv_loop_close(&w.loop);
  }
  LoopClock::set_current(nullptr);
}

void WorkerPool::on_wakeup(uv_async_t* handle) {
  Worker& w = *static_cast<Worker*>(handle->data);
  std::vector<Task> tasks;
  bool stop = false;
  {
    std::lock_guard lock(w.mu);
    tasks.swap(w.tasks);
    stop = w.stop_requested;
  }
  for (auto& task : tasks) {
    try {
      task(w.context);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "sextant: worker %u: posted task threw: %s\n", w.context.index, e.what());
    }
  }
  if (stop && !w.shutting_down) w.pool->begin_shutdown(w);
}

void WorkerPool::begin_shutdown(Worker& w) {
  w.shutting_down = true;
  // A listener that does not finish within the grace (plus a margin) must not
  // hold the process hostage.
  uv_timer_start(&w.force_timer, &WorkerPool::on_force_timer, config_.shutdown_grace_ms + 1000, 0);

  w.listeners_pending = static_cast<unsigned>(w.listeners.size()) + 1;  // +1: this function
  for (auto& listener : w.listeners) {
    listener->shutdown(config_.shutdown_grace_ms, [&w] {
      if (w.listeners_pending > 0 && --w.listeners_pending == 0) w.pool->after_listeners(w);
    });
  }
  if (--w.listeners_pending == 0) after_listeners(w);
}

void WorkerPool::on_force_timer(uv_timer_t* timer) {
  Worker& w = *static_cast<Worker*>(timer->data);
  if (!w.listeners_finished) {
    std::fprintf(stderr, "sextant: worker %u: listeners overran the shutdown grace\n", w.context.index);
    w.pool->after_listeners(w);
    return;
  }
  std::fprintf(stderr, "sextant: worker %u: stop hook overran, forcing close\n", w.context.index);
  w.pool->finish_worker(w);
  uv_walk(
      &w.loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
}

void WorkerPool::after_listeners(Worker& w) {
  if (w.listeners_finished) return;
  w.listeners_finished = true;
  w.listeners_pending = 0;
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&w.force_timer))) {
    uv_timer_start(&w.force_timer, &WorkerPool::on_force_timer, 1000, 0);
  }
  if (w.handler_started && hooks_.stop) {
    hooks_.stop(w.context, [&w] { w.pool->finish_worker(w); });
  } else {
    finish_worker(w);
  }
}

void WorkerPool::finish_worker(Worker& w) {
  if (w.finished) return;
  w.finished = true;
  std::vector<Task> late;
  {
    std::lock_guard lock(w.mu);
    w.accepting = false;
    late.swap(w.tasks);
  }
  // Tasks accepted before the door closed still run (post() returned true).
  for (auto& task : late) {
    try {
      task(w.context);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "sextant: worker %u: posted task threw: %s\n", w.context.index, e.what());
    }
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&w.wakeup), nullptr);
  uv_timer_stop(&w.force_timer);
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&w.force_timer))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&w.force_timer), nullptr);
  }
  w.clock.reset();  // closes its (unreferenced) handles
}

}  // namespace sextant::transports
