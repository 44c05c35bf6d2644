// Small helpers for the message tests: a byte-level packet writer for
// hand-made (often malformed) packets, and record constructors from text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::wire::testing {

// Appends raw DNS fields; no validation, so tests can write anything.
class PacketWriter {
 public:
  PacketWriter& header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                       uint16_t ar) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  PacketWriter& u8(uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  PacketWriter& u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
  PacketWriter& u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v)); }
  PacketWriter& raw(std::initializer_list<uint8_t> b) {
    bytes.insert(bytes.end(), b);
    return *this;
  }
  PacketWriter& raw(const std::vector<uint8_t>& b) {
    bytes.insert(bytes.end(), b.begin(), b.end());
    return *this;
  }
  // Uncompressed name from text.
  PacketWriter& name(std::string_view text) {
    Name n = Name::from_text(text);
    bytes.insert(bytes.end(), n.wire().begin(), n.wire().end());
    return *this;
  }
  PacketWriter& pointer(uint16_t offset) { return u16(static_cast<uint16_t>(0xC000 | offset)); }
  PacketWriter& question(std::string_view qname, RRType type, RRClass c = RRClass::IN) {
    return name(qname).u16(static_cast<uint16_t>(type)).u16(static_cast<uint16_t>(c));
  }
  // Fixed fields + rdata (owner written by the caller).
  PacketWriter& fields(RRType type, uint16_t rclass, uint32_t ttl, const std::vector<uint8_t>& rdata) {
    return u16(static_cast<uint16_t>(type)).u16(rclass).u32(ttl).u16(static_cast<uint16_t>(rdata.size())).raw(rdata);
  }
  PacketWriter& record(std::string_view owner, RRType type, uint32_t ttl,
                       const std::vector<uint8_t>& rdata) {
    return name(owner).fields(type, 1, ttl, rdata);
  }
  // An OPT record with the given owner and options area.
  PacketWriter& opt(std::string_view owner = ".", uint16_t udp = 1232, uint32_t ttl = 0,
                    const std::vector<uint8_t>& options = {}) {
    return name(owner).fields(RRType::OPT, udp, ttl, options);
  }
  size_t size() const { return bytes.size(); }

  std::vector<uint8_t> bytes;
};

inline ResourceRecord make_rr(std::string_view owner, RRType type, uint32_t ttl,
                              std::string_view rdata_text) {
  ResourceRecord rr;
  rr.owner = Name::from_text(owner);
  rr.type = type;
  rr.rclass = RRClass::IN;
  rr.ttl = ttl;
  rr.rdata = rdata_from_text(type, rdata_text);
  return rr;
}

}  // namespace sextant::wire::testing
