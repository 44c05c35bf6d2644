// A small non-allocating scanner over a whole DNS message in wire form.
//
// It walks every section without decoding names or rdata and reports where
// the TTL fields are (outside OPT) and the smallest TTL of the answer and
// authority sections. The answer cache uses it to patch TTLs in a stored
// answer without building a message, and DoH uses the minimum TTL for its
// Cache-Control header.
//
// Names are skipped, never followed: a compression pointer ends a name (two
// octets), so no input can loop. Every read is bounds-checked; malformed
// input makes scan_packet() return false.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/types.h"

namespace sextant::wire {

struct PacketScan {
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;  // as on the wire, OPT included

  // The first question's name starts at offset 12; this is its size on the
  // wire (a pointer counts as 2 octets). 0 when there is no question.
  size_t qname_size = 0;
  bool qname_compressed = false;  // the first question name contains a pointer
  size_t question_end = 12;       // offset just past the question section

  // TTL fields of all records in answer, authority and additional except
  // OPT (whose "TTL" carries EDNS flags). `ttl_count` is the true number even
  // when the caller's buffer was too small (then `offsets_complete` is false
  // and only the first ttl_offsets.size() offsets were written).
  size_t ttl_count = 0;
  bool offsets_complete = true;

  // min(TTL) over answer and authority records; for an SOA in the authority
  // section its MINIMUM field counts too (RFC 2308 §5: the negative TTL is
  // min(SOA TTL, SOA MINIMUM)). TTLs with the top bit set count as 0
  // (RFC 2181 §8). UINT32_MAX when both sections are empty.
  uint32_t min_ttl = UINT32_MAX;

  // The OPT record, if any: [opt_offset, opt_end).
  bool has_opt = false;
  size_t opt_offset = 0;
  size_t opt_end = 0;

  // Offset just past the last record; equals the packet size on success.
  size_t end = 0;
};

// Scans `packet`. Returns false (and leaves `out` partly filled) on a short
// header, a name or record running past the end, reserved label types, a
// name longer than 255 octets, OPT outside the additional section or more
// than once, or octets after the last record.
bool scan_packet(std::span<const uint8_t> packet, PacketScan& out,
                 std::span<uint16_t> ttl_offsets) noexcept;

// One record as the scanner sees it (offsets into the packet).
struct ScannedRecord {
  uint8_t section = 0;  // 1 answer, 2 authority, 3 additional
  size_t owner_offset = 0;
  RRType type = RRType::A;
  uint16_t rclass = 0;
  size_t ttl_offset = 0;
  uint32_t ttl = 0;
  size_t rdata_offset = 0;
  uint16_t rdata_length = 0;
};

// Calls visit(const ScannedRecord&) for every record of the three record
// sections, OPT included, in order. Returns false on malformed input (the
// records before the fault have been visited). The visitor returns true to
// go on, false to stop early (the result is then true).
template <typename Visitor>
bool for_each_scanned_record(std::span<const uint8_t> packet, Visitor&& visit) noexcept;

namespace packet_scan_detail {

// Skips a (possibly compressed) name at `pos`. Returns false if it runs past
// the end, uses a reserved label type or exceeds 255 octets.
inline bool skip_name(std::span<const uint8_t> p, size_t& pos, bool* compressed = nullptr) noexcept {
  size_t total = 0;
  while (true) {
    if (pos >= p.size()) return false;
    uint8_t len = p[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 2 > p.size()) return false;
      pos += 2;
      if (compressed) *compressed = true;
      return true;
    }
    if ((len & 0xC0) != 0) return false;
    total += static_cast<size_t>(len) + 1;
    if (total > 255) return false;
    pos += static_cast<size_t>(len) + 1;
    if (len == 0) return true;
  }
}

inline uint16_t u16(std::span<const uint8_t> p, size_t at) noexcept {
  return static_cast<uint16_t>((p[at] << 8) | p[at + 1]);
}
inline uint32_t u32(std::span<const uint8_t> p, size_t at) noexcept {
  return (static_cast<uint32_t>(p[at]) << 24) | (static_cast<uint32_t>(p[at + 1]) << 16) |
         (static_cast<uint32_t>(p[at + 2]) << 8) | p[at + 3];
}

}  // namespace packet_scan_detail

template <typename Visitor>
bool for_each_scanned_record(std::span<const uint8_t> packet, Visitor&& visit) noexcept {
  using namespace packet_scan_detail;
  if (packet.size() < 12) return false;
  size_t pos = 12;
  uint16_t qd = u16(packet, 4);
  for (uint16_t i = 0; i < qd; ++i) {
    if (!skip_name(packet, pos)) return false;
    if (packet.size() - pos < 4) return false;
    pos += 4;
  }
  const uint16_t counts[3] = {u16(packet, 6), u16(packet, 8), u16(packet, 10)};
  for (uint8_t s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s]; ++i) {
      ScannedRecord r;
      r.section = static_cast<uint8_t>(s + 1);
      r.owner_offset = pos;
      if (!skip_name(packet, pos)) return false;
      if (packet.size() - pos < 10) return false;
      r.type = static_cast<RRType>(u16(packet, pos));
      r.rclass = u16(packet, pos + 2);
      r.ttl_offset = pos + 4;
      r.ttl = u32(packet, pos + 4);
      r.rdata_length = u16(packet, pos + 8);
      pos += 10;
      if (packet.size() - pos < r.rdata_length) return false;
      r.rdata_offset = pos;
      pos += r.rdata_length;
      if (!visit(static_cast<const ScannedRecord&>(r))) return true;
    }
  }
  return pos == packet.size();
}

}  // namespace sextant::wire
