// Trusted reverse proxies and the PROXY protocol version 2 header.
//
// A front-end running behind a load balancer (dnsdist) or a reverse proxy
// sees the proxy as its peer. The real client address is believed only when
// that peer is listed as trusted (CIDR blocks): then it comes from a PROXY v2
// header (HAProxy's binary format, haproxy/doc/proxy-protocol.txt §2.2) in
// front of each UDP datagram or at the start of a TCP/TLS connection, or for
// DoH from an X-Forwarded-For header. Everything here is pure parsing,
// testable without sockets.
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

// The 12-octet signature every PROXY v2 header starts with. No DNS message,
// TLS record or HTTP/2 preface starts this way (a TLS record starts with
// 0x16, a DNS stream frame of 0x0D0A octets would need 3,338 of them).
bool starts_with_proxy_v2_signature(std::span<const uint8_t> data) noexcept;

// What a listener makes of a datagram or a connection from a peer, given the
// trusted proxies (PowerDNS Recursor's `proxy-protocol-from` semantics: a
// trusted proxy must send a header, nobody else may).
enum class ProxyOutcome : uint8_t {
  direct,     // not a trusted proxy and no header: the peer is the client
  proxied,    // a trusted proxy's header named the client (PROXY command)
  local,      // a trusted proxy's LOCAL header: its own query (dnsdist's health checks)
  untrusted,  // a PROXY header from a peer that is not trusted: dropped
  missing,    // a trusted proxy sent no header: dropped
  invalid,    // a trusted proxy's header is malformed, truncated or too long: dropped
};
inline constexpr size_t kProxyOutcomeCount = 6;
const char* to_string(ProxyOutcome outcome) noexcept;
// Whether the query (or connection) goes on to be answered.
constexpr bool is_accepted(ProxyOutcome o) noexcept {
  return o == ProxyOutcome::direct || o == ProxyOutcome::proxied || o == ProxyOutcome::local;
}

// One datagram from `peer`. On proxied/local, `payload` is what follows the
// header and `header` describes it; on direct, `payload` is the datagram.
// `trusted` may be null (no proxy trusted). A datagram must carry its whole
// header: a partial one is invalid. Allocates nothing.
ProxyOutcome unwrap_proxied_datagram(std::span<const uint8_t> datagram, const sockaddr* peer,
                                     const TrustedProxies* trusted, ProxyHeader& header,
                                     std::span<const uint8_t>& payload) noexcept;

// The header at the start of a stream from a trusted proxy, arriving in
// pieces of any size. Copies octets only when the header is split across
// reads (bounded by kMaxProxyHeaderLength).
class ProxyStreamReader {
 public:
  enum class Status : uint8_t { need_more, done };
  // Consumes header octets from the front of `data`; when done, `data` holds
  // what followed the header (application data) and outcome() says how it
  // ended (proxied, local, missing or invalid).
  Status feed(std::span<const uint8_t>& data);
  ProxyOutcome outcome() const noexcept { return outcome_; }
  const ProxyHeader& header() const noexcept { return header_; }

 private:
  std::vector<uint8_t> buffer_;  // a header split across reads
  ProxyHeader header_;
  ProxyOutcome outcome_ = ProxyOutcome::missing;
  bool done_ = false;
};

// Watches the first octets of a stream from a peer that is NOT a trusted
// proxy for a PROXY v2 signature, in pieces of any size, without copying
// more than the 12 octets compared.
class ProxySignatureSniffer {
 public:
  enum class Verdict : uint8_t { undecided, no_header, header };
  Verdict feed(std::span<const uint8_t> data) noexcept;
  Verdict verdict() const noexcept { return verdict_; }

 private:
  size_t matched_ = 0;
  Verdict verdict_ = Verdict::undecided;
};

}  // namespace sextant::transports
