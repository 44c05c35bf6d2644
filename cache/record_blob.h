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

// Reads what write_rrset_record wrote from untrusted input (a snapshot
// file): every length is checked against what is left and the owner must
// be a valid uncompressed name. Moves `pos` past the record; false (and
// `pos` unspecified) if the octets are not one well-framed record. The
// rdatas are not checked against their type here (the stores do that).
inline bool read_rrset_record_checked(std::span<const uint8_t> data, size_t& pos,
                                      wire::RRset& out) {
  auto need = [&](size_t n) { return data.size() - pos >= n; };
  if (pos > data.size() || !need(1)) return false;
  size_t owner_size = data[pos++];
  if (!need(owner_size)) return false;
  size_t name_pos = 0;
  if (wire::Name::parse_uncompressed(data.subspan(pos, owner_size), name_pos, out.owner) !=
          wire::WireError::ok ||
      name_pos != owner_size) {
    return false;
  }
  pos += owner_size;
  if (!need(12)) return false;
  const uint8_t* p = data.data() + pos;
  out.type = static_cast<wire::RRType>(read_u16(p));
  out.rclass = static_cast<wire::RRClass>(read_u16(p + 2));
  out.ttl = read_u32(p + 4);
  uint16_t n = read_u16(p + 8);
  uint16_t m = read_u16(p + 10);
  pos += 12;
  out.rdatas.clear();
  out.signatures.clear();
  for (uint32_t i = 0; i < uint32_t{n} + m; ++i) {
    if (!need(2)) return false;
    size_t len = read_u16(data.data() + pos);
    pos += 2;
    if (!need(len)) return false;
    auto& list = i < n ? out.rdatas : out.signatures;
    list.emplace_back(data.begin() + static_cast<ptrdiff_t>(pos),
                      data.begin() + static_cast<ptrdiff_t>(pos + len));
    pos += len;
  }
  return true;
}

}  // namespace sextant::cache
