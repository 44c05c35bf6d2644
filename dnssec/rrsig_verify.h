// Verifying one RRset against a zone's keys (RFC 4035 §5.3).
//
// For each RRSIG over the set, in order, until one verifies:
// - it must cover the set's type, name the zone as signer (the zone's keys
//   only vouch for data at or below the apex), and carry a labels value no
//   larger than the owner's label count;
// - inception/expiration are compared with `now` in RFC 1982 serial-number
//   arithmetic (RFC 4034 §3.1.5), allowing the configured clock skew;
// - the keys tried are the usable zone keys with the RRSIG's tag and
//   algorithm, at most `max_keys_per_tag` of them, and at most
//   `max_signatures_per_rrset` signatures are tried, every verification
//   taken from the request's budget;
// - the signed data is the RRSIG rdata without its signature (signer
//   lower-cased) followed by the RRset in canonical form: owner lower-cased
//   (or "*." + the rightmost `labels` labels when the signature came from a
//   wildcard), original TTL, canonical rdata sorted and deduplicated.
//
// The result names the most telling failure when nothing verifies, mapped
// to an EDE by verdict(); wildcard_expanded tells the caller that the answer
// also needs a proof that the query name itself does not exist
// (RFC 4035 §5.3.4).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dnssec/record_fields.h"
#include "dnssec/security_state.h"
#include "dnssec/validation_budget.h"
#include "dnssec/zone_key_set.h"
#include "wire/record.h"

namespace sextant::dnssec {

enum class RrsetStatus : uint8_t {
  secure = 0,
  no_signatures,            // no RRSIG at all (EDE 10)
  no_matching_signature,    // RRSIGs, but none for this type/signer/labels (EDE 10)
  dnskey_missing,           // no usable key with the RRSIG's tag and algorithm (EDE 9)
  unsupported_algorithm,    // only signatures with algorithms we do not verify (EDE 1)
  signature_expired,        // (EDE 7)
  signature_not_yet_valid,  // (EDE 8)
  expired_before_valid,     // expiration before inception (EDE 25)
  bad_signature,            // the cryptographic check failed (EDE 6)
  budget_exhausted,         // the request's validation budget ran out (EDE 6, transient)
};
const char* to_string(RrsetStatus s) noexcept;

struct RrsetVerification {
  RrsetStatus status = RrsetStatus::no_signatures;
  std::string reason;
  // Set when the verifying signature had fewer labels than the owner.
  bool wildcard_expanded = false;
  // With wildcard_expanded: the RRSIG labels value and the wildcard's parent
  // (the owner's rightmost `labels` labels), so the caller can ask for the
  // proof that the next closer name does not exist.
  uint8_t rrsig_labels = 0;
  wire::Name wildcard_parent;
  // The most a cache may keep the set: min(set TTL, original TTL, time left
  // before the signature expires) (RFC 4035 §5.3.3).
  uint32_t ttl_limit = 0;

  bool secure() const noexcept { return status == RrsetStatus::secure; }
  // secure, or bogus with the EDE for status (unsupported_algorithm maps to
  // insecure: RFC 6840 §5.2 when the zone's keys themselves were accepted
  // is handled by the key chain; here it only happens for sets signed with
  // an algorithm the zone's validated keys do not include, which is bogus).
  Verdict verdict() const;
};

// Checks `rrset` (with its RRSIGs in rrset.signatures) against `keys`.
RrsetVerification verify_rrset(const wire::RRset& rrset, const ZoneKeySet& keys, uint32_t now,
                               ValidationBudget& budget);

// The same, with the candidate keys given explicitly: the key chain uses it to
// check a DNSKEY RRset with only the keys a DS vouches for.
RrsetVerification verify_rrset_with(const wire::RRset& rrset, const wire::Name& zone,
                                    std::span<const ZoneKey* const> candidates, uint32_t now,
                                    ValidationBudget& budget);

// The data an RRSIG signs, for tests and tools that sign: RRSIG rdata
// without signature (signer lower-cased) + the canonical RRset. Empty if the
// RRSIG rdata is malformed or its labels value exceeds the owner's labels.
std::vector<uint8_t> signed_data(const wire::RRset& rrset, std::span<const uint8_t> rrsig_rdata);

// Serial-number comparison of RFC 1982 for 32-bit times: true if a is
// strictly before b.
constexpr bool serial_before(uint32_t a, uint32_t b) noexcept {
  return a != b && static_cast<int32_t>(a - b) < 0;
}

}  // namespace sextant::dnssec
