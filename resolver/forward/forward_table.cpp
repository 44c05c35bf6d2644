#include "resolver/forward/forward_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "wire/base_encoding.h"
#include "wire/zone_reader.h"

namespace sextant::resolver {

namespace {

ServerAddress address_of(const std::string& text, uint16_t port) {
  auto address = ServerAddress::parse(text, port);
  if (!address) throw std::runtime_error(fmt::format("'{}' is not an address", text));
  address->port = port;
  return *address;
}

std::string label_of(const ForwardUpstreamConfig& u) {
  std::string out = fmt::format("{}://{}@{}", to_string(u.transport), u.address, u.port);
  if (!u.tls_name.empty()) out += "#" + u.tls_name;
  return out;
}

// A name the walker can show for an upstream (its TLS name, else a made-up one).
wire::Name name_of(const ForwardUpstreamConfig& u, size_t index) {
  if (!u.tls_name.empty()) {
    try {
      return wire::Name::from_text(u.tls_name);
    } catch (const std::exception&) {
      // An IP literal as the TLS name: fall through.
    }
  }
  return wire::Name::from_text(fmt::format("upstream-{}.forward.invalid.", index));
}

}  // namespace

UpstreamProtocol to_protocol(UpstreamTransport transport) noexcept {
  switch (transport) {
    case UpstreamTransport::udp: return UpstreamProtocol::udp;
    case UpstreamTransport::tcp: return UpstreamProtocol::tcp;
    case UpstreamTransport::tls: return UpstreamProtocol::tls;
    case UpstreamTransport::https: return UpstreamProtocol::https;
    case UpstreamTransport::quic: return UpstreamProtocol::quic;
  }
  return UpstreamProtocol::udp;
}

std::shared_ptr<const ForwardTable> ForwardTable::build(const Config& config) {
  auto table = std::make_shared<ForwardTable>();
  auto add_trust = [&](const wire::Name& apex, const ZoneTrustConfig& trust, int line) {
    if (trust.negative_trust_anchor) table->negative_anchors_.push_back(apex);
    for (const auto& text : trust.trust_anchors) {
      auto records = wire::read_zone_text(text, fmt::format("line {}", line), {.origin = apex, .max_include_depth = 0});
      for (auto& rr : records) table->anchors_.emplace_back(apex, std::move(rr));
    }
  };
  size_t upstream_index = 0;
  for (const auto& fz : config.forward_zones) {
    ConfiguredZone z;
    z.kind = ConfiguredZone::Kind::forward;
    z.zone = wire::Name::from_text(fz.zone).lowercased();
    z.forward_first = fz.forward_first;
    for (const auto& u : fz.upstreams) {
      ConfiguredServer server;
      server.address = address_of(u.address, u.port);
      server.protocol = to_protocol(u.transport);
      server.label = name_of(u, ++upstream_index);
      z.servers.push_back(server);
      if (!table->profile(server.address, server.protocol)) {
        UpstreamProfile p;
        p.address = server.address;
        p.protocol = server.protocol;
        p.tls_name = u.tls_name;
        p.ca_file = u.ca_file;
        for (const auto& pin : u.spki_pins) {
          std::vector<uint8_t> digest;
          if (wire::base64_decode(pin, digest) != wire::DecodeError::ok || digest.size() != 32)
            throw std::runtime_error(fmt::format("spki-pin '{}' is not a SHA-256 digest", pin));
          std::array<uint8_t, 32> d{};
          std::copy(digest.begin(), digest.end(), d.begin());
          p.spki_pins.push_back(d);
        }
        p.http_host = u.http_host;
        p.http_path = u.http_path;
        p.label = label_of(u);
        table->profiles_.push_back(std::move(p));
      }
    }
    add_trust(z.zone, fz.trust, fz.line);
    table->by_name_[z.zone] = table->zones_.size();
    table->zones_.push_back(std::move(z));
  }
  for (const auto& sz : config.stub_zones) {
    ConfiguredZone z;
    z.kind = ConfiguredZone::Kind::stub;
    z.zone = wire::Name::from_text(sz.zone).lowercased();
    for (const auto& s : sz.servers) {
      if (!s.name.empty()) {
        z.server_names.push_back(wire::Name::from_text(s.name));
        continue;
      }
      ConfiguredServer server;
      server.address = address_of(s.address, s.port);
      server.protocol = UpstreamProtocol::udp;
      server.label = wire::Name::from_text(fmt::format("stub-{}.{}", z.servers.size() + 1, z.zone.to_text()));
      z.servers.push_back(server);
    }
    add_trust(z.zone, sz.trust, sz.line);
    table->by_name_[z.zone] = table->zones_.size();
    table->zones_.push_back(std::move(z));
  }
  return table;
}

const ConfiguredZone* ForwardTable::find(const wire::Name& name) const {
  if (zones_.empty()) return nullptr;
  // Longest suffix first: the name, then each parent up to the root.
  wire::Name probe = name;
  for (size_t guard = 0; guard <= 128; ++guard) {
    if (auto it = by_name_.find(probe); it != by_name_.end()) return &zones_[it->second];
    if (probe.is_root()) break;
    probe = probe.parent();
  }
  return nullptr;
}

bool ForwardTable::inside_stub(const wire::Name& zone) const {
  if (zones_.empty()) return false;
  // One probe per label, like find(): any stub zone above counts, even past a forward one.
  wire::Name probe = zone;
  for (size_t guard = 0; guard <= 128; ++guard) {
    if (auto it = by_name_.find(probe); it != by_name_.end() && zones_[it->second].kind == ConfiguredZone::Kind::stub) {
      return true;
    }
    if (probe.is_root()) break;
    probe = probe.parent();
  }
  return false;
}

const UpstreamProfile* ForwardTable::profile(const ServerAddress& address, UpstreamProtocol protocol) const {
  for (const auto& p : profiles_) {
    if (p.address == address && p.protocol == protocol) return &p;
  }
  return nullptr;
}

void ForwardTable::add_trust_anchors(dnssec::TrustAnchors& anchors) const {
  for (const auto& [apex, rr] : anchors_) {
    if (rr.type == wire::RRType::DS) {
      anchors.add_ds(apex, rr.rdata);
    } else {
      anchors.add_dnskey(apex, rr.rdata);
    }
  }
}

std::vector<wire::Name> changed_zones(const Config& before, const Config& after) {
  std::vector<wire::Name> out;
  auto note = [&](const std::string& zone) {
    wire::Name name = wire::Name::from_text(zone).lowercased();
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  auto diff = [&](const auto& a, const auto& b) {
    for (const auto& z : a) {
      auto same = std::find_if(b.begin(), b.end(), [&](const auto& other) { return other == z; });
      if (same == b.end()) note(z.zone);
    }
  };
  diff(before.forward_zones, after.forward_zones);
  diff(after.forward_zones, before.forward_zones);
  diff(before.stub_zones, after.stub_zones);
  diff(after.stub_zones, before.stub_zones);
  return out;
}

}  // namespace sextant::resolver
