// The `policy:` section (local data, allowlist, blocklists, RPZ, DNS64,
// views) and the `event-log:` section, as the configuration file states
// them. Values are checked when the file is read (names, types, actions,
// prefixes, records), each error naming its own line; the files they point
// to (lists, zone files, hosts files, RPZ zones) are read by the policy
// builder (resolver/policy/policy_builder.h), at start-up, by
// --check-config and on every reload.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>


namespace YAML {
class Node;
}

namespace sextant::resolver {

struct LocalZoneConfig {
  std::string name;
  std::string type;  // an Unbound local-zone type, checked
  size_t line = 0;
  friend bool operator==(const LocalZoneConfig&, const LocalZoneConfig&) = default;
};

// A zone file served as local data: {file, name (origin; else the file's
// SOA), type (default static)}.
struct LocalZoneFileConfig {
  std::string file;
  std::string name;
  std::string type = "static";
  size_t line = 0;
  friend bool operator==(const LocalZoneFileConfig&, const LocalZoneFileConfig&) = default;
};

struct AllowlistConfig {
  bool enabled = false;
  std::vector<std::string> names;  // "api.example.com", "*.example.com"
  std::vector<std::string> files;
  std::string action = "refuse";   // refuse | nxdomain
  size_t line = 0;
  friend bool operator==(const AllowlistConfig&, const AllowlistConfig&) = default;
};

struct BlocklistConfig {
  std::string name;
  std::vector<std::string> files;
  std::vector<std::string> names;   // inline entries
  std::string format = "any";       // any | hosts | domains
  std::string action = "nxdomain";  // nxdomain | nodata | sinkhole | refuse
  std::vector<std::string> sinkhole{"0.0.0.0", "::"};
  std::string ede = "blocked";      // blocked | censored | filtered | none
  uint32_t ttl = 300;
  size_t line = 0;
  friend bool operator==(const BlocklistConfig&, const BlocklistConfig&) = default;
};

struct RpzConfig {
  std::string name;               // metrics and logs; the zone's name if empty
  std::string file;
  std::string zone;               // origin; empty: the file's SOA owner
  std::string action = "given";   // given | disabled | passthru | drop | tcp-only | nxdomain | nodata | cname
  std::string cname;              // the walled garden for action: cname
  std::string ede = "blocked";
  size_t line = 0;
  friend bool operator==(const RpzConfig&, const RpzConfig&) = default;
};

struct Dns64Config {
  bool enabled = false;
  std::string prefix = "64:ff9b::/96";
  std::vector<std::string> clients;  // prefixes, checked
  std::vector<std::string> exclude{"::ffff:0:0/96"};
  size_t line = 0;
  friend bool operator==(const Dns64Config&, const Dns64Config&) = default;
};

// What one view (or the top level, the default view) applies.
struct PolicySetConfig {
  std::vector<LocalZoneConfig> local_zones;
  std::vector<std::string> local_data;  // one record each, "name [ttl] [IN] type rdata"
  std::vector<size_t> local_data_lines;
  bool local_data_ptr = true;
  std::vector<LocalZoneFileConfig> local_zone_files;
  std::vector<std::string> hosts_files;
  AllowlistConfig allowlist;
  std::vector<BlocklistConfig> blocklists;
  std::vector<RpzConfig> rpz;
  Dns64Config dns64;
  bool cname_inspection = true;
  friend bool operator==(const PolicySetConfig&, const PolicySetConfig&) = default;
};

struct ViewConfig {
  std::string name;
  std::vector<std::string> clients;    // prefixes, checked
  std::vector<std::string> listeners;  // "ADDR@PORT", checked
  bool inherit = false;            // unset keys come from the top level
  std::vector<std::string> keys;   // the policy keys the view sets
  PolicySetConfig set;
  size_t line = 0;
  friend bool operator==(const ViewConfig&, const ViewConfig&) = default;
};

struct PolicyConfig {
  PolicySetConfig top;
  std::vector<ViewConfig> views;
  std::string source;  // the configuration file, for messages
  friend bool operator==(const PolicyConfig&, const PolicyConfig&) = default;
};

struct EventLogConfig {
  std::string file;                 // empty: off; "-" or "stdout": standard output
  uint32_t sample = 1;              // log 1 query in N
  uint32_t max_per_second = 10000;  // rate cap over all workers; 0: none
  uint32_t queue_size = 4096;       // events waiting per worker
  friend bool operator==(const EventLogConfig&, const EventLogConfig&) = default;
};

// Parsers for the settings table (resolver/config/config.cpp).
void apply_local_zones(PolicySetConfig& s, const YAML::Node& n);
void apply_local_data(PolicySetConfig& s, const YAML::Node& n);
void apply_local_zone_files(PolicySetConfig& s, const YAML::Node& n);
void apply_hosts_files(PolicySetConfig& s, const YAML::Node& n);
void apply_allowlist(PolicySetConfig& s, const YAML::Node& n);
void apply_blocklists(PolicySetConfig& s, const YAML::Node& n);
void apply_rpz(PolicySetConfig& s, const YAML::Node& n);
void apply_dns64(PolicySetConfig& s, const YAML::Node& n);
void apply_views(PolicyConfig& p, const YAML::Node& n);
// Checks what only makes sense across keys (unique names); `source` names
// the file. Throws ConfigError.
void check_policy(const PolicyConfig& p, const std::string& source);

}  // namespace sextant::resolver
