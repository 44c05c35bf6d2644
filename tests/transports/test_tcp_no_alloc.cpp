// On an established TCP connection, whole pipelined queries answered inside
// handle() are served from the read buffer and written with uv_try_write:
// no heap allocation.
#include <catch2/catch.hpp>


#include "test_support.h"
#include "transports/tcp_listener.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;

TEST_CASE("tcp: the synchronous answer path makes no heap allocation", "[tcp][alloc]") {
  if (!AllocationCounter::available()) {
    WARN("allocation hooks need a sanitizer build; skipped");
    return;
  }
  TestLoop loop;
  StackEchoHandler handler;
  TcpListenerConfig config;
  config.address = SocketAddress::ipv4_loopback(0);
  auto listener = TcpListener::open(WorkerContext{loop.get(), 0, &handler}, config);
  TcpClient client(listener->local_address());
  REQUIRE(client.send_framed(make_query(1)));  // warm-up: accept, first read
  REQUIRE(run_loop_until(loop.get(), [&] { return handler.handled == 1; }));
  REQUIRE(client.read_frame(1000));

  constexpr size_t kQueries = 40;
  Bytes stream;
  for (uint16_t i = 0; i < kQueries; ++i) append_framed(stream, make_query(i));
  REQUIRE(client.send_raw(stream));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  AllocationCounter::count = 0;
  AllocationCounter::active = true;
  for (int spins = 0; handler.handled < 1 + kQueries && spins < 100000; ++spins) uv_run(loop.get(), UV_RUN_NOWAIT);
  AllocationCounter::active = false;

  CHECK(handler.handled == 1 + kQueries);
  CHECK(AllocationCounter::count == 0);
  for (size_t i = 0; i < kQueries; ++i) REQUIRE(client.read_frame(1000));
  client.close();
  listener.reset();
  loop.drain();
}
