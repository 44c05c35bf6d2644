// The DoH settings: HTTP/1.1 limits, HTTP/3 listeners, the JSON API, and
// the checks that name file:line for bad values.
#include <catch2/catch.hpp>

#include "resolver/config/config.h"

using namespace sextant::resolver;

TEST_CASE("doh settings: defaults", "[config][doh]") {
  Config c = default_config();
  CHECK(c.doh_path == "/dns-query");
  CHECK_FALSE(c.doh_h2c);
  CHECK(c.doh_http1);
  CHECK(c.doh_http1_max_requests == 1000);
  CHECK(c.doh_http1_pipeline == 16);
  CHECK(c.doh_max_streams == 100);
  CHECK(c.doh_http3_listen.empty());
  CHECK_FALSE(c.doh_json);  // off by default
  CHECK(c.doh_json_path == "/resolve");
}

TEST_CASE("doh settings: set by name", "[config][doh]") {
  Config c = load_config_text(R"(
server:
  tls: {certificate: /c.pem, key: /k.pem}
  doh:
    listen: ["127.0.0.1@8443"]
    http1: false
    http1-max-requests: 10
    http1-pipeline: 4
    max-streams: 50
    http3-listen: ["127.0.0.1@8443", "[::1]:8443", "192.0.2.1"]
    json: true
    json-path: /api/resolve
)", "doh.yaml");
  CHECK_FALSE(c.doh_http1);
  CHECK(c.doh_http1_max_requests == 10);
  CHECK(c.doh_http1_pipeline == 4);
  CHECK(c.doh_max_streams == 50);
  REQUIRE(c.doh_http3_listen.size() == 3);
  CHECK(c.doh_http3_listen[1].address == "::1");
  CHECK(c.doh_http3_listen[2].port == 443);
  CHECK(c.doh_json);
  CHECK(c.doh_json_path == "/api/resolve");
}

TEST_CASE("doh settings: bad values name file, line and key", "[config][doh]") {
  const std::string tls = "server:\n  tls: {certificate: /c.pem, key: /k.pem}\n";
  CHECK_THROWS_WITH(load_config_text(tls + "  doh:\n    http3-listen: [0.0.0.0]\n", "f.yaml"),
                    Catch::Contains("f.yaml:4") && Catch::Contains("server.doh.http3-listen") &&
                        Catch::Contains("concrete address"));
  CHECK_THROWS_WITH(load_config_text(tls + "  doh:\n    http3-listen: ['::@443']\n", "f.yaml"),
                    Catch::Contains("concrete address"));
  CHECK_THROWS_WITH(load_config_text(tls + "  doh:\n    path: dns-query\n", "f.yaml"),
                    Catch::Contains("f.yaml:4") && Catch::Contains("must start with '/'"));
  CHECK_THROWS_WITH(load_config_text(tls + "  doh:\n    json-path: /a?b\n", "f.yaml"),
                    Catch::Contains("server.doh.json-path") && Catch::Contains("plain URL path"));
  CHECK_THROWS_WITH(load_config_text(tls + "  doh:\n    http1-pipeline: 0\n", "f.yaml"),
                    Catch::Contains("f.yaml:4") && Catch::Contains("below the minimum 1"));
  CHECK_THROWS_WITH(load_config_text(tls + "  doh:\n    max-streams: 20000\n", "f.yaml"),
                    Catch::Contains("larger than the maximum"));
  CHECK_THROWS_WITH(load_config_text(tls + "  doh:\n    json: sometimes\n", "f.yaml"), Catch::Contains("not a boolean"));
  // HTTP/3 needs the certificate even when the TCP side is cleartext (h2c).
  CHECK_THROWS_WITH(load_config_text("server:\n  doh:\n    h2c: true\n    listen: [127.0.0.1@80]\n"
                                     "    http3-listen: [127.0.0.1@443]\n",
                                     "f.yaml"),
                    Catch::Contains("server.tls.certificate"));
  CHECK_NOTHROW(load_config_text("server:\n  doh:\n    h2c: true\n    listen: [127.0.0.1@80]\n", "f.yaml"));
}
