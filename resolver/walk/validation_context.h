// What the walker keeps to validate one client question (RFC 4035 §5):
// the evidence each response brought (ValidationSegment: the RRsets and
// denial records of one authoritative response, or data taken from the
// cache with its stored status) and, per Resolution, the chain of trust
// built so far (ValidationContext: known zones, the request's budget, the
// delegations seen on the way down and the DS/DNSKEY sub-queries spawned).
//
// Plain data; walker_dnssec.cpp drives it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "dnssec/validator.h"
#include "resolver/walk/server_address.h"
#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::resolver {

// One response (or one cache hit) that contributed to a query's result.
struct ValidationSegment {
  // What validate_response() gets: qname is the name this response was
  // asked about (the chain's end when it arrived), zone the cut asked.
  dnssec::ResponseToValidate response;
  // Data served from the cache was validated when it was stored: its
  // stored status counts as is.
  bool from_cache = false;
  dnssec::SecurityState cached_state = dnssec::SecurityState::indeterminate;
  // From a forward upstream (walker_forward.cpp): one response is split
  // into one segment per zone; cached as non-authoritative.
  bool forwarded = false;
  // Filled once validated.
  bool done = false;
  dnssec::ResponseValidation outcome;
  // Who sent it and who else serves the zone: data that fails validation
  // is asked again of another server (walker_dnssec.cpp, retry_after_bogus).
  std::optional<ServerAddress> server;
  std::vector<ServerAddress> zone_servers;
};

// A delegation seen on the way down: the parent's NS, DS and NSEC/NSEC3
// records, validated lazily when the child's keys are needed (saves a DS
// query per zone cut).
struct ReferralEvidence {
  wire::Name zone;  // the child
  dnssec::ResponseToValidate response;
  bool unusable = false;  // validated without a conclusion: ask DS instead
};

// DS/DNSKEY sub-queries one client question may spawn (early DNSKEY fetches
// included): two per zone cut on a deep path plus CNAME targets in other
// trees; more is an attack or a loop.
inline constexpr size_t kMaxKeyFetchesPerRequest = 24;

// A DS or DNSKEY sub-query of the plan.
struct KeyFetch {
  wire::Name zone;
  wire::RRType type = wire::RRType::DNSKEY;
  uint32_t query = 0;  // index in Resolution::queries
  bool done = false;
};

struct ValidationContext {
  explicit ValidationContext(const dnssec::ValidationLimits& limits) : budget(limits) {}
  dnssec::KnownZones zones;
  dnssec::ValidationBudget budget;
  std::vector<ReferralEvidence> referrals;
  std::vector<KeyFetch> fetches;
  // Zones whose DS set a referral proved (secure) for this request.
  std::vector<std::pair<wire::Name, std::vector<wire::Rdata>>> proven_ds;
  uint32_t establish_calls = 0;  // bounds the work of one request
  // Times the question was asked again, or a DNSKEY RRset fetched again,
  // after a server's data failed validation (bounded).
  uint32_t bogus_retries = 0;
  uint32_t key_retries = 0;
  // Forwarded data (walker_forward.cpp): names a validated DS denial showed
  // to be no zone cut, so the search for an unsigned answer's zone goes on
  // below them.
  std::vector<wire::Name> not_cuts;
  // Owners of unsigned forwarded data whose zone is not known yet: they
  // stand in for their zone (ValidationSegment::zone_pending) until
  // Walker::locate_zone() settles it.
  std::vector<wire::Name> zones_to_locate;
};

}  // namespace sextant::resolver
