// EDNS Client Subnet (RFC 7871) on the client's side of the pipeline: which
// subnet, if any, goes with a client's question.
//
// - Off by default. When on, a client's source prefix is its address cut to
//   /24 (IPv4) or /56 (IPv6), for clients `add_for` allows: first match
//   wins, a "!" entry excludes (PowerDNS's ecs-add-for, whose default it
//   copies: private, loopback and link-local clients are not revealed).
// - A client's own ECS option is sent on only for `trusted` clients (a
//   forwarder or load balancer in front), cut to the same lengths at most
//   (RFC 7871 §7.1.1). From anyone else it is ignored (their address gives
//   the subnet) and echoed with scope 0: the answer did not depend on the
//   subnet they sent. A source prefix of 0 asks that no subnet be sent
//   (§7.1.2); that only withholds information, so anyone may ask it. A
//   malformed option gets FORMERR (§7.1.1, checked by wire's decoder).
// - Where the subnet is sent: walk/walker_ecs.cpp; how answers are cached
//   per scope: cache/scoped_answer_cache.h; the pipeline's use of both:
//   query_pipeline_ecs.cpp.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cache/scoped_answer_cache.h"
#include "resolver/front/client_address.h"
#include "wire/edns.h"

namespace sextant::resolver {

struct EcsSettings {
  bool enabled = false;
  uint8_t ipv4_prefix = 24;
  uint8_t ipv6_prefix = 56;
  // (prefix, allowed) pairs, first match wins; no match: not sent.
  std::vector<std::pair<Prefix, bool>> add_for;
  // Clients whose own option is used.
  PrefixList trusted;
};

class ClientSubnetPolicy {
 public:
  ClientSubnetPolicy() = default;
  explicit ClientSubnetPolicy(EcsSettings settings) : settings_(std::move(settings)) {}

  bool enabled() const noexcept { return settings_.enabled; }

  // The subnet to send for a client at `client`, or nothing.
  std::optional<wire::ClientSubnetOption> for_address(const ClientAddress& client) const;
  bool trusts(const ClientAddress& client) const noexcept { return settings_.trusted.contains(client); }
  // A trusted client's option, cut to our lengths (scope 0); nothing for a
  // source prefix of 0.
  std::optional<wire::ClientSubnetOption> from_trusted(const wire::ClientSubnetOption& sent) const;

  // A client's option is acceptable in a query: decodes (family, lengths,
  // no bits past the prefix) and has scope 0 (RFC 7871 §6).
  static bool valid_query_option(std::span<const uint8_t> data, wire::ClientSubnetOption& out) noexcept;

 private:
  EcsSettings settings_;
};

// The scoped cache's key for a subnet; family 0 for none.
cache::SubnetKey subnet_key(const std::optional<wire::ClientSubnetOption>& o) noexcept;

}  // namespace sextant::resolver
