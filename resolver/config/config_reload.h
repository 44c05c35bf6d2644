// What a reload (SIGHUP, `sextant control reload`) can change in a running
// daemon, and what must wait for a restart.
//
// Applied live, without touching the cache: access-control, log-level,
// dnssec.negative-trust-anchors (which flushes the names that changed),
// forward-zones and stub-zones (which flush the zones that changed);
// every policy.* key (the whole policy is rebuilt from the file and the
// files it names, and swapped in; answers that depended on what changed
// are flushed);
// the TLS certificate and key are re-read from their (unchanged) paths.
// Everything else (listeners, threads, cache sizes, resolver and DNSSEC
// settings, ...) is named in need_restart and keeps its running value.
#pragma once

#include <string>
#include <vector>

#include "resolver/config/config.h"

namespace sextant::resolver {

struct ReloadPlan {
  bool access_control_changed = false;
  bool log_level_changed = false;
  bool negative_trust_anchors_changed = false;
  bool forward_zones_changed = false;  // forward-zones or stub-zones
  // The policy is rebuilt on every reload where either file has one: its
  // lists and zones are files that may have changed even when the
  // configuration did not.
  bool policy_rebuild = false;
  bool policy_settings_changed = false;
  std::vector<std::string> need_restart;  // setting keys, in table order
};

ReloadPlan plan_reload(const Config& running, const Config& next);

// The keys of every setting a reload cannot change.
std::vector<std::string> restart_only_settings();
// The keys of every setting a reload applies.
std::vector<std::string> live_settings();

// True if `p` configures any policy at all (top level or views).
bool has_policy(const PolicyConfig& p);

}  // namespace sextant::resolver
