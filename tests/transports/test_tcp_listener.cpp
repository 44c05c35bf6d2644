#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "tests/transports/tcp_fixture.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;

TEST_CASE("tcp: synchronous echo with length framing", "[tcp]") {
  EchoHandler handler;
  TcpServerFixture server(handler);
  TcpClient client(server.address);
  Bytes q = make_query(0x1111, "a.example");
  REQUIRE(client.send_framed(q));
  auto answer = client.read_frame(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
  CHECK(handler.last_transport.load() == static_cast<int>(Transport::tcp));
  CHECK(handler.last_max_response.load() == 65535);
  CHECK(handler.missing_peer.load() == 0);
  // The connection stays open for more queries.
  Bytes q2 = make_query(0x2222, "b.example");
  REQUIRE(client.send_framed(q2));
  auto answer2 = client.read_frame(2000);
  REQUIRE(answer2);
  CHECK(is_echo_of(*answer2, q2));
  CHECK(server.counters().accepted.get() == 1);
  CHECK(eventually([&] { return server.counters().answered.get() == 2; }));
  CHECK(server.listeners[0]->idle_timeout_ms() == 10000);
}

TEST_CASE("tcp: pipelined queries are answered out of order as they complete", "[tcp]") {
  // Query 1 takes 300 ms, query 2 takes 10 ms.
  EchoHandler handler([](std::span<const uint8_t> q) { return message_id(q) == 1 ? 300u : 10u; });
  TcpServerFixture server(handler);
  TcpClient client(server.address);
  Bytes q1 = make_query(1, "slow.example");
  Bytes q2 = make_query(2, "fast.example");
  Bytes both;
  append_framed(both, q1);
  append_framed(both, q2);
  REQUIRE(client.send_raw(both));  // one write carries both queries
  auto first = client.read_frame(3000);
  auto second = client.read_frame(3000);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(is_echo_of(*first, q2));
  CHECK(is_echo_of(*second, q1));
}

TEST_CASE("tcp: many pipelined queries and byte-by-byte input", "[tcp]") {
  EchoHandler handler([](std::span<const uint8_t> q) { return message_id(q) % 3 == 0 ? 20u : 0u; });
  TcpServerFixture server(handler);
  TcpClient client(server.address);
  Bytes stream;
  for (uint16_t i = 0; i < 60; ++i) append_framed(stream, make_query(i));
  // The first query trickles in one byte at a time, the rest in one write.
  Bytes first = make_query(1000);
  Bytes framed_first;
  append_framed(framed_first, first);
  for (uint8_t b : framed_first) {
    Bytes one = {b};
    REQUIRE(client.send_raw(one));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(client.send_raw(stream));
  std::vector<bool> seen(60, false);
  bool saw_first = false;
  for (int i = 0; i < 61; ++i) {
    auto answer = client.read_frame(3000);
    REQUIRE(answer);
    uint16_t id = message_id(*answer);
    if (id == 1000) {
      saw_first = is_echo_of(*answer, first);
    } else {
      REQUIRE(id < 60);
      CHECK_FALSE(seen[id]);
      seen[id] = is_echo_of(*answer, make_query(id));
    }
  }
  CHECK(saw_first);
  CHECK(std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }));
}

TEST_CASE("tcp: the pending limit pauses reading and resumes as answers go out", "[tcp]") {
  EchoHandler handler([](std::span<const uint8_t>) { return 30u; });
  TcpListenerConfig config;
  config.max_pending_per_connection = 3;
  TcpServerFixture server(handler, config);
  TcpClient client(server.address);
  Bytes stream;
  for (uint16_t i = 0; i < 10; ++i) append_framed(stream, make_query(i));
  REQUIRE(client.send_raw(stream));
  int answers = 0;
  while (answers < 10) {
    auto a = client.read_frame(3000);
    REQUIRE(a);
    ++answers;
  }
  CHECK(server.counters().read_pauses.get() >= 1);
  CHECK(handler.handled.load() == 10);
}

TEST_CASE("tcp: a silent client is closed by the idle timeout", "[tcp]") {
  EchoHandler handler;
  TcpListenerConfig config;
  config.idle_timeout_ms = 200;
  TcpServerFixture server(handler, config);
  auto start = Clock::now();
  TcpClient silent(server.address);
  REQUIRE(silent.wait_closed(3000));
  uint64_t elapsed = ms_since(start);
  CHECK(elapsed >= 150);
  CHECK(elapsed < 2500);
  CHECK(eventually([&] { return server.counters().closed_idle.get() == 1; }));
  CHECK(eventually([&] { return server.listeners[0]->connection_count() == 0; }));
}

TEST_CASE("tcp: half a frame then silence times out", "[tcp]") {
  EchoHandler handler;
  TcpListenerConfig config;
  config.idle_timeout_ms = 200;
  TcpServerFixture server(handler, config);
  TcpClient client(server.address);
  Bytes half = {0x00, 0x40, 0x12};  // announces 64 octets, sends one
  REQUIRE(client.send_raw(half));
  REQUIRE(client.wait_closed(3000));
  CHECK(handler.handled.load() == 0);
  CHECK(eventually([&] { return server.counters().request_timeouts.get() == 1; }));
  CHECK(server.counters().closed_idle.get() == 0);
}

TEST_CASE("tcp: activity keeps a connection open past the idle timeout", "[tcp]") {
  EchoHandler handler;
  TcpListenerConfig config;
  config.idle_timeout_ms = 300;
  TcpServerFixture server(handler, config);
  TcpClient client(server.address);
  for (uint16_t i = 0; i < 5; ++i) {
    Bytes q = make_query(i);
    REQUIRE(client.send_framed(q));
    REQUIRE(client.read_frame(2000));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  CHECK(server.counters().closed_idle.get() == 0);
  CHECK(server.listeners[0]->connection_count() == 1);
}

TEST_CASE("tcp: a slow resolution is not cut by the idle timeout", "[tcp]") {
  EchoHandler handler([](std::span<const uint8_t>) { return 500u; });
  TcpListenerConfig config;
  config.idle_timeout_ms = 150;
  TcpServerFixture server(handler, config);
  TcpClient client(server.address);
  Bytes q = make_query(9);
  REQUIRE(client.send_framed(q));
  auto answer = client.read_frame(3000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
}

TEST_CASE("tcp: a zero-length frame closes the connection", "[tcp]") {
  EchoHandler handler;
  TcpServerFixture server(handler);
  TcpClient client(server.address);
  Bytes q = make_query(1);
  Bytes stream;
  append_framed(stream, q);
  stream.push_back(0);
  stream.push_back(0);
  append_framed(stream, make_query(2));  // never read: the stream is dead
  REQUIRE(client.send_raw(stream));
  auto answer = client.read_frame(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
  CHECK(client.wait_closed(2000));
  CHECK(handler.handled.load() == 1);
  CHECK(eventually([&] { return server.counters().zero_length_frames.get() == 1; }));
}

TEST_CASE("tcp: the connection limit refuses extra clients when none is idle", "[tcp]") {
  // Queries 0-2 take 1.5 s: their connections are busy, not idle.
  EchoHandler handler([](std::span<const uint8_t> q) { return q[1] < 3 ? 1500u : 0u; });
  TcpListenerConfig config;
  config.max_connections = 3;
  TcpServerFixture server(handler, config);
  std::vector<std::unique_ptr<TcpClient>> clients;
  for (uint16_t i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<TcpClient>(server.address));
    REQUIRE(clients.back()->send_framed(make_query(i)));
  }
  REQUIRE(eventually([&] { return handler.handled.load() == 3; }));
  TcpClient extra(server.address);  // the kernel completes the handshake...
  CHECK(extra.wait_closed(2000));   // ...and the server closes it at once
  CHECK(eventually([&] { return server.counters().refused.get() == 1; }));
  CHECK(server.counters().evicted_idle.get() == 0);
  CHECK(server.listeners[0]->connection_count() == 3);
  for (auto& c : clients) REQUIRE(c->read_frame(3000));
  // Room again after one leaves.
  clients[0]->close();
  REQUIRE(eventually([&] { return server.listeners[0]->connection_count() == 2; }));
  TcpClient again(server.address);
  Bytes q = make_query(77);
  REQUIRE(again.send_framed(q));
  auto answer = again.read_frame(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
}

TEST_CASE("tcp: a peer that closes or resets with answers pending is safe", "[tcp]") {
  EchoHandler handler([](std::span<const uint8_t>) { return 100u; });
  TcpServerFixture server(handler);
  for (int round = 0; round < 3; ++round) {
    TcpClient client(server.address);
    Bytes stream;
    for (uint16_t i = 0; i < 5; ++i) append_framed(stream, make_query(i));
    REQUIRE(client.send_raw(stream));
    REQUIRE(eventually([&] { return handler.handled.load() == static_cast<uint64_t>(5 * (round + 1)); }));
    if (round == 0) client.close();
    else client.reset();
  }
  // The delayed answers are delivered to closed connections: no-ops.
  REQUIRE(eventually([&] { return handler.async_answered.load() == 15; }));
  CHECK(eventually([&] { return server.listeners[0]->connection_count() == 0; }));
  // Still serving.
  TcpClient client(server.address);
  Bytes q = make_query(1234);
  REQUIRE(client.send_framed(q));
  auto answer = client.read_frame(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
}

TEST_CASE("tcp: half a frame then close, and a half-close after a query", "[tcp]") {
  EchoHandler handler([](std::span<const uint8_t>) { return 50u; });
  TcpServerFixture server(handler);
  {
    TcpClient client(server.address);
    Bytes half = {0x00, 0x20, 1, 2, 3};
    REQUIRE(client.send_raw(half));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }  // closed mid-frame
  CHECK(eventually([&] { return server.counters().truncated_frames.get() == 1; }));
  CHECK(eventually([&] { return server.listeners[0]->connection_count() == 0; }));

  // RFC 7766: a client may send its queries and shut down its write side;
  // the answers must still arrive, then the server closes.
  TcpClient client(server.address);
  Bytes q = make_query(31);
  REQUIRE(client.send_framed(q));
  client.shutdown_write();
  auto answer = client.read_frame(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
  CHECK(client.wait_closed(2000));
  CHECK(handler.handled.load() == 1);
}

TEST_CASE("tcp: dropped queries free their pending slot", "[tcp]") {
  DroppingHandler handler;
  TcpListenerConfig config;
  config.max_pending_per_connection = 2;
  TcpServerFixture server(handler, config);
  TcpClient client(server.address);
  Bytes stream;
  for (uint16_t i = 0; i < 6; ++i) append_framed(stream, make_query(i));
  REQUIRE(client.send_raw(stream));
  CHECK(eventually([&] { return handler.dropped.load() == 6; }));
  CHECK(eventually([&] { return server.counters().abandoned.get() == 6; }));
}

TEST_CASE("tcp: shutdown lets pending answers out within the grace", "[tcp]") {
  EchoHandler handler([](std::span<const uint8_t>) { return 150u; });
  auto server = std::make_unique<TcpServerFixture>(handler, TcpListenerConfig{}, 1, 2000);
  TcpClient busy(server->address);
  TcpClient idle(server->address);
  Bytes q = make_query(8);
  REQUIRE(busy.send_framed(q));
  REQUIRE(eventually([&] { return handler.handled.load() == 1; }));
  std::thread stopper([&] { server->pool->stop(); });
  auto answer = busy.read_frame(3000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
  CHECK(busy.wait_closed(3000));
  CHECK(idle.wait_closed(3000));
  stopper.join();
}

TEST_CASE("tcp: shutdown grace expiry closes connections still waiting", "[tcp]") {
  EchoHandler handler([](std::span<const uint8_t>) { return 700u; });
  auto server = std::make_unique<TcpServerFixture>(handler, TcpListenerConfig{}, 1, 100);
  TcpClient busy(server->address);
  REQUIRE(busy.send_framed(make_query(8)));
  REQUIRE(eventually([&] { return handler.handled.load() == 1; }));
  auto start = Clock::now();
  server->pool->stop();  // returns after the grace; the late answer is dropped
  CHECK(ms_since(start) < 1500);
  CHECK(busy.wait_closed(1000));
}

TEST_CASE("tcp: destroying a listener without shutdown is safe", "[tcp]") {
  TestLoop loop;
  EchoHandler handler;
  auto listener = open_tcp_listener(loop, handler);
  TcpClient client(listener->local_address());
  REQUIRE(run_loop_until(loop.get(), [&] { return listener->connection_count() == 1; }));
  listener.reset();
  CHECK(loop.drain());
  CHECK(client.wait_closed(1000));
}

TEST_CASE("tcp: responders held past the listener's life are harmless", "[tcp]") {
  TestLoop loop;
  HoldingHandler handler;
  auto listener = open_tcp_listener(loop, handler);
  TcpClient client(listener->local_address());
  REQUIRE(client.send_framed(make_query(1)));
  REQUIRE(run_loop_until(loop.get(), [&] { return handler.held.size() == 1; }));
  bool done = false;
  listener->shutdown(50, [&] { done = true; });
  REQUIRE(run_loop_until(loop.get(), [&] { return done; }));
  listener.reset();
  handler.answer_all();  // the connection object is still alive; the answer is dropped
  handler.held.clear();  // last reference: the connection is freed now
  CHECK(loop.drain());
}

TEST_CASE("tcp: large answers to a slow reader are queued whole and in order", "[tcp]") {
  // Each answer is the query padded to 60000 octets with a byte derived from the ID.
  struct BigHandler final : QueryHandler {
    void handle(const Request& r, Responder responder) override {
      Bytes answer = echo_answer(r.query);
      answer.resize(60000, static_cast<uint8_t>(message_id(r.query)));
      responder.respond(answer);
    }
  } handler;
  TcpServerFixture server(handler);
  // A small receive window so the server's socket buffer fills up.
  TcpClient client(server.address, 3000, 4096);
  constexpr uint16_t kQueries = 150;  // 9 MB of answers: more than socket buffers hold
  Bytes stream;
  for (uint16_t i = 0; i < kQueries; ++i) append_framed(stream, make_query(i));
  REQUIRE(client.send_raw(stream));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // do not read yet
  for (uint16_t i = 0; i < kQueries; ++i) {
    auto answer = client.read_frame(5000);
    REQUIRE(answer);
    REQUIRE(answer->size() == 60000);
    CHECK(message_id(*answer) == i);  // answered synchronously, so in order
    CHECK(answer->back() == static_cast<uint8_t>(i));
  }
  CHECK(server.counters().answers_queued.get() > 0);
  CHECK(eventually([&] { return server.counters().answered.get() == kQueries; }));
}

TEST_CASE("tcp: random garbage, resets and half frames from many clients", "[tcp][hostile]") {
  EchoHandler handler([](std::span<const uint8_t> q) { return q.size() % 2 ? 5u : 0u; });
  TcpListenerConfig config;
  config.idle_timeout_ms = 300;
  config.max_pending_per_connection = 4;
  TcpServerFixture server(handler, config);
  uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  for (int round = 0; round < 40; ++round) {
    TcpClient client(server.address);
    Bytes junk(next() % 3000);
    for (auto& b : junk) b = static_cast<uint8_t>(next());
    if (junk.size() >= 2 && next() % 4 == 0) junk[0] = junk[1] = 0;  // sometimes a zero-length frame
    client.send_raw(junk);
    switch (next() % 3) {
      case 0: client.reset(); break;
      case 1: client.close(); break;
      default: client.shutdown_write(); client.wait_closed(50); break;
    }
  }
  // Whatever happened, every connection ends (by peer, protocol error or idle timeout).
  CHECK(eventually([&] { return server.listeners[0]->connection_count() == 0; }, 5000));
  TcpClient good(server.address);
  Bytes q = make_query(4242);
  REQUIRE(good.send_framed(q));
  auto answer = good.read_frame(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
}
