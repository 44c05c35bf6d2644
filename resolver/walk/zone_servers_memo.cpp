#include "resolver/walk/zone_servers_memo.h"

#include <utility>

namespace sextant::resolver {

void ZoneServersMemo::remember(const wire::Name& zone, std::vector<ServerAddress> servers) {
  if (servers.empty()) return;
  if (zones_.size() >= kMaxZones && zones_.find(zone) == zones_.end()) zones_.erase(zones_.begin());
  zones_[zone] = std::move(servers);
}

const std::vector<ServerAddress>* ZoneServersMemo::find(const wire::Name& zone) const noexcept {
  auto it = zones_.find(zone);
  return it == zones_.end() ? nullptr : &it->second;
}

void ZoneServersMemo::forget(const wire::Name& zone) { zones_.erase(zone); }

}  // namespace sextant::resolver
