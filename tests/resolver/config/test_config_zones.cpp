// forward-zones and stub-zones: what parses, and what is refused with the
// line of the item at fault.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "resolver/config/config.h"

using namespace sextant::resolver;

namespace {

// A file that looks like a PEM bundle (the config only checks that much;
// the daemon's --check-config loads it with OpenSSL).
std::string write_ca_file() {
  std::string path = "/tmp/sextant-test-ca-" + std::to_string(::getpid()) + ".pem";
  std::ofstream(path) << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  return path;
}

const char* kPin = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";  // SHA-256 of nothing

}  // namespace

TEST_CASE("forward zones: none by default; each transport's block", "[config][forward]") {
  CHECK(default_config().forward_zones.empty());
  CHECK(default_config().stub_zones.empty());
  std::string ca = write_ca_file();
  Config c = load_config_text(R"(
forward-zones:
  - zone: Corp.Example
    upstreams: ["10.0.0.53", "10.0.0.54@5353"]
  - zone: .
    forward-first: true
    upstreams:
      - {address: 192.0.2.1, transport: tcp}
      - {address: 192.0.2.1, transport: tls, tls-name: dns.example, ca-file: )" + ca + R"(}
      - {address: '[2001:db8::1]@8853', transport: tls, spki-pin: )" + kPin + R"(}
      - {url: 'https://192.0.2.2:8443/dns-query'}
      - {url: 'https://dns.example/q?x=1', address: 192.0.2.3}
      - {address: 192.0.2.4, transport: quic, tls-name: dns.example, spki-pin: [)" + kPin + R"(]}
)", "f.yaml");
  std::remove(ca.c_str());
  REQUIRE(c.forward_zones.size() == 2);
  const auto& corp = c.forward_zones[0];
  CHECK(corp.zone == "corp.example.");
  CHECK_FALSE(corp.forward_first);
  REQUIRE(corp.upstreams.size() == 2);
  CHECK(corp.upstreams[0].transport == UpstreamTransport::udp);
  CHECK(corp.upstreams[0].port == 53);
  CHECK(corp.upstreams[1].port == 5353);
  CHECK(corp.line == 3);

  const auto& root = c.forward_zones[1];
  CHECK(root.zone == ".");
  CHECK(root.forward_first);
  REQUIRE(root.upstreams.size() == 6);
  CHECK(root.upstreams[0].transport == UpstreamTransport::tcp);
  CHECK(root.upstreams[0].port == 53);
  CHECK(root.upstreams[1].transport == UpstreamTransport::tls);
  CHECK(root.upstreams[1].port == 853);
  CHECK(root.upstreams[1].tls_name == "dns.example");
  CHECK(root.upstreams[1].ca_file == ca);
  CHECK(root.upstreams[2].address == "2001:db8::1");
  CHECK(root.upstreams[2].port == 8853);
  CHECK(root.upstreams[2].spki_pins == std::vector<std::string>{kPin});
  // DoH: address and port from an IP-literal URL; the name to check is its host.
  CHECK(root.upstreams[3].transport == UpstreamTransport::https);
  CHECK(root.upstreams[3].address == "192.0.2.2");
  CHECK(root.upstreams[3].port == 8443);
  CHECK(root.upstreams[3].http_host == "192.0.2.2:8443");
  CHECK(root.upstreams[3].http_path == "/dns-query");
  CHECK(root.upstreams[3].tls_name == "192.0.2.2");
  CHECK(root.upstreams[4].address == "192.0.2.3");
  CHECK(root.upstreams[4].port == 443);
  CHECK(root.upstreams[4].http_host == "dns.example");
  CHECK(root.upstreams[4].http_path == "/q?x=1");
  CHECK(root.upstreams[4].tls_name == "dns.example");
  CHECK(root.upstreams[5].transport == UpstreamTransport::quic);
  CHECK(root.upstreams[5].port == 853);
  CHECK(root.upstreams[5].line == 13);
}

TEST_CASE("stub zones: addresses and names; private addresses welcome", "[config][forward]") {
  Config c = load_config_text(R"(
stub-zones:
  - zone: internal.test
    servers: [10.1.1.1, "10.1.1.2@5353", ns1.internal.test., "[fd00::1]:53"]
    negative-trust-anchor: true
)", "f.yaml");
  REQUIRE(c.stub_zones.size() == 1);
  const auto& z = c.stub_zones[0];
  CHECK(z.zone == "internal.test.");
  REQUIRE(z.servers.size() == 4);
  CHECK(z.servers[0].address == "10.1.1.1");
  CHECK(z.servers[1].port == 5353);
  CHECK(z.servers[2].name == "ns1.internal.test.");
  CHECK(z.servers[2].address.empty());
  CHECK(z.servers[3].address == "fd00::1");
  CHECK(z.trust.negative_trust_anchor);
}

TEST_CASE("zone trust anchors are DS or DNSKEY records of the zone itself", "[config][forward]") {
  Config c = load_config_text(R"(
forward-zones:
  - zone: corp.example
    upstreams: [10.0.0.53]
    trust-anchor:
      - "corp.example. DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE8E6F4A0E2AA4C4A8E3C5D5E1"
)", "f.yaml");
  CHECK(c.forward_zones[0].trust.trust_anchors.size() == 1);
  CHECK_THROWS_WITH(load_config_text(R"(
forward-zones:
  - zone: corp.example
    upstreams: [10.0.0.53]
    trust-anchor: "other.example. DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE8E6F4A0E2AA4C4A8E3C5D5E1"
)", "f.yaml"),
                    Catch::Contains("f.yaml:5") && Catch::Contains("not the zone corp.example."));
  CHECK_THROWS_WITH(load_config_text(R"(
forward-zones:
  - zone: corp.example
    upstreams: [10.0.0.53]
    trust-anchor: "corp.example. A 192.0.2.1"
)", "f.yaml"),
                    Catch::Contains("only DS and DNSKEY"));
}

TEST_CASE("bad forward and stub blocks name the line of the bad item", "[config][forward]") {
  auto error = [](const std::string& yaml) {
    try {
      load_config_text(yaml, "f.yaml");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  // A bad port on the third line of the list.
  std::string e = error("forward-zones:\n  - zone: corp.example\n    upstreams:\n      - 10.0.0.53\n"
                        "      - 10.0.0.54@70000\n");
  CHECK_THAT(e, Catch::Contains("f.yaml:5") && Catch::Contains("forward-zones") && Catch::Contains("70000"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n      - {address: 10.0.0.1, transport: tls}\n");
  CHECK_THAT(e, Catch::Contains("f.yaml:4") && Catch::Contains("needs tls-name and/or spki-pin"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n      - {url: 'http://10.0.0.1/dns-query'}\n");
  CHECK_THAT(e, Catch::Contains("f.yaml:4") && Catch::Contains("must start with https://"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n      - {url: 'https://10.0.0.1'}\n");
  CHECK_THAT(e, Catch::Contains("has no path"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n      - {url: 'https://10.0.0.1:99999/q'}\n");
  CHECK_THAT(e, Catch::Contains("bad port"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n      - {url: 'https://dns.example/q'}\n");
  CHECK_THAT(e, Catch::Contains("needs an address"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n"
            "      - {address: 10.0.0.1, transport: tls, spki-pin: notbase64}\n");
  CHECK_THAT(e, Catch::Contains("f.yaml:4") && Catch::Contains("spki-pin"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n"
            "      - {address: 10.0.0.1, transport: tls, tls-name: a.example, ca-file: /nonexistent/ca.pem}\n");
  CHECK_THAT(e, Catch::Contains("f.yaml:4") && Catch::Contains("cannot read '/nonexistent/ca.pem'"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n"
            "      - {address: 10.0.0.1, transport: tls, tls-name: a.example, ca-file: /dev/zero}\n");
  CHECK_THAT(e, Catch::Contains("not a file"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n"
            "      - {address: 10.0.0.1, transport: tls, tls-name: a.example, ca-file: /etc/hostname}\n");
  CHECK_THAT(e, Catch::Contains("holds no PEM certificate"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n      - {address: 10.0.0.1, transport: carrier-pigeon}\n");
  CHECK_THAT(e, Catch::Contains("not udp, tcp, tls, https or quic"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams:\n      - {address: 10.0.0.1, tls-name: a.example}\n");
  CHECK_THAT(e, Catch::Contains("tls-name: not for transport udp"));
  e = error("forward-zones:\n  - zone: x.\n    upstreams: [10.0.0.1, 10.0.0.1]\n");
  CHECK_THAT(e, Catch::Contains("listed twice"));
  e = error("forward-zones:\n  - zone: x.\n    upstream: [10.0.0.1]\n");
  CHECK_THAT(e, Catch::Contains("f.yaml:3") && Catch::Contains("unknown key 'upstream'"));
  e = error("forward-zones:\n  - zone: x.\n");
  CHECK_THAT(e, Catch::Contains("needs at least one upstream"));
  e = error("forward-zones:\n  - upstreams: [10.0.0.1]\n");
  CHECK_THAT(e, Catch::Contains("needs 'zone'"));
  e = error("forward-zones:\n  - zone: 'a..b'\n    upstreams: [10.0.0.1]\n");
  CHECK_THAT(e, Catch::Contains("not a domain name"));
  e = error("forward-zones: {zone: x}\n");
  CHECK_THAT(e, Catch::Contains("expected a list"));
  e = error("stub-zones:\n  - zone: x.\n    servers: ['10.0.0.1@0']\n");
  CHECK_THAT(e, Catch::Contains("port 0"));
  e = error("stub-zones:\n  - zone: .\n    servers: [10.0.0.1]\n");
  CHECK_THAT(e, Catch::Contains("root cannot be a stub zone"));
  e = error("stub-zones:\n  - zone: x.\n    servers: []\n");
  CHECK_THAT(e, Catch::Contains("needs at least one server"));
  e = error("forward-zones:\n  - {zone: x., upstreams: [10.0.0.1]}\nstub-zones:\n  - {zone: X, servers: [10.0.0.2]}\n");
  CHECK_THAT(e, Catch::Contains("f.yaml:4") && Catch::Contains("configured twice"));
  e = error("forward-zones:\n  - {zone: x., upstreams: [10.0.0.1], negative-trust-anchor: maybe}\n");
  CHECK_THAT(e, Catch::Contains("not a boolean"));
}

TEST_CASE("the reference documents the blocks", "[config][forward]") {
  std::string ref = config_reference();
  CHECK(ref.find("`forward-zones`") != std::string::npos);
  CHECK(ref.find("`spki-pin`") != std::string::npos);
  CHECK(ref.find("`forward-first`") != std::string::npos);
}

TEST_CASE("one upstream cannot be authenticated two ways", "[config][forward]") {
  CHECK_THROWS_WITH(load_config_text(R"(
forward-zones:
  - zone: a.example
    upstreams: [{address: 10.0.0.1, transport: tls, tls-name: one.example}]
  - zone: b.example
    upstreams: [{address: 10.0.0.1, transport: tls, tls-name: two.example}]
)", "f.yaml"),
                    Catch::Contains("f.yaml:6") && Catch::Contains("configured differently at line 4"));
  // The same upstream for two zones is fine.
  CHECK(load_config_text(R"(
forward-zones:
  - {zone: a.example, upstreams: [{address: 10.0.0.1, transport: tls, tls-name: one.example}]}
  - {zone: b.example, upstreams: [{address: 10.0.0.1, transport: tls, tls-name: one.example}]}
)", "f.yaml").forward_zones.size() == 2);
}
