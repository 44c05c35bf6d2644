// Delegations: closest cut look-up, address ranks, stale cuts.
#include <catch2/catch.hpp>

#include "cache/delegation_cache.h"
#include "cache_test_support.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRClass;

namespace {

Delegation delegation(const char* zone, uint32_t ttl,
                      std::initializer_list<std::pair<const char*, IpAddress>> servers) {
  Delegation d;
  d.zone = N(zone);
  d.ttl = ttl;
  for (const auto& [name, addr] : servers) {
    DelegationServer s;
    s.name = N(name);
    s.addresses.push_back(addr);
    s.address_rank = Rank::additional;
    d.servers.push_back(s);
  }
  return d;
}

}  // namespace

TEST_CASE("delegation: the closest enclosing cut is found", "[delegation]") {
  CacheConfig config;
  DelegationCache cache(config);
  cache.insert(delegation(".", 518400, {{"a.root-servers.net.", IpAddress::v4(198, 41, 0, 4)}}),
               Rank::authority, DnssecStatus::secure, kT0);
  cache.insert(delegation("com.", 172800, {{"a.gtld-servers.net.", IpAddress::v4(192, 5, 6, 30)},
                                           {"b.gtld-servers.net.", IpAddress::v4(192, 33, 14, 30)}}),
               Rank::authority, DnssecStatus::secure, kT0);

  auto hit = cache.find_closest(N("www.example.com."), RRClass::IN, kT0 + 10);
  REQUIRE(hit);
  CHECK(hit->delegation.zone == N("com."));
  CHECK(hit->delegation.ttl == 86400 - 10);  // clamped to max_ttl
  REQUIRE(hit->delegation.servers.size() == 2);
  CHECK(hit->delegation.servers[1].name == N("b.gtld-servers.net."));
  CHECK(hit->delegation.servers[1].addresses.at(0) == IpAddress::v4(192, 33, 14, 30));
  CHECK(hit->rank == Rank::authority);
  CHECK(hit->status == DnssecStatus::secure);

  hit = cache.find_closest(N("com."), RRClass::IN, kT0);
  REQUIRE(hit);
  CHECK(hit->delegation.zone == N("com."));
  // DS queries go to the parent.
  hit = cache.find_closest(N("com."), RRClass::IN, kT0, StalePolicy::fresh_only, true);
  REQUIRE(hit);
  CHECK(hit->delegation.zone.is_root());
  hit = cache.find_closest(N("org."), RRClass::IN, kT0);
  REQUIRE(hit);
  CHECK(hit->delegation.zone.is_root());
  CHECK_FALSE(cache.find_closest(N("."), RRClass::IN, kT0, StalePolicy::fresh_only, true));
  CHECK_FALSE(cache.find_closest(N("com."), RRClass::CH, kT0));
}

TEST_CASE("delegation: addresses follow their own rank", "[delegation][rank]") {
  CacheConfig config;
  DelegationCache cache(config);
  cache.insert(delegation("example.", 3600, {{"ns1.example.", IpAddress::v4(192, 0, 2, 1)}}),
               Rank::authority, DnssecStatus::insecure, kT0);
  IpAddress auth_addr = IpAddress::v4(192, 0, 2, 99);
  CHECK(cache.set_addresses(N("example."), RRClass::IN, N("ns1.example."), {&auth_addr, 1},
                            Rank::answer_authoritative, kT0));
  IpAddress glue_addr = IpAddress::v4(192, 0, 2, 50);
  CHECK(cache.set_addresses(N("example."), RRClass::IN, N("ns1.example."), {&glue_addr, 1},
                            Rank::additional, kT0));
  auto hit = cache.find(N("example."), RRClass::IN, kT0 + 5);
  REQUIRE(hit);
  REQUIRE(hit->delegation.servers.size() == 1);
  CHECK(hit->delegation.servers[0].addresses == std::vector<IpAddress>{auth_addr});
  CHECK(hit->delegation.servers[0].address_rank == Rank::answer_authoritative);
  CHECK(hit->delegation.ttl == 3595);  // the NS set's expiry is kept
  CHECK_FALSE(cache.set_addresses(N("example."), RRClass::IN, N("ns9.example."), {&glue_addr, 1},
                                  Rank::additional, kT0));
  CHECK_FALSE(cache.set_addresses(N("nope."), RRClass::IN, N("ns1.example."), {&glue_addr, 1},
                                  Rank::additional, kT0));

  // The NS set itself obeys the rank rules: a referral does not replace the
  // child's authoritative NS set.
  cache.insert(delegation("example.", 3600, {{"ns1.example.", IpAddress::v4(192, 0, 2, 1)}}),
               Rank::answer_authoritative, DnssecStatus::insecure, kT0);
  CHECK(cache.insert(delegation("example.", 3600, {{"evil.example.", IpAddress::v4(6, 6, 6, 6)}}),
                     Rank::authority, DnssecStatus::insecure, kT0) == DelegationCache::Result::kept);
}

TEST_CASE("delegation: the child's view adds servers and addresses, never time",
          "[delegation][child]") {
  CacheConfig config;
  DelegationCache cache(config);
  cache.insert(delegation("example.", 600, {{"ns1.example.", IpAddress::v4(192, 0, 2, 1)}}),
               Rank::authority, DnssecStatus::insecure, kT0);
  DelegationServer ns1;  // the child puts ns1 elsewhere
  ns1.name = N("NS1.example.");
  ns1.addresses = {IpAddress::v4(192, 0, 2, 101), IpAddress::v4(192, 0, 2, 1)};
  ns1.address_rank = Rank::answer_authoritative;
  DelegationServer ns2;  // and names a server the parent does not
  ns2.name = N("ns2.example.");
  ns2.addresses = {IpAddress::v4(192, 0, 2, 102)};
  ns2.address_rank = Rank::additional;
  std::vector<DelegationServer> view{ns1, ns2};
  CHECK(cache.add_child_view(N("example."), RRClass::IN, view, kT0 + 10));
  CHECK_FALSE(cache.add_child_view(N("example."), RRClass::IN, view, kT0 + 11));  // nothing new

  auto hit = cache.find(N("example."), RRClass::IN, kT0 + 20);
  REQUIRE(hit);
  CHECK(hit->delegation.ttl == 580);  // the parent's expiry
  CHECK(hit->rank == Rank::authority);
  REQUIRE(hit->delegation.servers.size() == 2);
  const auto& first = hit->delegation.servers[0];
  CHECK(first.name == N("ns1.example."));
  CHECK_FALSE(first.from_child);
  CHECK(first.addresses == std::vector<IpAddress>{IpAddress::v4(192, 0, 2, 1), IpAddress::v4(192, 0, 2, 101)});
  CHECK(first.address_rank == Rank::answer_authoritative);
  const auto& second = hit->delegation.servers[1];
  CHECK(second.name == N("ns2.example."));
  CHECK(second.from_child);
  CHECK(second.addresses == std::vector<IpAddress>{IpAddress::v4(192, 0, 2, 102)});
  CHECK(cache.store().entries() == 1);

  // When the parent's NS TTL ends the cut ends, the child's additions with it.
  CHECK_FALSE(cache.find(N("example."), RRClass::IN, kT0 + 601).has_value());
  CHECK_FALSE(cache.add_child_view(N("example."), RRClass::IN, view, kT0 + 601));
  CHECK_FALSE(cache.find(N("example."), RRClass::IN, kT0 + 602).has_value());
  // A new referral starts from the parent's view alone.
  cache.insert(delegation("example.", 600, {{"ns9.example.", IpAddress::v4(192, 0, 2, 9)}}),
               Rank::authority, DnssecStatus::insecure, kT0 + 700);
  hit = cache.find(N("example."), RRClass::IN, kT0 + 700);
  REQUIRE(hit);
  REQUIRE(hit->delegation.servers.size() == 1);
  CHECK(hit->delegation.servers[0].name == N("ns9.example."));
  // Never a cut of its own.
  CHECK_FALSE(cache.add_child_view(N("other."), RRClass::IN, view, kT0 + 700));
  CHECK_FALSE(cache.find(N("other."), RRClass::IN, kT0 + 700).has_value());
}

TEST_CASE("delegation: the child's view is bounded", "[delegation][child]") {
  CacheConfig config;
  DelegationCache cache(config);
  cache.insert(delegation("example.", 600, {{"ns1.example.", IpAddress::v4(192, 0, 2, 1)}}),
               Rank::authority, DnssecStatus::insecure, kT0);
  std::vector<DelegationServer> many;
  for (int i = 0; i < 100; ++i) {
    DelegationServer s;
    s.name = N(("ns" + std::to_string(100 + i) + ".example.").c_str());
    for (int a = 0; a < 40; ++a) s.addresses.push_back(IpAddress::v4(10, 0, uint8_t(i), uint8_t(a)));
    many.push_back(s);
  }
  CHECK(cache.add_child_view(N("example."), RRClass::IN, many, kT0));
  auto hit = cache.find(N("example."), RRClass::IN, kT0);
  REQUIRE(hit);
  CHECK(hit->delegation.servers.size() == 1 + DelegationCache::kMaxChildServers);
  for (size_t i = 1; i < hit->delegation.servers.size(); ++i) {
    CHECK(hit->delegation.servers[i].addresses.size() == DelegationCache::kMaxChildAddresses);
  }
}

TEST_CASE("delegation: stale cuts only when allowed, fresh ones preferred", "[delegation]") {
  CacheConfig config;
  DelegationCache cache(config);
  cache.insert(delegation("com.", 1000, {{"a.gtld.", IpAddress::v4(1, 1, 1, 1)}}), Rank::authority,
               DnssecStatus::insecure, kT0);
  cache.insert(delegation("example.com.", 100, {{"ns.example.com.", IpAddress::v4(2, 2, 2, 2)}}),
               Rank::authority, DnssecStatus::insecure, kT0);
  auto hit = cache.find_closest(N("www.example.com."), RRClass::IN, kT0 + 200);
  REQUIRE(hit);
  CHECK(hit->delegation.zone == N("com."));
  hit = cache.find_closest(N("www.example.com."), RRClass::IN, kT0 + 2000, StalePolicy::allow_stale);
  REQUIRE(hit);
  CHECK(hit->freshness == Freshness::stale);
  CHECK(hit->delegation.zone == N("example.com."));
  CHECK_FALSE(cache.find_closest(N("www.example.com."), RRClass::IN, kT0 + 2000));
}

TEST_CASE("delegation: flush and dump", "[delegation][flush]") {
  CacheConfig config;
  DelegationCache cache(config);
  cache.insert(delegation("example.", 3600, {{"ns1.example.", IpAddress::v4(192, 0, 2, 1)}}),
               Rank::authority, DnssecStatus::insecure, kT0);
  cache.insert(delegation("sub.example.", 3600, {{"ns1.sub.example.", IpAddress::v4(192, 0, 2, 2)}}),
               Rank::authority, DnssecStatus::insecure, kT0);
  std::string text;
  cache.dump(text, kT0);
  CHECK(text.find("example. 3600 IN NS ns1.example.\n") != std::string::npos);
  CHECK(text.find("; ns1.example. 3600 A 192.0.2.1 (additional)") != std::string::npos);
  CHECK(cache.flush_subtree(N("example.")) == 2);
  CHECK(cache.store().entries() == 0);
}
