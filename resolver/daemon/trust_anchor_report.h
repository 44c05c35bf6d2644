// What `sextant control status` says about the RFC 5011 managed trust
// anchors: one line per trust point and one per key, with its state.
#pragma once

#include <cstdint>
#include <string>

#include "resolver/anchors/trust_anchor_keeper.h"

namespace sextant::resolver {

//   trust-anchor . file /var/lib/sextant/root.key (maintained here)
//   trust-anchor . last-success 2026-12-07T14:00:00Z next-probe 2026-12-08T02:00:00Z failures 0
//   trust-anchor . key 20326 VALID since 2026-11-01T10:00:00Z
std::string trust_anchor_status(const TrustAnchorKeeper& keeper);

}  // namespace sextant::resolver
