#include "resolver/front/access_control.h"

#include <netinet/in.h>

#include <cstring>

namespace sextant::resolver {

namespace {

bool prefix_contains(const Prefix& p, const uint8_t* addr, int family) noexcept {
  if (p.family != family) return false;
  unsigned full = p.length / 8;
  if (std::memcmp(p.bytes, addr, full) != 0) return false;
  unsigned rest = p.length % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF00u >> rest);
  return (addr[full] & mask) == p.bytes[full];
}

}  // namespace

AclAction AccessControl::decide(const sockaddr* client) const noexcept {
  if (client == nullptr) return AclAction::refuse;
  const uint8_t* addr = nullptr;
  int family = client->sa_family;
  uint8_t mapped[4];
  if (family == AF_INET) {
    addr = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(client)->sin_addr);
  } else if (family == AF_INET6) {
    const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(client)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      // A v4 client on a dual-stack socket is judged by the v4 rules.
      std::memcpy(mapped, a6->s6_addr + 12, 4);
      addr = mapped;
      family = AF_INET;
    } else {
      addr = a6->s6_addr;
    }
  } else {
    return AclAction::refuse;
  }
  for (const auto& r : rules_)
    if (prefix_contains(r.prefix, addr, family)) return r.action;
  return AclAction::refuse;
}

}  // namespace sextant::resolver
