#include "resolver/walk/server_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace sextant::resolver {

ServerAddress ServerAddress::ipv4(std::span<const uint8_t, 4> octets, uint16_t port) noexcept {
  ServerAddress a;
  a.family = Family::ipv4;
  std::copy(octets.begin(), octets.end(), a.bytes.begin());
  a.port = port;
  return a;
}

ServerAddress ServerAddress::ipv6(std::span<const uint8_t, 16> octets, uint16_t port) noexcept {
  ServerAddress a;
  a.family = Family::ipv6;
  std::copy(octets.begin(), octets.end(), a.bytes.begin());
  a.port = port;
  return a;
}

std::optional<ServerAddress> ServerAddress::from_rdata(std::span<const uint8_t> rdata,
                                                       uint16_t port) noexcept {
  if (rdata.size() == 4) return ipv4(rdata.first<4>(), port);
  if (rdata.size() == 16) return ipv6(rdata.first<16>(), port);
  return std::nullopt;
}

std::optional<ServerAddress> ServerAddress::parse(std::string_view text, uint16_t default_port) {
  std::string host(text);
  uint16_t port = default_port;
  auto parse_port = [&](std::string_view digits) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || value == 0 || value > 65535) {
      return false;
    }
    port = static_cast<uint16_t>(value);
    return true;
  };
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return std::nullopt;
    std::string rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !parse_port(std::string_view(rest).substr(1))) return std::nullopt;
    }
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    auto colon = host.find(':');
    if (!parse_port(std::string_view(host).substr(colon + 1))) return std::nullopt;
    host.resize(colon);
  }
  uint8_t buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) {
    return ipv4(std::span<const uint8_t, 4>(buf, 4), port);
  }
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    return ipv6(std::span<const uint8_t, 16>(buf, 16), port);
  }
  return std::nullopt;
}

bool ServerAddress::is_loopback() const noexcept {
  if (!is_ipv6()) return bytes[0] == 127;
  static constexpr std::array<uint8_t, 16> kLoopback6{0, 0, 0, 0, 0, 0, 0, 0,
                                                      0, 0, 0, 0, 0, 0, 0, 1};
  return bytes == kLoopback6;
}

namespace {

bool ipv4_private_or_local(const uint8_t* b) noexcept {
  if (b[0] == 0 || b[0] == 10 || b[0] == 127) return true;  // this-network, RFC 1918, loopback
  if (b[0] == 100 && (b[1] & 0xC0) == 64) return true;      // 100.64/10 shared address space
  if (b[0] == 169 && b[1] == 254) return true;               // link-local
  if (b[0] == 172 && (b[1] & 0xF0) == 16) return true;       // 172.16/12
  if (b[0] == 192 && b[1] == 168) return true;               // 192.168/16
  if (b[0] >= 224) return true;                              // multicast, reserved, broadcast
  return false;
}

}  // namespace

bool ServerAddress::is_private_or_local() const noexcept {
  if (!is_ipv6()) return ipv4_private_or_local(bytes.data());
  bool zero_prefix = std::all_of(bytes.begin(), bytes.begin() + 10, [](uint8_t b) { return b == 0; });
  if (zero_prefix && bytes[10] == 0xFF && bytes[11] == 0xFF) {
    return ipv4_private_or_local(bytes.data() + 12);  // IPv4-mapped
  }
  if (zero_prefix && bytes[10] == 0 && bytes[11] == 0 && bytes[12] == 0 && bytes[13] == 0 &&
      bytes[14] == 0 && bytes[15] <= 1) {
    return true;  // :: and ::1
  }
  if ((bytes[0] & 0xFE) == 0xFC) return true;                      // fc00::/7 unique local
  if (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80) return true;  // fe80::/10 link-local
  if (bytes[0] == 0xFF) return true;                               // multicast
  return false;
}

std::string ServerAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_ipv6() ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string ServerAddress::to_string_with_port() const {
  // Appends rather than "[" + ...: GCC 12 -O2 warns falsely (-Wrestrict) on that.
  std::string out;
  if (is_ipv6()) out.push_back('[');
  out += to_string();
  if (is_ipv6()) out.push_back(']');
  out.push_back(':');
  out += std::to_string(port);
  return out;
}

size_t ServerAddressHash::operator()(const ServerAddress& a) const noexcept {
  uint64_t h = 1469598103934665603ull ^ static_cast<uint64_t>(a.family);
  for (uint8_t b : a.bytes) {
    h ^= b;
    h *= 1099511628211ull;
  }
  h ^= a.port;
  h *= 1099511628211ull;
  return static_cast<size_t>(h ^ (h >> 29));
}

}  // namespace sextant::resolver
