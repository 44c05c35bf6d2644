// Aggressive use of the DNSSEC-validated cache (RFC 8198): answering
// NXDOMAIN or NODATA from NSEC/NSEC3 records already validated as secure,
// without asking upstream.
//
// The cache engineer keeps the records (with their RRSIGs, for DO=1
// answers) and hands the candidates for one zone to these checks: typically
// the NSEC whose owner precedes the query name in canonical order, the one
// at or preceding "*.<closest encloser>", and any at the name itself; for
// NSEC3, the records of the zone whose hashes are near the hashed names.
// Passing more records than needed is harmless.
//
// Rules (RFC 8198 §5, §6): only records whose validation state is secure may
// be given here; NSEC3 records with opt-out never synthesise anything (an
// unsigned delegation may hide in the span), nor do NSEC3 records above the
// iteration limit. The synthesised answer's TTL is the smaller of the used
// records' TTLs and the SOA minimum, which the caller applies (it holds the
// SOA).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dnssec/validation_budget.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::dnssec {

enum class AggressiveOutcome : uint8_t {
  none = 0,  // the records prove nothing: ask upstream
  nxdomain,
  nodata,
};
const char* to_string(AggressiveOutcome o) noexcept;

struct AggressiveAnswer {
  AggressiveOutcome outcome = AggressiveOutcome::none;
  // Indices into the given RRsets of the records that make the proof (to
  // put in the authority section with their RRSIGs).
  std::vector<size_t> used;
  // min TTL of the used records.
  uint32_t ttl = 0;
};

// `nsec_rrsets`: validated NSEC RRsets of `zone`.
AggressiveAnswer synthesize_from_nsec(std::span<const wire::RRset> nsec_rrsets,
                                      const wire::Name& zone, const wire::Name& qname,
                                      wire::RRType qtype);

// `nsec3_rrsets`: validated NSEC3 RRsets of `zone`. Hashing is charged to
// `budget` like any other proof.
AggressiveAnswer synthesize_from_nsec3(std::span<const wire::RRset> nsec3_rrsets,
                                       const wire::Name& zone, const wire::Name& qname,
                                       wire::RRType qtype, ValidationBudget& budget);

}  // namespace sextant::dnssec
