// DNS over HTTPS on HTTP/1.1: ALPN and preface sniffing beside HTTP/2,
// GET/POST, every error status, keep-alive and pipelining limits, framing
// attacks, trusted proxies, and real clients (curl --http1.1, h2load --h1).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/transports/doh_fixture.h"
#include "tests/transports/http1_test_client.h"
#include "transports/doh_metrics.h"
#include "transports/transport_metrics.h"

using namespace sextant::transports;
using namespace sextant::transports::test;

namespace {

// One HTTP/1.1 connection: TLS with ALPN "http/1.1", or cleartext.
struct Http1Connection {
  Http1Connection(const DohFixture& server, bool tls, std::vector<std::string> alpn = {"http/1.1"}) {
    if (tls) {
      tls_ = std::make_unique<TlsTestClient>(server.port(), server.client_options(std::move(alpn)));
      ok = tls_->handshake_ok();
      client = std::make_unique<Http1TestClient>(tls_sender(*tls_), tls_receiver(*tls_));
    } else {
      fd_ = connect_tcp(server.port());
      ok = fd_ >= 0;
      client = std::make_unique<Http1TestClient>(socket_sender(fd_), socket_receiver(fd_));
    }
  }
  ~Http1Connection() {
    client.reset();
    tls_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  Http1TestClient* operator->() { return client.get(); }

  bool ok = false;
  std::unique_ptr<Http1TestClient> client;

 private:
  std::unique_ptr<TlsTestClient> tls_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("DoH over HTTP/1.1 answers GET and POST on one kept-alive connection", "[doh][http1]") {
  auto tls = GENERATE(true, false);
  DohFixture f(tls ? DohFixture::test_config() : DohFixture::h2c_config());
  INFO((tls ? "TLS, ALPN http/1.1" : "cleartext"));
  Http1Connection c(f, tls);
  REQUIRE(c.ok);
  auto before = snapshot(transport_counters(Transport::doh));
  auto http_before = doh_http_snapshot();
  auto query = make_query("a.example", 1, 0);
  REQUIRE(c->send(http1_post(query)));
  auto post = c->read_response();
  REQUIRE(post);
  CHECK(post->status == 200);
  CHECK(post->reason == "OK");
  CHECK(post->header("content-type") == "application/dns-message");
  CHECK(post->header("cache-control") == "max-age=300");
  CHECK(post->header("content-length") == std::to_string(post->body.size()));
  CHECK(post->header("connection").empty());
  CHECK(is_echo_answer(post->body, query));
  REQUIRE(c->send(http1_get(query)));
  auto get = c->read_response();
  REQUIRE(get);
  CHECK(get->status == 200);
  CHECK(is_echo_answer(get->body, query));
  auto transports = f.handler.transports();
  REQUIRE(transports.size() == 2);
  CHECK(transports[0] == Transport::doh);
  auto after = snapshot(transport_counters(Transport::doh));
  CHECK(after.queries >= before.queries + 2);
  CHECK(after.responses >= before.responses + 2);
  auto http_after = doh_http_snapshot();
  CHECK(http_after.requests[static_cast<size_t>(HttpVersion::http1)] >=
        http_before.requests[static_cast<size_t>(HttpVersion::http1)] + 2);
  CHECK(http_after.statuses[0] >= http_before.statuses[0] + 2);  // 200
}

TEST_CASE("DoH picks HTTP/2 or HTTP/1.1 by ALPN, else by the HTTP/2 preface", "[doh][http1]") {
  SECTION("TLS without ALPN, HTTP/1.1 request") {
    DohFixture f;
    Http1Connection c(f, true, {});
    REQUIRE(c.ok);
    auto query = make_query("noalpn1.example", 1, 0);
    c->send(http1_post(query));
    auto r = c->read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(is_echo_answer(r->body, query));
  }
  SECTION("cleartext, HTTP/2 with prior knowledge (h2c)") {
    DohFixture f(DohFixture::h2c_config());
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    H2TestClient h2(socket_sender(fd), socket_receiver(fd));
    auto query = make_query("h2c.example", 1, 0);
    int32_t id = h2.submit("POST", "/dns-query", {{"content-type", "application/dns-message"}}, query);
    REQUIRE(h2.run());
    CHECK(h2.responses[id].status == 200);
    CHECK(is_echo_answer(h2.responses[id].body, query));
    ::close(fd);
  }
  SECTION("ALPN http/1.1 is refused when HTTP/1.1 is off") {
    auto config = DohFixture::test_config();
    config.http1 = false;
    DohFixture f(config);
    TlsTestClient refused(f.port(), f.client_options({"http/1.1"}));
    CHECK_FALSE(refused.handshake_ok());
    TlsTestClient h2(f.port(), f.client_options({"h2", "http/1.1"}));
    REQUIRE(h2.handshake_ok());
    CHECK(h2.alpn() == "h2");
  }
  SECTION("cleartext HTTP/1.1 is closed when HTTP/1.1 is off") {
    auto config = DohFixture::h2c_config();
    config.http1 = false;
    DohFixture f(config);
    Http1Connection c(f, false);
    REQUIRE(c.ok);
    c->send(http1_get(make_query("off.example", 1, 0)));
    CHECK(c->wait_for_close(3000));
    CHECK(f.handler.handled == 0);
  }
}

TEST_CASE("DoH over HTTP/1.1 answers bad requests with 400, 404, 405, 413 and 415", "[doh][http1]") {
  auto tls = GENERATE(true, false);
  DohFixture f(tls ? DohFixture::test_config() : DohFixture::h2c_config());
  Http1Connection c(f, tls);
  REQUIRE(c.ok);
  auto query = make_query("a.example", 1, 0);
  auto status_of = [&](const std::string& request) {
    REQUIRE(c->send(request));
    auto r = c->read_response();
    REQUIRE(r);
    return *r;
  };
  // All on one connection: a DoH-level error keeps it usable.
  CHECK(status_of("GET /dns-query?dns=%%% HTTP/1.1\r\nHost: x\r\n\r\n").status == 400);
  CHECK(status_of("GET /dns-query?dns=" + base64url(query) + "== HTTP/1.1\r\nHost: x\r\n\r\n").status == 400);
  CHECK(status_of("GET /dns-query HTTP/1.1\r\nHost: x\r\n\r\n").status == 400);
  auto not_dns = status_of(http1_post(std::vector<uint8_t>{1, 2, 3}));
  CHECK(not_dns.status == 400);
  CHECK(not_dns.header("content-type") == "text/plain");
  CHECK(not_dns.text() == "body is not a DNS query\n");
  CHECK(status_of(http1_post(query, "/other")).status == 404);
  auto put = status_of("PUT /dns-query HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  CHECK(put.status == 405);
  CHECK(put.header("allow") == "GET, POST");
  CHECK(status_of("HEAD /dns-query?dns=" + base64url(query) + " HTTP/1.1\r\nHost: x\r\n\r\n").status == 405);
  auto wrong_type = http1_post(query);
  wrong_type.replace(wrong_type.find("application/dns-message"), 23, "text/plain");
  CHECK(status_of(wrong_type).status == 415);
  // 413 from Content-Length: the body is read and discarded, the
  // connection stays in step.
  auto big = status_of(http1_post(std::vector<uint8_t>(70000, 0)));
  CHECK(big.status == 413);
  CHECK(big.header("connection").empty());
  // 413 from a GET whose dns= is longer than any DNS message.
  std::vector<uint8_t> huge(66000, 0);
  CHECK(status_of("GET /dns-query?dns=" + base64url(huge) + " HTTP/1.1\r\nHost: x\r\n\r\n").status == 413);
  auto fine = status_of(http1_post(query));
  CHECK(fine.status == 200);
  CHECK(is_echo_answer(fine.body, query));
  CHECK(f.handler.handled == 1);  // only the valid request reached the resolver
}

TEST_CASE("DoH over HTTP/1.1 ends the connection on requests it cannot frame", "[doh][http1]") {
  DohFixture f(DohFixture::h2c_config());
  struct Case {
    std::string request;
    int status;
  };
  const Case cases[] = {
      {"GET /dns-query HTTP/1.1\r\n\r\n", 400},                                    // no Host
      {"GET /dns-query HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},              // two Hosts
      {"POST /dns-query HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST /dns-query HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400},
      {"POST /dns-query HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"POST /dns-query HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"POST /dns-query HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n20000\r\n", 413},
      {"POST /dns-query HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413},  // too much to discard
      {"POST /dns-query HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 70000\r\n\r\n", 413},
      {"POST /dns-query HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417},
      {"GET /dns-query HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"GET dns-query HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"GET /dns-query HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},
      {"GET /" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(120 * 1024, 'v') + "\r\n\r\n", 431},
  };
  for (const auto& c : cases) {
    INFO(c.request.substr(0, 120));
    Http1Connection conn(f, false);
    REQUIRE(conn.ok);
    conn->send(c.request);
    auto r = conn->read_response();
    REQUIRE(r);
    CHECK(r->status == c.status);
    CHECK(r->header("connection") == "close");
    CHECK(conn->wait_for_close(3000));
  }
  CHECK(f.handler.handled == 0);
}

TEST_CASE("DoH over HTTP/1.1 reads chunked bodies and honours Expect: 100-continue", "[doh][http1]") {
  DohFixture f;
  Http1Connection c(f, true);
  REQUIRE(c.ok);
  auto query = make_query("chunked.example", 1, 0);
  std::string half(reinterpret_cast<const char*>(query.data()), 10);
  std::string rest(reinterpret_cast<const char*>(query.data()) + 10, query.size() - 10);
  char sizes[64];
  std::snprintf(sizes, sizeof sizes, "%zx", rest.size());
  std::string chunked = "POST /dns-query HTTP/1.1\r\nHost: x\r\nContent-Type: application/dns-message\r\n"
                        "Transfer-Encoding: chunked\r\n\r\na;ext=1\r\n" + half + "\r\n" + sizes + "\r\n" + rest +
                        "\r\n0\r\n\r\n";
  c->send(chunked);
  auto r = c->read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(is_echo_answer(r->body, query));

  std::string with_expect = http1_post(query, "/dns-query", "Expect: 100-continue\r\n");
  c->send(with_expect.substr(0, with_expect.size() - query.size()));  // the head alone
  auto interim = c->read_response();
  REQUIRE(interim);
  CHECK(interim->status == 100);
  c->send(std::span<const uint8_t>(query));
  auto final_answer = c->read_response();
  REQUIRE(final_answer);
  CHECK(final_answer->status == 200);
  CHECK(is_echo_answer(final_answer->body, query));
}

TEST_CASE("DoH over HTTP/1.1 answers pipelined requests in order", "[doh][http1]") {
  DohFixture f;
  Http1Connection c(f, true);
  REQUIRE(c.ok);
  std::string batch;
  std::vector<std::vector<uint8_t>> queries;
  for (int i = 0; i < 10; ++i) {
    // Every third is slow: later fast answers must wait for it.
    queries.push_back(make_query((i % 3 == 0 ? "slow" : "fast") + std::to_string(i) + ".example", 1, 0));
    batch += i % 2 ? http1_get(queries.back()) : http1_post(queries.back());
  }
  REQUIRE(c->send(batch));  // one write: ten requests
  for (const auto& query : queries) {
    auto r = c->read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(is_echo_answer(r->body, query));
  }
  // An error in the middle of a pipeline keeps its place.
  auto good = make_query("p1.example", 1, 0);
  c->send(http1_post(make_query("slow-first.example", 1, 0)) + http1_post(good, "/nowhere") + http1_get(good));
  auto first = c->read_response();
  auto second = c->read_response();
  auto third = c->read_response();
  REQUIRE(first);
  REQUIRE(second);
  REQUIRE(third);
  CHECK(first->status == 200);
  CHECK(second->status == 404);
  CHECK(third->status == 200);
  CHECK(is_echo_answer(third->body, good));
}

TEST_CASE("DoH over HTTP/1.1 bounds the requests in flight per connection", "[doh][http1]") {
  auto config = DohFixture::test_config();
  config.http1_max_pipeline = 2;
  DohFixture f(config, 1000);  // slow answers take a second
  Http1Connection c(f, true);
  REQUIRE(c.ok);
  std::string batch;
  for (int i = 0; i < 4; ++i) batch += http1_get(make_query("slow" + std::to_string(i) + ".example", 1, 0));
  REQUIRE(c->send(batch));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (f.handler.handled < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(f.handler.handled == 2);  // the other two wait unread
  for (int i = 0; i < 4; ++i) {
    auto r = c->read_response(5000);
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  CHECK(f.handler.handled == 4);
}

TEST_CASE("DoH over HTTP/1.1 keep-alive: limits, Connection: close and HTTP/1.0", "[doh][http1]") {
  auto config = DohFixture::h2c_config();
  config.http1_max_requests = 3;
  DohFixture f(config);
  auto query = make_query("ka.example", 1, 0);
  {
    Http1Connection c(f, false);
    REQUIRE(c.ok);
    for (int i = 1; i <= 3; ++i) {
      c->send(http1_get(query));
      auto r = c->read_response();
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(r->header("connection") == (i == 3 ? "close" : ""));
    }
    CHECK(c->wait_for_close(3000));
  }
  {
    Http1Connection c(f, false);
    REQUIRE(c.ok);
    c->send(http1_get(query, "Connection: close\r\n") + http1_get(query));  // the second is never read
    auto r = c->read_response();
    REQUIRE(r);
    CHECK(r->header("connection") == "close");
    CHECK_FALSE(c->read_response(500));
    CHECK(c->wait_for_close(3000));
  }
  {
    Http1Connection c(f, false);
    REQUIRE(c.ok);
    c->send("GET /dns-query?dns=" + base64url(query) + " HTTP/1.0\r\n\r\n");
    auto r = c->read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("connection") == "close");
    CHECK(c->wait_for_close(3000));
  }
  {
    Http1Connection c(f, false);
    REQUIRE(c.ok);
    for (int i = 0; i < 2; ++i) {
      c->send("GET /dns-query?dns=" + base64url(query) + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      auto r = c->read_response();
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(r->header("connection") == "keep-alive");
    }
  }
}

TEST_CASE("DoH over HTTP/1.1: a dropped query ends the connection after the answers before it", "[doh][http1]") {
  DohFixture f;
  Http1Connection c(f, true);
  REQUIRE(c.ok);
  auto first = make_query("slow-before.example", 1, 0);
  c->send(http1_get(first) + http1_get(make_query("drop.example", 1, 0)) + http1_get(make_query("after.example", 1, 0)));
  auto r = c->read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(is_echo_answer(r->body, first));
  CHECK_FALSE(c->read_response(1000));
  CHECK(c->closed());
}

TEST_CASE("DoH over HTTP/1.1 closes idle connections and survives a reset mid-request", "[doh][http1]") {
  auto config = DohFixture::test_config();
  config.stream.idle_timeout_ms = 400;
  DohFixture f(config);
  {
    Http1Connection c(f, true);
    REQUIRE(c.ok);
    c->send(http1_get(make_query("idle.example", 1, 0)));
    REQUIRE(c->read_response());
    CHECK(c->wait_for_close(3000));
  }
  {
    // Half a head, then gone; and a slow answer to a client that left.
    int fd = connect_tcp(f.port());
    REQUIRE(fd >= 0);
    ::close(fd);
    Http1Connection c(f, true);
    REQUIRE(c.ok);
    c->send(http1_get(make_query("slow-gone.example", 1, 0)) + "GET /dns-query?dns=AAAA");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  Http1Connection c(f, true);
  REQUIRE(c.ok);
  c->send(http1_get(make_query("later.example", 1, 0)));
  auto r = c->read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("DoH over cleartext HTTP/1.1 believes X-Forwarded-For from trusted proxies only", "[doh][http1][proxy]") {
  auto trusted = GENERATE(true, false);
  auto config = DohFixture::h2c_config();
  config.stream.trusted_proxies =
      std::make_shared<TrustedProxies>(std::vector<std::string>{trusted ? "127.0.0.0/8" : "10.0.0.0/8"});
  DohFixture f(config);
  Http1Connection c(f, false);
  REQUIRE(c.ok);
  c->send(http1_post(make_query("xff.example", 1, 0), "/dns-query",
                     "X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 203.0.113.7\r\n"));
  REQUIRE(c->read_response());
  auto peers = f.handler.peers();
  REQUIRE(peers.size() == 1);
  CHECK(address_text(peers[0]) == (trusted ? "203.0.113.7" : "127.0.0.1"));
}

TEST_CASE("DoH sends Alt-Svc on HTTP/1.1 and HTTP/2 answers when configured", "[doh][http1]") {
  auto config = DohFixture::test_config();
  config.alt_svc = "h3=\":8443\"; ma=86400";
  DohFixture f(config);
  auto query = make_query("altsvc.example", 1, 0);
  Http1Connection c(f, true);
  REQUIRE(c.ok);
  c->send(http1_get(query));
  auto r1 = c->read_response();
  REQUIRE(r1);
  CHECK(r1->header("alt-svc") == "h3=\":8443\"; ma=86400");
  c->send("GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n");
  auto error = c->read_response();
  REQUIRE(error);
  CHECK(error->status == 404);
  CHECK(error->header("alt-svc") == "h3=\":8443\"; ma=86400");

  TlsTestClient tls(f.port(), f.client_options({"h2"}));
  REQUIRE(tls.handshake_ok());
  H2TestClient h2(tls_sender(tls), tls_receiver(tls));
  int32_t id = h2.submit("GET", "/dns-query?dns=" + base64url(query));
  REQUIRE(h2.run());
  CHECK(h2.responses[id].headers["alt-svc"] == "h3=\":8443\"; ma=86400");
}

// ---------------------------------------------------------------------------
// Real clients

TEST_CASE("curl --http1.1 gets answers and every error status", "[doh][http1][external]") {
  if (missing_program("curl")) return;
  DohFixture f;
  TemporaryDirectory temporary("doh1-curl");
  const std::string& dir = temporary.path();
  auto query = make_query("curl1.example", 1, 0);
  write_file(dir + "/q.bin", query);
  write_file(dir + "/big.bin", std::vector<uint8_t>(70000, 0));
  std::string base = "curl -sS --http1.1 --cacert " + f.cert.cert + " ";
  std::string ct = " -H \"content-type: application/dns-message\" ";
  auto post = run_command(base + ct + "--data-binary @" + dir + "/q.bin " + f.url() + " -o " + dir +
                          "/r.bin -D - -w \"http=%{http_version} code=%{http_code}\\n\"");
  INFO(post.output);
  CHECK(post.exit_code == 0);
  CHECK(post.output.find("http=1.1 code=200") != std::string::npos);
  CHECK(post.output.find("Cache-Control: max-age=300") != std::string::npos);
  CHECK(is_echo_answer(read_file(dir + "/r.bin"), query));
  auto get = run_command(base + "\"" + f.url() + "?dns=" + base64url(query) + "\" -o " + dir +
                         "/g.bin -w \"http=%{http_version} code=%{http_code}\\n\"");
  INFO(get.output);
  CHECK(get.output.find("http=1.1 code=200") != std::string::npos);
  CHECK(is_echo_answer(read_file(dir + "/g.bin"), query));

  std::string status = base + "-o /dev/null -w \"%{http_code}\" ";
  CHECK(run_command(status + "\"" + f.url() + "?dns=not*base64\"").output == "400");
  CHECK(run_command(status + ct + "--data-binary @" + dir + "/big.bin " + f.url()).output == "413");
  CHECK(run_command(status + "-H \"content-type: text/plain\" --data-binary @" + dir + "/q.bin " + f.url()).output == "415");
  CHECK(run_command(status + ct + "-X PUT --data-binary @" + dir + "/q.bin " + f.url()).output == "405");
  CHECK(run_command(status + ct + "--data-binary @" + dir + "/q.bin " + f.url("/elsewhere")).output == "404");
}

TEST_CASE("h2load --h1 completes every request over HTTP/1.1", "[doh][http1][external]") {
  if (missing_program("h2load")) return;
  DohFixture f;
  QueryFiles q("h2load.example");
  auto r = run_command("h2load --h1 -n 400 -c 4 -m 4 -d " + q.query +
                           " -H \"content-type: application/dns-message\" " + f.url(),
                       30);
  INFO(r.output);
  CHECK(r.output.find("400 succeeded") != std::string::npos);
  CHECK(r.output.find("status codes: 400 2xx") != std::string::npos);
}

TEST_CASE("DoH over HTTP/1.1 accepts absolute-form targets (RFC 9112 3.2.2)", "[doh][http1]") {
  DohFixture f(DohFixture::h2c_config());
  Http1Connection c(f, false);
  REQUIRE(c.ok);
  auto query = make_query("absolute.example", 1, 0);
  c->send("GET http://localhost:" + std::to_string(f.port()) + "/dns-query?dns=" + base64url(query) +
          " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  auto r = c->read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(is_echo_answer(r->body, query));
}
