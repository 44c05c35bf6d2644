// DNS over TLS listener: framing, pipelining, ALPN policy, TLS versions,
// resumption, timeouts, limits, hostile input, certificate reload, and the
// real clients (kdig, dig, dnsperf).
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/transports/dot_fixture.h"
#include "tests/transports/proxy_support.h"
#include "transports/transport_metrics.h"

using namespace sextant::transports;
using namespace sextant::transports::test;

TEST_CASE("DoT answers a framed query over TLS with ALPN dot", "[dot]") {
  DotFixture f;
  auto before = snapshot(transport_counters(Transport::dot));
  TlsTestClient client(f.port(), f.client_options());
  REQUIRE(client.handshake_ok());
  CHECK(client.alpn() == "dot");
  auto query = make_query("a.example");
  REQUIRE(client.send_frame(query));
  auto answer = client.read_frame();
  REQUIRE(answer);
  CHECK(is_echo_answer(*answer, query));
  auto transports = f.handler.transports();
  REQUIRE(transports.size() == 1);
  CHECK(transports[0] == Transport::dot);
  auto peers = f.handler.peers();
  CHECK(address_text(peers[0]) == "127.0.0.1");
  auto after = snapshot(transport_counters(Transport::dot));
  CHECK(after.queries >= before.queries + 1);
  CHECK(after.responses >= before.responses + 1);
  CHECK(after.handshakes_completed >= before.handshakes_completed + 1);
  CHECK(after.connections_accepted >= before.connections_accepted + 1);
}

TEST_CASE("DoT answers pipelined queries out of order", "[dot]") {
  DotFixture f;
  TlsTestClient client(f.port(), f.client_options());
  REQUIRE(client.handshake_ok());
  auto slow = make_query("slow.example", 1, 1);
  auto fast1 = make_query("fast1.example", 1, 2);
  auto fast2 = make_query("fast2.example", 1, 3);
  // All three in one TLS write: the server must split the frames itself.
  std::vector<uint8_t> batch;
  for (auto* q : {&slow, &fast1, &fast2}) {
    batch.push_back(static_cast<uint8_t>(q->size() >> 8));
    batch.push_back(static_cast<uint8_t>(q->size()));
    batch.insert(batch.end(), q->begin(), q->end());
  }
  REQUIRE(client.write(batch));
  std::vector<std::vector<uint8_t>> answers;
  for (int i = 0; i < 3; ++i) {
    auto a = client.read_frame();
    REQUIRE(a);
    answers.push_back(*a);
  }
  CHECK(is_echo_answer(answers[0], fast1));
  CHECK(is_echo_answer(answers[1], fast2));
  CHECK(is_echo_answer(answers[2], slow));  // answered last although asked first
}

TEST_CASE("DoT accepts clients without ALPN and refuses a list without dot", "[dot]") {
  DotFixture f;
  auto before = snapshot(transport_counters(Transport::dot));
  {
    TlsTestClient no_alpn(f.port(), f.client_options({}));
    REQUIRE(no_alpn.handshake_ok());
    CHECK(no_alpn.alpn().empty());
    auto query = make_query("noalpn.example");
    REQUIRE(no_alpn.send_frame(query));
    auto answer = no_alpn.read_frame();
    REQUIRE(answer);
    CHECK(is_echo_answer(*answer, query));
  }
  {
    TlsTestClient wrong(f.port(), f.client_options({"h3", "http/1.1"}));
    CHECK_FALSE(wrong.handshake_ok());
  }
  {
    TlsTestClient mixed(f.port(), f.client_options({"h2", "dot"}));
    REQUIRE(mixed.handshake_ok());
    CHECK(mixed.alpn() == "dot");
  }
  auto after = snapshot(transport_counters(Transport::dot));
  CHECK(after.handshakes_failed >= before.handshakes_failed + 1);
}

TEST_CASE("DoT speaks TLS 1.2 and 1.3 and resumes sessions with tickets", "[dot]") {
  DotFixture f;
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    auto options = f.client_options();
    options.max_version = version;
    SSL_SESSION* session = nullptr;
    {
      TlsTestClient first(f.port(), options);
      REQUIRE(first.handshake_ok());
      CHECK(first.version() == (version == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3"));
      CHECK_FALSE(first.reused());
      auto query = make_query("ticket.example");
      REQUIRE(first.send_frame(query));
      REQUIRE(first.read_frame());  // TLS 1.3 tickets arrive after the handshake
      session = first.session();
    }
    REQUIRE(session);
    options.resume = session;
    {
      TlsTestClient second(f.port(), options);
      REQUIRE(second.handshake_ok());
      CHECK(second.reused());
      auto query = make_query("resumed.example");
      REQUIRE(second.send_frame(query));
      auto answer = second.read_frame();
      REQUIRE(answer);
      CHECK(is_echo_answer(*answer, query));
    }
    SSL_SESSION_free(session);
  }
}

TEST_CASE("DoT closes a connection that never handshakes and one that goes idle", "[dot]") {
  auto config = DotFixture::test_config();
  config.stream.handshake_timeout_ms = 300;
  config.stream.idle_timeout_ms = 400;
  DotFixture f(config);
  auto before = snapshot(transport_counters(Transport::dot));
  int silent = connect_tcp(f.port());
  REQUIRE(silent >= 0);
  CHECK(wait_for_close(silent, 3000));
  ::close(silent);

  TlsTestClient idle(f.port(), f.client_options());
  REQUIRE(idle.handshake_ok());
  auto query = make_query("idle.example");
  REQUIRE(idle.send_frame(query));
  REQUIRE(idle.read_frame());
  CHECK(idle.closed_by_peer(3000));
  auto after = snapshot(transport_counters(Transport::dot));
  CHECK(after.idle_timeouts >= before.idle_timeouts + 1);
  CHECK(after.handshakes_failed >= before.handshakes_failed + 1);
}

TEST_CASE("DoT keeps a connection with a query in flight past the idle timeout", "[dot]") {
  auto config = DotFixture::test_config();
  config.stream.idle_timeout_ms = 150;
  DotFixture f(config, 600);  // "slow" answers take longer than the idle timeout
  TlsTestClient client(f.port(), f.client_options());
  REQUIRE(client.handshake_ok());
  auto query = make_query("slow.example");
  REQUIRE(client.send_frame(query));
  auto answer = client.read_frame();
  REQUIRE(answer);
  CHECK(is_echo_answer(*answer, query));
}

TEST_CASE("DoT survives garbage, truncated records and bad frames", "[dot]") {
  DotFixture f;
  {
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    const char garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n this is not a ClientHello";
    REQUIRE(::send(fd, garbage, sizeof garbage, 0) > 0);
    CHECK(wait_for_close(fd, 3000));
    ::close(fd);
  }
  {
    // A TLS record header promising 16 KiB, then a few bytes, then EOF.
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    const uint8_t truncated[] = {0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc, 0x03, 0x03};
    REQUIRE(::send(fd, truncated, sizeof truncated, 0) > 0);
    ::shutdown(fd, SHUT_WR);
    CHECK(wait_for_close(fd, 3000));
    ::close(fd);
  }
  {
    // Random bytes of every size class.
    std::vector<uint8_t> noise(5000);
    uint32_t state = 12345;
    for (auto& b : noise) {
      state = state * 1103515245 + 12345;
      b = static_cast<uint8_t>(state >> 16);
    }
    for (size_t size : {1u, 5u, 100u, 5000u}) {
      int fd = connect_tcp(f.port());
      REQUIRE(fd >= 0);
      ::send(fd, noise.data(), size, MSG_NOSIGNAL);
      ::close(fd);
    }
  }
  {
    // A frame too short to be a DNS message closes the stream.
    TlsTestClient client(f.port(), f.client_options());
    REQUIRE(client.handshake_ok());
    const uint8_t short_frame[] = {0x00, 0x03, 1, 2, 3};
    REQUIRE(client.write(short_frame));
    CHECK(client.closed_by_peer(3000));
  }
  {
    // Half a frame then close_notify: nothing is answered, nothing breaks.
    TlsTestClient client(f.port(), f.client_options());
    REQUIRE(client.handshake_ok());
    const uint8_t half[] = {0x00, 0x40, 0x12, 0x34};
    REQUIRE(client.write(half));
  }
  // The server still works.
  TlsTestClient client(f.port(), f.client_options());
  REQUIRE(client.handshake_ok());
  auto query = make_query("after.garbage.example");
  REQUIRE(client.send_frame(query));
  auto answer = client.read_frame();
  REQUIRE(answer);
  CHECK(is_echo_answer(*answer, query));
}

TEST_CASE("DoT enforces the per-worker connection limit when no connection is idle", "[dot]") {
  auto config = DotFixture::test_config();
  config.stream.max_connections = 2;
  DotFixture f(config, 1500);  // "slow" queries keep their connections busy
  auto before = snapshot(transport_counters(Transport::dot));
  TlsTestClient one(f.port(), f.client_options());
  TlsTestClient two(f.port(), f.client_options());
  REQUIRE(one.handshake_ok());
  REQUIRE(two.handshake_ok());
  auto slow1 = make_query("slow1.example");
  auto slow2 = make_query("slow2.example");
  REQUIRE(one.send_frame(slow1));
  REQUIRE(two.send_frame(slow2));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  TlsTestClient three(f.port(), f.client_options());
  CHECK_FALSE(three.handshake_ok());
  auto after = snapshot(transport_counters(Transport::dot));
  CHECK(after.connections_refused >= before.connections_refused + 1);
  // The first two still work.
  CHECK(one.read_frame());
  CHECK(two.read_frame());
}

TEST_CASE("DoT drops abandoned queries and keeps answering the rest", "[dot]") {
  DotFixture f;
  TlsTestClient client(f.port(), f.client_options());
  REQUIRE(client.handshake_ok());
  auto dropped = make_query("drop.example", 1, 7);
  auto kept = make_query("kept.example", 1, 8);
  REQUIRE(client.send_frame(dropped));
  REQUIRE(client.send_frame(kept));
  auto answer = client.read_frame();
  REQUIRE(answer);
  CHECK(is_echo_answer(*answer, kept));
}

TEST_CASE("DoT bounds pending queries per connection", "[dot]") {
  auto config = DotFixture::test_config();
  config.max_pending_per_connection = 2;
  DotFixture f(config, 200);
  TlsTestClient client(f.port(), f.client_options());
  REQUIRE(client.handshake_ok());
  std::vector<std::vector<uint8_t>> queries;
  std::vector<uint8_t> batch;
  for (uint16_t i = 0; i < 6; ++i) {
    queries.push_back(make_query("slow" + std::to_string(i) + ".example", 1, i));
    batch.push_back(0);
    batch.push_back(static_cast<uint8_t>(queries.back().size()));
    batch.insert(batch.end(), queries.back().begin(), queries.back().end());
  }
  auto start = std::chrono::steady_clock::now();
  REQUIRE(client.write(batch));
  for (int i = 0; i < 6; ++i) {
    auto a = client.read_frame();
    REQUIRE(a);
    uint16_t id = static_cast<uint16_t>((*a)[0] << 8 | (*a)[1]);
    REQUIRE(id < 6);
    CHECK(is_echo_answer(*a, queries[id]));
  }
  // Two at a time, 200 ms each: three rounds, not one.
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(550));
}

TEST_CASE("DoT shutdown lets an answer in flight go out, then closes", "[dot]") {
  DotFixture f(DotFixture::test_config(), 200);
  TlsTestClient client(f.port(), f.client_options());
  REQUIRE(client.handshake_ok());
  auto query = make_query("slow.example");
  REQUIRE(client.send_frame(query));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::thread stopper([&] { f.server->stop(); });  // grace 500 ms > 200 ms
  auto answer = client.read_frame();
  stopper.join();
  REQUIRE(answer);
  CHECK(is_echo_answer(*answer, query));
  CHECK(client.closed_by_peer(1000));
}

TEST_CASE("DoT behind a trusted proxy: the PROXY v2 header before TLS names the client", "[dot][proxy]") {
  using namespace sextant::transports::proxy_test;
  auto config = DotFixture::test_config();
  config.stream.proxy_protocol = true;
  config.stream.trusted_proxies = std::make_shared<const TrustedProxies>(std::vector<std::string>{"127.0.0.1/32"});
  DotFixture f(config);
  auto& counters = transport_counters(Transport::dot);
  auto count = [&](ProxyOutcome o) { return counters.proxy[static_cast<size_t>(o)].load(); };
  const uint64_t proxied = count(ProxyOutcome::proxied), local = count(ProxyOutcome::local),
                 missing = count(ProxyOutcome::missing);
  auto query = make_query("proxied.example");
  {
    auto options = f.client_options();
    options.preamble = proxy_v4("198.51.100.9", "192.0.2.53", 40000, 853);
    TlsTestClient client(f.port(), options);
    REQUIRE(client.handshake_ok());
    REQUIRE(client.send_frame(query));
    auto answer = client.read_frame();
    REQUIRE(answer);
    CHECK(is_echo_answer(*answer, query));
  }
  {
    auto options = f.client_options();
    options.preamble = proxy_local();
    TlsTestClient client(f.port(), options);
    REQUIRE(client.handshake_ok());
    REQUIRE(client.send_frame(query));
    REQUIRE(client.read_frame());
  }
  {
    // The trusted proxy must send the header: a bare TLS handshake is cut off.
    TlsTestClient client(f.port(), f.client_options());
    CHECK_FALSE(client.handshake_ok());
  }
  auto peers = f.handler.peers();
  REQUIRE(peers.size() == 2);
  CHECK(address_text(peers[0]) == "198.51.100.9");
  CHECK(address_text(peers[1]) == "127.0.0.1");
  CHECK(count(ProxyOutcome::proxied) == proxied + 1);
  CHECK(count(ProxyOutcome::local) == local + 1);
  CHECK(count(ProxyOutcome::missing) == missing + 1);
}

TEST_CASE("DoT refuses a PROXY v2 header from a peer that is not trusted", "[dot][proxy]") {
  using namespace sextant::transports::proxy_test;
  auto config = DotFixture::test_config();
  config.stream.proxy_protocol = true;
  config.stream.trusted_proxies = std::make_shared<const TrustedProxies>(std::vector<std::string>{"127.0.0.2/32"});
  DotFixture f(config);
  auto& untrusted = transport_counters(Transport::dot).proxy[static_cast<size_t>(ProxyOutcome::untrusted)];
  const uint64_t before = untrusted.load();
  {
    auto options = f.client_options();
    options.preamble = proxy_v4("198.51.100.9", "192.0.2.53", 40000, 853);
    TlsTestClient client(f.port(), options);
    CHECK_FALSE(client.handshake_ok());
  }
  CHECK(untrusted.load() == before + 1);
  // A plain DoT client from the same address is served as itself.
  TlsTestClient client(f.port(), f.client_options());
  REQUIRE(client.handshake_ok());
  auto query = make_query("direct.example");
  REQUIRE(client.send_frame(query));
  REQUIRE(client.read_frame());
  auto peers = f.handler.peers();
  REQUIRE(peers.size() == 1);
  CHECK(address_text(peers[0]) == "127.0.0.1");
}

TEST_CASE("DoT certificate reload takes effect for new connections", "[dot][reload]") {
  DotFixture f;
  auto other = make_test_cert("dot-next");
  std::string first_print;
  {
    TlsTestClient client(f.port(), f.client_options());
    REQUIRE(client.handshake_ok());
    first_print = client.peer_fingerprint();
  }
  TlsTestClient old_connection(f.port(), f.client_options());
  REQUIRE(old_connection.handshake_ok());

  f.overwrite_certificate_files(other);
  auto result = f.tls->reload();
  REQUIRE(result.ok);
  CHECK(f.tls->generation() == 2);

  auto options = verifying_options({"dot"}, other.cert);
  TlsTestClient client(f.port(), options);
  REQUIRE(client.handshake_ok());
  CHECK(client.peer_fingerprint() != first_print);

  // The connection opened before the reload keeps working.
  auto query = make_query("old.example");
  REQUIRE(old_connection.send_frame(query));
  CHECK(old_connection.read_frame());

  // A broken file is refused and the current certificate stays.
  std::string second_print = client.peer_fingerprint();
  {
    std::ofstream broken(f.cert.cert, std::ios::trunc);
    broken << "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  }
  auto failed = f.tls->reload();
  CHECK_FALSE(failed.ok);
  CHECK(failed.error.find(f.cert.cert) != std::string::npos);
  CHECK(f.tls->generation() == 2);
  TlsTestClient after(f.port(), options);
  REQUIRE(after.handshake_ok());
  CHECK(after.peer_fingerprint() == second_print);
}

TEST_CASE("TLS context construction reports missing files clearly", "[dot][reload]") {
  try {
    make_dot_tls_context({"/nonexistent/cert.pem", "/nonexistent/key.pem"});
    FAIL("expected an exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("/nonexistent/cert.pem") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------
// Real clients

TEST_CASE("kdig +tls gets answers with certificate verification", "[dot][external]") {
  if (missing_program("kdig")) return;
  DotFixture f;
  auto port = std::to_string(f.port());
  auto verified = run_command(f.verifying_command("kdig") + " +short a.example A");
  INFO(verified.output);
  CHECK(verified.exit_code == 0);
  CHECK(verified.output.find("127.0.0.53") != std::string::npos);
  auto opportunistic = run_command("kdig @127.0.0.1 -p " + port + " +tls +short b.example A");
  INFO(opportunistic.output);
  CHECK(opportunistic.output.find("127.0.0.53") != std::string::npos);
  // Verification against a wrong name must fail.
  auto wrong = run_command(f.verifying_command("kdig", "wrong.example") + " +short c.example A");
  INFO(wrong.output);
  CHECK(wrong.output.find("127.0.0.53") == std::string::npos);
}

TEST_CASE("dig +tls gets answers with certificate verification", "[dot][external]") {
  if (missing_program("dig")) return;
  DotFixture f;
  auto port = std::to_string(f.port());
  // dig exits 0 even when verification fails, so read its output.
  auto verified = run_command(f.verifying_command("dig") + " +short a.example A");
  INFO(verified.output);
  CHECK(verified.output.find("127.0.0.53") != std::string::npos);
  CHECK(verified.output.find("failed") == std::string::npos);
  auto plain = run_command("dig @127.0.0.1 -p " + port + " +tls +short b.example A");
  INFO(plain.output);
  CHECK(plain.output.find("127.0.0.53") != std::string::npos);
}

TEST_CASE("openssl s_client with ALPN h3 is refused", "[dot][external]") {
  if (missing_program("openssl")) return;
  DotFixture f;
  auto result = run_command("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(f.port()) +
                            " -alpn h3 -servername localhost");
  INFO(result.output);
  CHECK(result.output.find("no application protocol") != std::string::npos);
  auto good = run_command("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(f.port()) +
                          " -alpn dot -servername localhost");
  INFO(good.output);
  CHECK(good.output.find("ALPN protocol: dot") != std::string::npos);
}

TEST_CASE("dnsperf -m dot completes every query", "[dot][external]") {
  if (missing_program("dnsperf")) return;
  DotFixture f;
  DnsperfQueryFile queries("a.example A\nb.example A\nslow.example A\nc.example AAAA\n");
  auto result = run_command(f.dnsperf_command("dot", queries) + " -n 50 -c 2 -l 5", 30);
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("Queries completed:    200") != std::string::npos);
  CHECK(result.output.find("Queries lost:         0") != std::string::npos);
}

TEST_CASE("DoT listener destroyed without shutdown releases everything", "[dot]") {
  auto cert = make_test_cert("dot-destroy");
  auto tls = make_dot_tls_context({cert.cert, cert.key});
  EchoHandler handler;
  uv_loop_t loop;
  uv_loop_init(&loop);
  WorkerContext worker{&loop, 0, &handler};
  auto config = DotFixture::test_config();
  config.stream.port = 0;
  auto listener = std::make_unique<DotListener>(worker, config, tls);
  uint16_t port = listener->port();
  std::atomic<bool> connected{false};
  std::thread client_thread([&] {
    TlsTestClient client(port, verifying_options({"dot"}, cert.cert));
    connected = client.handshake_ok();
    client.closed_by_peer(3000);
  });
  // Run the loop until the handshake is done, then drop the listener.
  for (int i = 0; i < 300 && !connected; ++i) uv_run(&loop, UV_RUN_NOWAIT), std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(connected);
  CHECK(listener->connection_count() == 1);
  listener.reset();
  uv_run(&loop, UV_RUN_DEFAULT);  // returns once every handle is closed
  client_thread.join();
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("dnsperf throughput against DoT", "[.][bench]") {
  if (!have_program("dnsperf")) return;
  DnsperfQueryFile queries("a.example A\nb.example A\nc.example AAAA\n");
  DotFixture f;
  auto r = run_command(f.dnsperf_command("dot", queries) + " -c 4 -l 5", 30);
  WARN("DoT:\n" << r.output);
}
