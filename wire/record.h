// Resource records and RRsets as the rest of Sextant sees them.
//
// Rdata is always held in uncompressed wire form with names in their original
// case: that is what the cache stores, what DNSSEC canonicalises (see
// rdata.h) and what the message builder re-compresses on output.
#pragma once

#include <cstdint>
#include <vector>

#include "wire/name.h"
#include "wire/types.h"

namespace sextant::wire {

using Rdata = std::vector<uint8_t>;

struct ResourceRecord {
  Name owner;
  RRType type = RRType::A;
  RRClass rclass = RRClass::IN;
  uint32_t ttl = 0;
  Rdata rdata;

  bool operator==(const ResourceRecord&) const = default;
};

// Records sharing owner, type and class. `signatures` holds the rdata of the
// RRSIGs that cover this set (RRSIG type covered == type).
struct RRset {
  Name owner;
  RRType type = RRType::A;
  RRClass rclass = RRClass::IN;
  uint32_t ttl = 0;
  std::vector<Rdata> rdatas;
  std::vector<Rdata> signatures;
};

}  // namespace sextant::wire
