// One link of the chain of trust: a zone's DNSKEY RRset authenticated by
// the DS RRset its parent published (or by a trust anchor), RFC 4035 §5.2.
//
//   ds set (already secure, or an anchor)
//     -> keep DS with a supported digest (1, 2, 4) and algorithm; with a
//        SHA-256/384 DS present, SHA-1 ones are ignored (RFC 4509 §3);
//        at most max_ds_per_zone are considered;
//        none left -> insecure (RFC 6840 §5.2), EDE 1 or 2 as information
//     -> DNSKEYs with the DS's tag and algorithm, protocol 3, Zone Key bit,
//        not revoked, whose digest matches (at most max_keys_per_tag per DS)
//        none -> bogus, EDE 9 (DNSKEY Missing); only keys we cannot use
//        (RSA < 1024 bits) -> insecure, EDE 1
//     -> the DNSKEY RRset must verify with one of those keys
//        -> secure: the whole set becomes the zone's ZoneKeySet
//        -> else bogus with the signature's EDE (7, 8, 10, 6 ...)
//
// The walker calls this after fetching DNSKEY (and DS from the parent); the
// result's key set is what verify_rrset() and the validator take for every
// answer from that zone.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "dnssec/security_state.h"
#include "dnssec/validation_budget.h"
#include "dnssec/zone_key_set.h"
#include "wire/record.h"

namespace sextant::dnssec {

struct ZoneKeysResult {
  Verdict verdict;
  // Set only when verdict is secure.
  std::shared_ptr<const ZoneKeySet> keys;
  // How long the validated DNSKEY set may be cached (min of TTLs and the
  // signature's remaining validity), when secure.
  uint32_t ttl_limit = 0;
};

// `dnskeys` is the zone's DNSKEY RRset with its RRSIGs; `ds_rdatas` the DS
// records for the zone (parent data that has been validated, or an anchor).
ZoneKeysResult validate_zone_keys(const wire::Name& zone, const wire::RRset& dnskeys,
                                  std::span<const wire::Rdata> ds_rdatas, uint32_t now,
                                  ValidationBudget& budget);

// True if the DS set holds at least one record this validator can use
// (supported digest and algorithm). When false, the zone is insecure before
// any DNSKEY is fetched (RFC 6840 §5.2): the walker may skip the fetch.
bool has_usable_ds(std::span<const wire::Rdata> ds_rdatas);

// Does this DS match this DNSKEY (tag, algorithm, digest)? Unsupported
// digest types never match.
bool ds_matches_dnskey(const wire::Name& owner, std::span<const uint8_t> ds_rdata,
                       std::span<const uint8_t> dnskey_rdata);

}  // namespace sextant::dnssec
