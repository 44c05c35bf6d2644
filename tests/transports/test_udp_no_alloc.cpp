// The cache-hit path must not touch the heap: a query read with recvmmsg,
// handed to the handler in place, answered inside handle() into the
// preallocated send batch, sent with sendmmsg when the recvmmsg batch ends.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "tests/transports/udp_fixture.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;

TEST_CASE("udp: the synchronous answer path makes no heap allocation", "[udp][alloc]") {
  if (AllocationCounter::unavailable()) return;
  TestLoop loop;
  StackEchoHandler handler;
  auto listener = open_udp_listener(loop, handler);
  UdpClient client;
  REQUIRE(client.send_to(listener->local_address(), make_query(1)));  // warm-up
  REQUIRE(run_loop_until(loop.get(), [&] { return handler.handled == 1; }));
  REQUIRE(client.receive(1000));

  constexpr size_t kQueries = 40;
  for (uint16_t i = 0; i < kQueries; ++i) REQUIRE(client.send_to(listener->local_address(), make_query(i)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // all queued in the socket

  AllocationCounter::count_while_running(loop.get(), [&] { return handler.handled >= 1 + kQueries; });

  CHECK(handler.handled == 1 + kQueries);
  CHECK(AllocationCounter::count == 0);
  for (size_t i = 0; i < kQueries; ++i) REQUIRE(client.receive(1000));
  CHECK(listener->counters().answers_queued.get() == 0);
  CHECK(listener->counters().answers_batched.get() == 1 + kQueries);  // the path measured above
  listener.reset();
  loop.drain();
}
