// DNS over HTTPS on HTTP/3: the listener on the shared QUIC endpoint, driven
// by bench/doh3_client (ngtcp2 + nghttp3; no Debian client speaks DoH over
// HTTP/3): GET and POST answers, every error status, the JSON API,
// concurrent streams on several connections, ALPN, and the wildcard refusal.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "tests/transports/doh3_fixture.h"
#include "transports/doh_metrics.h"
#include "transports/transport_metrics.h"

using namespace sextant::transports;
using namespace sextant::transports::test;


TEST_CASE("DoH over HTTP/3 answers POST and GET with a verified certificate", "[doh][http3]") {
  if (missing_doh3_client()) return;
  Doh3Fixture f;
  auto before = snapshot(transport_counters(Transport::doh));
  auto http_before = doh_http_snapshot();
  for (const char* method : {"POST", "GET"}) {
    auto r = run_command(f.client() + " --method " + std::string(method) + " --print h3.example A");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("h3.example.") != std::string::npos);
    CHECK(r.output.find("127.0.0.53") != std::string::npos);
    CHECK(r.output.find("Queries completed:    1 (100.00%)") != std::string::npos);
    CHECK(r.output.find("HTTP statuses:        200 1") != std::string::npos);
  }
  // The raw response: headers as on HTTP/2.
  auto query = make_query("raw.example", 1, 0);
  auto raw = run_command(f.client() + " --request GET \"/dns-query?dns=" + base64url(query) + "\" -o " + f.dir.file("answer.bin"));
  INFO(raw.output);
  CHECK(raw.output.find("status: 200") != std::string::npos);
  CHECK(raw.output.find("content-type: application/dns-message") != std::string::npos);
  CHECK(raw.output.find("cache-control: max-age=300") != std::string::npos);
  CHECK(is_echo_answer(read_file(f.dir.file("answer.bin")), query));
  auto transports = f.handler.transports();
  REQUIRE(transports.size() == 3);
  CHECK(transports[0] == Transport::doh);
  auto after = snapshot(transport_counters(Transport::doh));
  CHECK(after.queries >= before.queries + 3);
  CHECK(after.handshakes_completed >= before.handshakes_completed + 3);
  CHECK(doh_http_snapshot().requests[static_cast<size_t>(HttpVersion::http3)] >=
        http_before.requests[static_cast<size_t>(HttpVersion::http3)] + 3);
}

TEST_CASE("DoH over HTTP/3 answers bad requests with 400, 404, 405, 413 and 415", "[doh][http3]") {
  if (missing_doh3_client()) return;
  Doh3Fixture f;
  auto query = make_query("a.example", 1, 0);
  write_file(f.dir.file("q.bin"), query);
  write_file(f.dir.file("big.bin"), std::vector<uint8_t>(70000, 0));
  write_file(f.dir.file("junk.bin"), std::vector<uint8_t>{1, 2, 3});
  auto status_of = [&](const std::string& arguments) {
    auto r = run_command(f.client() + " " + arguments);
    INFO(r.output);
    auto at = r.output.find("status: ");
    return at == std::string::npos ? 0 : std::atoi(r.output.c_str() + at + 8);
  };
  CHECK(status_of("--request GET \"/dns-query?dns=%%%\"") == 400);
  CHECK(status_of("--request GET /dns-query") == 400);
  CHECK(status_of("--request POST /dns-query --body " + f.dir.file("junk.bin")) == 400);
  CHECK(status_of("--request POST /elsewhere --body " + f.dir.file("q.bin")) == 404);
  CHECK(status_of("--request PUT /dns-query --body " + f.dir.file("q.bin")) == 405);
  CHECK(status_of("--request POST /dns-query --body " + f.dir.file("big.bin")) == 413);
  // A GET too long for any DNS message cannot even be carried: nghttp3
  // 0.8's QPACK decoder refuses field values over 64 KiB, and that is a
  // connection error (H3_GENERAL_PROTOCOL_ERROR); the listener goes on.
  auto huge = run_command(f.client() + " --request GET \"/dns-query?dns=" + base64url(std::vector<uint8_t>(66000, 0)) + "\"");
  CHECK(huge.output.find("application error 0x101") != std::string::npos);
  CHECK(status_of("--request POST /dns-query --content-type text/plain --body " + f.dir.file("q.bin")) == 415);
  auto put = run_command(f.client() + " --request PUT /dns-query --body " + f.dir.file("q.bin"));
  CHECK(put.output.find("allow: GET, POST") != std::string::npos);
  CHECK(f.handler.handled == 0);
}

TEST_CASE("DoH over HTTP/3 serves the JSON API when it is on", "[doh][http3][json]") {
  if (missing_doh3_client()) return;
  auto config = Doh3Fixture::test_config();
  config.endpoint.json = true;
  Doh3Fixture f(config);
  auto r = run_command(f.client() + " --request GET \"/resolve?name=json3.example&type=A\"");
  INFO(r.output);
  CHECK(r.output.find("status: 200") != std::string::npos);
  CHECK(r.output.find("content-type: application/dns-json") != std::string::npos);
  CHECK(r.output.find("\"Answer\":[{\"name\":\"json3.example.\",\"type\":1,\"TTL\":300,\"data\":\"127.0.0.53\"}]") !=
        std::string::npos);
  auto bad = run_command(f.client() + " --request GET \"/resolve?name=a..b\"");
  CHECK(bad.output.find("status: 400") != std::string::npos);
  CHECK(bad.output.find("{\"error\":") != std::string::npos);
}

TEST_CASE("DoH over HTTP/3 carries many concurrent streams on several connections", "[doh][http3]") {
  if (missing_doh3_client()) return;
  Doh3Fixture f;
  std::ofstream(f.dir.file("qfile")) << "fast1.example A\nslow1.example A\nfast2.example AAAA\nslow2.example A\n";
  auto r = run_command(f.client() + " -d " + f.dir.file("qfile") + " -n 400 -c 3 -m 40", 60);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("Queries completed:    400 (100.00%)") != std::string::npos);
  CHECK(r.output.find("Queries lost:         0") != std::string::npos);
  CHECK(r.output.find("HTTP statuses:        200 400") != std::string::npos);
}

TEST_CASE("DoH over HTTP/3 limits streams per connection and resets dropped queries", "[doh][http3]") {
  if (missing_doh3_client()) return;
  auto config = Doh3Fixture::test_config();
  config.max_streams_per_connection = 4;
  Doh3Fixture f(config);
  // More concurrent streams asked than allowed: the client waits for credit.
  auto r = run_command(f.client() + " -n 16 -m 16 slow.example A", 60);
  INFO(r.output);
  CHECK(r.output.find("Queries completed:    16 (100.00%)") != std::string::npos);
  // A query the resolver drops: the stream is reset, the others answered.
  auto dropped = run_command(f.client() + " -m 2 drop.example A fine.example A");
  INFO(dropped.output);
  CHECK(dropped.output.find("Queries lost:         1") != std::string::npos);
  CHECK(dropped.output.find("HTTP statuses:        200 1") != std::string::npos);
}

TEST_CASE("DoH over HTTP/3 refuses other ALPNs and the wildcard address", "[doh][http3]") {
  auto cert = make_test_cert("doh3-alpn");
  EchoHandler handler;
  auto config = Doh3Fixture::test_config();
  config.address = "0.0.0.0";
  CHECK_THROWS_WITH(ServerThread(
                        [&](const WorkerContext& worker, uint16_t&) {
                          return std::make_unique<Doh3Listener>(worker, config, make_doh3_tls_context({cert.cert, cert.key}));
                        },
                        handler),
                    Catch::Contains("concrete address"));
  if (missing_program("kdig")) return;
  // kdig speaks DoQ (ALPN doq) only: the HTTP/3 listener refuses it.
  Doh3Fixture f;
  auto r = run_command("kdig @127.0.0.1 -p " + std::to_string(f.port()) + " +timeout=2 +retry=0 a.example +quic");
  INFO(r.output);
  CHECK(r.output.find("127.0.0.53") == std::string::npos);
  CHECK(f.handler.handled == 0);
}

TEST_CASE("DoH over HTTP/3 closes idle connections and its listener shuts down cleanly", "[doh][http3]") {
  if (missing_doh3_client()) return;
  auto config = Doh3Fixture::test_config();
  config.idle_timeout_ms = 300;
  auto before = snapshot(transport_counters(Transport::doh));
  {
    Doh3Fixture f(config);
    auto r = run_command(f.client() + " -n 1 idle.example A");
    CHECK(r.exit_code == 0);
    // QUIC's idle timeout counts silence on the wire, so a 300 ms one would
    // cut 300 ms resolutions short: these answer at once.
    auto r2 = run_command(f.client() + " -n 20 -m 5 at-shutdown.example A");
    CHECK(r2.exit_code == 0);
  }
  auto after = snapshot(transport_counters(Transport::doh));
  CHECK(after.connections_accepted >= before.connections_accepted + 2);
}
