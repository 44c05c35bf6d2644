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

TEST_CASE("udp: the answer path behind a trusted PROXY v2 proxy makes no heap allocation", "[udp][alloc][proxy]") {
  if (AllocationCounter::unavailable()) return;
  TestLoop loop;
  StackEchoHandler handler;
  UdpListenerConfig config;
  config.trusted_proxies = std::make_shared<const TrustedProxies>(std::vector<std::string>{"127.0.0.1/32"});
  auto listener = open_udp_listener(loop, handler, config);
  UdpClient proxy;  // sends from 127.0.0.1: the trusted proxy
  auto proxied = [](uint16_t id) {
    // What dnsdist sends: PROXY, IPv4, DGRAM, client 198.51.100.7:4444 -> 192.0.2.53:53.
    Bytes datagram = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x12, 0, 12,
                      198,  51,   100,  7,    192,  0,    2,    53,   0x11, 0x5C, 0,    53};
    Bytes query = make_query(id);
    datagram.insert(datagram.end(), query.begin(), query.end());
    return datagram;
  };
  REQUIRE(proxy.send_to(listener->local_address(), proxied(1)));  // warm-up
  REQUIRE(run_loop_until(loop.get(), [&] { return handler.handled == 1; }));
  REQUIRE(proxy.receive(1000));

  constexpr size_t kQueries = 40;
  for (uint16_t i = 0; i < kQueries; ++i) REQUIRE(proxy.send_to(listener->local_address(), proxied(i)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  AllocationCounter::count_while_running(loop.get(), [&] { return handler.handled >= 1 + kQueries; });

  CHECK(handler.handled == 1 + kQueries);
  CHECK(AllocationCounter::count == 0);
  for (size_t i = 0; i < kQueries; ++i) REQUIRE(proxy.receive(1000));
  CHECK(listener->counters().proxy[static_cast<size_t>(ProxyOutcome::proxied)].get() == 1 + kQueries);
  listener.reset();
  loop.drain();
}
