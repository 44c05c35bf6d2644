#include <catch2/catch.hpp>

#include <sys/socket.h>

#include "resolver/config/config.h"

using namespace sextant::resolver;

TEST_CASE("defaults give a safe local resolver", "[config]") {
  Config c = default_config();
  REQUIRE(c.listen.size() == 2);
  CHECK(c.listen[0].address == "127.0.0.1");
  CHECK(c.listen[0].port == 53);
  CHECK(c.listen[1].address == "::1");
  CHECK(c.dnssec);
  CHECK(c.qname_minimisation);
  CHECK_FALSE(c.query_private_addresses);
  CHECK(c.edns_buffer_size == 1232);
  CHECK(c.resolution_timeout_ms == 3000);
  CHECK(c.cache_max_ttl == 86400);
  CHECK(c.cache_negative_max_ttl == 3600);
  CHECK(c.stale_client_timeout_ms == 1800);
  CHECK(c.max_cname_hops == 12);
  CHECK(c.cache_memory_bytes == 256ull * 1024 * 1024);
  CHECK(c.nsec3_max_iterations == 50);
  // Loopback and private ranges allowed, nothing else.
  CHECK(c.access_control.size() == 7);
  CHECK(c.dot_listen.empty());
}

TEST_CASE("a YAML file overrides what it names", "[config]") {
  Config c = load_config_text(R"(
server:
  listen: ["127.0.0.1@5353", "[::1]:5353", "127.0.0.2"]
  threads: 2
  tcp-idle-timeout: 2500ms
resolver:
  qname-minimisation: false
  query-private-addresses: yes
cache:
  memory: 64M
  max-ttl: 2h
access-control:
  - {subnet: 192.0.2.0/24, action: refuse}
  - {subnet: 0.0.0.0/0, action: allow}
dnssec:
  negative-trust-anchors: [example.test, broken.test]
)", "test.yaml");
  REQUIRE(c.listen.size() == 3);
  CHECK(c.listen[1].address == "::1");
  CHECK(c.listen[1].port == 5353);
  CHECK(c.listen[2].port == 53);
  CHECK(c.threads == 2);
  CHECK(c.tcp_idle_timeout_ms == 2500);
  CHECK_FALSE(c.qname_minimisation);
  CHECK(c.query_private_addresses);
  CHECK(c.cache_memory_bytes == 64ull * 1024 * 1024);
  CHECK(c.cache_max_ttl == 7200);
  REQUIRE(c.access_control.size() == 2);
  CHECK(c.access_control[0].action == AclAction::refuse);
  CHECK(c.access_control[0].prefix.to_text() == "192.0.2.0/24");
  CHECK(c.negative_trust_anchors.size() == 2);
  // Untouched settings keep their defaults.
  CHECK(c.max_cname_hops == 12);
}

TEST_CASE("bad configuration is rejected with file, line and key", "[config]") {
  CHECK_THROWS_WITH(load_config_text("server:\n  lissten: [127.0.0.1]\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("unknown setting 'server.lissten'"));
  CHECK_THROWS_WITH(load_config_text("cache:\n  max-ttl: forever\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("cache.max-ttl"));
  CHECK_THROWS_WITH(load_config_text("server:\n  listen: [300.1.2.3]\n", "f.yaml"),
                    Catch::Contains("not an IPv4 or IPv6 address"));
  CHECK_THROWS_WITH(load_config_text("resolver:\n  edns-buffer-size: 100\n", "f.yaml"),
                    Catch::Contains("below the minimum 512"));
  CHECK_THROWS_WITH(load_config_text("dnssec:\n  validation: maybe\n", "f.yaml"),
                    Catch::Contains("not a boolean"));
  CHECK_THROWS_WITH(load_config_text("access-control:\n  - {subnet: 10.0.0.0/8, action: permit}\n", "f.yaml"),
                    Catch::Contains("not allow, refuse or deny"));
  CHECK_THROWS_WITH(load_config_text("server: [1, 2]\n", "f.yaml"), Catch::Contains("expected a section"));
  CHECK_THROWS_WITH(load_config_text("server:\n  listen: [\n", "f.yaml"), Catch::Contains("f.yaml:"));
  CHECK_THROWS_WITH(load_config_text("server:\n  dot:\n    listen: [127.0.0.1]\n", "f.yaml"),
                    Catch::Contains("server.tls.certificate"));
  CHECK_THROWS_WITH(load_config_file("/nonexistent/sextant.yaml"), Catch::Contains("cannot open"));
}

TEST_CASE("warm restart: on by default, its file and interval checked with file:line", "[config]") {
  Config d = default_config();
  CHECK(d.warm_restart);
  CHECK(d.warm_restart_file == "/var/cache/sextant/cache.snapshot");
  CHECK(d.warm_restart_save_interval_ms == 0);
  Config c = load_config_text(
      "cache:\n  warm-restart:\n    file: /srv/dns/c.bin\n    save-interval: 1h\n", "f.yaml");
  CHECK(c.warm_restart_file == "/srv/dns/c.bin");
  CHECK(c.warm_restart_save_interval_ms == 3600000);
  CHECK(load_config_text("cache:\n  warm-restart:\n    file: ''\n", "f.yaml").warm_restart_file.empty());
  CHECK_FALSE(load_config_text("cache:\n  warm-restart:\n    enabled: false\n", "f.yaml").warm_restart);
  CHECK_THROWS_WITH(load_config_text("cache:\n  warm-restart:\n    file: cache.bin\n", "f.yaml"),
                    Catch::Contains("f.yaml:3") && Catch::Contains("absolute path"));
  CHECK_THROWS_WITH(load_config_text("cache:\n  warm-restart:\n    save-interval: 10s\n", "f.yaml"),
                    Catch::Contains("f.yaml:3") && Catch::Contains("cache.warm-restart.save-interval"));
  CHECK_THROWS_WITH(load_config_text("cache:\n  warm-restart:\n    save-interval: 30d\n", "f.yaml"),
                    Catch::Contains("f.yaml:3"));
}

TEST_CASE("endpoint, prefix, duration and size parsers", "[config]") {
  CHECK(parse_endpoint("127.0.0.1@853", 53).port == 853);
  CHECK(parse_endpoint("127.0.0.1:853", 53).port == 853);
  CHECK(parse_endpoint("::1", 53).address == "::1");
  CHECK(parse_endpoint("[::1]", 53).port == 53);
  CHECK_THROWS(parse_endpoint("localhost", 53));
  CHECK_THROWS(parse_endpoint("127.0.0.1@70000", 53));
  Prefix p = parse_prefix("10.1.2.3/8");
  CHECK(p.family == AF_INET);
  CHECK(p.to_text() == "10.0.0.0/8");
  CHECK(parse_prefix("fd00::1/8").to_text() == "fd00::/8");
  CHECK_THROWS(parse_prefix("10.0.0.0/33"));
  CHECK(parse_duration_ms("10s") == 10000);
  CHECK(parse_duration_ms("3") == 3000);
  CHECK(parse_duration_ms("1d") == 86400000);
  CHECK_THROWS(parse_duration_ms("10 s"));
  CHECK(parse_size_bytes("1G") == 1073741824ull);
  CHECK_THROWS(parse_size_bytes("1T"));
}

TEST_CASE("the reference documents every setting", "[config]") {
  std::string ref = config_reference();
  CHECK(ref.find("`server.listen`") != std::string::npos);
  CHECK(ref.find("`dnssec.max-nsec3-hashes`") != std::string::npos);
}

TEST_CASE("operations: control socket and metrics are off by default, set by name", "[config]") {
  Config d = default_config();
  CHECK(d.control_socket.empty());
  CHECK(d.metrics_listen.empty());
  CHECK(d.metrics_path == "/metrics");
  Config c = load_config_text(
      "control:\n  socket: /run/sextant/control.sock\nmetrics:\n  listen: [127.0.0.1, '::1@9100']\n"
      "  path: /stats\n",
      "f.yaml");
  CHECK(c.control_socket == "/run/sextant/control.sock");
  REQUIRE(c.metrics_listen.size() == 2);
  CHECK(c.metrics_listen[0].port == 9153);
  CHECK(c.metrics_listen[1].port == 9100);
  CHECK(c.metrics_path == "/stats");
  CHECK_THROWS_WITH(load_config_text("metrics:\n  path: stats\n", "f.yaml"),
                    Catch::Contains("metrics.path must start with '/'"));
  CHECK_THROWS_WITH(load_config_text("metrics:\n  listen: [localhost]\n", "f.yaml"),
                    Catch::Contains("metrics.listen"));
}

TEST_CASE("dnstap: off by default; socket or file, not both", "[config]") {
  Config d = default_config();
  CHECK(d.dnstap_socket.empty());
  CHECK(d.dnstap_file.empty());
  CHECK(d.dnstap_log_queries);
  CHECK(d.dnstap_log_responses);
  Config c = load_config_text("dnstap:\n  socket: /run/dnstap.sock\n  log-queries: false\n  identity: r1\n", "f.yaml");
  CHECK(c.dnstap_socket == "/run/dnstap.sock");
  CHECK_FALSE(c.dnstap_log_queries);
  CHECK(c.dnstap_identity == "r1");
  CHECK_THROWS_WITH(load_config_text("dnstap:\n  socket: /a\n  file: /b\n", "f.yaml"),
                    Catch::Contains("dnstap.socket and dnstap.file are exclusive"));
}

TEST_CASE("flood defences: caps, over-limit action, hold-down, glueless limits", "[config]") {
  Config d = default_config();
  CHECK(d.max_queries_per_zone == 100);
  CHECK(d.max_queries_per_server == 800);
  CHECK_FALSE(d.drop_over_limit);
  CHECK(d.server_hold_down_ms == 5000);
  CHECK(d.max_glueless_per_delegation == 4);
  CHECK(d.max_glueless_per_question == 8);
  Config c = load_config_text(
      "resolver:\n  max-queries-per-zone: 0\n  max-queries-per-server: 50\n  over-limit: drop\n"
      "  server-hold-down: 30s\n  max-glueless-per-delegation: 2\n  max-glueless-per-question: 5\n",
      "f.yaml");
  CHECK(c.max_queries_per_zone == 0);
  CHECK(c.max_queries_per_server == 50);
  CHECK(c.drop_over_limit);
  CHECK(c.server_hold_down_ms == 30000);
  CHECK(c.max_glueless_per_delegation == 2);
  CHECK(c.max_glueless_per_question == 5);
  CHECK_THROWS_WITH(load_config_text("resolver:\n  over-limit: maybe\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("servfail or drop"));
  CHECK_THROWS_WITH(load_config_text("resolver:\n  server-hold-down: 10ms\n", "f.yaml"),
                    Catch::Contains("f.yaml:2") && Catch::Contains("resolver.server-hold-down"));
  CHECK_THROWS_WITH(load_config_text("resolver:\n  max-glueless-per-delegation: 0\n", "f.yaml"),
                    Catch::Contains("f.yaml:2"));
}

TEST_CASE("scale-out: PROXY v2 proxies, drain time and health-check names", "[config]") {
  Config d = default_config();
  CHECK(d.proxy_protocol_from.empty());
  CHECK(d.drain_time_ms == 0);
  REQUIRE(d.health_check_names.size() == 1);
  CHECK(d.health_check_names[0] == "a.root-servers.net.");

  Config c = load_config_text("server:\n"
                              "  proxy-protocol-from: [10.0.0.5, 'fd00::/64']\n"
                              "  drain-time: 3s\n"
                              "  health-check-names: [health.example., check.test]\n",
                              "s.yaml");
  REQUIRE(c.proxy_protocol_from.size() == 2);
  CHECK(c.proxy_protocol_from[0].to_text() == "10.0.0.5/32");
  CHECK(c.proxy_protocol_from[1].to_text() == "fd00::/64");
  CHECK(c.drain_time_ms == 3000);
  CHECK(c.health_check_names.size() == 2);

  CHECK_THROWS_WITH(load_config_text("server:\n  proxy-protocol-from: [dnsdist.example]\n", "s.yaml"),
                    Catch::Contains("s.yaml:2") && Catch::Contains("server.proxy-protocol-from"));
  CHECK_THROWS_WITH(load_config_text("server:\n  drain-time: 11m\n", "s.yaml"),
                    Catch::Contains("s.yaml:2") && Catch::Contains("server.drain-time"));
  CHECK_THROWS_WITH(load_config_text("server:\n\n  health-check-names: ['a..b']\n", "s.yaml"),
                    Catch::Contains("s.yaml:3") && Catch::Contains("not a domain name"));
}

TEST_CASE("DNSSEC trust anchors: RFC 5011 state file, hold-downs, sentinel", "[config]") {
  Config d = default_config();
  CHECK(d.auto_trust_anchor_file.empty());
  CHECK(d.trust_anchor_add_holddown_s == 30 * 86400);
  CHECK(d.trust_anchor_remove_holddown_s == 30 * 86400);
  CHECK(d.trust_anchor_keep_missing_s == 366 * 86400);
  CHECK(d.trust_anchor_refresh_s == 0);
  CHECK(d.root_key_sentinel);

  Config c = load_config_text("dnssec:\n"
                              "  auto-trust-anchor-file: /var/lib/sextant/root.key\n"
                              "  trust-anchor-add-holddown: 4s\n"
                              "  trust-anchor-remove-holddown: 1h\n"
                              "  trust-anchor-keep-missing: 0\n"
                              "  trust-anchor-refresh: 2\n"
                              "  root-key-sentinel: false\n",
                              "a.yaml");
  CHECK(c.auto_trust_anchor_file == "/var/lib/sextant/root.key");
  CHECK(c.trust_anchor_add_holddown_s == 4);
  CHECK(c.trust_anchor_remove_holddown_s == 3600);
  CHECK(c.trust_anchor_keep_missing_s == 0);
  CHECK(c.trust_anchor_refresh_s == 2);
  CHECK_FALSE(c.root_key_sentinel);

  CHECK_THROWS_WITH(load_config_text("dnssec:\n  trust-anchor-add-holddown: 500ms\n", "a.yaml"),
                    Catch::Contains("a.yaml:2") && Catch::Contains("whole number of seconds"));
  CHECK_THROWS_WITH(load_config_text("dnssec:\n\n  trust-anchor-refresh: 16d\n", "a.yaml"),
                    Catch::Contains("a.yaml:3") && Catch::Contains("dnssec.trust-anchor-refresh"));
  CHECK_THROWS_WITH(load_config_text("dnssec:\n  root-key-sentinel: sometimes\n", "a.yaml"),
                    Catch::Contains("a.yaml:2") && Catch::Contains("not a boolean"));
}
