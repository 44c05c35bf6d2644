// EDNS Client Subnet (RFC 7871) on the client's side of the pipeline: which
// subnet, if any, goes with a client's question.
//
// - Off by default. When on, a client's source prefix is its address cut to
//   /24 (IPv4) or /56 (IPv6), for clients `add_for` allows: first match
//   wins, a "!" entry excludes (PowerDNS's ecs-add-for, whose default it
//   copies: private, loopback and link-local clients are not revealed).
// - A client's own ECS option is honoured only from a trusted proxy
//   (Request::proxy set: PROXY v2, or X-Forwarded-For on DoH), cut to the
//   same lengths at most; from anyone else it is ignored (answered with
//   scope 0), since a client could otherwise ask for another network's
//   answers. A malformed one gets FORMERR (§7.1.1).
// - Where the subnet is sent, and how answers are cached per subnet: the
//   walker (walk/walker_ecs.cpp) and cache/scoped_answer_cache.h.
#pragma once

#include <optional>
#include <span>
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
};

// The default add-for list (PowerDNS Recursor's ecs-add-for).
std::vector<std::string> default_ecs_add_for();

class ClientSubnetPolicy {
 public:
  ClientSubnetPolicy() = default;
  explicit ClientSubnetPolicy(EcsSettings settings) : settings_(std::move(settings)) {}

  bool enabled() const noexcept { return settings_.enabled; }

  // The subnet to send for a client at `client`, or nothing.
  std::optional<wire::ClientSubnetOption> for_address(const ClientAddress& client) const;
  // A trusted proxy's client option, cut to our lengths.
  wire::ClientSubnetOption from_proxy(const wire::ClientSubnetOption& sent) const;

  // A client's option is acceptable in a query: decodes and has scope 0.
  static bool valid_query_option(std::span<const uint8_t> data, wire::ClientSubnetOption& out) noexcept;

 private:
  EcsSettings settings_;
};

// The scoped cache's key for a subnet.
cache::SubnetKey subnet_key(const wire::ClientSubnetOption& o) noexcept;

}  // namespace sextant::resolver
