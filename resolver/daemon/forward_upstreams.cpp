#include "resolver/daemon/forward_upstreams.h"

#include <netinet/in.h>

#include <cstring>

#include <fmt/format.h>

#include "transports/quic_client_tls.h"
#include "transports/upstream_tls.h"

namespace sextant::resolver {

namespace {

transports::UpstreamChannel channel_of(UpstreamProtocol protocol) {
  switch (protocol) {
    case UpstreamProtocol::udp: return transports::UpstreamChannel::udp;
    case UpstreamProtocol::tcp: return transports::UpstreamChannel::tcp;
    case UpstreamProtocol::tls: return transports::UpstreamChannel::tls;
    case UpstreamProtocol::https: return transports::UpstreamChannel::https;
    case UpstreamProtocol::quic: return transports::UpstreamChannel::quic;
  }
  return transports::UpstreamChannel::udp;
}

}  // namespace

transports::UpstreamEndpoint endpoint_of(const UpstreamProfile& profile) {
  transports::UpstreamEndpoint e;
  const ServerAddress& a = profile.address;
  if (a.is_ipv6()) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&e.address);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a.port);
    std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&e.address);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a.port);
    std::memcpy(&s4->sin_addr, a.bytes.data(), 4);
  }
  e.channel = channel_of(profile.protocol);
  e.tls_name = profile.tls_name;
  e.ca_file = profile.ca_file;
  e.spki_pins = profile.spki_pins;
  e.http_host = profile.http_host;
  e.http_path = profile.http_path;
  e.label = profile.label;
  return e;
}

void check_forward_upstreams(const Config& config, const std::string& path) {
  std::shared_ptr<const ForwardTable> table;
  try {
    table = ForwardTable::build(config);
    dnssec::TrustAnchors anchors;
    table->add_trust_anchors(anchors);  // the DNSSEC code's own checks of each anchor
  } catch (const std::exception& e) {
    throw ConfigError(fmt::format("{}: forward-zones / stub-zones: {}", path, e.what()));
  }
  for (const auto& zone : config.forward_zones) {
    for (const auto& u : zone.upstreams) {
      if (u.transport != UpstreamTransport::tls && u.transport != UpstreamTransport::https &&
          u.transport != UpstreamTransport::quic) {
        continue;
      }
      const UpstreamProfile* profile = nullptr;
      for (const auto& p : table->profiles()) {
        if (p.address.to_string() == ServerAddress::parse(u.address)->to_string() && p.address.port == u.port &&
            p.protocol == to_protocol(u.transport)) {
          profile = &p;
        }
      }
      if (!profile) continue;
      try {
        transports::UpstreamEndpoint e = endpoint_of(*profile);
        if (u.transport == UpstreamTransport::quic) {
          transports::QuicClientTls tls(e);
        } else {
          transports::UpstreamTlsContext tls(e, {});
        }
      } catch (const std::exception& ex) {
        throw ConfigError(fmt::format("{}:{}: forward-zones: {}", path, u.line, ex.what()));
      }
    }
  }
}

}  // namespace sextant::resolver
