// Denial of existence with NSEC (RFC 4035 §5.4, RFC 4034 §4, RFC 6840 §4,
// RFC 6672 §5.3.4).
//
// "covers": owner < name < next in canonical order (RFC 4034 §6.1); the last
// NSEC of a zone wraps around (next <= owner: everything after the owner).
// Guards against the classic mistakes:
// - an NSEC at a delegation point (NS without SOA) comes from the parent and
//   proves nothing about names below the cut, nor about types at the child
//   apex other than DS;
// - an NSEC whose owner has a DNAME proves nothing about names below it;
// - a DS denial must come from the parent zone: an NSEC of the child apex
//   (SOA bit; signer == the name) cannot deny a DS (RFC 4035 B.8);
// - a name with CNAME in the bitmap is not a NODATA for any other type;
// - records and names outside the signer's zone are ignored.
#pragma once

#include <span>
#include <vector>

#include "dnssec/denial.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::dnssec {

struct NsecRecord {
  wire::Name owner;
  wire::Name next;
  std::vector<uint8_t> type_bitmap;

  bool has_type(wire::RRType type) const noexcept;
  // owner < name < next with wrap-around, plus the delegation/DNAME guards.
  bool covers(const wire::Name& name) const noexcept;
};

// The well-formed NSEC records of `zone` among `rrsets` (other types and
// records outside the zone are skipped).
std::vector<NsecRecord> collect_nsec(std::span<const wire::RRset> rrsets, const wire::Name& zone);

// NXDOMAIN: an NSEC covers qname, and an NSEC covers the wildcard at the
// closest encloser (so no wildcard could have answered).
DenialProof nsec_prove_nxdomain(std::span<const NsecRecord> nsecs, const wire::Name& zone,
                                const wire::Name& qname);

// NODATA: an NSEC at qname without qtype and CNAME; or qname is an empty
// non-terminal (an NSEC covering it has a next name below it); or qname
// does not exist and the wildcard at its closest encloser lacks qtype
// (wildcard NODATA). For qtype DS this is also the "no DS at this
// delegation" proof of an insecure referral.
DenialProof nsec_prove_nodata(std::span<const NsecRecord> nsecs, const wire::Name& zone,
                              const wire::Name& qname, wire::RRType qtype);

// A wildcard-expanded answer (RRSIG labels < owner labels): an NSEC must
// cover qname and show that the closest encloser is the wildcard's parent
// (no closer name exists), RFC 4035 §5.3.4.
DenialProof nsec_prove_wildcard_answer(std::span<const NsecRecord> nsecs, const wire::Name& zone,
                                       const wire::Name& qname, uint8_t rrsig_labels);

}  // namespace sextant::dnssec
