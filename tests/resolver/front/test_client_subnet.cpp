// Which subnet goes with a client's question (client_subnet.h).
#include <catch2/catch.hpp>

#include "resolver/front/client_subnet.h"

using namespace sextant;
using namespace sextant::resolver;

namespace {

ClientAddress address(std::initializer_list<uint8_t> octets) {
  ClientAddress a;
  a.size = static_cast<uint8_t>(octets.size());
  a.family = a.size == 4 ? AF_INET : AF_INET6;
  std::copy(octets.begin(), octets.end(), a.bytes);
  return a;
}

EcsSettings settings() {
  EcsSettings s;
  s.enabled = true;
  for (const char* p : {"!127.0.0.0/8", "!10.0.0.0/8", "0.0.0.0/0", "::/0"}) {
    std::string t = p;
    const bool exclude = t[0] == '!';
    s.add_for.emplace_back(parse_prefix(exclude ? t.substr(1) : t), !exclude);
  }
  s.trusted = PrefixList({parse_prefix("192.0.2.1/32")});
  return s;
}

}  // namespace

TEST_CASE("client subnet: /24 and /56 of the client's address, as add-for allows", "[ecs]") {
  ClientSubnetPolicy p(settings());
  auto v4 = p.for_address(address({198, 18, 7, 99}));
  REQUIRE(v4);
  CHECK(v4->family == 1);
  CHECK(v4->source_prefix == 24);
  CHECK(v4->address[2] == 7);
  CHECK(v4->address[3] == 0);
  auto v6 = p.for_address(address({0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  REQUIRE(v6);
  CHECK(v6->source_prefix == 56);
  CHECK(v6->address[6] == 3);
  CHECK(v6->address[7] == 0);
  CHECK_FALSE(p.for_address(address({127, 0, 0, 1})));
  CHECK_FALSE(p.for_address(address({10, 1, 2, 3})));
  CHECK_FALSE(ClientSubnetPolicy{}.for_address(address({198, 18, 7, 99})));  // off by default
}

TEST_CASE("client subnet: configured lengths", "[ecs]") {
  EcsSettings s = settings();
  s.ipv4_prefix = 20;
  ClientSubnetPolicy p(s);
  auto o = p.for_address(address({198, 18, 0x7f, 99}));
  REQUIRE(o);
  CHECK(o->source_prefix == 20);
  CHECK(o->address[2] == 0x70);
}

TEST_CASE("client subnet: a trusted client's option, cut to our length; source prefix 0 sends none", "[ecs]") {
  ClientSubnetPolicy p(settings());
  CHECK(p.trusts(address({192, 0, 2, 1})));
  CHECK_FALSE(p.trusts(address({192, 0, 2, 2})));
  wire::ClientSubnetOption sent;
  const uint8_t full[4] = {203, 0, 113, 200};
  REQUIRE(wire::ClientSubnetOption::from_address(1, full, 32, 0, sent) == wire::WireError::ok);
  auto cut = p.from_trusted(sent);
  REQUIRE(cut);
  CHECK(cut->source_prefix == 24);
  CHECK(cut->address[3] == 0);
  REQUIRE(wire::ClientSubnetOption::from_address(1, full, 16, 0, sent) == wire::WireError::ok);
  CHECK(p.from_trusted(sent)->source_prefix == 16);
  REQUIRE(wire::ClientSubnetOption::from_address(1, full, 0, 0, sent) == wire::WireError::ok);
  CHECK_FALSE(p.from_trusted(sent));
}

TEST_CASE("client subnet: options a query may carry", "[ecs]") {
  wire::ClientSubnetOption o;
  const std::vector<uint8_t> good{0, 1, 24, 0, 198, 18, 7};
  CHECK(ClientSubnetPolicy::valid_query_option(good, o));
  const std::vector<uint8_t> scoped{0, 1, 24, 24, 198, 18, 7};     // scope set in a query
  const std::vector<uint8_t> long_addr{0, 1, 24, 0, 198, 18, 7, 1};  // more octets than the prefix
  const std::vector<uint8_t> stray_bits{0, 1, 23, 0, 198, 18, 7};   // bits past the prefix
  const std::vector<uint8_t> family{0, 3, 24, 0, 198, 18, 7};
  const std::vector<uint8_t> too_long{0, 1, 33, 0, 198, 18, 7, 1, 1};
  const std::vector<uint8_t> short_opt{0, 1, 24};
  for (const auto* bad : {&scoped, &long_addr, &stray_bits, &family, &too_long, &short_opt})
    CHECK_FALSE(ClientSubnetPolicy::valid_query_option(*bad, o));
  const std::vector<uint8_t> zero{0, 1, 0, 0};
  CHECK(ClientSubnetPolicy::valid_query_option(zero, o));
}
