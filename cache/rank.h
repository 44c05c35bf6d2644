// Trust ranking of cached data (RFC 2181 §5.4.1) and the replacement rule.
#pragma once

#include <cstdint>

#include "cache/dnssec_status.h"

namespace sextant::cache {

// Higher is more trustworthy. RFC 2181 §5.4.1 orders data by where it came
// from: the answer section of an authoritative answer above non-
// authoritative answer data, above the authority section, above glue and
// other additional-section data.
enum class Rank : uint8_t {
  additional = 1,         // glue and other additional-section data
  authority = 2,          // authority section (referral NS, SOA of a negative answer)
  answer_nonauth = 3,     // answer section without AA (e.g. from a forwarder)
  answer_authoritative = 4,  // answer section of an AA answer
};

constexpr const char* to_string(Rank r) noexcept {
  switch (r) {
    case Rank::additional: return "additional";
    case Rank::authority: return "authority";
    case Rank::answer_nonauth: return "answer-nonauth";
    case Rank::answer_authoritative: return "answer-auth";
  }
  return "unknown";
}

// Whether `r` is one of the ranks above (a value read back from a snapshot
// may be anything).
constexpr bool valid_rank(Rank r) noexcept {
  return static_cast<uint8_t>(r) >= static_cast<uint8_t>(Rank::additional) &&
         static_cast<uint8_t>(r) <= static_cast<uint8_t>(Rank::answer_authoritative);
}

// Whether new data may replace a cached entry.
// - expired entries are always replaceable;
// - validated (secure) data is not replaced by data that is not validated,
//   and replaces unvalidated data of any rank (it has been proven);
// - otherwise lower-ranked data never replaces higher-ranked data, and
//   equal rank replaces (the newer copy is at least as good).
constexpr bool may_replace(Rank old_rank, DnssecStatus old_status, bool old_expired,
                           Rank new_rank, DnssecStatus new_status) noexcept {
  if (old_expired) return true;
  bool old_secure = old_status == DnssecStatus::secure;
  bool new_secure = new_status == DnssecStatus::secure;
  if (old_secure && !new_secure) return false;
  if (new_secure && !old_secure) return true;
  return static_cast<uint8_t>(new_rank) >= static_cast<uint8_t>(old_rank);
}

}  // namespace sextant::cache
