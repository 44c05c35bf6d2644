// A memo of zones found in some state (every server held down; struggling
// and at the per-zone cap), with the server addresses they had. It lets the
// walker answer "this question would fail at once" from a few hash
// look-ups, before any walker state is built for it: a flood of random
// names under a dead or slow zone then costs about what a cache hit costs
// (Walker::quick_failure).
//
// An entry is only a pointer to check: the servers' states live in the
// server-state table, and an entry whose servers are no longer in that
// state (a probe is due, one answered) is forgotten by the check that finds
// it so. Bounded by kMaxZones; a full memo forgets an arbitrary entry (it
// costs one ordinary resolution to learn it again).
#pragma once

#include <cstddef>
#include <unordered_map>
#include <vector>

#include "resolver/walk/server_address.h"
#include "wire/name.h"

namespace sextant::resolver {

class ZoneServersMemo {
 public:
  static constexpr size_t kMaxZones = 4096;

  void remember(const wire::Name& zone, std::vector<ServerAddress> servers);
  // nullptr if the zone is not remembered.
  const std::vector<ServerAddress>* find(const wire::Name& zone) const noexcept;
  void forget(const wire::Name& zone);
  void clear() noexcept { zones_.clear(); }
  size_t size() const noexcept { return zones_.size(); }
  bool empty() const noexcept { return zones_.empty(); }

 private:
  std::unordered_map<wire::Name, std::vector<ServerAddress>, wire::NameHash> zones_;
};

}  // namespace sextant::resolver
