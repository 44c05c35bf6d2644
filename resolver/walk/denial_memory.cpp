#include "resolver/walk/denial_memory.h"

#include <algorithm>

namespace sextant::resolver {

void DenialMemory::remember(const wire::Name& zone, const wire::RRset& soa, uint32_t soa_expires,
                            std::span<const Denial> denials) {
  std::lock_guard lock(mu_);
  if (zones_.size() >= kMaxZones && !zones_.count(zone)) zones_.clear();
  Memo& memo = zones_[zone];
  memo.soa = soa;
  memo.soa_expires = soa_expires;
  for (const auto& [set, expires] : denials) {
    auto same = std::find_if(memo.records.begin(), memo.records.end(), [&](const auto& e) {
      return e.first.type == set->type && e.first.owner == set->owner;
    });
    if (same != memo.records.end()) memo.records.erase(same);
    if (memo.records.size() >= kMaxRecordsPerZone) memo.records.erase(memo.records.begin());
    memo.records.emplace_back(*set, expires);
  }
}

std::optional<DenialMemory::Zone> DenialMemory::closest(const wire::Name& target, uint32_t now) {
  std::lock_guard lock(mu_);
  if (zones_.empty()) return std::nullopt;
  auto it = zones_.end();
  for (wire::Name up = target.lowercased();; up = up.parent()) {
    it = zones_.find(up);
    if (it != zones_.end() || up.is_root()) break;
  }
  if (it == zones_.end() || it->second.soa_expires <= now) return std::nullopt;
  Memo& memo = it->second;
  std::erase_if(memo.records, [&](const auto& e) { return e.second <= now; });
  Zone out;
  out.soa = memo.soa;
  out.soa.ttl = memo.soa_expires - now;
  out.soa_expires = memo.soa_expires;
  for (const auto& [set, expires] : memo.records) {
    wire::RRset kept = set;
    kept.ttl = expires - now;
    (set.type == wire::RRType::NSEC ? out.nsec : out.nsec3).push_back(std::move(kept));
  }
  return out;
}

size_t DenialMemory::forget(const wire::Name& apex) {
  wire::Name lower = apex.lowercased();
  std::lock_guard lock(mu_);
  size_t dropped = std::erase_if(zones_, [&](const auto& z) { return z.first.is_subdomain_of(lower); });
  for (wire::Name up = lower;; up = up.parent()) {
    if (zones_.erase(up) > 0) return dropped + 1;
    if (up.is_root()) return dropped;
  }
}

void DenialMemory::clear() {
  std::lock_guard lock(mu_);
  zones_.clear();
}

bool DenialMemory::empty() const {
  std::lock_guard lock(mu_);
  return zones_.empty();
}

}  // namespace sextant::resolver
