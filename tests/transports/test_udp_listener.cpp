#include <catch2/catch.hpp>

#include <memory>
#include <mutex>
#include <vector>

#include "tests/transports/udp_fixture.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;

TEST_CASE("udp: synchronous echo through the handler", "[udp]") {
  EchoHandler handler;
  UdpServer server(handler);
  UdpClient client;
  Bytes query = make_query(0x4242, "www.example.org", 28);
  REQUIRE(client.send_to(server.address, query));
  SocketAddress from;
  auto answer = client.receive(2000, &from);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, query));
  CHECK(from == server.address);
  CHECK(handler.last_transport.load() == static_cast<int>(Transport::udp));
  CHECK(handler.last_max_response.load() == 65535 - 28);
  CHECK(handler.missing_peer.load() == 0);
  CHECK(eventually([&] { return server.counters().answered.get() == 1; }));
  CHECK(server.counters().answers_queued.get() == 0);
  CHECK(server.counters().pending.get() == 0);
}

TEST_CASE("udp: asynchronous answers reach the right clients", "[udp]") {
  // Answer delay from the ID: later IDs are answered first.
  EchoHandler handler([](std::span<const uint8_t> q) { return 60u - message_id(q) * 10u; });
  UdpServer server(handler);
  std::vector<UdpClient> clients;
  std::vector<Bytes> queries;
  for (uint16_t i = 1; i <= 5; ++i) {
    clients.emplace_back();
    queries.push_back(make_query(i));
    REQUIRE(clients.back().send_to(server.address, queries.back()));
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    auto answer = clients[i].receive(3000);
    REQUIRE(answer);
    CHECK(is_echo_of(*answer, queries[i]));
  }
  // The handler counts after respond(): the client may be faster.
  CHECK(eventually([&] { return handler.async_answered.load() == 5; }));
  CHECK(eventually([&] { return server.counters().pending.get() == 0; }));
}

TEST_CASE("udp: recvmmsg is in use", "[udp]") {
  EchoHandler handler;
  UdpServer server(handler);
  CHECK(server.listeners[0]->using_recvmmsg());
}

TEST_CASE("udp: hostile datagrams are dropped and the socket keeps working", "[udp]") {
  EchoHandler handler;
  UdpServer server(handler);
  UdpClient client;
  Bytes empty;
  Bytes tiny = {1, 2, 3, 4, 5};
  Bytes eleven(11, 0xff);
  REQUIRE(client.send_to(server.address, empty));
  REQUIRE(client.send_to(server.address, tiny));
  REQUIRE(client.send_to(server.address, eleven));
  Bytes garbage(12, 0xff);  // a header's worth of junk is the handler's business
  REQUIRE(client.send_to(server.address, garbage));
  auto echoed = client.receive(2000);
  REQUIRE(echoed);
  CHECK(is_echo_of(*echoed, garbage));
  Bytes query = make_query(7);
  REQUIRE(client.send_to(server.address, query));
  auto answer = client.receive(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, query));
  CHECK(eventually([&] { return server.counters().too_short.get() == 3; }));
  CHECK(handler.handled.load() == 2);
}

TEST_CASE("udp: two workers share one port and both receive", "[udp]") {
  EchoHandler handler;
  UdpServer server(handler, 2);
  REQUIRE(server.listeners[0]->local_address() == server.listeners[1]->local_address());
  CHECK(server.listeners[1]->using_recvmmsg());
  for (uint16_t i = 0; i < 64; ++i) {  // 64 source ports
    UdpClient client;
    Bytes q = make_query(i);
    REQUIRE(client.send_to(server.address, q));
    auto answer = client.receive(2000);
    REQUIRE(answer);
    CHECK(is_echo_of(*answer, q));
  }
  CHECK(handler.per_worker[0].load() > 0);
  CHECK(handler.per_worker[1].load() > 0);
  CHECK(handler.per_worker[0].load() + handler.per_worker[1].load() == 64);
  CHECK(server.counters(0).received.get() + server.counters(1).received.get() == 64);
}

TEST_CASE("udp: IPv6 loopback", "[udp]") {
  EchoHandler handler;
  std::unique_ptr<UdpServer> server;
  try {
    server = std::make_unique<UdpServer>(handler, 1, UdpListenerConfig{}, SocketAddress::ipv6_loopback(0));
  } catch (const std::runtime_error& e) {
    WARN("no IPv6 loopback: " << e.what());
    return;
  }
  UdpClient client(AF_INET6);
  Bytes q = make_query(0x0606);
  REQUIRE(client.send_to(server->address, q));
  auto answer = client.receive(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
  CHECK(handler.last_max_response.load() == 65535 - 8);
}

TEST_CASE("udp: a dropped query gets no answer and is counted", "[udp]") {
  DroppingHandler handler;
  UdpServer server(handler);
  UdpClient client;
  REQUIRE(client.send_to(server.address, make_query(1)));
  CHECK_FALSE(client.receive(200));
  CHECK(handler.dropped.load() == 1);
  CHECK(eventually([&] { return server.counters().abandoned.get() == 1; }));
  CHECK(server.counters().pending.get() == 0);
}

TEST_CASE("udp: the pending-answer table is bounded", "[udp]") {
  EchoHandler handler([](std::span<const uint8_t> q) { return message_id(q) == 99 ? 0u : 300u; });
  UdpListenerConfig config;
  config.max_pending_answers = 2;
  UdpServer server(handler, 1, config);
  UdpClient a, b, c, d;
  REQUIRE(a.send_to(server.address, make_query(1)));
  REQUIRE(b.send_to(server.address, make_query(2)));
  REQUIRE(c.send_to(server.address, make_query(3)));  // no slot left: its late answer is lost
  Bytes hit = make_query(99);
  REQUIRE(d.send_to(server.address, hit));  // answered inside handle(): still served
  auto hit_answer = d.receive(1000);
  REQUIRE(hit_answer);
  CHECK(is_echo_of(*hit_answer, hit));
  CHECK(a.receive(2000));
  CHECK(b.receive(2000));
  CHECK_FALSE(c.receive(300));
  CHECK(eventually([&] { return server.counters().no_pending_slot.get() == 1; }));
  CHECK(server.counters().pending.get() == 0);
}

TEST_CASE("udp: oversize answers are dropped, not truncated", "[udp]") {
  struct BigHandler final : QueryHandler {
    void handle(const Request& r, Responder responder) override {
      Bytes big(r.max_response_size + 1, 0);
      responder.respond(big);
    }
  } handler;
  UdpServer server(handler);
  UdpClient client;
  REQUIRE(client.send_to(server.address, make_query(1)));
  CHECK_FALSE(client.receive(300));
  CHECK(eventually([&] { return server.counters().oversize_answers.get() == 1; }));
}

TEST_CASE("udp: answering after the listener closed is a harmless no-op", "[udp]") {
  TestLoop loop;
  HoldingHandler handler;
  auto listener = open_udp_listener(loop, handler);
  UdpClient client;
  REQUIRE(client.send_to(listener->local_address(), make_query(1)));
  REQUIRE(client.send_to(listener->local_address(), make_query(2)));
  REQUIRE(run_loop_until(loop.get(), [&] { return handler.held.size() == 2; }));

  bool done = false;
  auto start = Clock::now();
  listener->shutdown(100, [&] { done = true; });
  REQUIRE(run_loop_until(loop.get(), [&] { return done; }));
  CHECK(ms_since(start) >= 50);  // waited for the pending answers (grace 100 ms; coarse timers)
  listener.reset();
  handler.answer_all();  // the channel outlives the listener; delivery is dropped
  handler.held.clear();
  CHECK_FALSE(client.receive(100));
  loop.drain();
}

TEST_CASE("udp: shutdown waits for pending answers, then closes early", "[udp]") {
  TestLoop loop;
  EchoHandler handler([](std::span<const uint8_t>) { return 50u; });
  auto listener = open_udp_listener(loop, handler);
  UdpClient client;
  Bytes q = make_query(5);
  REQUIRE(client.send_to(listener->local_address(), q));
  REQUIRE(run_loop_until(loop.get(), [&] { return handler.handled.load() == 1; }));
  bool done = false;
  auto start = Clock::now();
  listener->shutdown(5000, [&] { done = true; });
  REQUIRE(run_loop_until(loop.get(), [&] { return done; }));
  CHECK(ms_since(start) < 2000);  // did not sit out the whole grace
  auto answer = client.receive(1000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, q));
  listener.reset();
  loop.drain();
}

TEST_CASE("udp: destroying a listener without shutdown is safe", "[udp]") {
  TestLoop loop;
  EchoHandler handler;
  auto listener = open_udp_listener(loop, handler);
  listener.reset();
  CHECK(loop.drain());
}

TEST_CASE("udp load: 1000 queries from 50 sockets to 2 workers are all answered", "[udp][load]") {
  EchoHandler handler([](std::span<const uint8_t> q) { return message_id(q) % 4 == 0 ? 5u : 0u; });
  UdpServer server(handler, 2);
  constexpr int kClients = 50;
  constexpr int kPerClient = 20;
  std::vector<UdpClient> clients(kClients);
  auto start = Clock::now();
  for (int c = 0; c < kClients; ++c) {
    for (int k = 0; k < kPerClient; ++k) {
      REQUIRE(clients[c].send_to(server.address, make_query(static_cast<uint16_t>(c * kPerClient + k))));
    }
  }
  int answered = 0;
  int wrong = 0;
  for (int c = 0; c < kClients; ++c) {
    for (int k = 0; k < kPerClient; ++k) {
      auto answer = clients[c].receive(5000);
      if (!answer) break;
      const uint16_t id = message_id(*answer);
      if (id / kPerClient != c || !((*answer)[2] & 0x80)) ++wrong;
      ++answered;
    }
  }
  const uint64_t elapsed = ms_since(start);
  CHECK(answered == kClients * kPerClient);
  CHECK(wrong == 0);
  CHECK(elapsed < 30000);
  CHECK(handler.per_worker[0].load() > 0);
  CHECK(handler.per_worker[1].load() > 0);
  uint64_t received = server.counters(0).received.get() + server.counters(1).received.get();
  CHECK(received == kClients * kPerClient);
  WARN("udp load: " << answered << " answers in " << elapsed << " ms; worker split "
                    << handler.per_worker[0].load() << "/" << handler.per_worker[1].load());
}

TEST_CASE("udp: random datagrams of every size up to 600 octets", "[udp][hostile]") {
  EchoHandler handler([](std::span<const uint8_t> q) { return q.size() % 3 == 0 ? 2u : 0u; });
  UdpServer server(handler);
  UdpClient client;
  uint32_t seed = 777;
  int expected = 0;
  for (size_t size = 0; size <= 600; size += 7) {
    Bytes junk(size);
    for (auto& b : junk) {
      seed = seed * 1664525u + 1013904223u;
      b = static_cast<uint8_t>(seed >> 24);
    }
    REQUIRE(client.send_to(server.address, junk));
    if (size >= 12) ++expected;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  int received = 0;
  while (client.receive(500)) ++received;
  CHECK(received == expected);
  CHECK(server.counters().too_short.get() == 2);  // sizes 0 and 7
}

namespace {

// Records the local address each query reports (Request::local).
class LocalRecordingHandler final : public QueryHandler {
 public:
  void handle(const Request& request, Responder responder) override {
    {
      std::lock_guard lock(mu);
      locals.push_back(request.local ? SocketAddress(request.local) : SocketAddress());
    }
    responder.respond(request.query);
  }
  std::mutex mu;
  std::vector<SocketAddress> locals;
};

SocketAddress v4(const char* text, uint16_t port) {
  SocketAddress a;
  REQUIRE(parse_address(text, port, a) == AddressError::ok);
  return a;
}

}  // namespace

TEST_CASE("udp: on a wildcard address each answer leaves from the address asked", "[udp]") {
  // 127.0.0.2 and 127.0.0.3 are this host's too; without IP_PKTINFO the
  // kernel answers a 127.0.0.1 client from 127.0.0.1, which a client that
  // asked 127.0.0.2 drops.
  for (bool async : {false, true}) {
    INFO((async ? "answered later" : "answered at once"));
    EchoHandler handler(async ? EchoHandler::DelayFn([](std::span<const uint8_t>) { return 20u; })
                              : EchoHandler::DelayFn());
    UdpServer server(handler, 1, {}, SocketAddress::ipv4_any(0));
    const uint16_t port = server.address.port();
    for (const char* asked : {"127.0.0.2", "127.0.0.3", "127.0.0.1"}) {
      UdpClient client;
      Bytes query = make_query(0x5151, "www.example.org", 1);
      REQUIRE(client.send_to(v4(asked, port), query));
      SocketAddress from;
      auto answer = client.receive(2000, &from);
      REQUIRE(answer);
      CHECK(is_echo_of(*answer, query));
      CHECK(from == v4(asked, port));
    }
  }
}

TEST_CASE("udp: on a wildcard address the request names the address asked", "[udp]") {
  LocalRecordingHandler handler;
  UdpServer server(handler, 1, {}, SocketAddress::ipv4_any(0));
  const uint16_t port = server.address.port();
  UdpClient client;
  REQUIRE(client.send_to(v4("127.0.0.4", port), make_query(7)));
  REQUIRE(client.receive(2000));
  std::lock_guard lock(handler.mu);
  REQUIRE(handler.locals.size() == 1);
  CHECK(handler.locals[0] == v4("127.0.0.4", port));
}

TEST_CASE("udp: a wildcard IPv6 socket answers ::1 from ::1", "[udp]") {
  EchoHandler handler;
  SocketAddress any6;
  REQUIRE(parse_address("::", 0, any6) == AddressError::ok);
  UdpServer server(handler, 1, {}, any6);
  UdpClient client(AF_INET6);
  SocketAddress to = SocketAddress::ipv6_loopback(server.address.port());
  Bytes query = make_query(9);
  REQUIRE(client.send_to(to, query));
  SocketAddress from;
  auto answer = client.receive(2000, &from);
  REQUIRE(answer);
  CHECK(from == to);
}
