// LoopTimerService: a due timer runs after the loop has read its sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "resolver/daemon/loop_timer_service.h"
#include "transports/loop_clock.h"

using namespace sextant;
using namespace std::chrono_literals;

namespace {

struct Receiver {
  uv_udp_t udp;
  std::vector<std::string>* events;
  char buffer[512];
};

}  // namespace

// A worker that fell behind must not judge a retransmission timer before it
// reads the answer already waiting in its socket (sextant_load_1000 saw
// servers held down that had answered in time).
TEST_CASE("loop timers: a due timer runs after the datagrams waiting in the sockets are read",
          "[loop-timer]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  std::vector<std::string> events;
  {
    transports::LoopClock clock(&loop);
    resolver::LoopTimerService timers(&loop, clock);

    Receiver rx{};
    rx.events = &events;
    REQUIRE(uv_udp_init(&loop, &rx.udp) == 0);
    rx.udp.data = &rx;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    REQUIRE(uv_udp_bind(&rx.udp, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
    int len = sizeof(addr);
    REQUIRE(uv_udp_getsockname(&rx.udp, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    REQUIRE(uv_udp_recv_start(
                &rx.udp,
                [](uv_handle_t* h, size_t, uv_buf_t* buf) {
                  auto* r = static_cast<Receiver*>(h->data);
                  *buf = uv_buf_init(r->buffer, sizeof(r->buffer));
                },
                [](uv_udp_t* h, ssize_t n, const uv_buf_t*, const sockaddr*, unsigned) {
                  if (n > 0) static_cast<Receiver*>(h->data)->events->push_back("datagram");
                }) == 0);

    // The answer is in the socket before the loop turns; the timer is due
    // at that same turn.
    int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(s >= 0);
    REQUIRE(::sendto(s, "x", 1, 0, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 1);
    ::close(s);
    timers.schedule(0ms, [&] { events.push_back("timer"); });
    bool cancelled_ran = false;
    auto cancelled = timers.schedule(0ms, [&] { cancelled_ran = true; });
    timers.cancel(cancelled);

    for (int i = 0; i < 10 && events.size() < 2; ++i) uv_run(&loop, UV_RUN_ONCE);
    CHECK(events == std::vector<std::string>{"datagram", "timer"});
    CHECK_FALSE(cancelled_ran);
    CHECK(timers.pending() == 0);

    uv_udp_recv_stop(&rx.udp);
    uv_close(reinterpret_cast<uv_handle_t*>(&rx.udp), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  uv_run(&loop, UV_RUN_NOWAIT);  // the timer service's handles finish closing
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("loop timers: a timer scheduled by a due timer, and one cancelled after it fired",
          "[loop-timer]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    transports::LoopClock clock(&loop);
    resolver::LoopTimerService timers(&loop, clock);
    std::vector<int> ran;
    resolver::TimerService::TimerId second = 0;
    // Both fire in the same turn; the first cancels the second before it runs.
    timers.schedule(0ms, [&] {
      ran.push_back(1);
      timers.cancel(second);
      timers.schedule(5ms, [&] { ran.push_back(3); });
    });
    second = timers.schedule(0ms, [&] { ran.push_back(2); });
    for (int i = 0; i < 50 && ran.size() < 2; ++i) uv_run(&loop, UV_RUN_ONCE);
    CHECK(ran == std::vector<int>{1, 3});
    CHECK(timers.pending() == 0);
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(uv_loop_close(&loop) == 0);
}
