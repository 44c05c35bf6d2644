// The outcome every dnssec/ check reports: one of the four RFC 4033 §5
// states, the Extended DNS Error (RFC 8914) that explains it, and a reason
// for logs and the EDE extra text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "wire/types.h"

namespace sextant::dnssec {

// The numeric values equal cache::DnssecStatus's (cache/dnssec_status.h), so
// the resolver stores a state with a static_cast; dnssec/ and cache/ are
// siblings and do not include each other.
enum class SecurityState : uint8_t {
  indeterminate = 0,  // not known yet (keys not fetched)
  insecure = 1,       // provably outside any chain (no DS, unsupported algorithms, NTA, no anchor)
  secure = 2,         // a chain of trust from an anchor covers the data
  bogus = 3,          // should be covered but failed: SERVFAIL unless CD=1
};
const char* to_string(SecurityState s) noexcept;

struct Verdict {
  SecurityState state = SecurityState::indeterminate;
  // For bogus: the error to send with SERVFAIL. For insecure it may carry an
  // informational code (1, 2, 27, 33) the resolver can attach to the answer.
  std::optional<wire::EdeCode> ede;
  std::string reason;
  // True when the failure came from the validation budget or from a failed
  // DS/DNSKEY fetch: cache such a bogus result only briefly (pdns#9292).
  bool transient = false;

  static Verdict secure() { return {SecurityState::secure, std::nullopt, {}, false}; }
  static Verdict insecure(std::string reason, std::optional<wire::EdeCode> ede = std::nullopt) {
    return {SecurityState::insecure, ede, std::move(reason), false};
  }
  static Verdict bogus(wire::EdeCode ede, std::string reason, bool transient = false) {
    return {SecurityState::bogus, ede, std::move(reason), transient};
  }
  static Verdict indeterminate(std::string reason) {
    return {SecurityState::indeterminate, wire::EdeCode::DnssecIndeterminate, std::move(reason),
            true};
  }

  bool is_secure() const noexcept { return state == SecurityState::secure; }
  bool is_bogus() const noexcept { return state == SecurityState::bogus; }
};

}  // namespace sextant::dnssec
