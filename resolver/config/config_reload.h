// What a reload (SIGHUP, `sextant control reload`) can change in a running
// daemon, and what must wait for a restart.
//
// Applied live, without touching the cache: access-control, log-level,
// dnssec.negative-trust-anchors (which flushes the names that changed),
// forward-zones and stub-zones (which flush the zones that changed);
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

  std::vector<std::string> need_restart;  // setting keys, in table order
};

ReloadPlan plan_reload(const Config& running, const Config& next);

// The keys of every setting a reload cannot change.
std::vector<std::string> restart_only_settings();

}  // namespace sextant::resolver
