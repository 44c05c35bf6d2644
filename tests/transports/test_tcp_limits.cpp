// Abusive TCP connections (issue 16 §6): idle eviction when full, the
// per-client cap, and a query trickled one octet at a time.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "tests/transports/tcp_fixture.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;

TEST_CASE("tcp: when full, a new connection evicts the least recently active idle one", "[tcp][limits]") {
  EchoHandler handler;
  TcpListenerConfig config;
  config.max_connections = 3;
  TcpServerFixture server(handler, config);
  std::vector<std::unique_ptr<TcpClient>> clients;
  for (uint16_t i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<TcpClient>(server.address));
    REQUIRE(clients.back()->send_framed(make_query(i)));
    REQUIRE(clients.back()->read_frame(2000));
  }
  // Client 0 asks again: client 1 is now the least recently active.
  REQUIRE(clients[0]->send_framed(make_query(10)));
  REQUIRE(clients[0]->read_frame(2000));
  TcpClient fresh(server.address);
  Bytes q = make_query(99);
  REQUIRE(fresh.send_framed(q));
  auto answer = fresh.read_frame(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
  CHECK(clients[1]->wait_closed(2000));
  CHECK(eventually([&] { return server.counters().evicted_idle.get() == 1; }));
  CHECK(server.counters().refused.get() == 0);
  // The others were kept.
  for (size_t i : {size_t{0}, size_t{2}}) {
    REQUIRE(clients[i]->send_framed(make_query(static_cast<uint16_t>(20 + i))));
    CHECK(clients[i]->read_frame(2000));
  }
}

TEST_CASE("tcp: the per-client cap closes a client's extra connections at once", "[tcp][limits]") {
  EchoHandler handler;
  TcpListenerConfig config;
  config.client_limits = std::make_shared<ClientConnectionTable>(2);
  TcpServerFixture server(handler, config);
  auto one = std::make_unique<TcpClient>(server.address);
  TcpClient two(server.address);
  REQUIRE(one->send_framed(make_query(1)));
  REQUIRE(one->read_frame(2000));
  TcpClient three(server.address);  // same client (127.0.0.1): over the cap
  CHECK(three.wait_closed(2000));
  CHECK(eventually([&] { return server.counters().refused_per_client.get() == 1; }));
  // A slot comes back when a connection goes.
  one.reset();
  REQUIRE(eventually([&] { return config.client_limits->clients() == 1 &&
                                  server.listeners[0]->connection_count() == 1; }));
  TcpClient four(server.address);
  Bytes q = make_query(4);
  REQUIRE(four.send_framed(q));
  CHECK(four.read_frame(2000));
}

TEST_CASE("tcp: a query trickled one octet at a time meets the idle timeout", "[tcp][limits]") {
  // Before: every octet restarted the idle timer, so a client sending one
  // octet per 100 ms held its connection (and a slot) for ever.
  EchoHandler handler;
  TcpListenerConfig config;
  config.idle_timeout_ms = 400;
  TcpServerFixture server(handler, config);
  TcpClient client(server.address);
  Bytes framed;
  append_framed(framed, make_query(7, "a-long-enough-name-to-trickle.example"));
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (size_t i = 0; i < framed.size() && !closed; ++i) {
    if (!client.send_raw(std::span<const uint8_t>(&framed[i], 1))) closed = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(3)) break;
  }
  CHECK(client.wait_closed(2000));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  CHECK(eventually([&] { return server.counters().request_timeouts.get() == 1; }));
  CHECK(handler.handled.load() == 0);
}
