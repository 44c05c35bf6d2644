// Answers given while libuv hands over a recvmmsg batch go out together with
// sendmmsg (UdpSendBatch); answers given later go out one by one.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/un.h>

#include <algorithm>
#include <set>

#include "tests/transports/udp_fixture.h"
#include "transports/udp_send_batch.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;

namespace {

// A non-blocking UDP socket bound to 127.0.0.1 on a free port.
struct BoundUdpSocket {
  BoundUdpSocket() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    SocketAddress any = SocketAddress::ipv4_loopback(0);
    REQUIRE(::bind(fd, any.get(), any.size()) == 0);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    address = SocketAddress(reinterpret_cast<const sockaddr*>(&ss));
  }
  ~BoundUdpSocket() { ::close(fd); }

  // The address `client` sends from, as this socket sees it. The client
  // has none until it sends, so it sends a query here first.
  SocketAddress address_of(const UdpClient& client) const {
    REQUIRE(client.send_to(address, make_query(1)));
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    REQUIRE(wait_readable(fd, 1000));
    uint8_t scratch[512];
    REQUIRE(::recvfrom(fd, scratch, sizeof scratch, 0, reinterpret_cast<sockaddr*>(&ss), &len) > 0);
    return SocketAddress(reinterpret_cast<const sockaddr*>(&ss));
  }

  int fd = -1;
  SocketAddress address;
};

Bytes numbered(uint16_t i, size_t size) {
  Bytes b(size, static_cast<uint8_t>(i));
  b[0] = static_cast<uint8_t>(i >> 8);
  b[1] = static_cast<uint8_t>(i);
  return b;
}

// Answers inside handle() with the echo padded to `answer_size` octets.
struct PaddedEchoHandler final : QueryHandler {
  explicit PaddedEchoHandler(size_t size) : answer_size(size) {}
  void handle(const Request& request, Responder responder) override {
    Bytes answer = echo_answer(request.query);
    if (answer.size() < answer_size) answer.resize(answer_size, 0);
    responder.respond(answer);
    ++handled;
  }
  size_t answer_size;
  size_t handled = 0;
};

// Sends `count` queries (IDs first_id...) to `to` and lets them queue in the
// server's socket, so the loop reads them in recvmmsg batches.
void send_queries(const UdpClient& client, const SocketAddress& to, uint16_t first_id, size_t count,
                  std::vector<Bytes>* sent = nullptr) {
  for (size_t i = 0; i < count; ++i) {
    Bytes q = make_query(static_cast<uint16_t>(first_id + i));
    REQUIRE(client.send_to(to, q));
    if (sent) sent->push_back(std::move(q));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// Receives `count` answers and checks that each query got its own echo
// exactly once (answers of one batch may arrive in any order).
void expect_echoes(const UdpClient& client, const std::vector<Bytes>& queries) {
  std::vector<bool> seen(queries.size() + 1, false);
  for (size_t i = 0; i < queries.size(); ++i) {
    auto a = client.receive(1000);
    REQUIRE(a);
    const uint16_t id = message_id(*a);  // the queries' IDs are 1..n
    REQUIRE(id >= 1);
    REQUIRE(id <= queries.size());
    CHECK_FALSE(seen[id]);
    seen[id] = true;
    CHECK(is_echo_of(*a, queries[id - 1]));
  }
}

}  // namespace

TEST_CASE("udp batch: one sendmmsg sends every datagram in order", "[udp][batch]") {
  BoundUdpSocket server;
  UdpClient client;
  SocketAddress client_address = server.address_of(client);

  UdpSendBatch batch;
  constexpr size_t kCount = 30;
  for (uint16_t i = 0; i < kCount; ++i) REQUIRE(batch.add(client_address.get(), numbered(i, 20 + i)));
  CHECK(batch.size() == kCount);
  UdpSendBatch::SendStats stats;
  CHECK(batch.send(server.fd, stats) == kCount);
  CHECK(stats.sent == kCount);
  CHECK(stats.failed == 0);
  CHECK(stats.syscalls == 1);
  for (uint16_t i = 0; i < kCount; ++i) {
    auto got = client.receive(1000);
    REQUIRE(got);
    CHECK(*got == numbered(i, 20 + i));
  }
  batch.clear();
  CHECK(batch.empty());
}

TEST_CASE("udp batch: full by count or by bytes refuses without copying", "[udp][batch]") {
  UdpSendBatch batch;
  SocketAddress to = SocketAddress::ipv4_loopback(9);
  for (size_t i = 0; i < UdpSendBatch::kMaxDatagrams; ++i) REQUIRE(batch.add(to.get(), numbered(1, 12)));
  CHECK_FALSE(batch.add(to.get(), numbered(2, 12)));
  CHECK(batch.size() == UdpSendBatch::kMaxDatagrams);

  batch.clear();
  Bytes big(40000, 0xab);
  REQUIRE(batch.add(to.get(), big));
  CHECK_FALSE(batch.add(to.get(), big));  // 80,000 octets exceed the arena
  CHECK(batch.size() == 1);
  batch.clear();
  Bytes largest(65507, 0xcd);  // the largest IPv4 UDP payload fits an empty batch
  REQUIRE(batch.add(to.get(), largest));
  CHECK(batch.datagram(0).size() == largest.size());
  CHECK(std::equal(largest.begin(), largest.end(), batch.datagram(0).begin()));
  CHECK(batch.peer(0)->sa_family == AF_INET);
}

TEST_CASE("udp batch: a refused datagram is skipped and the rest still go out", "[udp][batch]") {
  BoundUdpSocket server;
  UdpClient client;
  SocketAddress client_address = server.address_of(client);
  SocketAddress v6 = SocketAddress::ipv6_loopback(53);  // an IPv4 socket cannot send there

  UdpSendBatch batch;
  REQUIRE(batch.add(client_address.get(), numbered(1, 16)));
  REQUIRE(batch.add(v6.get(), numbered(2, 16)));
  REQUIRE(batch.add(client_address.get(), numbered(3, 16)));
  UdpSendBatch::SendStats stats;
  CHECK(batch.send(server.fd, stats) == 3);
  CHECK(stats.sent == 2);
  CHECK(stats.failed == 1);
  auto first = client.receive(1000);
  auto second = client.receive(1000);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(*first == numbered(1, 16));
  CHECK(*second == numbered(3, 16));
}

TEST_CASE("udp batch: a full socket buffer stops the send at EAGAIN", "[udp][batch]") {
  // A datagram socket pair keeps sent datagrams charged to the sender until
  // the receiver reads them, so a small send buffer fills (UDP on loopback
  // never does: the receiver drops instead).
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) == 0);
  int small = 4096;
  ::setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);

  UdpSendBatch batch;
  for (uint16_t i = 0; i < 40; ++i) REQUIRE(batch.add(nullptr, numbered(i, 1000)));
  UdpSendBatch::SendStats stats;
  const size_t unsent = batch.send(pair[0], stats);
  CHECK(unsent < batch.size());
  CHECK(unsent > 0);
  CHECK(stats.sent == unsent);
  CHECK(stats.failed == 0);
  size_t received = 0;
  uint8_t buf[2048];
  while (::recv(pair[1], buf, sizeof buf, 0) == 1000) {
    CHECK(buf[1] == static_cast<uint8_t>(received));
    ++received;
  }
  CHECK(received == unsent);
  ::close(pair[0]);
  ::close(pair[1]);
}

TEST_CASE("udp: many queries of one recvmmsg batch are all answered with few sendmmsg calls",
          "[udp][batch]") {
  TestLoop loop;
  EchoHandler handler;
  auto listener = open_udp_listener(loop, handler);
  REQUIRE(listener->using_recvmmsg());
  UdpClient client;
  constexpr size_t kQueries = 100;
  std::vector<Bytes> queries;
  send_queries(client, listener->local_address(), 1, kQueries, &queries);

  REQUIRE(run_loop_until(loop.get(), [&] { return handler.handled.load() == kQueries; }));
  expect_echoes(client, queries);
  const auto& c = listener->counters();
  CHECK(c.answered.get() == kQueries);
  CHECK(c.answers_batched.get() == kQueries);
  CHECK(c.answers_queued.get() == 0);
  // At most 64 datagrams per recvmmsg, each batch one sendmmsg.
  CHECK(c.batch_sends.get() >= (kQueries + 63) / 64);
  CHECK(c.batch_sends.get() < kQueries / 2);
  listener.reset();
  loop.drain();
}

TEST_CASE("udp: a batch of large answers is sent in several parts", "[udp][batch]") {
  TestLoop loop;
  PaddedEchoHandler handler(8000);  // 20 of these exceed one batch's 64 KiB
  auto listener = open_udp_listener(loop, handler);
  UdpClient client;
  constexpr size_t kQueries = 40;
  send_queries(client, listener->local_address(), 1, kQueries);
  REQUIRE(run_loop_until(loop.get(), [&] { return handler.handled == kQueries; }));
  std::set<uint16_t> ids;
  for (size_t i = 0; i < kQueries; ++i) {
    auto a = client.receive(1000);
    REQUIRE(a);
    CHECK(a->size() == 8000);
    ids.insert(message_id(*a));
  }
  CHECK(ids.size() == kQueries);
  CHECK(listener->counters().answers_batched.get() == kQueries);
  listener.reset();
  loop.drain();
}

TEST_CASE("udp: synchronous and asynchronous answers mixed in one batch", "[udp][batch]") {
  TestLoop loop;
  // Odd IDs are answered inside handle(), even IDs 5 ms later from a timer.
  EchoHandler handler([](std::span<const uint8_t> q) { return message_id(q) % 2 == 0 ? 5u : 0u; });
  auto listener = open_udp_listener(loop, handler);
  UdpClient client;
  constexpr size_t kQueries = 60;
  std::vector<Bytes> queries;
  send_queries(client, listener->local_address(), 1, kQueries, &queries);

  REQUIRE(run_loop_until(loop.get(), [&] {
    return handler.handled.load() == kQueries && handler.async_answered.load() == kQueries / 2;
  }));
  expect_echoes(client, queries);
  const auto& c = listener->counters();
  CHECK(c.answered.get() == kQueries);
  CHECK(c.answers_batched.get() == kQueries / 2);  // only the synchronous ones
  CHECK(c.pending.get() == 0);
  listener.reset();
  loop.drain();
}

namespace {

// Answers inside handle(), and shuts the listener down from inside handle()
// at the `stop_at`-th query: libuv then ends the batch without the
// UV_UDP_MMSG_FREE call.
struct ShutdownInsideHandler final : QueryHandler {
  void handle(const Request& request, Responder responder) override {
    responder.respond(echo_answer(request.query));
    if (++handled == stop_at) listener->shutdown(100, [this] { shut = true; });
  }
  UdpListener* listener = nullptr;
  size_t stop_at = 5;
  size_t handled = 0;
  bool shut = false;
};

}  // namespace

TEST_CASE("udp: answers of a batch still go out when the handler shuts the listener down",
          "[udp][batch]") {
  TestLoop loop;
  ShutdownInsideHandler handler;
  auto listener = open_udp_listener(loop, handler);
  handler.listener = listener.get();
  UdpClient client;
  send_queries(client, listener->local_address(), 1, 10);
  REQUIRE(run_loop_until(loop.get(), [&] { return handler.shut; }));
  CHECK(handler.handled == handler.stop_at);  // receiving stopped inside the batch
  for (size_t i = 0; i < handler.stop_at; ++i) CHECK(client.receive(1000));
  CHECK(listener->counters().answered.get() == handler.stop_at);
  listener.reset();
  loop.drain();
}
