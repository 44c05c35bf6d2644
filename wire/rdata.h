// Per-type rdata knowledge: layout checks, name expansion when reading from a
// message, the names that may be compressed on output, presentation format
// both ways, and the DNSSEC canonical form (RFC 4034 §6.2).
//
// Typed read access to individual types lives in rdata_views.h.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "wire/errors.h"
#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::wire {

// Copies the rdata at packet[offset, offset + length) into uncompressed form,
// expanding compression pointers in the types whose names may be compressed
// (RFC 3597 §4 and RFC 1035: NS, CNAME, SOA, PTR, MX; receivers also accept
// them in SRV, NAPTR, RP, AFSDB, RT, PX, KX, DNAME, RRSIG signer per RFC 3597
// §4 / RFC 4034 lenience), and checks the rdata against the type's layout.
// Unknown types are copied verbatim.
WireError expand_rdata(RRType type, std::span<const uint8_t> packet, size_t offset,
                       size_t length, Rdata& out);

// Checks uncompressed rdata against its type's layout (truncated fields,
// bad names, trailing octets).
WireError validate_rdata(RRType type, std::span<const uint8_t> rdata) noexcept;

// Offsets inside uncompressed rdata of the names a builder may compress on
// output: only NS, CNAME, SOA (2 names), PTR and MX, per RFC 3597 §4.
// Returns how many of `offsets` were filled (0, 1 or 2).
size_t compressible_name_offsets(RRType type, std::span<const uint8_t> rdata,
                                 std::array<uint16_t, 2>& offsets) noexcept;

// Presentation format of the rdata alone ("10 mail.example.com.").
// Unknown types (and any rdata that fails validation) use RFC 3597 "\# len hex".
std::string rdata_to_text(RRType type, std::span<const uint8_t> rdata);

// Parses the rdata part of a presentation-format record. Relative names are
// completed with `origin`. "\# len hex" is accepted for every type.
// Throws TextError naming the problem.
Rdata rdata_from_text(RRType type, std::string_view text, const Name& origin = Name());

// The canonical form used for signing: names in the RFC 4034 §6.2 types
// (as amended by RFC 6840 §5.1: not NSEC's next name) lower-cased.
Rdata canonical_rdata(RRType type, std::span<const uint8_t> rdata);

// "owner TTL CLASS TYPE rdata" on one line.
std::string record_to_text(const ResourceRecord& rr);

}  // namespace sextant::wire
