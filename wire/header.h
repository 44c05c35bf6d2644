// The fixed 12-octet DNS message header (RFC 1035 §4.1.1, RFC 4035 §3.2 for
// AD/CD). The flags word is kept raw so that bits nobody assigned (Z) survive
// a parse -> build round trip; accessors read and write the named fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/errors.h"
#include "wire/types.h"

namespace sextant::wire {

inline constexpr size_t kHeaderSize = 12;

struct Header {
  uint16_t id = 0;
  // QR(15) OPCODE(14..11) AA(10) TC(9) RD(8) RA(7) Z(6) AD(5) CD(4) RCODE(3..0).
  uint16_t flags = 0;
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;

  static constexpr uint16_t kQR = 0x8000;
  static constexpr uint16_t kAA = 0x0400;
  static constexpr uint16_t kTC = 0x0200;
  static constexpr uint16_t kRD = 0x0100;
  static constexpr uint16_t kRA = 0x0080;
  static constexpr uint16_t kZ = 0x0040;
  static constexpr uint16_t kAD = 0x0020;
  static constexpr uint16_t kCD = 0x0010;

  bool qr() const noexcept { return flags & kQR; }
  bool aa() const noexcept { return flags & kAA; }
  bool tc() const noexcept { return flags & kTC; }
  bool rd() const noexcept { return flags & kRD; }
  bool ra() const noexcept { return flags & kRA; }
  bool z() const noexcept { return flags & kZ; }
  bool ad() const noexcept { return flags & kAD; }
  bool cd() const noexcept { return flags & kCD; }
  Opcode opcode() const noexcept { return static_cast<Opcode>((flags >> 11) & 0xF); }
  // Only the low 4 bits; Message::rcode() adds OPT's extended bits.
  uint8_t rcode_low() const noexcept { return static_cast<uint8_t>(flags & 0xF); }

  void set_qr(bool on) noexcept { set_bit(kQR, on); }
  void set_aa(bool on) noexcept { set_bit(kAA, on); }
  void set_tc(bool on) noexcept { set_bit(kTC, on); }
  void set_rd(bool on) noexcept { set_bit(kRD, on); }
  void set_ra(bool on) noexcept { set_bit(kRA, on); }
  void set_z(bool on) noexcept { set_bit(kZ, on); }
  void set_ad(bool on) noexcept { set_bit(kAD, on); }
  void set_cd(bool on) noexcept { set_bit(kCD, on); }
  void set_opcode(Opcode op) noexcept {
    flags = static_cast<uint16_t>((flags & ~0x7800u) | ((static_cast<unsigned>(op) & 0xFu) << 11));
  }
  // Stores the low 4 bits of `rcode`; the caller puts the upper 8 in OPT.
  void set_rcode_low(uint16_t rcode) noexcept {
    flags = static_cast<uint16_t>((flags & ~0xFu) | (rcode & 0xFu));
  }

  // Reads the first 12 octets; truncated_header if there are fewer.
  static WireError parse(std::span<const uint8_t> packet, Header& out) noexcept {
    if (packet.size() < kHeaderSize) return WireError::truncated_header;
    auto u16 = [&](size_t at) {
      return static_cast<uint16_t>((packet[at] << 8) | packet[at + 1]);
    };
    out.id = u16(0);
    out.flags = u16(2);
    out.qdcount = u16(4);
    out.ancount = u16(6);
    out.nscount = u16(8);
    out.arcount = u16(10);
    return WireError::ok;
  }

  // Writes the 12 octets at `out` (which must have room for them).
  void write(uint8_t* out) const noexcept {
    const uint16_t words[6] = {id, flags, qdcount, ancount, nscount, arcount};
    for (size_t i = 0; i < 6; ++i) {
      out[2 * i] = static_cast<uint8_t>(words[i] >> 8);
      out[2 * i + 1] = static_cast<uint8_t>(words[i]);
    }
  }

  bool operator==(const Header&) const = default;

 private:
  void set_bit(uint16_t bit, bool on) noexcept {
    flags = static_cast<uint16_t>(on ? (flags | bit) : (flags & ~bit));
  }
};

// The header of a response to `query`: same ID, opcode, RD and CD (RFC 6840
// §5.9), QR set, everything else clear, counts zero.
inline Header response_header_for(const Header& query) noexcept {
  Header h;
  h.id = query.id;
  h.set_qr(true);
  h.set_opcode(query.opcode());
  h.set_rd(query.rd());
  h.set_cd(query.cd());
  return h;
}

}  // namespace sextant::wire
