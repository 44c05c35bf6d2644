// DNS over QUIC listener: kdig +quic (the one DoQ client on Debian 12),
// Retry address validation, ALPN, limits, hostile datagrams, reload.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "tests/transports/doq_fixture.h"
#include "transports/transport_metrics.h"

using namespace sextant::transports;
using namespace sextant::transports::test;

TEST_CASE("kdig +quic gets a verified answer", "[doq][external]") {
  if (missing_program("kdig")) return;
  DoqFixture f;
  auto before = snapshot(transport_counters(Transport::doq));
  auto r = f.kdig("a.example");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(has_answer(r));
  CHECK(r.output.find("QUIC session") != std::string::npos);
  auto transports = f.handler.transports();
  REQUIRE(transports.size() == 1);
  CHECK(transports[0] == Transport::doq);
  auto after = snapshot(transport_counters(Transport::doq));
  CHECK(after.handshakes_completed >= before.handshakes_completed + 1);
  CHECK(after.queries >= before.queries + 1);
  CHECK(after.responses >= before.responses + 1);
  // Verification against the wrong name fails (kdig exits non-zero).
  auto wrong = run_command(f.verifying_command("kdig", "wrong.example") + " b.example A +quic");
  INFO(wrong.output);
  CHECK(wrong.exit_code != 0);
  CHECK_FALSE(has_answer(wrong));
}

TEST_CASE("DoQ validates addresses with Retry when the threshold says so", "[doq][external]") {
  if (missing_program("kdig")) return;
  SECTION("threshold 0: every new connection gets a Retry") {
    auto config = DoqFixture::test_config();
    config.retry_threshold = 0;
    DoqFixture f(config);
    auto before = snapshot(transport_counters(Transport::doq));
    for (int i = 0; i < 3; ++i) {
      auto r = f.kdig("retry" + std::to_string(i) + ".example");
      INFO(r.output);
      CHECK(r.exit_code == 0);
      CHECK(has_answer(r));
    }
    auto after = snapshot(transport_counters(Transport::doq));
    CHECK(after.retries_sent >= before.retries_sent + 3);
    CHECK(f.handler.handled == 3);
  }
  SECTION("threshold above the load: no Retry") {
    auto config = DoqFixture::test_config();
    config.retry_threshold = 100;
    DoqFixture f(config);
    auto before = snapshot(transport_counters(Transport::doq));
    auto r = f.kdig("noretry.example");
    INFO(r.output);
    CHECK(has_answer(r));
    auto after = snapshot(transport_counters(Transport::doq));
    CHECK(after.retries_sent == before.retries_sent);
  }
}

TEST_CASE("DoQ answers several streams on one connection with ID 0", "[doq]") {
  DoqFixture f;
  DoqTestClient client = f.client();
  REQUIRE(client.handshake());
  std::vector<std::pair<int64_t, std::vector<uint8_t>>> sent;
  for (int i = 0; i < 10; ++i) {
    auto query = make_query((i % 2 ? "slow" : "fast") + std::to_string(i) + ".example", 1, 0);
    sent.emplace_back(client.send_query(query), query);
  }
  REQUIRE(client.wait_streams(5000));
  for (auto& [id, query] : sent) {
    INFO("stream " << id);
    CHECK(is_echo_answer(client.answer(id), query));
    CHECK(client.streams[id].app_error == 0);
  }
  CHECK(f.handler.handled == 10);
}

TEST_CASE("DoQ closes the connection with DOQ_PROTOCOL_ERROR for a non-zero ID", "[doq]") {
  DoqFixture f;
  auto before = snapshot(transport_counters(Transport::doq));
  DoqTestClient client = f.client();
  REQUIRE(client.handshake());
  client.send_query(make_query("id.example", 1, 0x4242));
  client.wait_closed(3000);
  REQUIRE(client.peer_closed());
  auto error = client.close_error();
  CHECK(error.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION);
  CHECK(error.error_code == static_cast<uint64_t>(DoqError::protocol_error));
  CHECK(f.handler.handled == 0);
  auto after = snapshot(transport_counters(Transport::doq));
  CHECK(after.errors >= before.errors + 1);
}

TEST_CASE("DoQ closes with DOQ_PROTOCOL_ERROR for bad framing", "[doq]") {
  DoqFixture f;
  SECTION("data after the message") {
    DoqTestClient client = f.client();
    REQUIRE(client.handshake());
    auto query = make_query("extra.example", 1, 0);
    std::vector<uint8_t> framed = {0, static_cast<uint8_t>(query.size())};
    framed.insert(framed.end(), query.begin(), query.end());
    framed.push_back(0xFF);
    client.send(framed);
    client.wait_closed(3000);
    REQUIRE(client.peer_closed());
    CHECK(client.close_error().error_code == static_cast<uint64_t>(DoqError::protocol_error));
  }
  SECTION("a length shorter than a DNS header") {
    DoqTestClient client = f.client();
    REQUIRE(client.handshake());
    client.send({0, 3, 0, 0, 0});
    client.wait_closed(3000);
    REQUIRE(client.peer_closed());
    CHECK(client.close_error().error_code == static_cast<uint64_t>(DoqError::protocol_error));
  }
  CHECK(f.handler.handled == 0);
}

TEST_CASE("DoQ handles a stream reset while the resolver works", "[doq]") {
  DoqFixture f;
  DoqTestClient client = f.client();
  REQUIRE(client.handshake());
  int64_t slow = client.send_query(make_query("slow.example", 1, 0));
  client.wait_streams(100);  // let the query reach the server
  client.reset(slow);
  // The late answer finds a cancelled stream; the connection still serves.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto query = make_query("after.example", 1, 0);
  int64_t next = client.send_query(query);
  client.wait_streams(3000);
  CHECK(is_echo_answer(client.answer(next), query));
  CHECK_FALSE(client.peer_closed());
}

TEST_CASE("DoQ: a stream reset after dispatch stops counting before its answer", "[doq][limits]") {
  // One connection per worker and a resolver that takes 1.5 s: the reset
  // query must not keep its connection busy until the answer comes. (ngtcp2
  // 0.12 tells the server nothing when a client stops a stream whose query
  // it has wholly received; the stream closes, and stops counting, once the
  // client acknowledges the server's RESET_STREAM, one round trip later.)
  auto config = DoqFixture::test_config();
  config.max_connections = 1;
  DoqFixture f(config, 1500);
  DoqTestClient first = f.client();
  REQUIRE(first.handshake());
  int64_t slow = first.send_query(make_query("slow.example", 1, 0));
  first.wait_streams(200);  // the query reaches the server and is dispatched
  REQUIRE(f.handler.handled >= 1);
  first.reset(slow);
  first.pump(200);
  auto before = snapshot(transport_counters(Transport::doq));
  DoqTestClient second = f.client();
  CHECK(second.handshake(1000));
  auto after = snapshot(transport_counters(Transport::doq));
  CHECK(after.evicted_idle >= before.evicted_idle + 1);
  CHECK(after.connections_refused == before.connections_refused);
  auto query = make_query("after.example", 1, 0);
  int64_t id = second.send_query(query);
  second.wait_streams(3000);
  CHECK(is_echo_answer(second.answer(id), query));
}

TEST_CASE("DoQ closes a connection whose stream never finishes, however busy the client keeps it", "[doq][limits]") {
  // The client keeps QUIC alive with a complete query every 100 ms, but one
  // stream carries half a query and no FIN: at the idle timeout after that
  // stream opened, the connection is closed and a request timeout counted.
  // (Before, ngtcp2's idle timer, restarted by every packet, held it open.)
  auto config = DoqFixture::test_config();
  config.idle_timeout_ms = 600;
  DoqFixture f(config);
  auto before = snapshot(transport_counters(Transport::doq));
  DoqTestClient client = f.client();
  REQUIRE(client.handshake());
  auto query = make_query("half.example", 1, 0);
  std::vector<uint8_t> half = {0, static_cast<uint8_t>(query.size())};
  half.insert(half.end(), query.begin(), query.begin() + 6);
  REQUIRE(client.send(half, false) >= 0);
  int answered = 0;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20 && !client.peer_closed(); ++i) {
    auto q = make_query("busy.example", 1, 0);
    int64_t id = client.send_query(q);
    client.pump(100);
    answered += is_echo_answer(client.answer(id), q) ? 1 : 0;
  }
  auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(client.peer_closed());
  CHECK(client.close_error().error_code == static_cast<uint64_t>(DoqError::no_error));
  CHECK(elapsed < std::chrono::milliseconds(1500));
  CHECK(answered >= 2);  // the complete queries were answered meanwhile
  CHECK(snapshot(transport_counters(Transport::doq)).request_timeouts >= before.request_timeouts + 1);
}

TEST_CASE("DoQ refuses a client without the doq ALPN and accepts doq-i11", "[doq]") {
  DoqFixture f;
  auto before = snapshot(transport_counters(Transport::doq));
  {
    DoqTestClient h3 = f.client({"h3"});
    CHECK_FALSE(h3.handshake(2000));
  }
  {
    DoqTestClient none = f.client({});
    CHECK_FALSE(none.handshake(2000));
  }
  {
    DoqTestClient old = f.client({"doq-i11"});
    REQUIRE(old.handshake());
    auto query = make_query("old.example", 1, 0);
    int64_t id = old.send_query(query);
    old.wait_streams();
    CHECK(is_echo_answer(old.answer(id), query));
  }
  auto after = snapshot(transport_counters(Transport::doq));
  CHECK(after.handshakes_failed >= before.handshakes_failed + 2);
}

TEST_CASE("DoQ limits streams per connection and connections per worker", "[doq]") {
  auto config = DoqFixture::test_config();
  config.max_streams_per_connection = 2;
  config.max_connections = 1;
  DoqFixture f(config, 1000);
  DoqTestClient client = f.client();
  REQUIRE(client.handshake());
  // MAX_STREAMS is 2: a third stream cannot be opened until one finishes.
  CHECK(client.send_query(make_query("slow1.example", 1, 0)) >= 0);
  CHECK(client.send_query(make_query("slow2.example", 1, 0)) >= 0);
  CHECK(client.send_query(make_query("slow3.example", 1, 0)) < 0);
  client.wait_closed(200);  // runs the client: the two queries reach the server
  // A second connection is over the limit while the first is busy (its
  // answers take 1 s): refused at its first packet.
  auto before = snapshot(transport_counters(Transport::doq));
  DoqTestClient second = f.client();
  CHECK_FALSE(second.handshake(2000));
  auto after = snapshot(transport_counters(Transport::doq));
  CHECK(after.connections_refused >= before.connections_refused + 1);
  REQUIRE(client.wait_streams(4000));
}

TEST_CASE("DoQ: when full, a new connection evicts the idle one", "[doq][limits]") {
  auto config = DoqFixture::test_config();
  config.max_connections = 1;
  DoqFixture f(config);
  DoqTestClient first = f.client();
  REQUIRE(first.handshake());
  auto before = snapshot(transport_counters(Transport::doq));
  DoqTestClient second = f.client();  // the first is idle: it makes room
  CHECK(second.handshake(2000));
  auto after = snapshot(transport_counters(Transport::doq));
  CHECK(after.evicted_idle >= before.evicted_idle + 1);
  CHECK(after.connections_refused == before.connections_refused);
}

TEST_CASE("DoQ closes idle connections", "[doq]") {
  auto config = DoqFixture::test_config();
  config.idle_timeout_ms = 300;
  DoqFixture f(config);
  auto before = snapshot(transport_counters(Transport::doq));
  {
    DoqTestClient client = f.client();
    REQUIRE(client.handshake());
    auto query = make_query("idle.example", 1, 0);
    int64_t id = client.send_query(query);
    client.wait_streams();
    CHECK(is_echo_answer(client.answer(id), query));
    // Stop talking; the server forgets the connection after its idle timeout.
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (snapshot(transport_counters(Transport::doq)).idle_timeouts < before.idle_timeouts + 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(snapshot(transport_counters(Transport::doq)).idle_timeouts >= before.idle_timeouts + 1);
}

TEST_CASE("DoQ survives garbage datagrams", "[doq]") {
  DoqFixture f;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(f.port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint32_t state = 777;
  std::vector<uint8_t> noise(1400);
  for (int round = 0; round < 300; ++round) {
    for (auto& b : noise) {
      state = state * 1103515245 + 12345;
      b = static_cast<uint8_t>(state >> 16);
    }
    size_t size = 1 + (round * 37) % noise.size();
    if (round % 3 == 0) {
      noise[0] = 0xC0;  // long header, Initial, version 1: gets past the first checks
      noise[1] = noise[2] = noise[3] = 0;
      noise[4] = 1;
      noise[5] = 8;
      size = 1200 + round % 200;
    } else if (round % 3 == 1) {
      noise[0] = 0xC0;  // an unknown version: Version Negotiation
      noise[1] = 0x1a;
      noise[5] = 8;
      noise[14] = 8;
      size = 1200;
    }
    ::sendto(fd, noise.data(), size, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  }
  ::sendto(fd, noise.data(), 0, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  ::close(fd);
  DoqTestClient client = f.client();
  REQUIRE(client.handshake());
  auto query = make_query("after.noise.example", 1, 0);
  int64_t id = client.send_query(query);
  client.wait_streams();
  CHECK(is_echo_answer(client.answer(id), query));
}

TEST_CASE("DoQ certificate reload takes effect for new connections", "[doq][reload]") {
  DoqFixture f;
  auto other = make_test_cert("doq-next");
  {
    DoqTestClient client(f.port(), {"doq"}, other.cert);
    CHECK_FALSE(client.handshake(2000));  // the old certificate does not chain to the new CA
  }
  f.overwrite_certificate_files(other);
  auto result = f.tls->reload();
  REQUIRE(result.ok);
  {
    DoqTestClient client(f.port(), {"doq"}, other.cert);
    REQUIRE(client.handshake());
  }
  std::filesystem::resize_file(f.cert.key, 10);
  auto failed = f.tls->reload();
  CHECK_FALSE(failed.ok);
  CHECK(failed.error.find(f.cert.key) != std::string::npos);
  {
    DoqTestClient client(f.port(), {"doq"}, other.cert);
    CHECK(client.handshake());  // still the reloaded certificate
  }
}

TEST_CASE("DoQ refuses to bind the wildcard address", "[doq]") {
  auto cert = make_test_cert("doq-wild");
  auto tls = make_doq_tls_context({cert.cert, cert.key});
  EchoHandler handler;
  DoqListenerConfig config;
  config.address = "0.0.0.0";
  config.port = 0;
  CHECK_THROWS_WITH(ServerThread(create_listener<DoqListener>(config, tls), handler), Catch::Contains("wildcard"));
}

TEST_CASE("DoQ gives flow-control credit back: megabytes of queries on one connection", "[doq]") {
  DoqFixture f;
  DoqTestClient client = f.client();
  REQUIRE(client.handshake());
  // 40 queries of 60000 octets (question plus trailing bytes) = 2.4 MB, more
  // than the 1 MiB connection window: only works if consumed data is credited.
  std::vector<std::pair<int64_t, std::vector<uint8_t>>> sent;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 10; ++i) {
      auto query = make_query("big" + std::to_string(round * 10 + i) + ".example", 1, 0);
      query.resize(60000, 0xAB);
      sent.emplace_back(client.send_query(query), query);
    }
    REQUIRE(client.wait_streams(10000));
  }
  for (auto& [id, query] : sent) {
    INFO("stream " << id);
    CHECK(is_echo_answer(client.answer(id), query));
  }
}

TEST_CASE("DoQ listener destroyed without shutdown releases everything", "[doq]") {
  auto cert = make_test_cert("doq-destroy");
  auto tls = make_doq_tls_context({cert.cert, cert.key});
  EchoHandler handler;
  uv_loop_t loop;
  uv_loop_init(&loop);
  WorkerContext worker{&loop, 0, &handler};
  auto config = DoqFixture::test_config();
  config.port = 0;
  auto listener = std::make_unique<DoqListener>(worker, config, tls);
  uint16_t port = listener->port();
  std::atomic<bool> connected{false};
  std::thread client_thread([&] {
    DoqTestClient client(port, {"doq"}, cert.cert);
    connected = client.handshake();
    client.wait_closed(2000);
  });
  for (int i = 0; i < 300 && !connected; ++i) uv_run(&loop, UV_RUN_NOWAIT), std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(connected);
  CHECK(listener->connection_count() == 1);
  listener.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  client_thread.join();
  CHECK(uv_loop_close(&loop) == 0);
}

namespace {

// Polls `done` for up to `ms` (the listener runs on its own thread).
template <typename Done>
bool eventually(Done done, unsigned ms = 2000) {
  for (unsigned waited = 0; waited < ms; waited += 10) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace

TEST_CASE("DoQ resumes sessions from its tickets and answers 0-RTT queries", "[doq][resumption]") {
  auto baseline = snapshot(transport_counters(Transport::doq));
  DoqFixture f;
  DoqTestClient::Resumption resume;
  {
    DoqTestClient first = f.client();
    REQUIRE(first.handshake());
    CHECK_FALSE(first.resumed());
    resume = first.resumption();
    REQUIRE_FALSE(resume.ticket.empty());  // the server sent a ticket after its handshake
  }
  auto before = snapshot(transport_counters(Transport::doq));
  SECTION("a resumed session answers after its handshake") {
    DoqTestClient again = f.resuming_client(resume);
    REQUIRE(again.handshake());
    CHECK(again.resumed());
    auto query = make_query("resumed.example", 1, 0);
    int64_t id = again.send_query(query);
    REQUIRE(again.wait_streams());
    CHECK(is_echo_answer(again.answer(id), query));
    CHECK(eventually([&] {
      return snapshot(transport_counters(Transport::doq)).sessions_resumed == before.sessions_resumed + 1;
    }));
  }
  SECTION("a query in 0-RTT is answered") {
    DoqTestClient early = f.resuming_client(resume);
    auto query = make_query("early.example", 1, 0);
    int64_t id = early.send_query(query);  // before the handshake: 0-RTT
    REQUIRE(id >= 0);
    REQUIRE(early.wait_streams());
    CHECK(is_echo_answer(early.answer(id), query));
    CHECK(early.resumed());
    CHECK(early.early_data_accepted());
    CHECK(f.handler.handled == 1);
    // The server counts it once the client's Finished arrives: keep the
    // client running a little (the answer may come first, as 0.5-RTT data).
    early.wait_closed(300);
    CHECK(eventually([&] {
      return snapshot(transport_counters(Transport::doq)).early_data_accepted == before.early_data_accepted + 1;
    }));
  }
  SECTION("a query that is not replay-safe waits in 0-RTT until the handshake completes") {
    DoqTestClient early = f.resuming_client(resume);
    auto query = make_query("early-query.example", 1, 0);
    auto update = make_query("early-update.example", 1, 0);
    update[2] = 5 << 3;  // OPCODE UPDATE: not replayable (RFC 9250 §4.5)
    int64_t q = early.send_query(query);
    int64_t u = early.send_query(update);
    early.send_now();  // Initial + 0-RTT only: the handshake cannot complete yet
    CHECK(eventually([&] { return f.handler.handled == 1; }, 1000));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(f.handler.handled == 1);  // the QUERY ran, the UPDATE waits
    REQUIRE(early.wait_streams());  // the client finishes its handshake
    CHECK(f.handler.handled == 2);
    CHECK(is_echo_answer(early.answer(q), query));
    CHECK(is_echo_answer(early.answer(u), update));
  }
  SECTION("replayed 0-RTT datagrams are not answered twice") {
    std::vector<std::vector<uint8_t>> flight;
    {
      DoqTestClient early = f.resuming_client(resume);
      auto query = make_query("replayed.example", 1, 0);
      int64_t id = early.send_query(query);
      REQUIRE(early.wait_streams());
      CHECK(is_echo_answer(early.answer(id), query));
      flight = early.sent_datagrams();
    }
    REQUIRE(f.handler.handled == 1);
    REQUIRE_FALSE(flight.empty());
    // Once that connection is gone from the server (idle timeout: its
    // connection IDs no longer route there), an attacker sends the captured
    // first flight (Initial + 0-RTT) again from another address: the
    // ClientHello was seen, so its early data is refused and the query is
    // not run a second time.
    REQUIRE(eventually([&] {
      return snapshot(transport_counters(Transport::doq)).connections_active == baseline.connections_active;
    }, 5000));
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(f.port());
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (size_t i = 0; i < flight.size() && i < 2; ++i) {
      ::sendto(fd, flight[i].data(), flight[i].size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::close(fd);
    CHECK(f.handler.handled == 1);
  }
}

TEST_CASE("DoQ refuses a client's connections over the per-client cap and takes them after", "[doq][limits]") {
  auto config = DoqFixture::test_config();
  config.idle_timeout_ms = 500;
  auto table = std::make_shared<ClientConnectionTable>(1);
  config.client_limits = table;
  DoqFixture f(config);
  auto before = snapshot(transport_counters(Transport::doq));
  {
    DoqTestClient first = f.client();
    REQUIRE(first.handshake());
    DoqTestClient second = f.client();  // same address: over the cap of 1
    CHECK_FALSE(second.handshake(2000));
    auto after = snapshot(transport_counters(Transport::doq));
    CHECK(after.refused_per_client >= before.refused_per_client + 1);
  }
  // The first went away silently: its slot comes back at the idle timeout.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (table->clients() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(table->clients() == 0);
  DoqTestClient third = f.client();
  CHECK(third.handshake());
}
