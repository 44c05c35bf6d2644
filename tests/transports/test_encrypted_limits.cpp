// Abusive DoT and DoH connections (issue 16 §6): idle eviction when full,
// the per-client cap, a TLS slowloris, slow requests, HTTP/2 rapid reset
// and PING/SETTINGS floods.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tests/transports/doh_fixture.h"
#include "tests/transports/dot_fixture.h"
#include "transports/transport_metrics.h"

using namespace sextant::transports;
using namespace sextant::transports::test;

namespace {

using Clock = std::chrono::steady_clock;

bool eventually(const std::function<bool()>& condition, unsigned timeout_ms = 5000) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

bool answers(TlsTestClient& client, const std::string& name) {
  auto query = make_query(name);
  if (!client.send_frame(query)) return false;
  auto answer = client.read_frame();
  return answer && is_echo_answer(*answer, query);
}

}  // namespace

TEST_CASE("DoT: when full, a new connection evicts the least recently active idle one", "[dot][limits]") {
  auto config = DotFixture::test_config();
  config.stream.max_connections = 2;
  DotFixture f(config);
  auto before = snapshot(transport_counters(Transport::dot));
  TlsTestClient one(f.port(), f.client_options());
  TlsTestClient two(f.port(), f.client_options());
  REQUIRE(one.handshake_ok());
  REQUIRE(two.handshake_ok());
  REQUIRE(answers(two, "two.example"));
  REQUIRE(answers(one, "one.example"));  // one is now the most recently active
  TlsTestClient three(f.port(), f.client_options());
  REQUIRE(three.handshake_ok());
  CHECK(answers(three, "three.example"));
  CHECK(two.closed_by_peer(2000));
  CHECK(answers(one, "one-again.example"));
  auto after = snapshot(transport_counters(Transport::dot));
  CHECK(after.evicted_idle >= before.evicted_idle + 1);
}

TEST_CASE("DoT: the per-client cap closes a client's extra connections", "[dot][limits]") {
  auto config = DotFixture::test_config();
  auto table = std::make_shared<ClientConnectionTable>(2);
  config.stream.client_limits = table;
  DotFixture f(config);
  sockaddr_storage loopback{};
  REQUIRE(make_ip_socket_address("127.0.0.1", 0, loopback));
  const ClientKey client = ClientKey::of(reinterpret_cast<const sockaddr*>(&loopback));
  auto before = snapshot(transport_counters(Transport::dot));
  auto one = std::make_unique<TlsTestClient>(f.port(), f.client_options());
  TlsTestClient two(f.port(), f.client_options());
  REQUIRE(one->handshake_ok());
  REQUIRE(two.handshake_ok());
  TlsTestClient three(f.port(), f.client_options());
  CHECK_FALSE(three.handshake_ok());
  auto after = snapshot(transport_counters(Transport::dot));
  CHECK(after.refused_per_client >= before.refused_per_client + 1);
  one.reset();
  REQUIRE(eventually([&] { return table->count(client) == 1; }));
  TlsTestClient four(f.port(), f.client_options());
  REQUIRE(four.handshake_ok());
  CHECK(answers(four, "four.example"));
}

TEST_CASE("DoT: a ClientHello trickled one octet at a time is closed at the handshake timeout", "[dot][limits]") {
  auto config = DotFixture::test_config();
  config.stream.handshake_timeout_ms = 500;
  DotFixture f(config);
  auto before = snapshot(transport_counters(Transport::dot));
  int fd = connect_tcp(f.port());
  REQUIRE(fd >= 0);
  // A TLS record header announcing a 512-octet handshake message, then its
  // octets one by one: each read used to be harmless, but none may extend
  // the deadline.
  std::vector<uint8_t> hello = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
  hello.resize(64, 0x42);
  auto start = Clock::now();
  bool closed = false;
  for (size_t i = 0; i < hello.size() && Clock::now() - start < std::chrono::seconds(3); ++i) {
    if (::send(fd, &hello[i], 1, MSG_NOSIGNAL) != 1) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK((closed || wait_for_close(fd, 2000)));
  ::close(fd);
  CHECK(Clock::now() - start < std::chrono::milliseconds(2500));
  auto after = snapshot(transport_counters(Transport::dot));
  CHECK(after.handshake_timeouts >= before.handshake_timeouts + 1);
}

TEST_CASE("DoT: a query trickled one octet at a time meets the idle timeout", "[dot][limits]") {
  auto config = DotFixture::test_config();
  config.stream.idle_timeout_ms = 400;
  DotFixture f(config);
  auto before = snapshot(transport_counters(Transport::dot));
  TlsTestClient client(f.port(), f.client_options());
  REQUIRE(client.handshake_ok());
  auto query = make_query("a-name-long-enough-to-trickle-for-a-while.example");
  std::vector<uint8_t> framed = {static_cast<uint8_t>(query.size() >> 8), static_cast<uint8_t>(query.size())};
  framed.insert(framed.end(), query.begin(), query.end());
  auto start = Clock::now();
  for (size_t i = 0; i + 1 < framed.size() && Clock::now() - start < std::chrono::seconds(3); ++i) {
    if (!client.write(std::span<const uint8_t>(&framed[i], 1))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(client.closed_by_peer(2000));
  CHECK(Clock::now() - start < std::chrono::milliseconds(3500));
  auto after = snapshot(transport_counters(Transport::dot));
  CHECK(after.request_timeouts >= before.request_timeouts + 1);
}

TEST_CASE("DoH over HTTP/1.1: slow headers meet the idle timeout", "[doh][limits]") {
  auto config = DohFixture::test_config();
  config.stream.idle_timeout_ms = 400;
  DohFixture f(config);
  auto before = snapshot(transport_counters(Transport::doh));
  TlsTestClient tls(f.port(), f.client_options({"http/1.1"}));
  REQUIRE(tls.handshake_ok());
  const std::string head = "GET /dns-query?dns=" + base64url(make_query("slow-headers.example", 1, 0)) +
                           " HTTP/1.1\r\nHost: localhost\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  auto start = Clock::now();
  for (size_t i = 0; i < head.size() && Clock::now() - start < std::chrono::seconds(3); ++i) {
    if (!tls.write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&head[i]), 1))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(tls.closed_by_peer(2000));
  CHECK(Clock::now() - start < std::chrono::milliseconds(3500));
  auto after = snapshot(transport_counters(Transport::doh));
  CHECK(after.request_timeouts >= before.request_timeouts + 1);
}

TEST_CASE("DoH over HTTP/2: rapid reset ends the connection with ENHANCE_YOUR_CALM", "[doh][limits]") {
  DohFixture f;
  auto before = snapshot(transport_counters(Transport::doh));
  TlsTestClient tls(f.port(), f.client_options());
  REQUIRE(tls.handshake_ok());
  H2TestClient h2(tls_sender(tls), tls_receiver(tls));
  const std::string path = "/dns-query?dns=" + base64url(make_query("slow.rapid.example", 1, 0));
  // HEADERS then RST_STREAM, again and again (CVE-2023-44487); bounded.
  for (int i = 0; i < 400 && !h2.peer_closed; ++i) {
    int32_t id = h2.submit("GET", path);
    if (!h2.flush()) break;
    h2.reset(id);
    if (!h2.flush()) break;
  }
  CHECK(h2.wait_for_peer_close(3000));
  // Resets sent after the server closed may make its kernel answer with a
  // TCP RST that discards the GOAWAY before the client reads it.
  CHECK((h2.goaway_error() == NGHTTP2_ENHANCE_YOUR_CALM || h2.goaway_error() == -1));
  auto after = snapshot(transport_counters(Transport::doh));
  CHECK(after.flood_closes >= before.flood_closes + 1);
  // The listener still serves others.
  TlsTestClient other(f.port(), f.client_options());
  REQUIRE(other.handshake_ok());
  H2TestClient fine(tls_sender(other), tls_receiver(other));
  int32_t id = fine.submit("GET", "/dns-query?dns=" + base64url(make_query("after.example", 1, 0)));
  REQUIRE(fine.run());
  CHECK(fine.responses[id].status == 200);
}

TEST_CASE("DoH over HTTP/2: PING and SETTINGS floods end the connection", "[doh][limits]") {
  DohFixture f;
  for (bool use_ping : {true, false}) {
    auto before = snapshot(transport_counters(Transport::doh));
    TlsTestClient tls(f.port(), f.client_options());
    REQUIRE(tls.handshake_ok());
    H2TestClient h2(tls_sender(tls), tls_receiver(tls));
    // 150 frames: over the budget of 100.
    for (int i = 0; i < 150; ++i) {
      if (use_ping) h2.ping();
      else h2.settings();
    }
    REQUIRE(h2.flush());
    CHECK(h2.wait_for_peer_close(3000));
    // (A TCP RST for frames still in flight may discard the GOAWAY.)
    CHECK((h2.goaway_error() == NGHTTP2_ENHANCE_YOUR_CALM || h2.goaway_error() == -1));
    auto after = snapshot(transport_counters(Transport::doh));
    CHECK(after.flood_closes >= before.flood_closes + 1);
  }
}

TEST_CASE("DoH over HTTP/2: answered requests earn back the flood budget", "[doh][limits]") {
  // 60 requests, each followed by a PING: 60 PINGs plus the SETTINGS stay
  // within the budget because every answered stream earns a token back.
  DohFixture f;
  auto before = snapshot(transport_counters(Transport::doh));
  TlsTestClient tls(f.port(), f.client_options());
  REQUIRE(tls.handshake_ok());
  H2TestClient h2(tls_sender(tls), tls_receiver(tls));
  for (int round = 0; round < 3; ++round) {
    std::vector<int32_t> ids;
    for (int i = 0; i < 60; ++i) {
      ids.push_back(h2.submit("GET", "/dns-query?dns=" + base64url(make_query("ok.example", 1, 0))));
      h2.ping();
    }
    REQUIRE(h2.run());
    for (int32_t id : ids) CHECK(h2.responses[id].status == 200);
  }
  CHECK_FALSE(h2.peer_closed);
  auto after = snapshot(transport_counters(Transport::doh));
  CHECK(after.flood_closes == before.flood_closes);
}

TEST_CASE("DoT: an unfinished TLS record counts in the buffered-bytes gauge until the connection ends",
          "[dot][limits]") {
  DotFixture f;
  const uint64_t before = snapshot(transport_counters(Transport::dot)).buffered_bytes;
  {
    TlsTestClient client(f.port(), f.client_options());
    REQUIRE(client.handshake_ok());
    // A record header announcing 16,000 octets, then 5,000 of them: OpenSSL
    // keeps them in the read BIO waiting for the rest.
    std::vector<uint8_t> partial = {0x17, 0x03, 0x03, 16000 >> 8, 16000 & 0xff};
    partial.resize(5 + 5000, 0x42);
    REQUIRE(::send(client.fd(), partial.data(), partial.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(partial.size()));
    CHECK(eventually([&] { return snapshot(transport_counters(Transport::dot)).buffered_bytes >= before + 5000; }));
  }
  CHECK(eventually([&] { return snapshot(transport_counters(Transport::dot)).buffered_bytes <= before; }));
}

TEST_CASE("DoH over HTTP/2: the HPACK tables count in the buffered-bytes gauge", "[doh][limits]") {
  DohFixture f;
  const uint64_t before = snapshot(transport_counters(Transport::doh)).buffered_bytes;
  {
    TlsTestClient tls(f.port(), f.client_options());
    REQUIRE(tls.handshake_ok());
    H2TestClient h2(tls_sender(tls), tls_receiver(tls));
    // nghttp2's client indexes the header: the server's decoder keeps it.
    int32_t id = h2.submit("GET", "/dns-query?dns=" + base64url(make_query("hpack.example", 1, 0)),
                           {{"x-padding", std::string(3000, 'p')}});
    REQUIRE(h2.run());
    CHECK(h2.responses[id].status == 200);
    CHECK(eventually([&] { return snapshot(transport_counters(Transport::doh)).buffered_bytes >= before + 3000; }));
  }
  CHECK(eventually([&] { return snapshot(transport_counters(Transport::doh)).buffered_bytes <= before; }));
}
