// What the walker hands back for one client question, and what the caller
// tells it about the question. The server handler turns a ResolutionResult
// into a response message: RA set, RD echoed, AA clear, this rcode, these
// sections, EDNS echoed when the client used it, the EDE option when set,
// RRSIGs (RRset::signatures) only when the client set DO, and TC when the
// answer exceeds the client's UDP size.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wire/edns.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::resolver {

// DNSSEC status of the answer (RFC 4035 §4.3), set by the walker
// (walker_dnssec.cpp) when WalkerOptions::dnssec.enabled: secure (the
// pipeline sets AD), insecure (data as is, maybe an informational EDE such
// as 27 or 33), bogus (SERVFAIL + EDE 6..12) or indeterminate. `unchecked`
// when validation is off, for CD=1 questions, and for local failures.
enum class ValidationState : uint8_t { unchecked, secure, insecure, bogus, indeterminate };
const char* to_string(ValidationState v) noexcept;

class WalkTrace;

struct ResolveOptions {
  bool dnssec_ok = false;          // client DO: keep RRSIGs in the response (presentation only)
  bool checking_disabled = false;  // client CD: part of the dedup key (validation differs)
  // A prefetch refresh: the question's own answer must come from upstream,
  // not from the walker's RRset/negative cache, which still holds the data
  // about to expire (delegations may still come from the cache).
  bool refresh = false;
  // EDNS Client Subnet (RFC 7871): the client's source prefix, sent to the
  // zones and servers WalkerOptions::ecs lists when they are asked the
  // client's question (walker_ecs.cpp). Part of the deduplication key.
  std::optional<wire::ClientSubnetOption> client_subnet{};
  // Tell every step of this resolution to `trace` (walk_trace.h). A traced
  // resolution is its own: it neither joins an identical question in
  // flight nor lets others join it, so its trace is complete.
  std::shared_ptr<WalkTrace> trace = nullptr;
};

struct ResolutionResult {
  wire::Rcode rcode = wire::Rcode::SERVFAIL;
  // CNAME/DNAME chain first (DNAME followed by its synthesised CNAME), then
  // the RRset(s) answering the question at the chain's end. TTLs are those
  // received, clamped to [WalkerOptions::min_ttl, max_ttl].
  std::vector<wire::RRset> answer;
  // For NXDOMAIN/NODATA: the zone's SOA with TTL min(SOA TTL, MINIMUM)
  // (RFC 2308 §3), when the authority sent one. With validation on, the
  // NSEC/NSEC3 records (RRSIGs in `signatures`) proving a negative or
  // wildcard answer follow it.
  std::vector<wire::RRset> authority;
  // Why a SERVFAIL (or other failure) happened (RFC 8914).
  std::optional<wire::ExtendedErrorOption> ede;
  ValidationState validation = ValidationState::unchecked;
  // ECS: the longest scope a server gave to the answer's responses (0: the
  // answer holds for every client, or no subnet was sent). Non-zero: the
  // answer is for `client_subnet` only and was kept out of the shared caches.
  uint8_t ecs_scope = 0;
  // ECS: a zone that gets subnets was asked for a client without one; its
  // default answer must not be cached for others (walker_ecs.cpp).
  bool ecs_withheld = false;
  // A cap on queries in flight refused the question and the operator chose
  // to drop such questions (WalkerLimits::drop_over_limit): send nothing.
  bool drop = false;

  // Diagnostics.
  uint32_t upstream_queries = 0;
  std::chrono::milliseconds elapsed{0};
};

}  // namespace sextant::resolver
