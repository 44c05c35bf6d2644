// Trusted reverse proxies and the PROXY protocol version 2 header.
//
// A DoH front-end running behind a reverse proxy sees the proxy as its TCP
// peer. The real client address is believed only when that peer is listed
// as trusted (CIDR blocks): then it may come from a PROXY v2 header at the
// start of the connection (HAProxy's binary format, documented in
// haproxy/doc/proxy-protocol.txt §2.2) or from an X-Forwarded-For header.
// Everything here is pure parsing, testable without sockets.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sextant::transports {

// Parses "192.0.2.1" or "2001:db8::1" into a sockaddr (port 0).
bool parse_ip_address(std::string_view text, sockaddr_storage& out) noexcept;

struct CidrBlock {
  int family = AF_UNSPEC;  // AF_INET or AF_INET6
  uint8_t bytes[16] = {};  // network address, host bits cleared
  unsigned prefix_length = 0;
};

// "10.0.0.0/8", "::1/128" or a bare address (a host route). Host bits set
// beyond the prefix are cleared, as most resolvers' ACL parsers do.
std::optional<CidrBlock> parse_cidr(std::string_view text) noexcept;
bool cidr_contains(const CidrBlock& block, const sockaddr* address) noexcept;

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // Throws std::invalid_argument naming the entry that does not parse.
  explicit TrustedProxies(const std::vector<std::string>& cidrs);
  bool empty() const noexcept { return blocks_.empty(); }
  // IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match IPv4 blocks too.
  bool contains(const sockaddr* address) const noexcept;

 private:
  std::vector<CidrBlock> blocks_;
};

// The client address from an X-Forwarded-For value: walking from the right
// (the entry the nearest proxy appended), skip trusted proxies; the first
// untrusted entry is the client. Entries may carry brackets and ports
// ("[2001:db8::1]:443", "192.0.2.1:5353"). Returns false if no entry parses.
bool client_from_forwarded_for(std::string_view header, const TrustedProxies& trusted,
                               sockaddr_storage& client) noexcept;

enum class ProxyParse : uint8_t {
  need_more,    // a valid prefix; wait for more bytes
  complete,     // header parsed, `header_length` bytes to consume
  invalid,      // not a PROXY v2 header, or a malformed one
};

struct ProxyHeader {
  bool local = false;            // LOCAL command: health check by the proxy itself
  bool has_addresses = false;    // PROXY over TCP/UDP with IPv4 or IPv6 addresses
  sockaddr_storage source{};     // the client, when has_addresses
  sockaddr_storage destination{};
  size_t header_length = 0;      // signature + fixed part + address block + TLVs
};

// The largest header accepted (address block plus TLVs). The format allows
// 65535 + 16, but no proxy sends more than a few hundred octets of TLVs.
inline constexpr size_t kMaxProxyHeaderLength = 16 + 1024;

ProxyParse parse_proxy_v2(std::span<const uint8_t> data, ProxyHeader& header,
                          std::string* error = nullptr) noexcept;

}  // namespace sextant::transports
