#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "resolver/front/access_control.h"

using namespace sextant::resolver;

namespace {
sockaddr_storage addr(const char* text) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else {
    REQUIRE(inet_pton(AF_INET6, text, &v6->sin6_addr) == 1);
    v6->sin6_family = AF_INET6;
  }
  return ss;
}
AclAction decide(const AccessControl& acl, const char* text) {
  auto ss = addr(text);
  return acl.decide(reinterpret_cast<const sockaddr*>(&ss));
}
}  // namespace

TEST_CASE("default access control allows local and private clients only", "[acl]") {
  AccessControl acl(default_config().access_control);
  CHECK(decide(acl, "127.0.0.1") == AclAction::allow);
  CHECK(decide(acl, "10.20.30.40") == AclAction::allow);
  CHECK(decide(acl, "172.31.255.1") == AclAction::allow);
  CHECK(decide(acl, "172.32.0.1") == AclAction::refuse);
  CHECK(decide(acl, "192.168.1.1") == AclAction::allow);
  CHECK(decide(acl, "::1") == AclAction::allow);
  CHECK(decide(acl, "fd12:3456::1") == AclAction::allow);
  CHECK(decide(acl, "8.8.8.8") == AclAction::refuse);
  CHECK(decide(acl, "2001:db8::1") == AclAction::refuse);
  CHECK(decide(acl, "::ffff:192.168.0.7") == AclAction::allow);
  CHECK(decide(acl, "::ffff:1.2.3.4") == AclAction::refuse);
  CHECK(acl.decide(nullptr) == AclAction::refuse);
}

TEST_CASE("first matching rule wins, odd prefix lengths match bit-exactly", "[acl]") {
  AccessControl acl({{parse_prefix("192.0.2.128/25"), AclAction::deny},
                     {parse_prefix("192.0.2.0/23"), AclAction::allow}});
  CHECK(decide(acl, "192.0.2.200") == AclAction::deny);
  CHECK(decide(acl, "192.0.2.127") == AclAction::allow);
  CHECK(decide(acl, "192.0.3.1") == AclAction::allow);
  CHECK(decide(acl, "192.0.4.1") == AclAction::refuse);
}
