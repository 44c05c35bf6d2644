// The per-request validation budget against KeyTrap-style work inflation
// (CVE-2023-50387: many keys sharing a tag times many signatures;
// CVE-2023-50868: NSEC3 hashing). One ValidationBudget lives with each client
// request and is passed to every dnssec/ call made for it, including the
// DS/DNSKEY sub-queries; whatever runs out first stops the validation with
// BudgetError, which the caller answers with SERVFAIL + EDE 6 at once.
//
// The defaults follow the deployed fixes:
// - 30 signature verifications per request: PowerDNS Recursor's
//   max-signature-validations-per-query default. A normal resolution needs
//   one per RRset along the chain (root, TLD, zone keys + answer + denial),
//   about 10; 30 leaves room for rollovers (two signatures per set) and a
//   CNAME chain through a few signed zones, and caps an attack at ~30 ms of
//   CPU even with 4096-bit RSA.
// - 8 signatures tried per RRset: a set legitimately carries one signature per
//   algorithm and key in rollover (rarely more than 4); Unbound, BIND and
//   PowerDNS all cap this after KeyTrap (PowerDNS at 2).
// - 4 DNSKEYs tried per key tag: tags collide only by accident (16 bits);
//   PowerDNS uses 2, more than 4 is an attack.
// - 8 DS records considered per zone (PowerDNS max-ds-per-zone).
// - 600 NSEC3 hash computations per request: PowerDNS's
//   max-nsec3-hash-computations-per-query; a closest-encloser proof hashes at
//   most one name per label, so real answers use a few dozen.
// - NSEC3 iterations above 50 make the answer insecure (EDE 27): the limit of
//   Knot Resolver and BIND 9.18+ (RFC 9276 §3.2 allows validators to treat
//   high iteration counts as insecure).
// - 60 s clock-skew allowance on inception/expiration, like PowerDNS's
//   signature-inception-skew: enough for a server without NTP discipline,
//   small against replay of freshly expired signatures.
#pragma once

#include <cstdint>
#include <string>

namespace sextant::dnssec {

struct ValidationLimits {
  uint32_t max_verifications_per_request = 30;
  uint32_t max_signatures_per_rrset = 8;
  uint32_t max_keys_per_tag = 4;
  uint32_t max_ds_per_zone = 8;
  uint32_t max_nsec3_hashes_per_request = 600;
  uint16_t max_nsec3_iterations = 50;
  uint32_t clock_skew_seconds = 60;
};

enum class BudgetError : uint8_t {
  none = 0,
  verifications,  // total signature verifications for the request
  nsec3_hashes,   // total NSEC3 hash computations for the request
};
const char* to_string(BudgetError e) noexcept;

class ValidationBudget {
 public:
  explicit ValidationBudget(const ValidationLimits& limits = {}) : limits_(limits) {}

  const ValidationLimits& limits() const noexcept { return limits_; }

  // Each call accounts one unit and returns false (and latches the error)
  // once the request's allowance is spent; nothing is done for that call.
  bool take_verification() noexcept {
    if (verifications_ >= limits_.max_verifications_per_request) {
      exhausted_ = BudgetError::verifications;
      return false;
    }
    ++verifications_;
    return true;
  }
  bool take_nsec3_hash() noexcept {
    if (nsec3_hashes_ >= limits_.max_nsec3_hashes_per_request) {
      exhausted_ = BudgetError::nsec3_hashes;
      return false;
    }
    ++nsec3_hashes_;
    return true;
  }

  // The first limit that ran out, or none.
  BudgetError exhausted() const noexcept { return exhausted_; }
  uint32_t verifications_used() const noexcept { return verifications_; }
  uint32_t nsec3_hashes_used() const noexcept { return nsec3_hashes_; }

 private:
  ValidationLimits limits_;
  uint32_t verifications_ = 0;
  uint32_t nsec3_hashes_ = 0;
  BudgetError exhausted_ = BudgetError::none;
};

}  // namespace sextant::dnssec
