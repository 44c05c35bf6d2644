#include "dnssec/security_state.h"

namespace sextant::dnssec {

const char* to_string(SecurityState s) noexcept {
  switch (s) {
    case SecurityState::secure: return "secure";
    case SecurityState::insecure: return "insecure";
    case SecurityState::bogus: return "bogus";
    case SecurityState::indeterminate: return "indeterminate";
  }
  return "unknown";
}

}  // namespace sextant::dnssec
