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

// The A/AAAA addresses of `owner` in `sets`, deduplicated, at most
// kMaxAddressesPerName.
std::vector<ServerAddress> addresses_from(const std::vector<wire::RRset>& sets,
                                          const wire::Name& owner, uint16_t port);

}  // namespace sextant::resolver::walker_detail
