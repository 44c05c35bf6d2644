// The commands of the control socket (`sextant control COMMAND`), parsed
// and run against a ControlTarget (the daemon; a fake in tests).
//
// One command per line; the reply is text. A reply that starts with
// "error: " is a failure (the client exits 1), anything else succeeded.
// Unbound's spellings are accepted too (flush_zone, dump_cache,
// stats_noreset), so an operator's muscle memory and scripts keep working.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "wire/name.h"
#include "wire/types.h"

namespace sextant::resolver {

class ControlTarget {
 public:
  virtual ~ControlTarget() = default;
  virtual std::string status() = 0;      // version, uptime, workers, listeners
  virtual std::string stats() = 0;       // "name value" lines
  virtual size_t flush_name(const wire::Name& name) = 0;
  virtual size_t flush_subtree(const wire::Name& apex) = 0;
  virtual void flush_all() = 0;
  virtual std::string dump_cache() = 0;  // presentation format
  // The cache as a warm-restart snapshot (binary; cache/cache_snapshot.h):
  // `dump-cache --binary`, which `sextant control dump-cache --to FILE`
  // sends and writes to FILE itself.
  virtual std::string dump_cache_snapshot() = 0;
  // Re-reads the TLS certificate and key; returns what happened ("error: ..." on failure).
  virtual std::string reload_tls() = 0;
  // Re-reads the configuration file and applies what can change live.
  virtual std::string reload() = 0;
  // Negative trust anchors (RFC 7646) at run time; each flushes the name's subtree.
  virtual std::string add_negative_anchor(const wire::Name& name) = 0;
  virtual std::string remove_negative_anchor(const wire::Name& name) = 0;
  virtual std::string list_negative_anchors() = 0;  // one name per line
  // Resolves NAME TYPE with a cold view of the name and returns the walker's
  // step-by-step account and the result (control_trace.h).
  virtual std::string trace(const wire::Name& name, wire::RRType type) = 0;
};

// Runs one command line; never throws (a failing target becomes "error: ...").
std::string run_control_command(std::string_view line, ControlTarget& target);

// The list of commands, as `help` prints it.
std::string control_help();

}  // namespace sextant::resolver
