#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "test_support.h"
#include "transports/loop_clock.h"
#include "transports/udp_listener.h"
#include "transports/worker_pool.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;

TEST_CASE("worker pool: tasks run on each worker's own thread", "[worker]") {
  EchoHandler handler;
  WorkerPool pool(WorkerPoolConfig{.workers = 3, .shutdown_grace_ms = 100}, {}, handler);
  CHECK(pool.size() == 3);
  CHECK_FALSE(pool.post(0, [](const WorkerContext&) {}));  // not started yet
  pool.start();
  CHECK(pool.running());

  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> ran{0};
  std::atomic<int> wrong{0};
  for (unsigned i = 0; i < 3; ++i) {
    for (int k = 0; k < 10; ++k) {
      REQUIRE(pool.post(i, [&, i](const WorkerContext& ctx) {
        if (ctx.index != i || ctx.loop == nullptr || ctx.handler != &handler) wrong.fetch_add(1);
        if (LoopClock::current() == nullptr || LoopClock::current()->loop() != ctx.loop) wrong.fetch_add(1);
        std::lock_guard lock(mu);
        threads.insert(std::this_thread::get_id());
        ran.fetch_add(1);
      }));
    }
  }
  REQUIRE(eventually([&] { return ran.load() == 30; }));
  CHECK(wrong.load() == 0);
  CHECK(threads.size() == 3);
  CHECK(threads.count(std::this_thread::get_id()) == 0);
  CHECK_FALSE(pool.post(3, [](const WorkerContext&) {}));

  pool.stop();
  CHECK_FALSE(pool.running());
  CHECK_FALSE(pool.post(0, [](const WorkerContext&) {}));
  pool.stop();  // idempotent
}

TEST_CASE("worker pool: default size is the number of hardware threads", "[worker]") {
  EchoHandler handler;
  WorkerPool pool(WorkerPoolConfig{}, {}, handler);
  CHECK(pool.size() == std::max(1u, std::thread::hardware_concurrency()));
}

TEST_CASE("worker pool: hooks give each worker its own handler and are torn down", "[worker]") {
  EchoHandler handlers[2];
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::mutex mu;
  std::vector<uint16_t> ports;
  UdpListenerConfig udp;
  udp.address = SocketAddress::ipv4_loopback(0);
  {
    WorkerPool pool(
        WorkerPoolConfig{.workers = 2, .shutdown_grace_ms = 100},
        {make_udp_listener_factory(udp,
                                   [&](UdpListener& l) {
                                     std::lock_guard lock(mu);
                                     ports.push_back(l.local_address().port());
                                   })},
        WorkerHooks{.start =
                        [&](const WorkerContext& ctx) -> QueryHandler* {
                          started.fetch_add(1);
                          return &handlers[ctx.index];
                        },
                    .stop =
                        [&](const WorkerContext& ctx, std::function<void()> done) {
                          // Finish later, from a timer, as an Upstream shutdown would.
                          auto* t = new uv_timer_t;
                          uv_timer_init(ctx.loop, t);
                          t->data = new std::function<void()>(std::move(done));
                          uv_timer_start(
                              t,
                              [](uv_timer_t* timer) {
                                auto* d = static_cast<std::function<void()>*>(timer->data);
                                (*d)();
                                delete d;
                                uv_close(reinterpret_cast<uv_handle_t*>(timer),
                                         [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
                              },
                              10, 0);
                          stopped.fetch_add(1);
                        }});
    pool.start();
    CHECK(started.load() == 2);
    REQUIRE(ports.size() == 2);
    CHECK(ports[0] == ports[1]);  // port 0 resolved once, shared via SO_REUSEPORT

    // Many source ports: the kernel spreads them over both sockets.
    SocketAddress server = SocketAddress::ipv4_loopback(ports[0]);
    for (uint16_t i = 0; i < 40; ++i) {
      UdpClient client;
      Bytes q = make_query(i);
      REQUIRE(client.send_to(server, q));
      auto answer = client.receive(2000);
      REQUIRE(answer);
      CHECK(is_echo_of(*answer, q));
    }
    CHECK(handlers[0].handled.load() + handlers[1].handled.load() == 40);
    CHECK(handlers[0].handled.load() == handlers[0].per_worker[0].load());
    CHECK(handlers[1].handled.load() == handlers[1].per_worker[1].load());
    pool.stop();
  }
  CHECK(stopped.load() == 2);
}

TEST_CASE("worker pool: a listener that cannot open fails start() with its reason", "[worker]") {
  EchoHandler handler;
  UdpListenerConfig bad;
  bad.address = parse_address_or_throw("192.0.2.1@5300", 0);  // not on this host
  WorkerPool pool(WorkerPoolConfig{.workers = 2, .shutdown_grace_ms = 100}, {make_udp_listener_factory(bad)},
                  handler);
  CHECK_THROWS_WITH(pool.start(), Catch::Contains("192.0.2.1@5300"));
  CHECK_FALSE(pool.running());
}

TEST_CASE("worker pool: a throwing start hook fails start()", "[worker]") {
  WorkerPool pool(WorkerPoolConfig{.workers = 2, .shutdown_grace_ms = 100}, {},
                  WorkerHooks{.start = [](const WorkerContext& ctx) -> QueryHandler* {
                    if (ctx.index == 1) throw std::runtime_error("worker one is broken");
                    static DroppingHandler h;
                    return &h;
                  },
                              .stop = {}});
  CHECK_THROWS_WITH(pool.start(), "worker one is broken");
}

TEST_CASE("loop clock: one wall-clock reading per loop turn", "[worker][clock]") {
  TestLoop loop;
  LoopClock* clock = LoopClock::current();
  REQUIRE(clock != nullptr);
  REQUIRE(clock->loop() == loop.get());

  struct Probe {
    LoopClock* clock;
    int64_t first = 0, second = 0;
    uint64_t reads_before = 0, reads_after = 0;
    int64_t later = 0;
    uint64_t reads_later = 0;
    int fired = 0;
  } probe{clock};

  uv_timer_t t1, t2;
  uv_timer_init(loop.get(), &t1);
  uv_timer_init(loop.get(), &t2);
  t1.data = &probe;
  t2.data = &probe;
  uv_timer_start(
      &t1,
      [](uv_timer_t* t) {
        auto* p = static_cast<Probe*>(t->data);
        p->reads_before = p->clock->wall_clock_reads();
        p->first = p->clock->unix_ms();
        std::this_thread::sleep_for(std::chrono::milliseconds(15));  // time passes inside one turn
        p->second = p->clock->unix_ms();
        p->reads_after = p->clock->wall_clock_reads();
        ++p->fired;
      },
      1, 0);
  uv_timer_start(
      &t2,
      [](uv_timer_t* t) {
        auto* p = static_cast<Probe*>(t->data);
        p->later = p->clock->unix_ms();
        p->reads_later = p->clock->wall_clock_reads();
        ++p->fired;
      },
      40, 0);
  REQUIRE(run_loop_until(loop.get(), [&] { return probe.fired == 2; }));
  CHECK(probe.first == probe.second);                 // same value within the turn
  CHECK(probe.reads_after == probe.reads_before + 1);  // read once, lazily
  CHECK(probe.later >= probe.first + 15);              // a later turn reads afresh
  CHECK(probe.reads_later > probe.reads_after);
  CHECK(clock->unix_seconds() == clock->unix_ms() / 1000);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  CHECK(std::abs(clock->unix_seconds() - std::chrono::duration_cast<std::chrono::seconds>(now).count()) <= 2);
  CHECK(clock->monotonic_ms() == uv_now(loop.get()));
  uv_close(reinterpret_cast<uv_handle_t*>(&t1), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&t2), nullptr);
  loop.drain();
}

TEST_CASE("loop clock: handles do not keep the loop alive", "[worker][clock]") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    LoopClock clock(&loop);
    CHECK(uv_run(&loop, UV_RUN_NOWAIT) == 0);  // nothing active: returns at once
    CHECK(clock.unix_ms() > 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // runs the close callbacks
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("worker pool: a listener that never finishes shutting down is forced", "[worker]") {
  struct StuckListener final : Listener {
    void shutdown(unsigned, std::function<void()> done) override { kept = std::move(done); }
    std::function<void()> kept;  // never called
  };
  EchoHandler handler;
  ListenerFactory stuck = [](const WorkerContext&) { return std::make_unique<StuckListener>(); };
  WorkerPool pool(WorkerPoolConfig{.workers = 1, .shutdown_grace_ms = 100}, {stuck}, handler);
  pool.start();
  auto start = Clock::now();
  pool.stop();
  uint64_t elapsed = ms_since(start);
  CHECK(elapsed >= 1000);  // grace + the one-second margin
  CHECK(elapsed < 5000);
}
