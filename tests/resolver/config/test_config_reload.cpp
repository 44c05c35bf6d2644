// What a reload applies live and what it leaves for a restart.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>

#include "resolver/config/config_reload.h"

using namespace sextant::resolver;

TEST_CASE("reload plan: access-control, log-level and NTAs live, the rest named for a restart", "[reload]") {
  Config running = default_config();
  CHECK(plan_reload(running, running).need_restart.empty());
  CHECK_FALSE(plan_reload(running, running).access_control_changed);

  Config next = load_config_text(
      "server:\n  log-level: debug\naccess-control:\n  - {subnet: 127.0.0.2/32, action: allow}\n", "f.yaml");
  ReloadPlan plan = plan_reload(running, next);
  CHECK(plan.access_control_changed);
  CHECK(plan.log_level_changed);
  CHECK(plan.need_restart.empty());

  next = load_config_text(
      "server:\n  listen: ['127.0.0.1@5353']\n  threads: 3\ncache:\n  memory: 1G\n"
      "dnssec:\n  negative-trust-anchors: [example.com]\n",
      "f.yaml");
  plan = plan_reload(running, next);
  CHECK_FALSE(plan.access_control_changed);
  CHECK(plan.need_restart == std::vector<std::string>{"server.listen", "server.threads", "cache.memory"});
  CHECK(plan.negative_trust_anchors_changed);
}

TEST_CASE("reload plan: every setting of the table is either live or restart-only", "[reload]") {
  // The reference has one line per key: "| `key` | `default` | meaning |".
  std::set<std::string> table;
  std::string reference = config_reference();
  for (size_t at = reference.find("\n| `"); at != std::string::npos; at = reference.find("\n| `", at + 1)) {
    size_t end = reference.find('`', at + 4);
    table.insert(reference.substr(at + 4, end - at - 4));
  }
  REQUIRE(table.size() > 40);
  std::set<std::string> known;
  for (const auto& key : live_settings()) CHECK(known.insert(key).second);
  for (const auto& key : restart_only_settings()) CHECK(known.insert(key).second);  // no duplicates
  CHECK(known == table);
}

TEST_CASE("reload plan: forward and stub zones apply live; a moved line is no change", "[reload][forward]") {
  Config running = load_config_text(
      "forward-zones:\n  - {zone: corp.example, upstreams: [10.0.0.53]}\n", "f.yaml");
  // The same block two lines further down: same zones, nothing to flush.
  Config moved = load_config_text(
      "\n\nforward-zones:\n  - {zone: corp.example, upstreams: [10.0.0.53]}\n", "f.yaml");
  CHECK_FALSE(plan_reload(running, moved).forward_zones_changed);
  Config next = load_config_text(
      "forward-zones:\n  - {zone: corp.example, upstreams: [10.0.0.54]}\n", "f.yaml");
  ReloadPlan plan = plan_reload(running, next);
  CHECK(plan.forward_zones_changed);
  CHECK(plan.need_restart.empty());
  Config stub = load_config_text(
      "forward-zones:\n  - {zone: corp.example, upstreams: [10.0.0.53]}\n"
      "stub-zones:\n  - {zone: internal.test, servers: [10.1.1.1]}\n", "f.yaml");
  CHECK(plan_reload(running, stub).forward_zones_changed);
}
