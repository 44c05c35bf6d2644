// Zones whose servers come from configuration instead of referrals: forward
// zones (recursive upstreams, asked with RD=1, their answers final) and stub
// zones (authoritative servers given by address or name, asked with RD=0,
// referrals below followed). The walker only reads this seam; the table
// behind it is built from the configuration by resolver/forward/.
//
// How the walker uses it (walker_forward.cpp):
// - The configured zone that is the longest suffix of the name decides,
//   before the delegation cache: a forward zone is the cut (nothing below it
//   is walked), a stub zone is the cut unless the cache knows a delegation
//   strictly below it. A DS question for a stub zone's apex goes to the
//   parent side (DS lives there); forward upstreams answer DS themselves.
// - Forward cuts: no QNAME minimisation, RD=1, CD=1 when validating (we
//   validate; the upstream's AD bit is ignored), a referral or a lame reply
//   means "next upstream". With forward-first, a question whose upstreams
//   all failed is walked from the closest non-forward cut.
// - Private and loopback addresses are allowed for configured servers and
//   for every cut at or below a stub zone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "resolver/walk/server_address.h"
#include "resolver/walk/upstream_network.h"
#include "wire/name.h"

namespace sextant::resolver {

struct ConfiguredServer {
  ServerAddress address;
  UpstreamProtocol protocol = UpstreamProtocol::udp;
  // What logs and dump-cache call it ("dns.example@192.0.2.1" or the address).
  wire::Name label;
};

struct ConfiguredZone {
  enum class Kind : uint8_t { forward, stub };
  Kind kind = Kind::forward;
  wire::Name zone;
  bool forward_first = false;            // forward zones: walk when every upstream fails
  std::vector<ConfiguredServer> servers;  // forward: upstreams; stub: servers given by address
  std::vector<wire::Name> server_names;   // stub: servers given by name, resolved normally
};

class ConfiguredZones {
 public:
  virtual ~ConfiguredZones() = default;
  // The configured zone that is the longest suffix of `name` (the name
  // itself included), or nullptr.
  virtual const ConfiguredZone* find(const wire::Name& name) const = 0;
  // True when `zone` is at or below a stub zone (private addresses allowed).
  virtual bool inside_stub(const wire::Name& zone) const = 0;
};

}  // namespace sextant::resolver
