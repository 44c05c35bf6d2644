// DNS over HTTPS listener: HTTP/2 over TLS (ALPN h2) and h2c, status codes,
// concurrency, resets, hostile frames, timeouts, trusted proxies, and the
// real clients (curl, kdig, dig, dnsperf).
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/transports/doh_fixture.h"
#include "transports/transport_metrics.h"

using namespace sextant::transports;
using namespace sextant::transports::test;

TEST_CASE("DoH answers POST and GET over HTTP/2 with TLS", "[doh]") {
  DohFixture f;
  auto before = snapshot(transport_counters(Transport::doh));
  TlsTestClient tls(f.port(), f.client_options());
  REQUIRE(tls.handshake_ok());
  CHECK(tls.alpn() == "h2");
  H2TestClient h2(tls_sender(tls), tls_receiver(tls));
  auto query = make_query("a.example", 1, 0);
  int32_t by_post = h2.submit("POST", "/dns-query", kDnsMessage, query);
  int32_t by_get = h2.submit("GET", "/dns-query?dns=" + base64url(query));
  REQUIRE(h2.run());
  for (int32_t id : {by_post, by_get}) {
    auto& r = h2.responses[id];
    CHECK(r.status == 200);
    CHECK(r.headers["content-type"] == "application/dns-message");
    CHECK(r.headers["cache-control"] == "max-age=300");
    CHECK(r.headers["content-length"] == std::to_string(r.body.size()));
    CHECK(is_echo_answer(r.body, query));
  }
  auto transports = f.handler.transports();
  REQUIRE(transports.size() == 2);
  CHECK(transports[0] == Transport::doh);
  auto after = snapshot(transport_counters(Transport::doh));
  CHECK(after.queries >= before.queries + 2);
  CHECK(after.responses >= before.responses + 2);
}

TEST_CASE("DoH answers bad requests with 400, 404, 405, 413 and 415", "[doh]") {
  DohFixture f;
  TlsTestClient tls(f.port(), f.client_options());
  REQUIRE(tls.handshake_ok());
  H2TestClient h2(tls_sender(tls), tls_receiver(tls));
  auto query = make_query("a.example", 1, 0);
  int32_t bad_base64 = h2.submit("GET", "/dns-query?dns=%%%");
  int32_t padded = h2.submit("GET", "/dns-query?dns=" + base64url(query) + "==");
  int32_t not_dns = h2.submit("POST", "/dns-query", kDnsMessage, {1, 2, 3});
  int32_t other_path = h2.submit("POST", "/other", kDnsMessage, query);
  int32_t put = h2.submit("PUT", "/dns-query", kDnsMessage, query);
  int32_t big = h2.submit("POST", "/dns-query", kDnsMessage, std::vector<uint8_t>(70000, 0));
  int32_t wrong_type = h2.submit("POST", "/dns-query", {{"content-type", "text/plain"}}, query);
  int32_t fine = h2.submit("POST", "/dns-query", kDnsMessage, query);
  REQUIRE(h2.run());
  CHECK(h2.responses[bad_base64].status == 400);
  CHECK(h2.responses[padded].status == 400);
  CHECK(h2.responses[not_dns].status == 400);
  CHECK(h2.responses[other_path].status == 404);
  CHECK(h2.responses[put].status == 405);
  CHECK(h2.responses[put].headers["allow"] == "GET, POST");
  CHECK(h2.responses[big].status == 413);
  CHECK(h2.responses[wrong_type].status == 415);
  CHECK(h2.responses[fine].status == 200);
  CHECK(f.handler.handled == 1);  // only the valid request reached the resolver
}

TEST_CASE("DoH serves many concurrent streams on one connection", "[doh]") {
  DohFixture f;
  TlsTestClient tls(f.port(), f.client_options());
  REQUIRE(tls.handshake_ok());
  H2TestClient h2(tls_sender(tls), tls_receiver(tls));
  std::vector<std::pair<int32_t, std::vector<uint8_t>>> sent;
  for (int i = 0; i < 80; ++i) {
    auto query = make_query((i % 2 ? "slow" : "fast") + std::to_string(i) + ".example", 1, 0);
    sent.emplace_back(h2.submit("POST", "/dns-query", kDnsMessage, query), query);
  }
  auto start = std::chrono::steady_clock::now();
  REQUIRE(h2.run(8000));
  auto elapsed = std::chrono::steady_clock::now() - start;
  for (auto& [id, query] : sent) {
    CHECK(h2.responses[id].status == 200);
    CHECK(is_echo_answer(h2.responses[id].body, query));
  }
  // The 40 slow answers (300 ms each) ran concurrently, not one after another.
  CHECK(elapsed < std::chrono::seconds(3));
}

TEST_CASE("DoH copes with streams reset mid-request and while the resolver works", "[doh]") {
  DohFixture f;
  TlsTestClient tls(f.port(), f.client_options());
  REQUIRE(tls.handshake_ok());
  H2TestClient h2(tls_sender(tls), tls_receiver(tls));
  auto query = make_query("a.example", 1, 0);
  // Half a body, then a reset.
  int32_t half = h2.submit("POST", "/dns-query", kDnsMessage, std::vector<uint8_t>(query.begin(), query.begin() + 5), false);
  // A query the resolver answers late, reset before the answer.
  int32_t slow = h2.submit("POST", "/dns-query", kDnsMessage, make_query("slow.example", 1, 0));
  h2.run(200);
  h2.reset(half);
  h2.reset(slow);
  h2.run(1000);
  CHECK(h2.responses[half].closed);
  CHECK(h2.responses[slow].closed);
  // The late answer arrives at a closed stream; wait for it, then the
  // connection must still serve requests.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  int32_t after = h2.submit("POST", "/dns-query", kDnsMessage, query);
  REQUIRE(h2.run());
  CHECK(h2.responses[after].status == 200);
}

TEST_CASE("DoH refuses a TLS client whose ALPN list has neither h2 nor http/1.1", "[doh]") {
  DohFixture f;
  TlsTestClient h3(f.port(), f.client_options({"h3"}));
  CHECK_FALSE(h3.handshake_ok());
  TlsTestClient none(f.port(), f.client_options({}));
  REQUIRE(none.handshake_ok());
  H2TestClient h2(tls_sender(none), tls_receiver(none));
  auto query = make_query("noalpn.example", 1, 0);
  int32_t id = h2.submit("POST", "/dns-query", kDnsMessage, query);
  REQUIRE(h2.run());
  CHECK(h2.responses[id].status == 200);
}

TEST_CASE("DoH closes on HTTP/2 protocol violations and garbage", "[doh]") {
  DohFixture f(DohFixture::h2c_config());
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const uint8_t empty_settings[] = {0, 0, 0, 0x04, 0, 0, 0, 0, 0};
  {
    // DATA on a stream that was never opened: a connection error.
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    ::send(fd, preface.data(), preface.size(), MSG_NOSIGNAL);
    ::send(fd, empty_settings, sizeof empty_settings, MSG_NOSIGNAL);
    const uint8_t data_frame[] = {0, 0, 4, 0x00, 0x01, 0, 0, 0, 1, 'a', 'b', 'c', 'd'};
    ::send(fd, data_frame, sizeof data_frame, MSG_NOSIGNAL);
    CHECK(wait_for_close(fd, 3000));
    ::close(fd);
  }
  {
    // CONTINUATION without HEADERS, then a frame claiming 16 MiB.
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    ::send(fd, preface.data(), preface.size(), MSG_NOSIGNAL);
    const uint8_t continuation[] = {0, 0, 1, 0x09, 0x04, 0, 0, 0, 3, 0x82};
    ::send(fd, continuation, sizeof continuation, MSG_NOSIGNAL);
    const uint8_t huge[] = {0xFF, 0xFF, 0xFF, 0x00, 0x00, 0, 0, 0, 5};
    ::send(fd, huge, sizeof huge, MSG_NOSIGNAL);
    CHECK(wait_for_close(fd, 3000));
    ::close(fd);
  }
  {
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    // Neither the HTTP/2 preface nor an HTTP/1.1 request line.
    const char garbage[] = "\x16\x03\x01 not a request\r\n\r\n";
    ::send(fd, garbage, sizeof garbage - 1, MSG_NOSIGNAL);
    CHECK(wait_for_close(fd, 3000));
    ::close(fd);
  }
  // Still serving.
  int fd = connect_tcp(f.port());
  REQUIRE(fd >= 0);
  H2TestClient h2(socket_sender(fd), socket_receiver(fd));
  auto query = make_query("after.example", 1, 0);
  int32_t id = h2.submit("POST", "/dns-query", kDnsMessage, query);
  REQUIRE(h2.run());
  CHECK(h2.responses[id].status == 200);
  ::close(fd);
}

TEST_CASE("DoH closes silent and idle connections", "[doh]") {
  auto config = DohFixture::test_config();
  config.stream.handshake_timeout_ms = 300;
  config.stream.idle_timeout_ms = 400;
  DohFixture f(config);
  int silent = connect_tcp(f.port());
  REQUIRE(silent >= 0);
  CHECK(wait_for_close(silent, 3000));
  ::close(silent);
  TlsTestClient tls(f.port(), f.client_options());
  REQUIRE(tls.handshake_ok());
  H2TestClient h2(tls_sender(tls), tls_receiver(tls));
  int32_t id = h2.submit("GET", "/dns-query?dns=" + base64url(make_query("x.example", 1, 0)));
  REQUIRE(h2.run());
  CHECK(h2.responses[id].status == 200);
  auto start = std::chrono::steady_clock::now();
  CHECK(h2.wait_for_peer_close(3000));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("DoH over h2c believes X-Forwarded-For only from trusted proxies", "[doh][proxy]") {
  auto query = make_query("xff.example", 1, 0);
  std::vector<std::pair<std::string, std::string>> headers = kDnsMessage;
  headers.emplace_back("x-forwarded-for", "198.51.100.1, 203.0.113.7");
  // The peers the handler saw for one request over h2c to a listener that
  // trusts `proxies`.
  auto peers_seen_trusting = [&](const char* proxies) {
    auto config = DohFixture::h2c_config();
    config.stream.trusted_proxies = std::make_shared<TrustedProxies>(std::vector<std::string>{proxies});
    DohFixture f(config);
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    H2TestClient h2(socket_sender(fd), socket_receiver(fd));
    h2.submit("POST", "/dns-query", headers, query);
    REQUIRE(h2.run());
    ::close(fd);
    return f.handler.peers();
  };
  SECTION("trusted peer") {
    auto peers = peers_seen_trusting("127.0.0.0/8");
    REQUIRE(peers.size() == 1);
    CHECK(address_text(peers[0]) == "203.0.113.7");
  }
  SECTION("untrusted peer") {
    auto peers = peers_seen_trusting("10.0.0.0/8");
    REQUIRE(peers.size() == 1);
    CHECK(address_text(peers[0]) == "127.0.0.1");
  }
}

TEST_CASE("DoH over h2c takes the client from a PROXY v2 header of a trusted peer", "[doh][proxy]") {
  auto config = DohFixture::h2c_config();
  config.stream.proxy_protocol = true;
  config.stream.trusted_proxies = std::make_shared<TrustedProxies>(std::vector<std::string>{"127.0.0.1"});
  DohFixture f(config);
  const uint8_t header[] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0, 12,
                            198, 51, 100, 9, 127, 0, 0, 1, 0x9C, 0x40, 0x01, 0xBB};
  {
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    // Header split over two writes: the server must reassemble it.
    ::send(fd, header, 7, MSG_NOSIGNAL);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::send(fd, header + 7, sizeof header - 7, MSG_NOSIGNAL);
    H2TestClient h2(socket_sender(fd), socket_receiver(fd));
    int32_t id = h2.submit("POST", "/dns-query", kDnsMessage, make_query("proxied.example", 1, 0));
    REQUIRE(h2.run());
    CHECK(h2.responses[id].status == 200);
    ::close(fd);
    auto peers = f.handler.peers();
    REQUIRE(peers.size() == 1);
    CHECK(address_text(peers[0]) == "198.51.100.9");
  }
  {
    // A trusted peer that omits the header is cut off.
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    H2TestClient h2(socket_sender(fd), socket_receiver(fd));
    h2.submit("POST", "/dns-query", kDnsMessage, make_query("noheader.example", 1, 0));
    CHECK(h2.wait_for_peer_close(2000));
    ::close(fd);
    CHECK(f.handler.handled == 1);
  }
}

TEST_CASE("DoH bounds the request bodies one connection may buffer", "[doh]") {
  DohFixture f;
  TlsTestClient tls(f.port(), f.client_options());
  REQUIRE(tls.handshake_ok());
  H2TestClient h2(tls_sender(tls), tls_receiver(tls));
  // Twelve 60000-octet bodies left open (no END_STREAM): 720 kB would sit in
  // the server; past its 512 KiB budget streams are refused.
  std::vector<int32_t> open;
  for (int i = 0; i < 12; ++i) {
    open.push_back(h2.submit("POST", "/dns-query", kDnsMessage, std::vector<uint8_t>(60000, 0), false));
  }
  h2.run(1500);
  int refused = 0;
  for (int32_t id : open) {
    if (h2.responses[id].closed && h2.responses[id].error_code == NGHTTP2_REFUSED_STREAM) ++refused;
  }
  CHECK(refused >= 1);
  // The connection itself still works.
  auto query = make_query("budget.example", 1, 0);
  int32_t id = h2.submit("POST", "/dns-query", kDnsMessage, query);
  h2.run(2000);
  CHECK(h2.responses[id].status == 200);
  CHECK(is_echo_answer(h2.responses[id].body, query));
}

TEST_CASE("DoH certificate reload takes effect for new connections", "[doh][reload]") {
  DohFixture f;
  auto other = make_test_cert("doh-next");
  std::string first;
  {
    TlsTestClient client(f.port(), f.client_options());
    REQUIRE(client.handshake_ok());
    first = client.peer_fingerprint();
  }
  f.overwrite_certificate_files(other);
  REQUIRE(f.tls->reload().ok);
  TlsTestClient client(f.port(), verifying_options({"h2"}, other.cert));
  REQUIRE(client.handshake_ok());
  CHECK(client.peer_fingerprint() != first);
  H2TestClient h2(tls_sender(client), tls_receiver(client));
  int32_t id = h2.submit("GET", "/dns-query?dns=" + base64url(make_query("reloaded.example", 1, 0)));
  REQUIRE(h2.run());
  CHECK(h2.responses[id].status == 200);
}

// ---------------------------------------------------------------------------
// Real clients

TEST_CASE("curl POST and GET get answers over HTTP/2 with a verified certificate", "[doh][external]") {
  if (missing_program("curl")) return;
  DohFixture f;
  QueryFiles q("curl.example");
  auto post = run_command("curl -sS --http2 --cacert " + f.cert.cert +
                          " -H \"content-type: application/dns-message\" --data-binary @" + q.query + " " + f.url() +
                          " -o " + q.answer + " -D - -w \"http=%{http_version} code=%{http_code}\\n\"");
  INFO(post.output);
  CHECK(post.exit_code == 0);
  CHECK(post.output.find("http=2 code=200") != std::string::npos);
  CHECK(post.output.find("cache-control: max-age=300") != std::string::npos);
  CHECK(post.output.find("content-type: application/dns-message") != std::string::npos);
  CHECK(is_echo_answer(read_file(q.answer), q.bytes));

  std::filesystem::remove(q.answer);
  auto get = run_command("curl -sS --http2 --cacert " + f.cert.cert + " \"" + f.url() + "?dns=" +
                         base64url(q.bytes) + "\" -o " + q.answer + " -w \"http=%{http_version} code=%{http_code}\\n\"");
  INFO(get.output);
  CHECK(get.output.find("http=2 code=200") != std::string::npos);
  CHECK(is_echo_answer(read_file(q.answer), q.bytes));
}

TEST_CASE("curl sees the DoH error statuses", "[doh][external]") {
  if (missing_program("curl")) return;
  DohFixture f;
  QueryFiles q("status.example");
  std::vector<uint8_t> big(70000, 0);
  std::string big_file = q.dir.file("big.bin");
  write_file(big_file, big);
  std::string base = "curl -sS --http2 --cacert " + f.cert.cert + " -o /dev/null -w \"%{http_code}\" ";
  std::string ct = " -H \"content-type: application/dns-message\" ";
  CHECK(run_command(base + "\"" + f.url() + "?dns=not*base64\"").output == "400");
  CHECK(run_command(base + ct + "--data-binary @" + big_file + " " + f.url()).output == "413");
  CHECK(run_command(base + "-H \"content-type: text/plain\" --data-binary @" + q.query + " " + f.url()).output == "415");
  CHECK(run_command(base + ct + "-X PUT --data-binary @" + q.query + " " + f.url()).output == "405");
  CHECK(run_command(base + ct + "--data-binary @" + q.query + " " + f.url("/elsewhere")).output == "404");
}

TEST_CASE("curl --doh-url resolves through the listener", "[doh][external]") {
  if (missing_program("curl")) return;
  DohFixture f;
  // The echo answer is 127.0.0.53: curl's follow-up connection stays on loopback
  // (port 1, refused at once).
  auto result = run_command("curl -v --connect-timeout 2 --cacert " + f.cert.cert + " --doh-url " + f.url() +
                            " http://doh-test.example:1/");
  INFO(result.output);
  CHECK(result.output.find("127.0.0.53") != std::string::npos);
  CHECK(f.handler.handled >= 1);
}

TEST_CASE("kdig +https and +https-get get verified answers", "[doh][external]") {
  if (missing_program("kdig")) return;
  DohFixture f;
  std::string base = f.verifying_command("kdig") + " +short ";
  auto post = run_command(base + "a.example A +https");
  INFO(post.output);
  CHECK(post.exit_code == 0);
  CHECK(post.output.find("127.0.0.53") != std::string::npos);
  auto get = run_command(base + "b.example A +https-get");
  INFO(get.output);
  CHECK(get.exit_code == 0);
  CHECK(get.output.find("127.0.0.53") != std::string::npos);
}

TEST_CASE("dig +https gets verified answers", "[doh][external]") {
  if (missing_program("dig")) return;
  DohFixture f;
  std::string base = f.verifying_command("dig") + " +short ";
  auto post = run_command(base + "+https a.example A");
  INFO(post.output);
  CHECK(post.output.find("127.0.0.53") != std::string::npos);
  CHECK(post.output.find("failed") == std::string::npos);
  auto get = run_command(base + "+https-get b.example A");
  INFO(get.output);
  CHECK(get.output.find("127.0.0.53") != std::string::npos);
}

TEST_CASE("dnsperf -m doh completes every query (POST and GET)", "[doh][external]") {
  if (missing_program("dnsperf")) return;
  DohFixture f;
  DnsperfQueryFile queries("a.example A\nb.example A\nslow.example A\nc.example AAAA\n");
  for (const char* method : {"POST", "GET"}) {
    auto result = run_command(f.dnsperf_command("doh", queries) +
                                  " -n 50 -c 2 -l 5 -O doh-uri=https://localhost/dns-query -O doh-method=" + method,
                              30);
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("Queries completed:    200") != std::string::npos);
    CHECK(result.output.find("Queries lost:         0") != std::string::npos);
  }
}

// Not run by default ("[.]"): throughput figures for the report.
//   test_transports "[bench]"
TEST_CASE("dnsperf throughput against DoT and DoH", "[.][bench]") {
  if (!have_program("dnsperf")) return;
  DnsperfQueryFile queries("a.example A\nb.example A\nc.example AAAA\n");
  {
    DohFixture f;
    auto r = run_command(f.dnsperf_command("doh", queries) +
                             " -c 4 -l 5 -O doh-uri=https://localhost/dns-query -O doh-method=POST",
                         30);
    WARN("DoH POST:\n" << r.output);
    if (have_program("h2load")) {
      QueryFiles q("h2load.example");
      auto h = run_command("h2load -n 20000 -c 4 -m 10 -d " + q.query +
                               " -H \"content-type: application/dns-message\" " + f.url(),
                           60);
      WARN("h2load:\n" << h.output);
    }
  }
}
