// The persistent upstream client (UpstreamPool) against Sextant's own
// DoT, DoH, DoQ and TCP listeners in a server thread: many queries on one
// connection, answers out of order with the caller's IDs, TLS sessions
// resumed after an idle close, authentication by name and by SPKI pin with
// no query reaching a server that fails it, timeouts, cancels, refusals.
#include <catch2/catch.hpp>

#include <openssl/pem.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "tests/transports/encrypted_support.h"
#include "transports/doh_listener.h"
#include "transports/doq_listener.h"
#include "transports/dot_listener.h"
#include "transports/tcp_listener.h"
#include "transports/upstream_pool.h"
#include "transports/upstream_tls.h"

using namespace sextant::transports;
using namespace sextant::transports::test;
using namespace std::chrono_literals;

namespace {

enum class Kind { dot, doh, doq, tcp };

// One listener of `kind` with the echo handler, in its own thread.
struct Server {
  explicit Server(Kind kind, unsigned idle_ms = 2000) : handler(300), cert(make_test_cert("pool")) {
    TlsFiles files{cert.cert, cert.key};
    server = std::make_unique<ServerThread>(
        [kind, idle_ms, files](const WorkerContext& worker, uint16_t& port) -> std::unique_ptr<Listener> {
          switch (kind) {
            case Kind::dot: {
              DotListenerConfig c;
              c.stream.address = "127.0.0.1";
              c.stream.port = 0;
              c.stream.idle_timeout_ms = idle_ms;
              auto l = std::make_unique<DotListener>(worker, c, make_dot_tls_context(files));
              port = l->port();
              return l;
            }
            case Kind::doh: {
              DohListenerConfig c;
              c.stream.address = "127.0.0.1";
              c.stream.port = 0;
              c.stream.idle_timeout_ms = idle_ms;
              auto l = std::make_unique<DohListener>(worker, c, make_doh_tls_context(files));
              port = l->port();
              return l;
            }
            case Kind::doq: {
              DoqListenerConfig c;
              c.address = "127.0.0.1";
              c.port = 0;
              c.idle_timeout_ms = idle_ms;
              auto l = std::make_unique<DoqListener>(worker, c, make_doq_tls_context(files));
              port = l->port();
              return l;
            }
            case Kind::tcp: {
              TcpListenerConfig c;
              c.address = parse_address_or_throw("127.0.0.1", 0);
              c.idle_timeout_ms = idle_ms;
              auto l = TcpListener::open(worker, c);
              port = l->local_address().port();
              return l;
            }
          }
          return nullptr;
        },
        handler);
  }
  ~Server() { server.reset(); }  // before the certificate's directory goes
  uint16_t port() const { return server->port(); }

  EchoHandler handler;
  TestCert cert;
  std::unique_ptr<ServerThread> server;
};

UpstreamChannel channel_of(Kind kind) {
  switch (kind) {
    case Kind::dot: return UpstreamChannel::tls;
    case Kind::doh: return UpstreamChannel::https;
    case Kind::doq: return UpstreamChannel::quic;
    case Kind::tcp: return UpstreamChannel::tcp;
  }
  return UpstreamChannel::tcp;
}

UpstreamEndpoint endpoint_for(const Server& s, Kind kind, std::string tls_name = "localhost") {
  UpstreamEndpoint e;
  auto* sin = reinterpret_cast<sockaddr_in*>(&e.address);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(s.port());
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  e.channel = channel_of(kind);
  if (kind != Kind::tcp) {
    e.tls_name = std::move(tls_name);
    e.ca_file = s.cert.cert;
  }
  e.http_host = "localhost";
  e.http_path = "/dns-query";
  e.label = std::string(to_string(e.channel)) + "-test";
  return e;
}

std::array<uint8_t, 32> pin_of(const std::string& cert_file) {
  std::array<uint8_t, 32> pin{};
  FILE* f = std::fopen(cert_file.c_str(), "r");
  REQUIRE(f);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(x);
  REQUIRE(spki_sha256(x, pin));
  X509_free(x);
  return pin;
}

// A client loop on the test thread driving one pool.
struct Client {
  uv_loop_t loop{};
  std::unique_ptr<UpstreamPool> pool;
  std::map<UpstreamQueryId, UpstreamResult> results;

  explicit Client(UpstreamPoolConfig config = {}) {
    uv_loop_init(&loop);
    pool = std::make_unique<UpstreamPool>(&loop, config);
  }
  ~Client() {
    bool done = false;
    pool->shutdown([&] { done = true; });
    for (int i = 0; i < 200 && !done; ++i) uv_run(&loop, UV_RUN_NOWAIT), std::this_thread::sleep_for(1ms);
    pool.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  UpstreamQueryId send(uint32_t endpoint, std::string_view name, uint16_t id, uint32_t timeout_ms = 3000) {
    auto holder = std::make_shared<UpstreamQueryId>(0);
    UpstreamQueryId qid = pool->send(endpoint, make_query(name, 1, id), timeout_ms,
                                     [this, holder](UpstreamResult r) { results[*holder] = std::move(r); });
    *holder = qid;
    return qid;
  }
  // Runs the loop until `n` results are in or `limit` passes.
  void wait_for(size_t n, std::chrono::milliseconds limit = 5000ms) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (results.size() < n && std::chrono::steady_clock::now() < end) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(1ms);
    }
  }
  void run_for(std::chrono::milliseconds d) {
    auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(1ms);
    }
  }
  UpstreamEndpointStats stats(size_t index = 0) const { return pool->stats().at(index); }
};

uint16_t id_of(const std::vector<uint8_t>& packet) { return static_cast<uint16_t>(packet[0] << 8 | packet[1]); }

}  // namespace

TEST_CASE("upstream pool: many queries on one connection, answers with the caller's IDs", "[upstream_pool]") {
  const Kind kind = GENERATE(Kind::dot, Kind::doh, Kind::doq, Kind::tcp);
  INFO("channel " << to_string(channel_of(kind)));
  Server server(kind);
  Client client;
  uint32_t ep = client.pool->endpoint(endpoint_for(server, kind));
  // The same endpoint twice is the same id.
  CHECK(client.pool->endpoint(endpoint_for(server, kind)) == ep);
  // "slow" is answered 300 ms later: the others must not wait for it.
  UpstreamQueryId slow = client.send(ep, "slow.example", 0x1111);
  UpstreamQueryId a = client.send(ep, "a.example", 0x2222);
  UpstreamQueryId b = client.send(ep, "b.example", 0x2222);  // the same ID twice: fine
  client.wait_for(2, 3000ms);
  REQUIRE(client.results.count(a));
  REQUIRE(client.results.count(b));
  CHECK_FALSE(client.results.count(slow));  // out of order: a and b came first
  client.wait_for(3);
  REQUIRE(client.results.size() == 3);
  for (auto id : {slow, a, b}) {
    const UpstreamResult& r = client.results[id];
    INFO(r.detail);
    REQUIRE(r.status == UpstreamStatus::ok);
  }
  CHECK(id_of(client.results[slow].response) == 0x1111);
  CHECK(id_of(client.results[a].response) == 0x2222);
  CHECK(question_name(client.results[b].response) == "b.example");
  auto stats = client.stats();
  CHECK(stats.queries == 3);
  CHECK(stats.answers == 3);
  CHECK(stats.connections_opened == 1);
  CHECK(stats.reused_queries == 2);
  CHECK(stats.open_connections == 1);
  CHECK(stats.handshakes == (kind == Kind::tcp ? 0u : 1u));
  CHECK(server.handler.handled.load() == 3);
}

TEST_CASE("upstream pool: an idle connection closes; the next one resumes the TLS session", "[upstream_pool]") {
  const Kind kind = GENERATE(Kind::dot, Kind::doh);
  Server server(kind);
  UpstreamPoolConfig config;
  config.idle_timeout_ms = 150;
  Client client(config);
  uint32_t ep = client.pool->endpoint(endpoint_for(server, kind));
  client.send(ep, "one.example", 1);
  client.wait_for(1);
  client.run_for(400ms);
  CHECK(client.stats().open_connections == 0);
  client.send(ep, "two.example", 2);
  client.wait_for(2);
  REQUIRE(client.results.size() == 2);
  for (auto& [id, r] : client.results) CHECK(r.status == UpstreamStatus::ok);
  auto stats = client.stats();
  CHECK(stats.connections_opened == 2);
  CHECK(stats.handshakes == 1);
  CHECK(stats.resumed_handshakes == 1);
}

TEST_CASE("upstream pool: a wrong name or pin fails authentication; no query reaches the server",
          "[upstream_pool][tls]") {
  const Kind kind = GENERATE(Kind::dot, Kind::doh, Kind::doq);
  INFO("channel " << to_string(channel_of(kind)));
  Server server(kind);
  Client client;
  SECTION("a name the certificate does not carry") {
    uint32_t ep = client.pool->endpoint(endpoint_for(server, kind, "dns.example"));
    auto id = client.send(ep, "a.example", 7);
    client.wait_for(1);
    REQUIRE(client.results.count(id));
    CHECK(client.results[id].status == UpstreamStatus::auth_failed);
    CHECK_THAT(client.results[id].detail, Catch::Contains("certificate"));
    CHECK(client.stats().auth_failures == 1);
  }
  SECTION("a pin of another key") {
    UpstreamEndpoint e = endpoint_for(server, kind, "");
    e.ca_file.clear();
    std::array<uint8_t, 32> wrong{};
    wrong.fill(0x42);
    e.spki_pins = {wrong};
    uint32_t ep = client.pool->endpoint(e);
    auto id = client.send(ep, "a.example", 7);
    client.wait_for(1);
    REQUIRE(client.results.count(id));
    CHECK(client.results[id].status == UpstreamStatus::auth_failed);
    CHECK_THAT(client.results[id].detail, Catch::Contains("spki-pin"));
  }
  SECTION("an unknown CA (the system's bundle does not hold the test certificate)") {
    UpstreamEndpoint e = endpoint_for(server, kind);
    e.ca_file.clear();
    uint32_t ep = client.pool->endpoint(e);
    auto id = client.send(ep, "a.example", 7);
    client.wait_for(1);
    REQUIRE(client.results.count(id));
    CHECK(client.results[id].status == UpstreamStatus::auth_failed);
  }
  CHECK(server.handler.handled.load() == 0);
}

TEST_CASE("upstream pool: the right pin alone authenticates a self-signed server", "[upstream_pool][tls]") {
  const Kind kind = GENERATE(Kind::dot, Kind::doh, Kind::doq);
  Server server(kind);
  Client client;
  UpstreamEndpoint e = endpoint_for(server, kind, "");
  e.ca_file.clear();
  e.spki_pins = {pin_of(server.cert.cert)};
  uint32_t ep = client.pool->endpoint(e);
  auto id = client.send(ep, "pinned.example", 9);
  client.wait_for(1);
  REQUIRE(client.results.count(id));
  INFO(client.results[id].detail);
  CHECK(client.results[id].status == UpstreamStatus::ok);
  // Name and pin together: both must hold.
  UpstreamEndpoint both = endpoint_for(server, kind);
  both.spki_pins = {pin_of(server.cert.cert)};
  auto id2 = client.send(client.pool->endpoint(both), "both.example", 10);
  client.wait_for(2);
  CHECK(client.results[id2].status == UpstreamStatus::ok);
}

TEST_CASE("upstream pool: refused connections, timeouts, cancels, a bad CA file", "[upstream_pool]") {
  Client client;
  SECTION("nothing listens: a network error at once") {
    uint16_t port = find_free_port(parse_address_or_throw("127.0.0.1", 0));
    UpstreamEndpoint e;
    auto* sin = reinterpret_cast<sockaddr_in*>(&e.address);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    e.channel = UpstreamChannel::tls;
    e.tls_name = "localhost";
    e.label = "dead";
    auto start = std::chrono::steady_clock::now();
    auto id = client.send(client.pool->endpoint(e), "a.example", 1);
    client.wait_for(1);
    REQUIRE(client.results.count(id));
    CHECK(client.results[id].status == UpstreamStatus::network_error);
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    CHECK(client.stats().connect_failures == 1);
  }
  SECTION("an unanswered query times out; a cancelled one never calls back") {
    Server server(Kind::dot);
    uint32_t ep = client.pool->endpoint(endpoint_for(server, Kind::dot));
    auto dropped = client.send(ep, "drop.example", 1, 300);
    auto cancelled = client.send(ep, "slow.example", 2);
    CHECK(client.pool->cancel(cancelled));
    CHECK_FALSE(client.pool->cancel(cancelled));
    client.wait_for(1);
    client.run_for(500ms);
    REQUIRE(client.results.count(dropped));
    CHECK(client.results[dropped].status == UpstreamStatus::timeout);
    CHECK_FALSE(client.results.count(cancelled));
    CHECK(client.stats().timeouts == 1);
  }
  SECTION("a CA file that cannot be loaded fails every query, naming it") {
    UpstreamEndpoint e;
    auto* sin = reinterpret_cast<sockaddr_in*>(&e.address);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(853);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    e.channel = UpstreamChannel::tls;
    e.tls_name = "localhost";
    e.ca_file = "/nonexistent/ca.pem";
    e.label = "badca";
    auto id = client.send(client.pool->endpoint(e), "a.example", 1);
    client.wait_for(1);
    REQUIRE(client.results.count(id));
    CHECK(client.results[id].status == UpstreamStatus::auth_failed);
    CHECK_THAT(client.results[id].detail, Catch::Contains("/nonexistent/ca.pem"));
  }
}

TEST_CASE("upstream pool: a connection the server closed when idle is replaced", "[upstream_pool]") {
  const Kind kind = GENERATE(Kind::dot, Kind::tcp);
  Server server(kind, /*idle_ms=*/200);
  Client client;  // our idle timeout (10 s) is longer than the server's
  uint32_t ep = client.pool->endpoint(endpoint_for(server, kind));
  client.send(ep, "one.example", 1);
  client.wait_for(1);
  client.run_for(500ms);  // the server closes its side meanwhile
  client.send(ep, "two.example", 2);
  client.wait_for(2);
  REQUIRE(client.results.size() == 2);
  for (auto& [id, r] : client.results) {
    INFO(r.detail);
    CHECK(r.status == UpstreamStatus::ok);
  }
  CHECK(client.stats().connections_opened == 2);
}

TEST_CASE("upstream pool: rounds of queries keep using the one connection", "[upstream_pool]") {
  // An answered DoQ stream used to be counted off twice when the pool let go
  // of the query: the connection then looked full and a new one was opened.
  const Kind kind = GENERATE(Kind::dot, Kind::doh, Kind::doq);
  INFO("channel " << to_string(channel_of(kind)));
  Server server(kind);
  Client client;
  uint32_t ep = client.pool->endpoint(endpoint_for(server, kind));
  size_t expected = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 4; ++i) client.send(ep, "r" + std::to_string(round) + "q" + std::to_string(i) + ".example", 1);
    expected += 4;
    client.wait_for(expected);
  }
  REQUIRE(client.results.size() == expected);
  auto stats = client.stats();
  CHECK(stats.answers == expected);
  CHECK(stats.connections_opened == 1);
  CHECK(stats.open_connections == 1);
}
