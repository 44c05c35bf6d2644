#include "resolver/policy/policy_counters.h"

namespace sextant::resolver::policy {

PolicyCounters::PolicyCounters(unsigned workers) {
  for (unsigned i = 0; i < std::max(1u, workers); ++i) rows_.push_back(std::make_unique<Row>());
}

uint32_t PolicyCounters::slot(PolicyKind kind, const std::string& name) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i].first == kind && names_[i].second == name) return static_cast<uint32_t>(i);
  if (names_.size() + 1 >= kMaxSlots) {
    if (names_.size() + 1 == kMaxSlots) names_.emplace_back(kind, "(other)");
    return kMaxSlots - 1;
  }
  names_.emplace_back(kind, name);
  return static_cast<uint32_t>(names_.size() - 1);
}

std::vector<PolicyCounters::Sample> PolicyCounters::samples() const {
  std::vector<Sample> out;
  std::lock_guard lock(mu_);
  for (size_t s = 0; s < names_.size(); ++s) {
    for (size_t a = 0; a < kActions; ++a) {
      uint64_t sum = 0;
      for (const auto& row : rows_) sum += row->cells[s][a].load(std::memory_order_relaxed);
      if (sum) out.push_back({names_[s].first, names_[s].second, static_cast<RpzAction>(a), sum});
    }
  }
  return out;
}

}  // namespace sextant::resolver::policy
