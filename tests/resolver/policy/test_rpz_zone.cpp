// RPZ interpretation: triggers, actions, precedence, and zones refused whole.
#include <catch2/catch.hpp>

#include <string>

#include "resolver/policy/rpz_zone.h"
#include "wire/errors.h"

using namespace sextant;
using namespace sextant::resolver::policy;

namespace {

wire::Name N(const char* t) { return wire::Name::from_text(t); }

const char* kZone = R"($TTL 300
@ SOA ns.rpz.test. hostmaster.rpz.test. 42 3600 600 86400 300
@ NS ns.rpz.test.
nx.example.com          CNAME .
*.nx.example.com        CNAME .
nodata.example.com      CNAME *.
pass.example.com        CNAME rpz-passthru.
legacy.example.com      CNAME legacy.example.com.
drop.example.com        CNAME rpz-drop.
tcp.example.com         CNAME rpz-tcp-only.
garden.example.com      CNAME walled.garden.test.
wild.example.com        CNAME *.garden.test.
local.example.com       A 192.0.2.80
local.example.com       A 192.0.2.81
local.example.com       TXT "rewritten"
32.1.2.0.192.rpz-ip     CNAME .
24.0.2.0.192.rpz-ip     CNAME *.
128.1.zz.db8.2001.rpz-ip CNAME rpz-drop.
24.0.113.0.203.rpz-client-ip CNAME rpz-drop.
ns.bad.rpz-nsdname      CNAME .
)";

std::shared_ptr<RpzZone> zone(RpzOptions o = {}) {
  return load_rpz_text(kZone, "threats.rpz", N("rpz.test."), std::move(o));
}

PolicyAnswer qname(const RpzZone& z, const char* name, wire::RRType type = wire::RRType::A) {
  RpzHit hit;
  PolicyAnswer a;
  LookupName l(N(name));
  if (!z.match_qname(l, hit)) return a;
  z.apply(hit, l, type, a);
  return a;
}

wire::RRset a_set(std::initializer_list<std::array<uint8_t, 4>> addrs) {
  wire::RRset s;
  s.owner = N("www.example.");
  s.type = wire::RRType::A;
  for (auto a : addrs) s.rdatas.emplace_back(a.begin(), a.end());
  return s;
}

}  // namespace

TEST_CASE("rpz: the zone is read into triggers", "[policy][rpz]") {
  auto z = zone();
  CHECK(z->name() == "rpz.test.");
  CHECK(z->serial() == 42u);
  CHECK(z->qname_triggers() == 10);
  CHECK(z->response_ip_triggers() == 3);
  CHECK(z->client_ip_triggers() == 1);
  CHECK(z->unsupported_triggers() == 1);
}

TEST_CASE("rpz: each QNAME action", "[policy][rpz]") {
  auto z = zone();
  auto nx = qname(*z, "nx.example.com.");
  CHECK(nx.disposition == Disposition::answer);
  CHECK(nx.rcode == wire::Rcode::NXDOMAIN);
  CHECK(nx.match.kind == PolicyKind::rpz);
  CHECK(nx.match.action == RpzAction::nxdomain);
  CHECK(nx.ede == wire::EdeCode::Blocked);
  // The wildcard covers the names below, the exact trigger the name.
  CHECK(qname(*z, "a.b.nx.example.com.").rcode == wire::Rcode::NXDOMAIN);
  CHECK(qname(*z, "a.b.nx.example.com.").match.rule_name == N("*.nx.example.com."));
  auto nodata = qname(*z, "nodata.example.com.");
  CHECK(nodata.rcode == wire::Rcode::NOERROR);
  CHECK(nodata.answer_count == 0);
  CHECK(nodata.match.action == RpzAction::nodata);
  CHECK(qname(*z, "pass.example.com.").disposition == Disposition::pass);
  CHECK(qname(*z, "pass.example.com.").match.action == RpzAction::passthru);
  CHECK(qname(*z, "legacy.example.com.").match.action == RpzAction::passthru);
  CHECK(qname(*z, "drop.example.com.").disposition == Disposition::drop);
  CHECK(qname(*z, "tcp.example.com.").disposition == Disposition::tcp_only);
  auto garden = qname(*z, "garden.example.com.");
  CHECK(garden.answer_count == 1);
  REQUIRE(garden.chase);
  CHECK(*garden.chase == N("walled.garden.test."));
  auto wild = qname(*z, "wild.example.com.");
  REQUIRE(wild.chase);
  CHECK(*wild.chase == N("wild.example.com.garden.test."));
  CHECK(wild.synthesised_cname);
  auto local = qname(*z, "local.example.com.");
  REQUIRE(local.answer_count == 1);
  CHECK(local.answer[0]->rdatas.size() == 2);
  CHECK(local.owner_is_qname);
  CHECK(qname(*z, "local.example.com.", wire::RRType::TXT).answer_count == 1);
  CHECK(qname(*z, "local.example.com.", wire::RRType::MX).answer_count == 0);  // NODATA
  CHECK(qname(*z, "clean.example.com.").match.kind == PolicyKind::none);
  CHECK(qname(*z, "example.com.").match.kind == PolicyKind::none);
}

TEST_CASE("rpz: response-IP and client-IP triggers, longest prefix first", "[policy][rpz]") {
  auto z = zone();
  RpzHit hit;
  wire::RRset one = a_set({{192, 0, 2, 1}});
  REQUIRE(z->match_response(std::span(&one, 1), hit));
  CHECK(hit.action == RpzAction::nxdomain);  // the /32 beats the /24
  wire::RRset other = a_set({{192, 0, 2, 9}, {198, 51, 100, 1}});
  REQUIRE(z->match_response(std::span(&other, 1), hit));
  CHECK(hit.action == RpzAction::nodata);
  wire::RRset clean = a_set({{198, 51, 100, 1}});
  CHECK_FALSE(z->match_response(std::span(&clean, 1), hit));
  wire::RRset v6;
  v6.type = wire::RRType::AAAA;
  auto p = AddressPrefix::parse("2001:db8::1");
  v6.rdatas.emplace_back(p->bytes, p->bytes + 16);
  REQUIRE(z->match_response(std::span(&v6, 1), hit));
  CHECK(hit.action == RpzAction::drop);
  uint8_t client[4] = {203, 0, 113, 77};
  REQUIRE(z->match_client(Address::v4(client), hit));
  CHECK(hit.action == RpzAction::drop);
  CHECK(hit.trigger == RpzTrigger::client_ip);
}

TEST_CASE("rpz: the operator's override replaces the zone's actions", "[policy][rpz]") {
  RpzOptions o;
  o.override_action = RpzOverride::cname;
  o.override_cname = N("garden.example.net.");
  auto z = zone(o);
  auto a = qname(*z, "nx.example.com.");
  REQUIRE(a.chase);
  CHECK(*a.chase == N("garden.example.net."));
  RpzOptions d;
  d.override_action = RpzOverride::disabled;
  auto logged = zone(d);
  auto b = qname(*logged, "nx.example.com.");
  CHECK(b.disposition == Disposition::pass);
  CHECK(b.match.action == RpzAction::nxdomain);  // logged as what it would have done
}

TEST_CASE("rpz: a zone with a bad record is refused whole, naming file and line", "[policy][rpz]") {
  auto refused = [](const char* text) -> std::string {
    try {
      load_rpz_text(text, "bad.rpz", N("rpz.test."), {});
    } catch (const wire::TextError& e) {
      return e.what();
    }
    return "";
  };
  std::string soa = "@ 300 SOA ns.rpz.test. h.rpz.test. 1 3600 600 86400 300\n";
  CHECK(refused((soa + "ok.example CNAME .\n33.1.2.0.192.rpz-ip CNAME .\n").c_str()).find("bad.rpz:3:") == 0);
  CHECK(refused((soa + "a.example CNAME .\na.example A 192.0.2.1\n").c_str()).find("bad.rpz:3:") == 0);
  CHECK(refused((soa + "a.*.example CNAME .\n").c_str()).find("bad.rpz:2:") == 0);
  CHECK(refused((soa + "x.example CNAME .\nx.example CNAME *.\n").c_str()).find("bad.rpz:3:") == 0);
  CHECK(refused((soa + "x.example A 1.2.3\n").c_str()).find("bad.rpz:2:") == 0);
  CHECK(refused((soa + "1.2.3.zz.zz.rpz-ip CNAME .\n").c_str()).find("bad.rpz:2:") == 0);
  CHECK(refused("outside.example. 300 A 192.0.2.1\n").find("bad.rpz:1:") == 0);
  // Without a given origin the SOA owner names the zone, so it must come first.
  CHECK_THROWS_AS(load_rpz_text("a.example. 300 CNAME .\n", "x.rpz", wire::Name(), {}), wire::TextError);
  auto z = load_rpz_text("rpz.local. 300 SOA ns. h. 7 1 1 1 1\nbad.example.rpz.local. CNAME .\n", "x.rpz", wire::Name(), {});
  CHECK(z->name() == "rpz.local.");
  CHECK(z->qname_triggers() == 1);
}

TEST_CASE("rpz: IP trigger owner names", "[policy][rpz]") {
  CHECK(parse_rpz_ip_labels(N("24.0.2.0.192")).to_text() == "192.0.2.0/24");
  CHECK(parse_rpz_ip_labels(N("128.1.zz.db8.2001")).to_text() == "2001:db8::1/128");
  CHECK(parse_rpz_ip_labels(N("48.zz.1.db8.2001")).to_text() == "2001:db8:1::/48");
  CHECK(parse_rpz_ip_labels(N("64.0.0.0.0.1.db8.2001.0")).to_text() == "0:2001:db8:1::/64");
  CHECK_THROWS_AS(parse_rpz_ip_labels(N("0.1.2.3.4")), wire::TextError);
  CHECK_THROWS_AS(parse_rpz_ip_labels(N("129.zz.1")), wire::TextError);
  CHECK_THROWS_AS(parse_rpz_ip_labels(N("64.zz.1.zz")), wire::TextError);
  CHECK_THROWS_AS(parse_rpz_ip_labels(N("64.12345.zz")), wire::TextError);
}
