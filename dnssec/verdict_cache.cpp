#include "dnssec/verdict_cache.h"

#include <fmt/format.h>

#include <algorithm>

namespace sextant::dnssec {

uint32_t cache_ttl_for(const Verdict& verdict, uint32_t data_ttl,
                       const VerdictCachePolicy& policy) noexcept {
  if (verdict.state == SecurityState::indeterminate || verdict.transient) {
    return std::min(data_ttl, policy.transient_ttl);
  }
  if (verdict.state == SecurityState::bogus) return std::min(data_ttl, policy.bogus_ttl);
  return data_ttl;
}

Verdict fetch_failure(const wire::Name& zone, wire::RRType type, std::string_view why,
                      std::optional<wire::EdeCode> ede) {
  const wire::EdeCode code = ede.value_or(type == wire::RRType::DNSKEY ? wire::EdeCode::DnskeyMissing
                                                                       : wire::EdeCode::DnssecBogus);
  return Verdict::bogus(code,
                        fmt::format("could not fetch {} {}: {}", zone.to_text(), wire::to_string(type), why),
                        true);
}

}  // namespace sextant::dnssec
