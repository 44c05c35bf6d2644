// Validated denial records (NSEC/NSEC3 with their zone's SOA) kept for
// aggressive negative answers (RFC 8198), shared by the walkers of every
// worker thread.
//
// A denial learned by one worker must serve the next client whichever
// worker its query lands on (SO_REUSEPORT spreads clients by their address
// and port), so the memory lives outside the walkers, under one mutex. Only
// negative resolutions write it and only cache misses read it, so the lock
// is off the cache-hit path.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wire/name.h"
#include "wire/record.h"

namespace sextant::resolver {

class DenialMemory {
 public:
  // Bounds: past kMaxZones zones the memory starts over; a zone keeps its
  // kMaxRecordsPerZone most recent denial RRsets.
  static constexpr size_t kMaxZones = 1000;
  static constexpr size_t kMaxRecordsPerZone = 256;

  // One denial RRset and the wall second it expires.
  using Denial = std::pair<const wire::RRset*, uint32_t>;

  // Remembers validated `denials` of `zone` (lower-cased apex) and its SOA,
  // usable until `soa_expires`. A record with the same owner and type
  // replaces the older one.
  void remember(const wire::Name& zone, const wire::RRset& soa, uint32_t soa_expires,
                std::span<const Denial> denials);

  // What is remembered for the closest enclosing zone of `target`, copied
  // out with TTLs set to the time left: nothing if that zone's SOA expired.
  struct Zone {
    wire::RRset soa;  // TTL: time left
    uint32_t soa_expires = 0;
    std::vector<wire::RRset> nsec;   // TTLs: time left
    std::vector<wire::RRset> nsec3;
  };
  std::optional<Zone> closest(const wire::Name& target, uint32_t now);

  bool empty() const;

  // For the operator's flush: forgets every zone at or below `apex` and the
  // zone enclosing it (its denials can cover names below apex, which would
  // otherwise still be answered negatively without asking). Returns the
  // zones dropped.
  size_t forget(const wire::Name& apex);
  void clear();

 private:
  struct Memo {
    wire::RRset soa;
    uint32_t soa_expires = 0;
    std::vector<std::pair<wire::RRset, uint32_t>> records;  // NSEC/NSEC3, expiry
  };
  mutable std::mutex mu_;
  std::unordered_map<wire::Name, Memo, wire::NameHash> zones_;
};

}  // namespace sextant::resolver
