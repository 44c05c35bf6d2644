// Why the walker sent an upstream query, for the counters by reason
// (WalkerStats::upstream_by_reason, /metrics
// sextant_walker_upstream_queries_by_reason_total{reason=...}): knowing
// where the cold path's queries come from is what tells which of them add
// nothing (issue 17).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace sextant::resolver {

enum class UpstreamReason : uint8_t {
  priming,       // ". NS" to the root hints (RFC 8109)
  question,      // the client's question (or its CNAME/DNAME target), full name
  qmin_step,     // a QNAME-minimisation step (RFC 9156): NS of a shorter name
  ns_address,    // A/AAAA of a glueless name server
  ds,            // a DS set for validation
  dnskey,        // a DNSKEY set, fetched when validation asked for it
  dnskey_early,  // a DNSKEY set fetched as soon as the zone's servers were known
  retry,         // the same question again at the same zone cut (timeout,
                 // TC -> TCP, no EDNS, cookies, another server after bogus data)
};
inline constexpr size_t kUpstreamReasons = 8;
using UpstreamReasonCounts = std::array<uint64_t, kUpstreamReasons>;

constexpr const char* to_string(UpstreamReason reason) noexcept {
  constexpr const char* names[kUpstreamReasons] = {"priming", "question", "qmin-step", "ns-address",
                                                   "ds",      "dnskey",   "dnskey-early", "retry"};
  return names[static_cast<size_t>(reason)];
}

}  // namespace sextant::resolver
