// Builds a Policy from the configuration, reading every file it names:
// list files, hosts files, local zone files and RPZ zone files.
//
// What is fatal and what is not:
// - At start-up and for --check-config (no previous policy), a file that
//   cannot be read, a local zone file or an RPZ zone that does not load is
//   an error naming FILE:LINE (of the file, or of the configuration entry):
//   PolicyError.
// - On a reload (a previous policy given), such a component keeps its
//   previous copy (the old list or zone stays, as the issue asks for zones)
//   and the problem is reported; the rest of the new policy applies.
// - Bad lines in lists and hosts files are never fatal: they are counted,
//   reported with file:line, and the good lines are used.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "resolver/config/policy_config.h"
#include "resolver/policy/policy.h"
#include "resolver/policy/policy_counters.h"

namespace sextant::resolver::policy {

class PolicyError : public std::runtime_error {
 public:
  explicit PolicyError(const std::string& m) : std::runtime_error(m) {}
};

// The answer-cache tag of each view, by name, stable across reloads (so a
// rebuilt view finds its cached answers). Tags are odd (1, 3, 5 ...): the
// even number above a view's tag holds the answers of its DNS64 clients;
// 0 is "shared".
class ViewTags {
 public:
  uint16_t tag_for(const std::string& view);

 private:
  std::mutex mu_;
  std::map<std::string, uint16_t> tags_;
};

struct BuildReport {
  std::vector<std::string> warnings;  // bad lines, skipped triggers, kept copies
  std::vector<std::string> errors;    // components that could not be built (reload: old copy kept)
  size_t entries = 0;                 // names and triggers loaded, over every component
  double seconds = 0;
  std::string text() const;           // one line per warning and error
};

struct BuildContext {
  PolicyCounters* counters = nullptr;  // hit slots, when counted
  ViewTags* tags = nullptr;            // cache tags; without, every view gets a tag from 1 up
  const Policy* previous = nullptr;    // a reload: failing components keep their previous copy
};

// Throws PolicyError when `previous` is null and a component fails.
std::shared_ptr<const Policy> build_policy(const PolicyConfig& config, BuildContext& context, BuildReport& report);

}  // namespace sextant::resolver::policy
