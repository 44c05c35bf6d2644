#include "resolver/policy/dns64.h"

#include <stdexcept>

#include <fmt/format.h>

namespace sextant::resolver::policy {

namespace {

// An AAAA rdata as an address, without folding ::ffff:a.b.c.d into IPv4
// (the exclusion list names that prefix as IPv6).
Address raw_v6(const uint8_t* sixteen) noexcept {
  Address a;
  a.family = AF_INET6;
  std::memcpy(a.bytes, sixteen, 16);
  return a;
}

// The octets of a synthesised address that hold the IPv4 address, for a
// prefix of `length` bits (RFC 6052 §2.2: octet 8 stays zero).
size_t ipv4_positions(unsigned length, size_t out[4]) noexcept {
  size_t pos = length / 8;
  for (size_t i = 0; i < 4; ++i) {
    if (pos == 8) ++pos;
    out[i] = pos++;
  }
  return 4;
}

}  // namespace

Dns64Options::Dns64Options() {
  prefix = *AddressPrefix::parse("64:ff9b::/96");
  exclude.push_back(*AddressPrefix::parse("::ffff:0:0/96"));
}

Dns64::Dns64(Dns64Options options) : options_(std::move(options)) {
  const unsigned l = options_.prefix.length;
  if (options_.prefix.family != AF_INET6 || (l != 32 && l != 40 && l != 48 && l != 56 && l != 64 && l != 96))
    throw std::invalid_argument("the DNS64 prefix must be an IPv6 /32, /40, /48, /56, /64 or /96 (RFC 6052)");
  if (options_.prefix.bytes[8] != 0)
    throw std::invalid_argument("bits 64 to 71 of the DNS64 prefix must be zero (RFC 6052 §2.2)");
}

bool Dns64::applies_to(const Address& client, bool dnssec_ok, bool checking_disabled) const noexcept {
  if (dnssec_ok && checking_disabled) return false;
  if (options_.clients.empty()) return true;
  for (const auto& p : options_.clients)
    if (p.contains(client)) return true;
  return false;
}

bool Dns64::lacks_usable_aaaa(std::span<const wire::RRset> answer) const noexcept {
  for (const auto& set : answer) {
    if (set.type != wire::RRType::AAAA) continue;
    for (const auto& rd : set.rdatas) {
      if (rd.size() != 16) continue;
      Address a = raw_v6(rd.data());
      bool excluded = false;
      for (const auto& p : options_.exclude) excluded = excluded || p.contains(a);
      if (!excluded) return false;
    }
  }
  return true;
}

std::vector<wire::RRset> Dns64::without_excluded(std::span<const wire::RRset> answer) const {
  std::vector<wire::RRset> out;
  for (const auto& set : answer)
    if (set.type != wire::RRType::AAAA) out.push_back(set);
  return out;
}

Address Dns64::embed(const uint8_t* ipv4) const noexcept {
  Address a = raw_v6(options_.prefix.bytes);
  size_t pos[4];
  ipv4_positions(options_.prefix.length, pos);
  for (size_t i = 0; i < 4; ++i) a.bytes[pos[i]] = ipv4[i];
  return a;
}

wire::RRset Dns64::synthesise(const wire::RRset& a, uint32_t ttl_cap) const {
  wire::RRset out;
  out.owner = a.owner;
  out.type = wire::RRType::AAAA;
  out.rclass = a.rclass;
  out.ttl = std::min(a.ttl, ttl_cap);
  for (const auto& rd : a.rdatas) {
    if (rd.size() != 4) continue;
    Address v6 = embed(rd.data());
    out.rdatas.emplace_back(v6.bytes, v6.bytes + 16);
  }
  return out;
}

std::optional<wire::Name> Dns64::reverse_target(const wire::Name& qname) const {
  // 32 nibble labels, then ip6.arpa.
  if (qname.label_count() != 34) return std::nullopt;
  auto is = [&](size_t i, std::string_view w) {
    std::string_view l = qname.label(i);
    if (l.size() != w.size()) return false;
    for (size_t k = 0; k < l.size(); ++k)
      if (wire::ascii_lower(static_cast<uint8_t>(l[k])) != static_cast<uint8_t>(w[k])) return false;
    return true;
  };
  if (!is(32, "ip6") || !is(33, "arpa")) return std::nullopt;
  uint8_t bytes[16] = {};
  for (size_t i = 0; i < 32; ++i) {
    std::string_view l = qname.label(i);
    if (l.size() != 1) return std::nullopt;
    char c = static_cast<char>(wire::ascii_lower(static_cast<uint8_t>(l[0])));
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return std::nullopt;
    size_t nibble = 31 - i;  // label 0 is the last nibble
    bytes[nibble / 2] |= static_cast<uint8_t>(nibble % 2 ? v : v << 4);
  }
  Address a = raw_v6(bytes);
  if (!options_.prefix.contains(a)) return std::nullopt;
  size_t pos[4];
  ipv4_positions(options_.prefix.length, pos);
  uint8_t v4[4];
  for (size_t i = 0; i < 4; ++i) v4[i] = bytes[pos[i]];
  return wire::Name::from_text(fmt::format("{}.{}.{}.{}.in-addr.arpa.", v4[3], v4[2], v4[1], v4[0]));
}

}  // namespace sextant::resolver::policy
