// What a proof of non-existence (NSEC, RFC 4035 §5.4; NSEC3, RFC 5155 §8)
// establishes. The NSEC/NSEC3 RRsets given to the proof functions must
// already have been verified with the keys of `zone` (their signer): the
// proofs only reason about names and bitmaps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dnssec/security_state.h"
#include "wire/name.h"

namespace sextant::dnssec {

enum class DenialStatus : uint8_t {
  proven = 0,           // the denial holds: secure
  opt_out,              // holds only up to an NSEC3 opt-out span: insecure (RFC 5155 §9.2)
  not_proven,           // the records do not prove it: bogus, EDE 12
  iterations_too_high,  // NSEC3 iterations above the limit: insecure, EDE 27 (RFC 9276)
  budget_exhausted,     // NSEC3 hash budget spent: bogus (transient), EDE 6
};
const char* to_string(DenialStatus s) noexcept;

struct DenialProof {
  DenialStatus status = DenialStatus::not_proven;
  std::string reason;
  // For NXDOMAIN and wildcard proofs: the closest encloser that was proven.
  std::optional<wire::Name> closest_encloser;
  // For DS NODATA proofs: the denial shows a delegation at the name (the
  // matching NSEC/NSEC3 has NS and no SOA, or an opt-out span may hide
  // one), so the child is an unsigned zone. Without it the name is no zone
  // cut at all (RFC 6840 §4.4 asks for the NS bit in an insecure
  // delegation proof).
  bool delegation = false;

  bool proven() const noexcept { return status == DenialStatus::proven; }
  // secure / insecure (opt-out, iterations) / bogus, with the EDE.
  Verdict verdict() const;
};

}  // namespace sextant::dnssec
