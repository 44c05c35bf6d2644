#include "resolver/front/client_subnet.h"

#include <algorithm>

namespace sextant::resolver {

std::optional<wire::ClientSubnetOption> ClientSubnetPolicy::for_address(const ClientAddress& client) const {
  if (!settings_.enabled) return std::nullopt;
  bool allowed = false;
  for (const auto& [prefix, allow] : settings_.add_for) {
    if (prefix.family == client.family && same_prefix(prefix.bytes, client.bytes, prefix.length)) {
      allowed = allow;
      break;
    }
  }
  if (!allowed) return std::nullopt;
  const bool v4 = client.size == 4;
  wire::ClientSubnetOption o;
  if (wire::ClientSubnetOption::from_address(v4 ? wire::ClientSubnetOption::kFamilyIPv4
                                                : wire::ClientSubnetOption::kFamilyIPv6,
                                             client.octets(), v4 ? settings_.ipv4_prefix : settings_.ipv6_prefix,
                                             0, o) != wire::WireError::ok)
    return std::nullopt;
  return o;
}

std::optional<wire::ClientSubnetOption> ClientSubnetPolicy::from_trusted(const wire::ClientSubnetOption& sent) const {
  if (sent.source_prefix == 0) return std::nullopt;
  const bool v4 = sent.family == wire::ClientSubnetOption::kFamilyIPv4;
  const uint8_t max = v4 ? settings_.ipv4_prefix : settings_.ipv6_prefix;
  wire::ClientSubnetOption o;
  if (wire::ClientSubnetOption::from_address(sent.family, std::span<const uint8_t>(sent.address.data(), v4 ? 4 : 16),
                                             std::min(sent.source_prefix, max), 0, o) != wire::WireError::ok)
    return std::nullopt;
  return o;
}

bool ClientSubnetPolicy::valid_query_option(std::span<const uint8_t> data, wire::ClientSubnetOption& out) noexcept {
  return wire::decode_client_subnet(data, out) == wire::WireError::ok && out.scope_prefix == 0;
}

cache::SubnetKey subnet_key(const std::optional<wire::ClientSubnetOption>& o) noexcept {
  cache::SubnetKey k;
  if (!o) return k;
  k.family = static_cast<uint8_t>(o->family);
  k.bits = o->source_prefix;
  k.address = o->address;
  return k;
}

}  // namespace sextant::resolver
