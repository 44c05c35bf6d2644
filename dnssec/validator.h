// The validator facade: one pure call that classifies a whole response the
// resolver has sorted (answer / NODATA / NXDOMAIN / referral) as secure,
// insecure, bogus or indeterminate, with the EDE to send.
//
// How the walker drives it:
//   1. It keeps, per request, a KnownZones: for each zone whose keys it has
//      established, the outcome of validate_zone_keys() (secure + keys,
//      insecure, or bogus), and for each zone proven unsigned (no DS, opt-out,
//      unsupported algorithms) an insecure entry. Anything at or below an
//      insecure or bogus zone inherits that state.
//   2. It calls validate_response(). If the result is indeterminate with
//      `needs_keys` set, it fetches the DS of that zone from the parent and
//      the zone's DNSKEY (sub-queries, cached like other data), runs
//      validate_zone_keys(), records the outcome in KnownZones, and calls
//      validate_response() again. Nothing else ever returns indeterminate
//      except a response with nothing to check.
//   3. Secure: AD=1 when the client set DO or AD. Bogus: SERVFAIL with
//      verdict.ede (unless CD=1). Insecure: the data as is (verdict.ede may
//      carry an informational code such as 27 or 33).
//
// Per-RRset states come back aligned with the input so the cache can store
// the status with each RRset and negative entry; `transient` in the verdict
// marks failures (budget, fetch) to be cached only briefly.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "dnssec/key_chain.h"
#include "dnssec/security_state.h"
#include "dnssec/trust_anchors.h"
#include "dnssec/validation_budget.h"
#include "dnssec/zone_key_set.h"
#include "wire/record.h"

namespace sextant::dnssec {

struct ZoneTrust {
  wire::Name zone;
  Verdict verdict;                          // secure, insecure or bogus
  std::shared_ptr<const ZoneKeySet> keys;   // set when secure
};

class KnownZones {
 public:
  void add_secure(const wire::Name& zone, std::shared_ptr<const ZoneKeySet> keys);
  void add_insecure(const wire::Name& zone, Verdict why);
  void add_bogus(const wire::Name& zone, Verdict why);
  // Records the outcome of validate_zone_keys() for `zone`, whatever it was.
  void add(const wire::Name& zone, const ZoneKeysResult& result);
  // The configured trust anchors' zones: each starts a chain of its own, so
  // an unsigned or broken ancestor's state stops there (RFC 4035 §4.3: an
  // island of security below an insecure delegation).
  void set_anchor_zones(std::span<const TrustAnchor> anchors);
  // The entry for `zone` itself, else the closest known ancestor's entry if
  // that one is insecure or bogus (its state covers everything below, down
  // to the next trust anchor; a secure entry in between hides it). nullptr
  // when the zone's keys are still to be established.
  const ZoneTrust* lookup(const wire::Name& zone) const noexcept;

 private:
  void put(ZoneTrust trust);
  std::vector<ZoneTrust> zones_;
  std::vector<wire::Name> anchor_zones_;
};

enum class ResponseKind : uint8_t { answer, nodata, nxdomain, referral };

struct ResponseToValidate {
  wire::Name qname;
  wire::RRType qtype = wire::RRType::A;
  ResponseKind kind = ResponseKind::answer;
  // The zone the answering servers are authoritative for (the walker's zone
  // cut): unsigned data is expected to be signed by it.
  wire::Name zone;
  // RRsets with their RRSIGs attached (RRset::signatures). For answers and
  // negative answers after a CNAME/DNAME chain, the chain is in `answer`.
  std::vector<wire::RRset> answer;
  // SOA, NSEC, NSEC3, DS, NS with their RRSIGs.
  std::vector<wire::RRset> authority;
};

struct ResponseValidation {
  Verdict verdict;
  // Indeterminate: the keys of this zone are needed (see above).
  std::optional<wire::Name> needs_keys;
  // Per-RRset states, aligned with the input. Unsigned NS of a referral
  // (parent-side data that is never signed) is reported indeterminate.
  std::vector<SecurityState> answer_states;
  std::vector<SecurityState> authority_states;
  // The most a cache should keep the validated data (RFC 4035 §5.3.3).
  uint32_t ttl_limit = std::numeric_limits<uint32_t>::max();
  // Referrals: the delegated zone and whether it is signed (secure: a
  // validated DS set, returned in `delegation_ds`; insecure: no DS proven).
  wire::Name delegation;
  SecurityState delegation_state = SecurityState::indeterminate;
  std::vector<wire::Rdata> delegation_ds;
  // A DS question answered NODATA/NXDOMAIN: true when the proof shows a
  // delegation at the name (DenialProof::delegation), i.e. an unsigned
  // child zone; false when the name is no zone cut at all.
  bool ds_denial_shows_cut = false;
};

// `ntas` may be null. The budget is the client request's.
ResponseValidation validate_response(const ResponseToValidate& response, const KnownZones& zones,
                                     const NegativeTrustAnchors* ntas, uint32_t now,
                                     ValidationBudget& budget);

}  // namespace sextant::dnssec
