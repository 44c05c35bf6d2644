// Compact serialisation of rdata lists and whole RRsets inside one cache
// allocation: every rdata is a 2-octet length and its octets; an RRset is
// its owner (length octet + wire form), type, class, TTL, the counts and the
// two rdata lists (records, then RRSIGs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "cache/cache_key.h"
#include "wire/name.h"
#include "wire/record.h"

namespace sextant::cache {

// Adds the serialised size of `items` to `total`; false if a count or a
// length does not fit in 16 bits.
inline bool blob_size_of(const std::vector<wire::Rdata>& items, size_t& total) noexcept {
  if (items.size() > 0xFFFF) return false;
  for (const auto& item : items) {
    if (item.size() > 0xFFFF) return false;
    total += 2 + item.size();
  }
  return true;
}

inline uint8_t* write_blob(uint8_t* p, const std::vector<wire::Rdata>& items) noexcept {
  for (const auto& item : items) {
    p = write_u16(p, static_cast<uint16_t>(item.size()));
    if (!item.empty()) std::memcpy(p, item.data(), item.size());
    p += item.size();
  }
  return p;
}

inline bool rrset_record_size(const wire::RRset& rrset, size_t& total) noexcept {
  total += 1 + rrset.owner.wire_size() + 2 + 2 + 4 + 2 + 2;
  return blob_size_of(rrset.rdatas, total) && blob_size_of(rrset.signatures, total);
}

inline uint8_t* write_rrset_record(uint8_t* p, const wire::RRset& rrset) noexcept {
  auto owner = rrset.owner.wire();
  *p++ = static_cast<uint8_t>(owner.size());
  std::memcpy(p, owner.data(), owner.size());
  p += owner.size();
  p = write_u16(p, static_cast<uint16_t>(rrset.type));
  p = write_u16(p, static_cast<uint16_t>(rrset.rclass));
  p = write_u32(p, rrset.ttl);
  p = write_u16(p, static_cast<uint16_t>(rrset.rdatas.size()));
  p = write_u16(p, static_cast<uint16_t>(rrset.signatures.size()));
  p = write_blob(p, rrset.rdatas);
  return write_blob(p, rrset.signatures);
}

// Reads back what write_rrset_record wrote (trusted input).
inline const uint8_t* read_rrset_record(const uint8_t* p, wire::RRset& out) {
  size_t owner_size = *p++;
  size_t pos = 0;
  (void)wire::Name::parse_uncompressed({p, owner_size}, pos, out.owner);
  p += owner_size;
  out.type = static_cast<wire::RRType>(read_u16(p));
  out.rclass = static_cast<wire::RRClass>(read_u16(p + 2));
  out.ttl = read_u32(p + 4);
  uint16_t n = read_u16(p + 8);
  uint16_t m = read_u16(p + 10);
  p += 12;
  out.rdatas.clear();
  out.signatures.clear();
  for (uint16_t i = 0; i < n; ++i) {
    uint16_t len = read_u16(p);
    out.rdatas.emplace_back(p + 2, p + 2 + len);
    p += 2 + len;
  }
  for (uint16_t i = 0; i < m; ++i) {
    uint16_t len = read_u16(p);
    out.signatures.emplace_back(p + 2, p + 2 + len);
    p += 2 + len;
  }
  return p;
}

}  // namespace sextant::cache
