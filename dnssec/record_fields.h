// The fields of the DNSSEC record types as dnssec/ consumes them, read from
// uncompressed rdata (wire/record.h). Each reader checks the layout and
// returns false for anything malformed, so the proofs and checks never see a
// truncated field. Spans point into the rdata passed in: keep it alive.
#pragma once

#include <cstdint>
#include <span>

#include "wire/name.h"
#include "wire/types.h"

namespace sextant::dnssec {

inline constexpr uint16_t kDnskeyFlagZone = 0x0100;    // bit 7
inline constexpr uint16_t kDnskeyFlagRevoke = 0x0080;  // bit 8, RFC 5011
inline constexpr uint16_t kDnskeyFlagSep = 0x0001;     // bit 15
inline constexpr uint8_t kDnskeyProtocol = 3;
inline constexpr uint8_t kNsec3FlagOptOut = 0x01;

struct RrsigFields {
  wire::RRType type_covered = wire::RRType::A;
  uint8_t algorithm = 0;
  uint8_t labels = 0;
  uint32_t original_ttl = 0;
  uint32_t expiration = 0;
  uint32_t inception = 0;
  uint16_t key_tag = 0;
  wire::Name signer;
  // Everything before the signature: RRSIG rdata minus the signature field.
  size_t signature_offset = 0;
  std::span<const uint8_t> signature;
};
bool read_rrsig(std::span<const uint8_t> rdata, RrsigFields& out);

struct DnskeyFields {
  uint16_t flags = 0;
  uint8_t protocol = 0;
  uint8_t algorithm = 0;
  std::span<const uint8_t> public_key;
};
bool read_dnskey(std::span<const uint8_t> rdata, DnskeyFields& out);

struct DsFields {
  uint16_t key_tag = 0;
  uint8_t algorithm = 0;
  uint8_t digest_type = 0;
  std::span<const uint8_t> digest;
};
bool read_ds(std::span<const uint8_t> rdata, DsFields& out);

struct NsecFields {
  wire::Name next;
  std::span<const uint8_t> type_bitmap;
};
bool read_nsec(std::span<const uint8_t> rdata, NsecFields& out);

struct Nsec3Fields {
  uint8_t hash_algorithm = 0;
  uint8_t flags = 0;
  uint16_t iterations = 0;
  std::span<const uint8_t> salt;
  std::span<const uint8_t> next_hash;
  std::span<const uint8_t> type_bitmap;
  bool opt_out() const noexcept { return (flags & kNsec3FlagOptOut) != 0; }
};
bool read_nsec3(std::span<const uint8_t> rdata, Nsec3Fields& out);

// RFC 4034 §4.1.2 windowed bitmap lookup. A malformed bitmap reports every
// type as absent; read_nsec/read_nsec3 already reject malformed bitmaps.
bool bitmap_has_type(std::span<const uint8_t> bitmap, wire::RRType type) noexcept;

}  // namespace sextant::dnssec
