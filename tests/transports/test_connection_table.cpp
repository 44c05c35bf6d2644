// The per-client connection table and the HTTP/2 flood budget, as units.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "transports/connection_limits.h"
#include "transports/http2_flood_guard.h"

using namespace sextant::transports;

namespace {

sockaddr_storage address(const std::string& text) {
  sockaddr_storage s{};
  auto* in4 = reinterpret_cast<sockaddr_in*>(&s);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
  if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
  } else {
    REQUIRE(inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1);
    in6->sin6_family = AF_INET6;
  }
  return s;
}

ClientKey key_of(const std::string& text) {
  auto s = address(text);
  return ClientKey::of(reinterpret_cast<const sockaddr*>(&s));
}

}  // namespace

TEST_CASE("client keys: IPv4 address, IPv6 /64, mapped IPv4 as IPv4", "[connection-limits]") {
  CHECK(key_of("192.0.2.1") == key_of("192.0.2.1"));
  CHECK_FALSE(key_of("192.0.2.1") == key_of("192.0.2.2"));
  CHECK(key_of("2001:db8:1:2::1") == key_of("2001:db8:1:2:ffff::9"));  // same /64
  CHECK_FALSE(key_of("2001:db8:1:2::1") == key_of("2001:db8:1:3::1"));
  CHECK(key_of("::ffff:192.0.2.1") == key_of("192.0.2.1"));
  CHECK(key_of("192.0.2.1").family == 4);
  CHECK(key_of("2001:db8::1").family == 6);
  CHECK_FALSE(ClientKey::of(nullptr).valid());
  sockaddr unix_address{};
  unix_address.sa_family = AF_UNIX;
  CHECK_FALSE(ClientKey::of(&unix_address).valid());
}

TEST_CASE("client table: the cap per client, slots given back", "[connection-limits]") {
  ClientConnectionTable table(2);
  const auto a = key_of("192.0.2.1");
  const auto b = key_of("192.0.2.2");
  CHECK(table.try_acquire(a));
  CHECK(table.try_acquire(a));
  CHECK_FALSE(table.try_acquire(a));  // third from the same client
  CHECK(table.try_acquire(b));        // another client is not affected
  CHECK(table.count(a) == 2);
  CHECK(table.clients() == 2);
  table.release(a);
  CHECK(table.try_acquire(a));
  table.release(a);
  table.release(a);
  table.release(b);
  CHECK(table.clients() == 0);  // no entry left behind
  table.release(a);             // one release too many is harmless
  CHECK(table.count(a) == 0);
}

TEST_CASE("client table: off at 0, unknown families untracked", "[connection-limits]") {
  ClientConnectionTable off(0);
  const auto a = key_of("192.0.2.1");
  for (int i = 0; i < 1000; ++i) CHECK(off.try_acquire(a));
  CHECK(off.clients() == 0);
  ClientConnectionTable one(1);
  CHECK(one.try_acquire(ClientKey{}));
  CHECK(one.try_acquire(ClientKey{}));
  CHECK(one.clients() == 0);
}

TEST_CASE("client slots release on destruction and move", "[connection-limits]") {
  auto table = std::make_shared<ClientConnectionTable>(1);
  auto s = address("198.51.100.7");
  const auto* peer = reinterpret_cast<const sockaddr*>(&s);
  {
    ClientSlot slot;
    REQUIRE(admit_client(table, peer, slot));
    ClientSlot second;
    CHECK_FALSE(admit_client(table, peer, second));
    ClientSlot moved(std::move(slot));
    CHECK(table->count(ClientKey::of(peer)) == 1);
  }
  CHECK(table->count(ClientKey::of(peer)) == 0);
  ClientSlot none;
  CHECK(admit_client(nullptr, peer, none));  // no table: no cap
}

TEST_CASE("HTTP/2 flood budget: spent by frames without answers, earned by answers", "[connection-limits]") {
  Http2FloodGuard guard(5);
  for (int i = 0; i < 4; ++i) CHECK(guard.spend());
  CHECK_FALSE(guard.spend());  // the fifth empties it
  CHECK_FALSE(guard.spend());
  guard.earn();
  guard.earn();
  CHECK(guard.spend());
  CHECK_FALSE(guard.spend());
  Http2FloodGuard full(3);
  for (int i = 0; i < 10; ++i) full.earn();  // never above the initial budget
  CHECK(full.tokens() == 3);
}
