// Worker threads, one libuv loop each, each hosting its own set of listeners
// (SO_REUSEPORT sockets: the kernel spreads clients over the workers, so the
// answer path takes no lock).
//
//   WorkerPool pool(WorkerPoolConfig{.workers = 4},
//                   {make_udp_listener_factory(udp), make_tcp_listener_factory(tcp)},
//                   WorkerHooks{.start = ..., .stop = ...});
//   pool.start();              // throws if any listener cannot be opened
//   pool.post(1, [](const WorkerContext& w) { ... });   // runs on worker 1
//   pool.stop();               // graceful: listeners drain, then threads join
//
// Per-worker state (the resolver's handler and its NetworkUpstream) is made
// in hooks.start on the worker's thread and closed in hooks.stop:
//   .start = [&](const WorkerContext& w) {
//       auto& s = states[w.index];             // owned by the resolver
//       s.upstream = std::make_unique<NetworkUpstream>(w.loop);
//       s.handler = std::make_unique<Handler>(*s.upstream);
//       return s.handler.get(); },
//   .stop = [&](const WorkerContext& w, std::function<void()> done) {
//       states[w.index].upstream->shutdown(std::move(done)); }
#pragma once

#include <uv.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "transports/listener.h"

namespace sextant::transports {

struct WorkerPoolConfig {
  unsigned workers = 0;  // 0: one per hardware thread (std::thread::hardware_concurrency)
  unsigned shutdown_grace_ms = 2000;  // how long in-flight answers may take at stop()
};

// Per-worker set-up and tear-down, both run on the worker's own thread.
struct WorkerHooks {
  // Before the worker's listeners are created (context.handler is still
  // null). Returns the handler for this worker: per-worker state (an
  // Upstream on context.loop, caches, ...) is created here. The handler must
  // stay valid until `stop` has called its `done`. Required.
  std::function<QueryHandler*(const WorkerContext& context)> start;
  // After every listener has shut down. Close your handles on context.loop
  // and call `done` (from the loop thread, now or later). The loop keeps
  // running until every handle is closed. Optional.
  std::function<void(const WorkerContext& context, std::function<void()> done)> stop;
};

class WorkerPool {
 public:
  using Task = std::function<void(const WorkerContext&)>;

  WorkerPool(WorkerPoolConfig config, std::vector<ListenerFactory> factories, WorkerHooks hooks);
  // Every worker uses the same handler (it must then be safe to call from
  // several threads at once, and outlive the pool).
  WorkerPool(WorkerPoolConfig config, std::vector<ListenerFactory> factories, QueryHandler& shared);
  ~WorkerPool();  // stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts the threads and waits until every worker has created its
  // listeners. If any worker fails (a factory or hooks.start threw), the pool
  // is stopped and the first error is rethrown.
  void start();

  // Runs `task` on worker `index`'s loop thread. Thread-safe; callable from
  // any thread, including a worker's own. Returns false (and drops the task)
  // if there is no such worker or it has finished.
  bool post(unsigned index, Task task);

  // Graceful stop: every listener gets Listener::shutdown(grace), then
  // hooks.stop, then the loops end and the threads are joined. A listener
  // that overruns the grace by more than a second is forced closed.
  // Idempotent; must not be called from a worker thread.
  void stop();

  unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }
  bool running() const noexcept { return started_ && !stopped_; }

 private:
  struct Worker;

  void run_worker(Worker& w);
  static void on_wakeup(uv_async_t* handle);
  static void on_force_timer(uv_timer_t* timer);
  void begin_shutdown(Worker& w);
  void after_listeners(Worker& w);
  void finish_worker(Worker& w);

  WorkerPoolConfig config_;
  std::vector<ListenerFactory> factories_;
  WorkerHooks hooks_;
  QueryHandler* shared_handler_ = nullptr;
  std::vector<std::unique_ptr<Worker>> workers_;

  std::mutex start_mu_;
  std::condition_variable start_cv_;
  unsigned started_workers_ = 0;
  std::exception_ptr start_error_;

  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sextant::transports
