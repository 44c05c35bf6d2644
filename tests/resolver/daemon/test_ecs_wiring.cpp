// ECS settings as the daemon applies them (daemon_setup.cpp, defence_wiring.cpp):
// the scoped store's share of the cache budget, the pipeline's and the
// walker's settings; nothing when ECS is off.
#include <catch2/catch.hpp>

#include "resolver/daemon/daemon_internal.h"

using namespace sextant;
using namespace sextant::resolver;

TEST_CASE("ECS wiring: off by default, nothing reserved or listed", "[daemon][ecs]") {
  Config c = load_config_text("ecs:\n  zones: [cdn.example.]\n", "f.yaml");
  cache::CacheConfig cc = cache_config_from(c);
  CHECK(cc.scoped_answer_max_bytes == 0);
  WalkerOptions o;
  apply_walker_defences(c, o);
  CHECK(o.ecs.zones.empty());
  CHECK_FALSE(ecs_settings_from(c).enabled);
}

TEST_CASE("ECS wiring: on, a share of cache.memory, zones, servers and trusted clients", "[daemon][ecs]") {
  Config c = load_config_text(
      "cache:\n  memory: 100M\n"
      "ecs:\n  enabled: true\n  zones: [CDN.Example.]\n  servers: ['192.0.2.53', '192.0.2.54@5353']\n"
      "  cache-share: 20\n  trusted-clients: [192.0.2.1/32]\n  ipv4-prefix: 20\n",
      "f.yaml");
  cache::CacheConfig cc = cache_config_from(c);
  const uint64_t total = c.cache_memory_bytes;
  CHECK(cc.scoped_answer_max_bytes == total * 20 / 100);
  CHECK(cc.scoped_answer_max_bytes + cc.rrset_max_bytes + cc.answer_max_bytes + cc.negative_max_bytes +
            cc.delegation_max_bytes <=
        total);
  WalkerOptions o;
  apply_walker_defences(c, o);
  REQUIRE(o.ecs.zones.size() == 1);
  CHECK(o.ecs.zones[0].equals_exact(wire::Name::from_text("cdn.example.")));
  REQUIRE(o.ecs.servers.size() == 2);
  CHECK(o.ecs.servers[1] == *ServerAddress::parse("192.0.2.54", 5353));
  EcsSettings e = ecs_settings_from(c);
  CHECK(e.enabled);
  CHECK(e.ipv4_prefix == 20);
  ClientAddress trusted;
  trusted.family = AF_INET;
  trusted.size = 4;
  const uint8_t a[4] = {192, 0, 2, 1};
  std::copy(a, a + 4, trusted.bytes);
  CHECK(e.trusted.contains(trusted));
  trusted.bytes[3] = 2;
  CHECK_FALSE(e.trusted.contains(trusted));
}
