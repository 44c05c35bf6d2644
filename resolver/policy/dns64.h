// DNS64 (RFC 6147): AAAA records synthesised from A records for clients of
// a NAT64, only when the name has no AAAA of its own.
//
// - The prefix is a /32, /40, /48, /56, /64 or /96 (RFC 6052 §2.2); the
//   default is the well-known 64:ff9b::/96.
// - AAAA records whose address lies in an excluded prefix count as absent
//   (§5.1.4; ::ffff:0:0/96 by default).
// - Only clients in the configured subnets get synthesis (all if none).
// - A client that sets DO and CD validates itself and gets no synthesis
//   (§5.5); synthesised answers are never marked secure (AD clear).
// - RCODE handling (§5.1.2, §5.1.3): NXDOMAIN stays NXDOMAIN; NOERROR with no
//   usable AAAA, and any other error, lead to the A query.
// - PTR questions for names under the prefix's ip6.arpa domain are
//   answered with a CNAME to the in-addr.arpa name of the embedded IPv4
//   address (§5.3.1).
#pragma once

#include <optional>
#include <vector>

#include "resolver/policy/address_match.h"
#include "resolver/policy/lookup_name.h"
#include "wire/record.h"

namespace sextant::resolver::policy {

struct Dns64Options {
  AddressPrefix prefix;  // default 64:ff9b::/96
  std::vector<AddressPrefix> clients;   // empty: every client
  std::vector<AddressPrefix> exclude;   // default ::ffff:0:0/96
  Dns64Options();
};

class Dns64 {
 public:
  explicit Dns64(Dns64Options options);

  const Dns64Options& options() const noexcept { return options_; }
  // Whether `client` (with these DO/CD bits) gets synthesis at all.
  bool applies_to(const Address& client, bool dnssec_ok, bool checking_disabled) const noexcept;
  // True when an AAAA answer has no AAAA record outside the excluded
  // prefixes (synthesis is then due).
  bool lacks_usable_aaaa(std::span<const wire::RRset> answer) const noexcept;
  // The answer without AAAA records in excluded prefixes.
  std::vector<wire::RRset> without_excluded(std::span<const wire::RRset> answer) const;
  // The AAAA set for the A set `a` (same owner, TTL capped by `ttl_cap`).
  wire::RRset synthesise(const wire::RRset& a, uint32_t ttl_cap) const;
  // For a PTR question under the prefix's reverse domain: the in-addr.arpa
  // name of the IPv4 address it embeds.
  std::optional<wire::Name> reverse_target(const wire::Name& qname) const;
  // The embedded IPv4 address of a synthesised AAAA (tests).
  Address embed(const uint8_t* ipv4) const noexcept;

 private:
  Dns64Options options_;
};

}  // namespace sextant::resolver::policy
