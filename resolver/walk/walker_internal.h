// Helpers shared by the walker's files (walker*.cpp): limits on what one
// referral may bring, and reading server addresses out of RRsets.
#pragma once

#include <algorithm>
#include <vector>

#include "resolver/walk/server_address.h"
#include "wire/message.h"

namespace sextant::resolver::walker_detail {

// NS names taken from one referral: enough for any real zone, bounded
// against a referral that lists thousands.
inline constexpr size_t kMaxNameServersPerCut = 20;
inline constexpr size_t kMaxAddressesPerName = 8;

inline wire::RRset capped(wire::RRset set, uint32_t max_ttl) {
  set.ttl = std::min(set.ttl, max_ttl);
  return set;
}

// Positive data as received, given the TTL the cache stores it with
// (cache.min-ttl / cache.max-ttl), so the client sees that TTL too. Only for
// data fresh from a server: a TTL read back from the cache is what is left
// of the clamped one and must not be raised again.
inline void clamp_received_ttl(wire::RRset& set, uint32_t min_ttl, uint32_t max_ttl) {
  set.ttl = std::clamp(set.ttl, std::min(min_ttl, max_ttl), max_ttl);
}

// The A/AAAA addresses of `owner` in `sets`, deduplicated, at most
// kMaxAddressesPerName.
std::vector<ServerAddress> addresses_from(const std::vector<wire::RRset>& sets,
                                          const wire::Name& owner, uint16_t port);

}  // namespace sextant::resolver::walker_detail
