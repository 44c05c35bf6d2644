// DNS64 synthesis (RFC 6147, RFC 6052 address formats).
#include <catch2/catch.hpp>

#include "resolver/policy/dns64.h"

using namespace sextant;
using namespace sextant::resolver::policy;

namespace {

Dns64Options with_prefix(const char* p) {
  Dns64Options o;
  o.prefix = *AddressPrefix::parse(p);
  return o;
}

wire::RRset aaaa(const char* text) {
  wire::RRset s;
  s.type = wire::RRType::AAAA;
  auto p = AddressPrefix::parse(text);
  s.rdatas.emplace_back(p->bytes, p->bytes + 16);
  return s;
}

}  // namespace

TEST_CASE("dns64: RFC 6052 address formats for every prefix length", "[policy][dns64]") {
  const uint8_t v4[4] = {192, 0, 2, 33};
  // RFC 6052 §2.4's examples for 192.0.2.33.
  CHECK(Dns64(with_prefix("2001:db8::/32")).embed(v4).to_text() == "2001:db8:c000:221::");
  CHECK(Dns64(with_prefix("2001:db8:100::/40")).embed(v4).to_text() == "2001:db8:1c0:2:21::");
  CHECK(Dns64(with_prefix("2001:db8:122::/48")).embed(v4).to_text() == "2001:db8:122:c000:2:2100::");
  CHECK(Dns64(with_prefix("2001:db8:122:300::/56")).embed(v4).to_text() == "2001:db8:122:3c0:0:221::");
  CHECK(Dns64(with_prefix("2001:db8:122:344::/64")).embed(v4).to_text() == "2001:db8:122:344:c0:2:2100:0");
  CHECK(Dns64(with_prefix("2001:db8:122:344::/96")).embed(v4).to_text() == "2001:db8:122:344::c000:221");
  CHECK(Dns64(Dns64Options{}).embed(v4).to_text() == "64:ff9b::c000:221");
  CHECK_THROWS_AS(Dns64(with_prefix("2001:db8::/33")), std::invalid_argument);
  CHECK_THROWS_AS(Dns64(with_prefix("10.0.0.0/8")), std::invalid_argument);
  CHECK_THROWS_AS(Dns64(with_prefix("2001:db8:0:0:ff00::/96")), std::invalid_argument);  // u octet not zero
}

TEST_CASE("dns64: synthesis, exclusions, clients and DO+CD", "[policy][dns64]") {
  Dns64Options o;
  o.clients.push_back(*AddressPrefix::parse("10.0.0.0/8"));
  Dns64 d(o);
  uint8_t inside[4] = {10, 1, 1, 1}, outside[4] = {192, 168, 1, 1};
  CHECK(d.applies_to(Address::v4(inside), false, false));
  CHECK_FALSE(d.applies_to(Address::v4(outside), false, false));
  CHECK(d.applies_to(Address::v4(inside), true, false));
  CHECK_FALSE(d.applies_to(Address::v4(inside), true, true));  // RFC 6147 §5.5

  std::vector<wire::RRset> none;
  CHECK(d.lacks_usable_aaaa(none));
  std::vector<wire::RRset> mapped{aaaa("::ffff:192.0.2.1")};
  CHECK(d.lacks_usable_aaaa(mapped));  // excluded by default
  std::vector<wire::RRset> real{aaaa("2001:db8::1")};
  CHECK_FALSE(d.lacks_usable_aaaa(real));

  wire::RRset a;
  a.owner = wire::Name::from_text("v4only.test.");
  a.type = wire::RRType::A;
  a.ttl = 3600;
  a.rdatas.push_back({192, 0, 2, 1});
  a.rdatas.push_back({192, 0, 2, 2});
  wire::RRset s = d.synthesise(a, 600);
  CHECK(s.type == wire::RRType::AAAA);
  CHECK(s.ttl == 600);
  CHECK(s.owner == a.owner);
  REQUIRE(s.rdatas.size() == 2);
  CHECK(Address::v6(s.rdatas[0].data()).to_text() == "64:ff9b::c000:201");
}

TEST_CASE("dns64: PTR under the prefix points to the in-addr.arpa name", "[policy][dns64]") {
  Dns64 d{Dns64Options{}};
  // 64:ff9b::c000:201 (192.0.2.1), nibble by nibble from the end.
  std::string zeros;
  for (int i = 0; i < 16; ++i) zeros += "0.";
  auto t = d.reverse_target(wire::Name::from_text("1.0.2.0.0.0.0.c." + zeros + "b.9.f.f.4.6.0.0.ip6.arpa."));
  REQUIRE(t);
  CHECK(*t == wire::Name::from_text("1.2.0.192.in-addr.arpa."));
  CHECK_FALSE(d.reverse_target(wire::Name::from_text(
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.")));
  CHECK_FALSE(d.reverse_target(wire::Name::from_text("b.9.f.f.4.6.0.0.ip6.arpa.")));
}
