// The defences' settings: defaults, values, and bad values named with file:line.
#include <catch2/catch.hpp>

#include "resolver/config/config.h"

using namespace sextant::resolver;

TEST_CASE("config: rate-limit and cookies defaults and values", "[config][defences]") {
  Config d = default_config();
  CHECK(d.rate_limit.rate == 0);
  CHECK(d.rate_limit.slip == 2);
  CHECK(d.rate_limit.ipv4_prefix == 24);
  CHECK(d.rate_limit.ipv6_prefix == 56);
  CHECK(d.rate_limit.table_bytes == 4u << 20);
  CHECK(d.cookies.server);
  CHECK(d.cookies.secret.empty());
  CHECK(d.cookies.rotation_s == 86400);

  Config c = load_config_text(
      "rate-limit:\n  rate: 100\n  burst: 300\n  slip: 3\n  ipv4-prefix: 32\n  ipv6-prefix: 64\n"
      "  table-size: 1M\n  exempt: [192.0.2.0/24, '2001:db8::/32']\n"
      "cookies:\n  secret: e5e973e5a6b2a43f48e7dc849e37bfcf\n  accept-secrets: [00112233445566778899aabbccddeeff]\n"
      "  rotation: 12h\n",
      "f.yaml");
  CHECK(c.rate_limit.rate == 100);
  CHECK(c.rate_limit.burst == 300);
  CHECK(c.rate_limit.slip == 3);
  CHECK(c.rate_limit.ipv4_prefix == 32);
  CHECK(c.rate_limit.ipv6_prefix == 64);
  CHECK(c.rate_limit.table_bytes == 1u << 20);
  CHECK(c.rate_limit.exempt.size() == 2);
  CHECK(c.cookies.secret == "e5e973e5a6b2a43f48e7dc849e37bfcf");
  CHECK(c.cookies.accept_secrets.size() == 1);
  CHECK(c.cookies.rotation_s == 12 * 3600);
  uint8_t key[16];
  parse_secret_hex(c.cookies.secret, key);
  CHECK(key[0] == 0xe5);
  CHECK(key[15] == 0xcf);
}

TEST_CASE("config: bad defence values name file and line", "[config][defences]") {
  CHECK_THROWS_WITH(load_config_text("rate-limit:\n  ipv4-prefix: 33\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("rate-limit.ipv4-prefix"));
  CHECK_THROWS_WITH(load_config_text("rate-limit:\n  exempt: [10.0.0.0/40]\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("rate-limit.exempt"));
  CHECK_THROWS_WITH(load_config_text("rate-limit:\n  table-size: 100\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("at least 4k"));
  CHECK_THROWS_WITH(load_config_text("cookies:\n  secret: 0011\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("32 hexadecimal digits"));
  CHECK_THROWS_WITH(load_config_text("cookies:\n  secret: zz112233445566778899aabbccddeeff\n", "f.yaml"),
                    Catch::Contains("32 hexadecimal digits"));
  CHECK_THROWS_WITH(load_config_text("\ncookies:\n  accept-secrets: [abc]\n", "f.yaml"),
                    Catch::Contains("f.yaml:3") && Catch::Contains("cookies.accept-secrets"));
  CHECK_THROWS_WITH(load_config_text("cookies:\n  rotation: 10m\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("between 2h"));
  CHECK_THROWS_WITH(load_config_text("cookies:\n  server: maybe\n", "f.yaml"), Catch::Contains("not a boolean"));
}

TEST_CASE("config: ecs defaults, values and bad values with file:line", "[config][defences][ecs]") {
  Config d = default_config();
  CHECK_FALSE(d.ecs.enabled);
  CHECK(d.ecs.ipv4_prefix == 24);
  CHECK(d.ecs.ipv6_prefix == 56);
  CHECK(d.ecs.zones.empty());
  CHECK(d.ecs.servers.empty());
  CHECK(d.ecs.trusted_clients.empty());
  CHECK(d.ecs.add_for.size() == 11);
  CHECK(d.ecs.cache_share_percent == 10);

  Config c = load_config_text(
      "ecs:\n  enabled: true\n  zones: [cdn.example.]\n  servers: ['192.0.2.53', '2001:db8::53@5353']\n"
      "  ipv4-prefix: 20\n  ipv6-prefix: 48\n  add-for: ['!10.0.0.0/8', 0.0.0.0/0]\n"
      "  trusted-clients: [192.0.2.1/32]\n  cache-share: 20\n",
      "f.yaml");
  CHECK(c.ecs.enabled);
  CHECK(c.ecs.zones == std::vector<std::string>{"cdn.example."});
  CHECK(c.ecs.servers.size() == 2);
  CHECK(c.ecs.ipv4_prefix == 20);
  CHECK(c.ecs.ipv6_prefix == 48);
  CHECK(c.ecs.add_for.size() == 2);
  CHECK(c.ecs.trusted_clients.size() == 1);
  CHECK(c.ecs.cache_share_percent == 20);

  CHECK_THROWS_WITH(load_config_text("ecs:\n  ipv4-prefix: 33\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("ecs.ipv4-prefix"));
  CHECK_THROWS_WITH(load_config_text("ecs:\n  ipv6-prefix: 0\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("ecs.ipv6-prefix"));
  CHECK_THROWS_WITH(load_config_text("\necs:\n  zones: ['bad..name']\n", "f.yaml"),
                    Catch::Contains("f.yaml:3") && Catch::Contains("ecs.zones"));
  CHECK_THROWS_WITH(load_config_text("ecs:\n  servers: [not-an-address]\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("ecs.servers"));
  CHECK_THROWS_WITH(load_config_text("ecs:\n  add-for: ['!10.0.0.0/99']\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("ecs.add-for"));
  CHECK_THROWS_WITH(load_config_text("ecs:\n  trusted-clients: [nonsense]\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("ecs.trusted-clients"));
  CHECK_THROWS_WITH(load_config_text("ecs:\n  cache-share: 90\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("ecs.cache-share"));
}

TEST_CASE("config: connection limits (issue 16 §6) defaults, values and bad values", "[config][defences]") {
  Config d = default_config();
  CHECK(d.max_connections_per_client == 100);
  CHECK(d.handshake_timeout_ms == 5000);
  CHECK(d.doq_max_streams == 100);
  CHECK(d.tcp_connections_per_worker == 1000);

  Config c = load_config_text(
      "server:\n  max-connections-per-client: 0\n  handshake-timeout: 1500ms\n  doq:\n    max-streams: 16\n",
      "f.yaml");
  CHECK(c.max_connections_per_client == 0);
  CHECK(c.handshake_timeout_ms == 1500);
  CHECK(c.doq_max_streams == 16);

  CHECK_THROWS_WITH(load_config_text("server:\n  max-connections-per-client: -1\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("server.max-connections-per-client"));
  CHECK_THROWS_WITH(load_config_text("server:\n  handshake-timeout: 10ms\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("server.handshake-timeout"));
  CHECK_THROWS_WITH(load_config_text("server:\n\n  handshake-timeout: soon\n", "f.yaml"),
                    Catch::Contains("f.yaml:3"));
  CHECK_THROWS_WITH(load_config_text("server:\n  doq:\n    max-streams: 0\n", "f.yaml"),
                    Catch::Contains("f.yaml:3") && Catch::Contains("server.doq.max-streams"));
}
