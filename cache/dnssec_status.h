// The DNSSEC verdict stored with every cached RRset and negative entry
// (RFC 4033 §5). It lives in cache/ so that the cache does not depend on
// dnssec/; dnssec::SecurityState numbers its values the same way (a test
// there static_asserts it) so the resolver converts with a static_cast.
#pragma once

#include <cstdint>

namespace sextant::cache {

enum class DnssecStatus : uint8_t { indeterminate = 0, insecure = 1, secure = 2, bogus = 3 };

constexpr bool valid_status(DnssecStatus s) noexcept {
  return static_cast<uint8_t>(s) <= static_cast<uint8_t>(DnssecStatus::bogus);
}

constexpr const char* to_string(DnssecStatus s) noexcept {
  switch (s) {
    case DnssecStatus::indeterminate: return "indeterminate";
    case DnssecStatus::insecure: return "insecure";
    case DnssecStatus::secure: return "secure";
    case DnssecStatus::bogus: return "bogus";
  }
  return "unknown";
}

}  // namespace sextant::cache
