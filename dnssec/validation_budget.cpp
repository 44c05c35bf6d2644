#include "dnssec/validation_budget.h"

namespace sextant::dnssec {

const char* to_string(BudgetError e) noexcept {
  switch (e) {
    case BudgetError::none: return "none";
    case BudgetError::verifications: return "too many signature verifications";
    case BudgetError::nsec3_hashes: return "too many NSEC3 hash computations";
  }
  return "unknown";
}

}  // namespace sextant::dnssec
