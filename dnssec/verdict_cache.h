// How long a validation outcome may live in the cache, and the verdict for a
// DS/DNSKEY fetch that failed.
//
// Bogus data is kept only briefly (default 60 s, configurable) so a fixed
// zone recovers quickly; failures that say nothing about the zone itself
// (validation budget spent, DS/DNSKEY could not be fetched) are "transient"
// and kept for a few seconds only, never for long (pdns#9292: a network
// hiccup while fetching DNSKEY must not turn a zone bogus for an hour).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "dnssec/security_state.h"
#include "wire/name.h"
#include "wire/types.h"

namespace sextant::dnssec {

struct VerdictCachePolicy {
  uint32_t bogus_ttl = 60;     // config: dnssec.bogus-ttl
  uint32_t transient_ttl = 5;  // budget exhaustion, fetch failures
};

// secure / insecure: the data's own TTL; bogus: at most bogus_ttl;
// transient or indeterminate: at most transient_ttl.
uint32_t cache_ttl_for(const Verdict& verdict, uint32_t data_ttl,
                       const VerdictCachePolicy& policy = {}) noexcept;

// The verdict when the DS or DNSKEY RRset of `zone` could not be fetched
// (timeouts, SERVFAIL upstream). Bogus and transient; EDE 9 for DNSKEY,
// EDE 6 otherwise unless the caller names one (e.g. 22 No Reachable
// Authority).
Verdict fetch_failure(const wire::Name& zone, wire::RRType type, std::string_view why,
                      std::optional<wire::EdeCode> ede = std::nullopt);

}  // namespace sextant::dnssec
