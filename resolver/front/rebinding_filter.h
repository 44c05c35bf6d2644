// DNS rebinding protection: answers from public zones must not point at the
// client's own networks. A/AAAA records of private, loopback, link-local,
// shared (CGNAT) or unspecified addresses (RFC 1918, 100.64/10, 127/8,
// 169.254/16, 0/8, ::, ::1, fc00::/7, fe80::/10, and the IPv4-mapped forms
// of the IPv4 ones) are removed from an answer; an answer left with no
// address at all is refused (REFUSED, EDE 15 Blocked). Names at or below a
// zone listed as private are exempt (Unbound's private-address and
// private-domain).
//
// Two places in the pipeline (query_pipeline.cpp):
//   - a resolution's result is filtered before it is rendered and cached,
//     so the answer cache holds the filtered answer;
//   - every cache hit for A, AAAA or ANY is checked before it is sent
//     (check_answer): an answer the cache renders straight from its RRset
//     store may still hold what the filter removed (the RRset store keeps
//     what servers sent), and is refused. This costs a walk over the answer
//     records on such hits, only while the protection is on.
//
// Stub zones are the operator's own internal servers: names at or below one
// are exempt, read from the walker's configured zones at each check (the
// `configured` argument), so that a reload adding or removing a stub zone
// counts at once. Forward zones are not exempt (a forward of "." to a public
// resolver carries public data): an internal forward zone goes in
// private-zones. Hook for local data (the policy feature, being built):
// its zones are the operator's too and belong in exempt_zone()
// (resolver/daemon/defence_wiring.cpp names the spot).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_set>
#include <vector>

#include "resolver/walk/configured_zones.h"
#include "resolver/walk/resolution_result.h"
#include "wire/name.h"

namespace sextant::resolver {

// True for the addresses above, given as A (4 octets) or AAAA (16) rdata.
bool is_rebinding_address(std::span<const uint8_t> address) noexcept;

struct RebindingStats;

class RebindingFilter {
 public:
  enum class Verdict : uint8_t { clean, filtered, refused };

  RebindingFilter() = default;  // off
  RebindingFilter(bool enabled, const std::vector<wire::Name>& private_zones);

  bool enabled() const noexcept { return enabled_; }
  // `zone` and every name below it may hold private addresses.
  void exempt_zone(const wire::Name& zone);
  // Listed as private, or at or below a stub zone of `configured` (may be null).
  bool is_exempt(const wire::Name& owner, const ConfiguredZones* configured = nullptr) const noexcept;

  // Filters a resolution's answer. clean: `out` is untouched (use `in`);
  // filtered: `out` is `in` without the private records (and without the
  // signatures of the RRsets that lost records); refused: no address is left.
  // `removed` counts the records taken out.
  Verdict filter(const ResolutionResult& in, ResolutionResult& out, size_t& removed,
                 const ConfiguredZones* configured = nullptr) const;

  // Checks a wire answer (a cache hit): true when its answer section holds
  // no private address outside the exempt zones.
  bool answer_is_clean(std::span<const uint8_t> packet, const ConfiguredZones* configured = nullptr) const noexcept;

 private:
  bool enabled_ = false;
  std::unordered_set<wire::Name, wire::NameHash> exempt_;  // lower-case
};

}  // namespace sextant::resolver
