// Upstream queries in flight, counted per zone and per server address, for
// one walker (one worker). The walker checks them against
// WalkerLimits::max_outstanding_per_zone / _per_server before it sends, and
// the front pipeline before it builds any walker state for a question.
//
// Entries exist only while their count is above zero, so the maps hold at
// most as many keys as there are packets in flight (bounded by the upstream
// sockets of the worker).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "resolver/walk/server_address.h"
#include "wire/name.h"

namespace sextant::resolver {

//
// What counts: per server, every packet whose socket is still open (overdue
// ones too: they hold a socket until their hard timeout); per zone, only
// packets still within their retransmission timeout. A zone whose servers
// stopped answering so frees its slots after one RTO, and the next queries
// give the fresh evidence that holds those servers down (a burst sent
// together counts as one timeout, see ServerSelection::on_timeout), while
// the per-server cap still bounds the sockets.
class OutstandingQueries {
 public:
  // Each add_*() is matched by exactly one remove_*() with the same key.
  void add_zone(const wire::Name& zone);
  void remove_zone(const wire::Name& zone);
  void add_server(const ServerAddress& server);
  void remove_server(const ServerAddress& server);

  uint32_t for_zone(const wire::Name& zone) const noexcept;
  uint32_t for_server(const ServerAddress& server) const noexcept;
  // Packets in flight (the per-server count's total).
  size_t total() const noexcept { return total_; }
  bool empty() const noexcept { return total_ == 0 && zones_.empty(); }

 private:
  std::unordered_map<wire::Name, uint32_t, wire::NameHash> zones_;
  std::unordered_map<ServerAddress, uint32_t, ServerAddressHash> servers_;
  size_t total_ = 0;
};

}  // namespace sextant::resolver
