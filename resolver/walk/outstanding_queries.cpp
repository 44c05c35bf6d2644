#include "resolver/walk/outstanding_queries.h"

namespace sextant::resolver {

namespace {
template <typename Map, typename Key>
void decrement(Map& map, const Key& key) {
  auto it = map.find(key);
  if (it == map.end()) return;
  if (--it->second == 0) map.erase(it);
}
}  // namespace

void OutstandingQueries::add_zone(const wire::Name& zone) { ++zones_[zone]; }

void OutstandingQueries::remove_zone(const wire::Name& zone) { decrement(zones_, zone); }

void OutstandingQueries::add_server(const ServerAddress& server) {
  ++servers_[server];
  ++total_;
}

void OutstandingQueries::remove_server(const ServerAddress& server) {
  decrement(servers_, server);
  if (total_ > 0) --total_;
}

uint32_t OutstandingQueries::for_zone(const wire::Name& zone) const noexcept {
  auto it = zones_.find(zone);
  return it == zones_.end() ? 0 : it->second;
}

uint32_t OutstandingQueries::for_server(const ServerAddress& server) const noexcept {
  auto it = servers_.find(server);
  return it == servers_.end() ? 0 : it->second;
}

}  // namespace sextant::resolver
