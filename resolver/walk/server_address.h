// The address of an upstream name server: IPv4 or IPv6 plus a port.
//
// A small value type of its own (not sockaddr_storage) so that the walker,
// the server-state table and the scripted test network can compare, hash and
// print addresses without touching the socket API.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sextant::resolver {

struct ServerAddress {
  enum class Family : uint8_t { ipv4, ipv6 };

  Family family = Family::ipv4;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4 octets, the rest stay zero
  uint16_t port = 53;

  static ServerAddress ipv4(std::span<const uint8_t, 4> octets, uint16_t port = 53) noexcept;
  static ServerAddress ipv6(std::span<const uint8_t, 16> octets, uint16_t port = 53) noexcept;
  // From A (4 octets) or AAAA (16 octets) rdata; nullopt for any other size.
  static std::optional<ServerAddress> from_rdata(std::span<const uint8_t> rdata,
                                                 uint16_t port = 53) noexcept;
  // "192.0.2.1", "2001:db8::1", optionally "[2001:db8::1]:5353" / "192.0.2.1:5353".
  static std::optional<ServerAddress> parse(std::string_view text, uint16_t default_port = 53);

  bool is_ipv6() const noexcept { return family == Family::ipv6; }
  std::span<const uint8_t> address_bytes() const noexcept {
    return {bytes.data(), is_ipv6() ? size_t{16} : size_t{4}};
  }

  // Loopback (127/8, ::1) and the unspecified address.
  bool is_loopback() const noexcept;
  // Addresses a public resolver must not send queries to unless told to:
  // loopback, RFC 1918, shared (100.64/10), link-local, unspecified,
  // multicast, reserved (240/4), broadcast, ULA (fc00::/7), IPv4-mapped
  // forms of these, and the IPv6 link-local and multicast ranges.
  bool is_private_or_local() const noexcept;

  // "192.0.2.1" or "2001:db8::1"; the port is appended (":53", "[..]:53")
  // only by to_string_with_port().
  std::string to_string() const;
  std::string to_string_with_port() const;

  bool operator==(const ServerAddress&) const = default;
};

struct ServerAddressHash {
  size_t operator()(const ServerAddress& a) const noexcept;
};

}  // namespace sextant::resolver
