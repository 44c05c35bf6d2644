// The policy and event-log sections: values checked with their own lines.
#include <catch2/catch.hpp>

#include <string>

#include "resolver/config/config.h"

using namespace sextant::resolver;

namespace {

std::string error_of(const std::string& yaml) {
  try {
    load_config_text(yaml, "p.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("policy config: a full section is read", "[config][policy]") {
  Config c = load_config_text(R"(
policy:
  local-zones: [{name: internal, type: static}]
  local-data:
    - "db.internal. 300 A 10.0.0.5"
    - "*.svc.cluster.example. A 10.0.0.9"
  local-data-ptr: false
  hosts-files: [/etc/hosts]
  allowlist: {names: ["*.example.com"], action: nxdomain}
  blocklists:
    - {name: ads, file: /lists/ads.hosts, action: sinkhole, sinkhole: [0.0.0.0], ede: filtered}
  rpz: [{file: /zones/rpz.zone, zone: rpz.local, action: nodata}]
  dns64: {prefix: '64:ff9b::/96', clients: [10.0.0.0/8]}
  views:
    - {name: guests, clients: [192.168.0.0/16], inherit: true, blocklists: []}
event-log:
  file: "-"
  sample: 10
)", "p.yaml");
  const auto& t = c.policy.top;
  REQUIRE(t.local_zones.size() == 1);
  CHECK(t.local_zones[0].type == "static");
  CHECK(t.local_data.size() == 2);
  CHECK(t.local_data_lines[1] == 6);
  CHECK_FALSE(t.local_data_ptr);
  CHECK(t.allowlist.enabled);
  CHECK(t.allowlist.action == "nxdomain");
  REQUIRE(t.blocklists.size() == 1);
  CHECK(t.blocklists[0].files == std::vector<std::string>{"/lists/ads.hosts"});
  CHECK(t.blocklists[0].sinkhole == std::vector<std::string>{"0.0.0.0"});
  CHECK(t.rpz[0].action == "nodata");
  CHECK(t.dns64.enabled);
  REQUIRE(c.policy.views.size() == 1);
  CHECK(c.policy.views[0].inherit);
  CHECK(c.policy.views[0].keys == std::vector<std::string>{"blocklists"});
  CHECK(c.event_log.file == "-");
  CHECK(c.event_log.sample == 10);
  CHECK(c.policy.source == "p.yaml");
}

TEST_CASE("policy config: bad values name their own line", "[config][policy]") {
  CHECK(error_of("policy:\n  local-zones:\n    - {name: a.test, type: static}\n    - {name: b.test, type: bogus}\n")
            .find("p.yaml:4: policy.local-zones: 'bogus' is not one of") == 0);
  CHECK(error_of("policy:\n  local-data:\n    - \"ok.test. A 10.0.0.1\"\n    - \"bad.test. A 10.0.0\"\n")
            .find("p.yaml:4: policy.local-data:") == 0);
  CHECK(error_of("policy:\n  blocklists:\n    - {file: x}\n").find("p.yaml:3:") == 0);
  CHECK(error_of("policy:\n  blocklists:\n    - {name: a, names: [x.test], action: explode}\n").find("p.yaml:3:") == 0);
  CHECK(error_of("policy:\n  blocklists:\n    - {name: a, names: [x.test]}\n    - {name: a, names: [y.test]}\n")
            .find("used twice") != std::string::npos);
  CHECK(error_of("policy:\n  rpz:\n    - {file: f, action: cname}\n").find("walled garden") != std::string::npos);
  CHECK(error_of("policy:\n  dns64: {prefix: '2001:db8::/33'}\n").find("p.yaml:2: policy.dns64: the DNS64 prefix") == 0);
  CHECK(error_of("policy:\n  views:\n    - {name: v}\n").find("needs 'clients'") != std::string::npos);
  CHECK(error_of("policy:\n  views:\n    - {name: v, clients: [10.0.0.0/8], colour: blue}\n").find("p.yaml:3:") == 0);
  CHECK(error_of("policy:\n  allowlist: {names: ['bad name!']}\n").find("p.yaml:2:") == 0);
  CHECK(error_of("event-log:\n  sample: 0\n").find("p.yaml:2: event-log.sample") == 0);
}
