// An IPv4 or IPv6 address as the cache keeps it (no sockets involved:
// cache/ does not depend on transports/).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace sextant::cache {

struct IpAddress {
  uint8_t family = 4;  // 4 or 6
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4

  static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) noexcept {
    IpAddress ip;
    ip.bytes[0] = a; ip.bytes[1] = b; ip.bytes[2] = c; ip.bytes[3] = d;
    return ip;
  }
  // From the rdata of an A (4 octets) or AAAA (16 octets) record.
  static bool from_rdata(std::span<const uint8_t> rdata, IpAddress& out) noexcept {
    if (rdata.size() != 4 && rdata.size() != 16) return false;
    out = IpAddress{};
    out.family = rdata.size() == 4 ? 4 : 6;
    std::memcpy(out.bytes.data(), rdata.data(), rdata.size());
    return true;
  }
  size_t size() const noexcept { return family == 4 ? 4 : 16; }
  std::span<const uint8_t> octets() const noexcept { return {bytes.data(), size()}; }

  std::string to_text() const;

  bool operator==(const IpAddress& o) const noexcept {
    return family == o.family && std::memcmp(bytes.data(), o.bytes.data(), size()) == 0;
  }
};

}  // namespace sextant::cache
