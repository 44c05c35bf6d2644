// A client's address as bare octets (4 for IPv4, 16 for IPv6), the form that
// cookies, the rate limiter and prefix lists work on. An IPv4 client on a
// dual-stack socket (::ffff:a.b.c.d) is its IPv4 address, so it gets the same
// cookie, bucket and rule whichever socket it reached.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "resolver/config/config.h"

namespace sextant::resolver {

struct ClientAddress {
  int family = AF_UNSPEC;  // AF_INET or AF_INET6 once filled
  uint8_t size = 0;        // 4 or 16
  uint8_t bytes[16] = {};

  std::span<const uint8_t> octets() const noexcept { return {bytes, size}; }

  // False for a null or non-IP address.
  static bool from(const sockaddr* sa, ClientAddress& out) noexcept {
    if (sa == nullptr) return false;
    if (sa->sa_family == AF_INET) {
      out.family = AF_INET;
      out.size = 4;
      std::memcpy(out.bytes, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
      return true;
    }
    if (sa->sa_family != AF_INET6) return false;
    const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      out.family = AF_INET;
      out.size = 4;
      std::memcpy(out.bytes, a6->s6_addr + 12, 4);
      return true;
    }
    out.family = AF_INET6;
    out.size = 16;
    std::memcpy(out.bytes, a6->s6_addr, 16);
    return true;
  }
};

// True when the first `bits` bits of `a` and `b` (each at least that long) agree.
inline bool same_prefix(const uint8_t* a, const uint8_t* b, unsigned bits) noexcept {
  unsigned full = bits / 8;
  if (std::memcmp(a, b, full) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xFF00u >> rest);
  return (a[full] & mask) == (b[full] & mask);
}

// A list of prefixes (exempt clients, trusted proxies ...), matched in order.
class PrefixList {
 public:
  PrefixList() = default;
  explicit PrefixList(std::vector<Prefix> prefixes) : prefixes_(std::move(prefixes)) {}
  bool empty() const noexcept { return prefixes_.empty(); }
  bool contains(const ClientAddress& a) const noexcept {
    for (const auto& p : prefixes_)
      if (p.family == a.family && same_prefix(p.bytes, a.bytes, p.length)) return true;
    return false;
  }

 private:
  std::vector<Prefix> prefixes_;
};

}  // namespace sextant::resolver
