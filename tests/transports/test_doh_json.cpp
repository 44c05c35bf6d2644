// The JSON API (application/dns-json): query parameters to a DNS query, a
// wire answer to Google's JSON layout, and the routing in
// validate_doh_request.
#include <catch2/catch.hpp>

#include "transports/doh_json.h"
#include "transports/doh_request.h"
#include "transports/doh_response.h"
#include "wire/message.h"
#include "wire/rdata.h"

using namespace sextant;
using namespace sextant::transports;

namespace {

wire::Message parsed(std::span<const uint8_t> bytes) {
  wire::Message m;
  REQUIRE(wire::Message::parse(bytes, m) == wire::WireError::ok);
  return m;
}

wire::ResourceRecord record(std::string_view owner, wire::RRType type, uint32_t ttl, std::string_view data) {
  wire::ResourceRecord rr;
  rr.owner = wire::Name::from_text(owner);
  rr.type = type;
  rr.ttl = ttl;
  rr.rdata = wire::rdata_from_text(type, data);
  return rr;
}

std::vector<uint8_t> built(const wire::Message& m) {
  std::vector<uint8_t> out;
  REQUIRE(wire::build_message(m, out) == wire::WireError::ok);
  return out;
}

}  // namespace

TEST_CASE("doh json: parameters become a DNS query", "[doh][json]") {
  auto q = parse_json_query("/resolve?name=Example.COM&type=aaaa&do=1&cd=true");
  REQUIRE(q.status == 200);
  CHECK_FALSE(q.wire_answer);
  auto m = parsed(q.query);
  REQUIRE(m.questions.size() == 1);
  CHECK(m.questions[0].name.to_text() == "Example.COM.");
  CHECK(m.questions[0].type == wire::RRType::AAAA);
  CHECK(m.header.rd());
  CHECK(m.header.cd());
  CHECK_FALSE(m.header.qr());
  REQUIRE(m.edns);
  CHECK(m.edns->dnssec_ok());

  auto defaults = parsed(parse_json_query("/dns-query?name=example.org.").query);
  CHECK(defaults.questions[0].type == wire::RRType::A);
  CHECK_FALSE(defaults.header.cd());
  CHECK_FALSE(defaults.edns->dnssec_ok());

  CHECK(parsed(parse_json_query("/r?name=a.example&type=65").query).questions[0].type == wire::RRType::HTTPS);
  CHECK(parsed(parse_json_query("/r?name=a.example&type=TYPE99").query).questions[0].type == static_cast<wire::RRType>(99));
  CHECK(parsed(parse_json_query("/r?name=%61.example%2E&type=MX").query).questions[0].name.to_text() == "a.example.");
  CHECK(parse_json_query("/r?name=a.example&ct=application%2Fdns-message").wire_answer);
  CHECK(parse_json_query("/r?name=a.example&edns_client_subnet=1.2.3.0/24&random_padding=xx").status == 200);
}

TEST_CASE("doh json: bad parameters are 400 with a reason", "[doh][json]") {
  const char* bad[] = {
      "/resolve",
      "/resolve?type=A",
      "/resolve?name=",
      "/resolve?name=%zz",
      "/resolve?name=%4",
      "/resolve?name=a..b",
      "/resolve?name=a.example&type=0",
      "/resolve?name=a.example&type=65536",
      "/resolve?name=a.example&type=BOGUS",
      "/resolve?name=a.example&type=-1",
      "/resolve?name=a.example&cd=2",
      "/resolve?name=a.example&do=yes",
  };
  for (const char* path : bad) {
    INFO(path);
    auto q = parse_json_query(path);
    CHECK(q.status == 400);
    CHECK_FALSE(q.reason.empty());
    CHECK(q.query.empty());
  }
  std::string long_label = "/resolve?name=" + std::string(64, 'a') + ".example";
  CHECK(parse_json_query(long_label).status == 400);
  std::string long_name = "/resolve?name=";
  for (int i = 0; i < 60; ++i) long_name += "abcd.";
  CHECK(parse_json_query(long_name).status == 400);  // 300 characters
}

TEST_CASE("doh json: percent-decoding and JSON strings", "[doh][json]") {
  CHECK(percent_decode("a%2Eb+c") == "a.b+c");
  CHECK(percent_decode("%41%6a") == "Aj");
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("%4"));
  CHECK_FALSE(percent_decode("%G0"));
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\x01\xff", 8));
  CHECK(out == "\"a\\\"b\\\\c\\u000a\\u0001\\u00ff\"");
}

TEST_CASE("doh json: an answer in Google's layout", "[doh][json]") {
  wire::Message m;
  m.header.id = 0;
  m.header.set_qr(true);
  m.header.set_rd(true);
  m.header.set_ra(true);
  m.header.set_ad(true);
  m.questions.push_back({wire::Name::from_text("www.example.com."), wire::RRType::A, wire::RRClass::IN});
  m.answer.push_back(record("www.example.com.", wire::RRType::CNAME, 300, "host.example.com."));
  m.answer.push_back(record("host.example.com.", wire::RRType::A, 60, "192.0.2.1"));
  m.answer.push_back(record("host.example.com.", wire::RRType::TXT, 60, "\"say \\\"hi\\\"\""));
  wire::Edns edns;
  edns.add_extended_error(wire::EdeCode::StaleAnswer, "refresh failed");
  m.edns = edns;
  auto json = dns_json_from_answer(built(m));
  REQUIRE(json);
  CHECK(*json ==
        "{\"Status\":0,\"TC\":false,\"RD\":true,\"RA\":true,\"AD\":true,\"CD\":false,"
        "\"Question\":[{\"name\":\"www.example.com.\",\"type\":1}],"
        "\"Answer\":[{\"name\":\"www.example.com.\",\"type\":5,\"TTL\":300,\"data\":\"host.example.com.\"},"
        "{\"name\":\"host.example.com.\",\"type\":1,\"TTL\":60,\"data\":\"192.0.2.1\"},"
        "{\"name\":\"host.example.com.\",\"type\":16,\"TTL\":60,\"data\":\"\\\"say \\\\\\\"hi\\\\\\\"\\\"\"}],"
        "\"Comment\":[\"EDE(3): Stale Answer (refresh failed)\"]}");

  wire::Message nx;
  nx.header.set_qr(true);
  nx.set_rcode(wire::Rcode::NXDOMAIN);
  nx.questions.push_back({wire::Name::from_text("nx.example."), wire::RRType::AAAA, wire::RRClass::IN});
  nx.authority.push_back(record("example.", wire::RRType::SOA, 900, "ns.example. host.example. 1 2 3 4 300"));
  auto nx_json = dns_json_from_answer(built(nx));
  REQUIRE(nx_json);
  CHECK(nx_json->find("\"Status\":3") != std::string::npos);
  CHECK(nx_json->find("\"Authority\":[{\"name\":\"example.\",\"type\":6,\"TTL\":900,") != std::string::npos);
  CHECK(nx_json->find("\"Answer\"") == std::string::npos);

  CHECK_FALSE(dns_json_from_answer(std::vector<uint8_t>{1, 2, 3}));
}

TEST_CASE("doh json: routing is off by default and follows the endpoint", "[doh][json]") {
  DohHttpRequest get;
  get.method = "GET";
  get.path = "/dns-query?name=example.com&type=A";
  DohEndpoint off;
  CHECK(validate_doh_request(get, off).status == 400);  // "missing dns parameter"
  get.path = "/resolve?name=example.com";
  CHECK(validate_doh_request(get, off).status == 404);

  DohEndpoint on;
  on.json = true;
  auto google = validate_doh_request(get, on);
  CHECK(google.status == 200);
  CHECK(google.format == DohFormat::json);
  get.path = "/dns-query?name=example.com&type=A";
  auto cloudflare = validate_doh_request(get, on);
  CHECK(cloudflare.status == 200);
  CHECK(cloudflare.format == DohFormat::json);
  get.path = "/dns-query?name=example.com&ct=application/dns-message";
  CHECK(validate_doh_request(get, on).format == DohFormat::dns_message);
  get.path = "/resolve?name=bad..name";
  auto bad = validate_doh_request(get, on);
  CHECK(bad.status == 400);
  CHECK(bad.format == DohFormat::json);
  DohHttpRequest post = get;
  post.method = "POST";
  post.path = "/resolve";
  CHECK(validate_doh_request(post, on).status == 405);
}

TEST_CASE("doh response: bodies, types and freshness per format", "[doh][json]") {
  wire::Message m;
  m.header.set_qr(true);
  m.questions.push_back({wire::Name::from_text("a.example."), wire::RRType::A, wire::RRClass::IN});
  m.answer.push_back(record("a.example.", wire::RRType::A, 42, "192.0.2.7"));
  auto answer = built(m);
  auto wire_response = doh_answer_response(answer, DohFormat::dns_message);
  CHECK(wire_response.status == 200);
  CHECK(wire_response.content_type == "application/dns-message");
  CHECK(wire_response.max_age == 42u);
  CHECK(wire_response.body == answer);
  CHECK_FALSE(wire_response.cors);
  auto json_response = doh_answer_response(answer, DohFormat::json);
  CHECK(json_response.content_type == "application/dns-json");
  CHECK(json_response.max_age == 42u);
  CHECK(json_response.cors);
  CHECK(std::string(json_response.body.begin(), json_response.body.end()).find("192.0.2.7") != std::string::npos);
  CHECK(doh_answer_response(std::vector<uint8_t>{0}, DohFormat::json).status == 500);

  auto error = doh_error_response(405, "method not allowed", DohFormat::dns_message);
  CHECK(error.allow);
  CHECK(error.content_type == "text/plain");
  CHECK(std::string(error.body.begin(), error.body.end()) == "method not allowed\n");
  auto json_error = doh_error_response(400, "bad \"name\"", DohFormat::json);
  CHECK(std::string(json_error.body.begin(), json_error.body.end()) == "{\"error\":\"bad \\\"name\\\"\"}");
  CHECK(http_reason_phrase(413) == "Content Too Large");
}

TEST_CASE("doh response: HTTP/2 and HTTP/3 header fields", "[doh]") {
  DohResponse response;
  response.status = 405;
  response.content_type = "text/plain";
  response.max_age = 300;
  response.allow = true;
  response.body = {'n', 'o'};
  using Fields = std::vector<std::pair<std::string_view, std::string_view>>;
  const DohHeaderFields with_alt_svc(response, "h3=\":443\"");
  CHECK(with_alt_svc.fields() == Fields{{":status", "405"},
                                        {"content-type", "text/plain"},
                                        {"cache-control", "max-age=300"},
                                        {"allow", "GET, POST"},
                                        {"alt-svc", "h3=\":443\""},
                                        {"content-length", "2"}});
  DohResponse bare;
  bare.cors = true;
  const DohHeaderFields without(bare, "");
  CHECK(without.fields() == Fields{{":status", "200"}, {"access-control-allow-origin", "*"}, {"content-length", "0"}});
}

namespace {

std::optional<wire::ClientSubnetOption> subnet_of(const DohJsonQuery& q) {
  REQUIRE(q.status == 200);
  wire::Message m = parsed(q.query);
  REQUIRE(m.edns);
  const wire::EdnsOption* o = m.edns->find(wire::EdnsOptionCode::ClientSubnet);
  if (!o) return std::nullopt;
  wire::ClientSubnetOption s;
  REQUIRE(wire::decode_client_subnet(o->data, s) == wire::WireError::ok);
  return s;
}

}  // namespace

TEST_CASE("doh json: edns_client_subnet becomes the query's ECS option", "[doh][json][ecs]") {
  auto v4 = subnet_of(parse_json_query("/resolve?name=a.example&edns_client_subnet=198.51.100.77/24"));
  REQUIRE(v4);
  CHECK(v4->family == wire::ClientSubnetOption::kFamilyIPv4);
  CHECK(v4->source_prefix == 24);
  CHECK(v4->scope_prefix == 0);
  CHECK(v4->address == std::array<uint8_t, 16>{198, 51, 100, 0});  // bits past the prefix cleared
  auto whole = subnet_of(parse_json_query("/resolve?name=a.example&edns_client_subnet=198.51.100.77"));
  REQUIRE(whole);
  CHECK(whole->source_prefix == 32);
  auto v6 = subnet_of(parse_json_query("/resolve?name=a.example&edns_client_subnet=2001%3Adb8%3A1%3A2%3A%3A1%2F48"));
  REQUIRE(v6);
  CHECK(v6->family == wire::ClientSubnetOption::kFamilyIPv6);
  CHECK(v6->source_prefix == 48);
  CHECK(v6->address[5] == 1);
  CHECK(v6->address[6] == 0);
  auto none = subnet_of(parse_json_query("/resolve?name=a.example&edns_client_subnet=0.0.0.0/0"));
  REQUIRE(none);
  CHECK(none->source_prefix == 0);  // "do not reveal my subnet" (RFC 7871 §7.1.2)
  CHECK_FALSE(subnet_of(parse_json_query("/resolve?name=a.example&edns_client_subnet=")));
  CHECK_FALSE(subnet_of(parse_json_query("/resolve?name=a.example")));
}

TEST_CASE("doh json: a bad edns_client_subnet is 400", "[doh][json][ecs]") {
  for (const char* value : {"x", "1.2.3", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/-1", "1.2.3.4/24/8", "1.2.3.4/ 24",
                            "::1/129", "1.2.3.4%2", "1.2.3.4/2a", "256.1.1.1/8", "1.2.3.4/99999999999",
                            "[::1]/64"}) {
    INFO(value);
    auto q = parse_json_query(std::string("/resolve?name=a.example&edns_client_subnet=") + value);
    CHECK(q.status == 400);
    CHECK(q.reason.find("edns_client_subnet") != std::string_view::npos);
    CHECK(q.query.empty());
  }
}

TEST_CASE("doh json: the answer shows the ECS option it echoes, with its scope", "[doh][json][ecs]") {
  wire::Message m;
  m.header.set_qr(true);
  m.questions.push_back({wire::Name::from_text("a.example."), wire::RRType::A, wire::RRClass::IN});
  wire::Edns edns;
  wire::ClientSubnetOption s;
  uint8_t address[4] = {198, 51, 100, 0};
  REQUIRE(wire::ClientSubnetOption::from_address(1, address, 24, 16, s) == wire::WireError::ok);
  edns.options.push_back(wire::encode(s));
  m.edns = edns;
  auto json = dns_json_from_answer(built(m));
  REQUIRE(json);
  CHECK(json->find(",\"edns_client_subnet\":\"198.51.100.0/16\"") != std::string::npos);
}
