// The forward and stub zones of the configuration as the walker and the
// network use them: a table answering "which configured zone is the longest
// suffix of this name" (one hash probe per label), the connection details of
// each upstream (TLS name, CA bundle, SPKI pins, DoH URL) for the network,
// and the zones' own trust anchors and negative trust anchors.
//
// Immutable once built; a reload builds a new table and swaps it in every
// worker (changed_zones() says which zones' cache to flush).
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dnssec/trust_anchors.h"
#include "resolver/config/config.h"
#include "resolver/walk/configured_zones.h"
#include "wire/name.h"

namespace sextant::resolver {

// How to reach one upstream that is not plain UDP: what the network needs
// beyond an address.
struct UpstreamProfile {
  ServerAddress address;
  UpstreamProtocol protocol = UpstreamProtocol::tcp;
  std::string tls_name;                            // empty: pins only
  std::string ca_file;                             // empty: the system's bundle
  std::vector<std::array<uint8_t, 32>> spki_pins;  // SHA-256 of SubjectPublicKeyInfo
  std::string http_host;                           // https: :authority
  std::string http_path;                           // https: :path
  // How metrics and logs name it: "tls://192.0.2.1@853#dns.example".
  std::string label;
};

class ForwardTable final : public ConfiguredZones {
 public:
  // From a configuration that load_config_*() accepted. Throws
  // std::runtime_error for a trust anchor the DNSSEC code refuses.
  static std::shared_ptr<const ForwardTable> build(const Config& config);

  const ConfiguredZone* find(const wire::Name& name) const override;
  bool inside_stub(const wire::Name& zone) const override;

  // The profile of an upstream (stream transports and udp alike), or null.
  const UpstreamProfile* profile(const ServerAddress& address, UpstreamProtocol protocol) const;
  std::span<const UpstreamProfile> profiles() const noexcept { return profiles_; }
  // Adds the zones' trust anchors to `anchors`.
  void add_trust_anchors(dnssec::TrustAnchors& anchors) const;
  // Zones configured with negative-trust-anchor: true.
  const std::vector<wire::Name>& negative_anchors() const noexcept { return negative_anchors_; }
  size_t size() const noexcept { return zones_.size(); }

 private:
  std::vector<ConfiguredZone> zones_;
  std::unordered_map<wire::Name, size_t, wire::NameHash> by_name_;  // lower-cased zone -> index
  std::vector<UpstreamProfile> profiles_;
  std::vector<std::pair<wire::Name, wire::ResourceRecord>> anchors_;
  std::vector<wire::Name> negative_anchors_;
};

// Zones whose configuration a reload from `before` to `after` added,
// removed or changed: their cached data must go.
std::vector<wire::Name> changed_zones(const Config& before, const Config& after);

// "udp", "tls", ... for a configured transport.
UpstreamProtocol to_protocol(UpstreamTransport transport) noexcept;

}  // namespace sextant::resolver
