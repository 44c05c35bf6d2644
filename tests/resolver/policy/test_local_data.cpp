// Local data with Unbound's local-zone types, wildcards and PTR generation.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "resolver/policy/local_data.h"
#include "wire/rdata.h"
#include "wire/zone_reader.h"

using namespace sextant;
using namespace sextant::resolver::policy;

namespace {

wire::Name N(const char* t) { return wire::Name::from_text(t); }

void add(LocalData& d, const char* text) {
  wire::ZoneReaderOptions o;
  o.default_ttl = 3600;
  for (auto& rr : wire::read_zone_text(text, "t", o)) d.add_record(rr);
}

PolicyAnswer ask(const LocalData& d, const char* name, wire::RRType type) {
  return d.lookup(LookupName(N(name)), type);
}

std::vector<wire::RRType> types(const PolicyAnswer& a) {
  std::vector<wire::RRType> out;
  for (size_t i = 0; i < a.answer_count; ++i) out.push_back(a.answer[i]->type);
  return out;
}

}  // namespace

TEST_CASE("local data: a static zone answers its names and denies the rest with its SOA", "[policy][local]") {
  LocalData d;
  d.add_zone(N("internal."), LocalZoneType::static_zone);
  add(d, "internal. SOA ns.internal. hostmaster.internal. 1 3600 600 86400 300");
  add(d, "db.internal. 300 A 10.0.0.5");
  add(d, "db.internal. 300 A 10.0.0.6");
  add(d, "db.internal. TXT \"the database\"");
  add(d, "www.internal. CNAME db.internal.");
  add(d, "mail.internal. MX 10 mx.example.com.");
  add(d, "_sip._tcp.internal. SRV 0 5 5060 sip.internal.");
  add(d, "deep.a.b.internal. A 10.0.0.9");
  d.finish(true);

  auto a = ask(d, "DB.internal.", wire::RRType::A);
  CHECK(a.disposition == Disposition::answer);
  CHECK(a.authoritative);
  REQUIRE(a.answer_count == 1);
  CHECK(a.answer[0]->rdatas.size() == 2);
  CHECK(a.match.kind == PolicyKind::local_data);
  CHECK(a.match.source == "internal.");

  CHECK(types(ask(d, "db.internal.", wire::RRType::TXT)) == std::vector<wire::RRType>{wire::RRType::TXT});
  CHECK(types(ask(d, "db.internal.", wire::RRType::ANY)).size() == 2);
  CHECK(types(ask(d, "mail.internal.", wire::RRType::MX)) == std::vector<wire::RRType>{wire::RRType::MX});
  CHECK(types(ask(d, "_sip._tcp.internal.", wire::RRType::SRV)) == std::vector<wire::RRType>{wire::RRType::SRV});

  auto cname = ask(d, "www.internal.", wire::RRType::A);
  CHECK(types(cname) == std::vector<wire::RRType>{wire::RRType::CNAME});
  REQUIRE(cname.chase);
  CHECK(*cname.chase == N("db.internal."));

  auto nodata = ask(d, "db.internal.", wire::RRType::AAAA);
  CHECK(nodata.disposition == Disposition::answer);
  CHECK(nodata.rcode == wire::Rcode::NOERROR);
  CHECK(nodata.answer_count == 0);
  REQUIRE(nodata.soa);
  CHECK(nodata.soa->type == wire::RRType::SOA);

  auto nx = ask(d, "missing.internal.", wire::RRType::A);
  CHECK(nx.rcode == wire::Rcode::NXDOMAIN);
  CHECK(nx.soa);
  // An empty non-terminal exists: NODATA, not NXDOMAIN.
  CHECK(ask(d, "a.b.internal.", wire::RRType::A).rcode == wire::Rcode::NOERROR);
  // Outside every zone: not local.
  CHECK(ask(d, "example.com.", wire::RRType::A).disposition == Disposition::pass);

  // PTR records were generated for the A records.
  auto ptr = ask(d, "5.0.0.10.in-addr.arpa.", wire::RRType::PTR);
  REQUIRE(ptr.answer_count == 1);
  size_t pos = 0;
  wire::Name target;
  REQUIRE(wire::Name::parse_uncompressed(ptr.answer[0]->rdatas[0], pos, target) == wire::WireError::ok);
  CHECK(target == N("db.internal."));
}

TEST_CASE("local data: wildcards answer with the question name; an existing name stops them", "[policy][local]") {
  LocalData d;
  d.add_zone(N("cluster.example."), LocalZoneType::static_zone);
  add(d, "*.svc.cluster.example. A 10.96.0.10");
  add(d, "fixed.svc.cluster.example. A 10.96.0.11");
  add(d, "x.fixed.svc.cluster.example. A 10.96.0.12");
  d.finish(true);
  auto a = ask(d, "api.svc.cluster.example.", wire::RRType::A);
  REQUIRE(a.answer_count == 1);
  CHECK(a.owner_is_qname);
  CHECK(a.match.rule_name == N("*.svc.cluster.example."));
  CHECK(ask(d, "deep.api.svc.cluster.example.", wire::RRType::A).answer_count == 1);
  auto fixed = ask(d, "fixed.svc.cluster.example.", wire::RRType::A);
  REQUIRE(fixed.answer_count == 1);
  CHECK_FALSE(fixed.owner_is_qname);
  // Below an existing name, the wildcard above it does not apply.
  CHECK(ask(d, "y.fixed.svc.cluster.example.", wire::RRType::A).rcode == wire::Rcode::NXDOMAIN);
  // No PTR for wildcard data.
  CHECK(ask(d, "10.0.96.10.in-addr.arpa.", wire::RRType::PTR).disposition == Disposition::pass);
}

TEST_CASE("local data: transparent, typetransparent, redirect, refuse, deny and the always_ types",
          "[policy][local]") {
  LocalData d;
  d.add_zone(N("trans.test."), LocalZoneType::transparent);
  d.add_zone(N("typet.test."), LocalZoneType::typetransparent);
  d.add_zone(N("redir.test."), LocalZoneType::redirect);
  d.add_zone(N("refused.test."), LocalZoneType::refuse);
  d.add_zone(N("denied.test."), LocalZoneType::deny);
  d.add_zone(N("nx.test."), LocalZoneType::always_nxdomain);
  d.add_zone(N("null.test."), LocalZoneType::always_null);
  d.add_zone(N("at.test."), LocalZoneType::always_transparent);
  add(d, "a.trans.test. A 192.0.2.1");
  add(d, "a.typet.test. A 192.0.2.2");
  add(d, "redir.test. A 192.0.2.3");
  add(d, "ok.refused.test. A 192.0.2.4");
  add(d, "a.nx.test. A 192.0.2.5");
  add(d, "a.at.test. A 192.0.2.6");
  add(d, "solo.example. A 192.0.2.7");  // no zone: a transparent zone of its own
  d.finish(false);

  CHECK(ask(d, "a.trans.test.", wire::RRType::A).answer_count == 1);
  CHECK(ask(d, "a.trans.test.", wire::RRType::AAAA).rcode == wire::Rcode::NOERROR);  // NODATA
  CHECK(ask(d, "a.trans.test.", wire::RRType::AAAA).disposition == Disposition::answer);
  CHECK(ask(d, "b.trans.test.", wire::RRType::A).disposition == Disposition::pass);
  CHECK(ask(d, "a.typet.test.", wire::RRType::AAAA).disposition == Disposition::pass);
  CHECK(ask(d, "a.typet.test.", wire::RRType::A).answer_count == 1);
  auto r = ask(d, "any.name.redir.test.", wire::RRType::A);
  CHECK(r.answer_count == 1);
  CHECK(r.owner_is_qname);
  CHECK(ask(d, "x.refused.test.", wire::RRType::A).disposition == Disposition::refuse);
  CHECK(ask(d, "ok.refused.test.", wire::RRType::A).answer_count == 1);
  CHECK(ask(d, "x.denied.test.", wire::RRType::A).disposition == Disposition::drop);
  CHECK(ask(d, "a.nx.test.", wire::RRType::A).rcode == wire::Rcode::NXDOMAIN);  // data ignored
  auto null4 = ask(d, "x.null.test.", wire::RRType::A);
  REQUIRE(null4.answer_count == 1);
  CHECK(null4.answer[0]->rdatas[0] == wire::Rdata{0, 0, 0, 0});
  CHECK(ask(d, "x.null.test.", wire::RRType::AAAA).answer_count == 1);
  CHECK(ask(d, "x.null.test.", wire::RRType::MX).answer_count == 0);
  CHECK(ask(d, "a.at.test.", wire::RRType::A).disposition == Disposition::pass);
  CHECK(ask(d, "solo.example.", wire::RRType::A).answer_count == 1);
  CHECK(ask(d, "below.solo.example.", wire::RRType::A).disposition == Disposition::pass);
  CHECK(ask(d, "example.", wire::RRType::A).disposition == Disposition::pass);
}

TEST_CASE("local data: CNAME beside other data is refused; explicit PTR wins over generated", "[policy][local]") {
  LocalData d;
  add(d, "alias.test. CNAME target.test.");
  CHECK_THROWS_AS(add(d, "alias.test. A 192.0.2.1"), std::invalid_argument);
  add(d, "host.test. A 192.0.2.1");
  CHECK_THROWS_AS(add(d, "host.test. CNAME other.test."), std::invalid_argument);
  add(d, "1.2.0.192.in-addr.arpa. PTR explicit.test.");
  add(d, "v6.test. AAAA 2001:db8::1");
  d.finish(true);
  auto ptr = ask(d, "1.2.0.192.in-addr.arpa.", wire::RRType::PTR);
  REQUIRE(ptr.answer_count == 1);
  CHECK(ptr.answer[0]->rdatas.size() == 1);
  size_t pos = 0;
  wire::Name t;
  wire::Name::parse_uncompressed(ptr.answer[0]->rdatas[0], pos, t);
  CHECK(t == N("explicit.test."));
  auto v6 = ask(d, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", wire::RRType::PTR);
  CHECK(v6.answer_count == 1);
  CHECK(reverse_name(Address::v4(std::array<uint8_t, 4>{10, 1, 2, 3}.data())) == N("3.2.1.10.in-addr.arpa."));
}
