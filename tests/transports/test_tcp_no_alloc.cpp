// On an established TCP connection, whole pipelined queries answered inside
// handle() are served from the read buffer and written with uv_try_write:
// no heap allocation.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "tests/transports/tcp_fixture.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;

TEST_CASE("tcp: the synchronous answer path makes no heap allocation", "[tcp][alloc]") {
  if (AllocationCounter::unavailable()) return;
  TestLoop loop;
  StackEchoHandler handler;
  auto listener = open_tcp_listener(loop, handler);
  TcpClient client(listener->local_address());
  REQUIRE(client.send_framed(make_query(1)));  // warm-up: accept, first read
  REQUIRE(run_loop_until(loop.get(), [&] { return handler.handled == 1; }));
  REQUIRE(client.read_frame(1000));

  constexpr size_t kQueries = 40;
  Bytes stream;
  for (uint16_t i = 0; i < kQueries; ++i) append_framed(stream, make_query(i));
  REQUIRE(client.send_raw(stream));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  AllocationCounter::count_while_running(loop.get(), [&] { return handler.handled >= 1 + kQueries; });

  CHECK(handler.handled == 1 + kQueries);
  CHECK(AllocationCounter::count == 0);
  for (size_t i = 0; i < kQueries; ++i) REQUIRE(client.read_frame(1000));
  client.close();
  listener.reset();
  loop.drain();
}
