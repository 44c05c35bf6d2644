#include "resolver/config/config_zones.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "wire/base_encoding.h"
#include "wire/errors.h"
#include "wire/name.h"
#include "wire/zone_reader.h"

namespace sextant::resolver {

const char* to_string(UpstreamTransport t) noexcept {
  switch (t) {
    case UpstreamTransport::udp: return "udp";
    case UpstreamTransport::tcp: return "tcp";
    case UpstreamTransport::tls: return "tls";
    case UpstreamTransport::https: return "https";
    case UpstreamTransport::quic: return "quic";
  }
  return "unknown";
}

namespace config_zones {

namespace {

[[noreturn]] void fail_at(const YAML::Node& n, const std::string& message) {
  throw ConfigNodeError(n.Mark().line, message);
}

std::string scalar_at(const YAML::Node& n, const char* what) {
  if (!n.IsScalar()) fail_at(n, fmt::format("{}: expected a single value", what));
  return n.Scalar();
}

bool bool_at(const YAML::Node& n, const char* what) {
  std::string s = scalar_at(n, what);
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail_at(n, fmt::format("{}: '{}' is not a boolean (use true or false)", what, s));
}

std::vector<std::string> strings_at(const YAML::Node& n, const char* what) {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence()) fail_at(n, fmt::format("{}: expected a list", what));
  for (const auto& item : n) out.push_back(scalar_at(item, what));
  return out;
}

// Rejects keys a block does not know, at the line of the key.
void only_keys(const YAML::Node& block, std::initializer_list<const char*> keys, const char* what) {
  for (const auto& kv : block) {
    std::string k = kv.first.Scalar();
    if (std::none_of(keys.begin(), keys.end(), [&](const char* known) { return k == known; })) {
      std::string list;
      for (const char* known : keys) list += fmt::format("{}{}", list.empty() ? "" : ", ", known);
      fail_at(kv.first, fmt::format("unknown key '{}' in a {} (known: {})", k, what, list));
    }
  }
}

std::string zone_at(const YAML::Node& n) {
  std::string text = scalar_at(n, "zone");
  try {
    return wire::Name::from_text(text).lowercased().to_text();
  } catch (const std::exception& e) {
    fail_at(n, fmt::format("zone: '{}' is not a domain name: {}", text, e.what()));
  }
}

// A host name as a certificate would carry it, or an IP literal.
bool valid_tls_name(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  Endpoint ignored;
  try {
    ignored = parse_endpoint(s, 0);
    return true;  // an IP address (matched against the IP SANs)
  } catch (const std::exception&) {
  }
  size_t label = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    if (ch == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_')) return false;
    if (++label > 63) return false;
  }
  return true;
}

struct ParsedUrl {
  std::string host;  // without brackets
  uint16_t port = 443;
  std::string path;
};

// "https://host[:port]/path": the parts a DoH client needs.
ParsedUrl parse_url(const YAML::Node& n, const std::string& url) {
  ParsedUrl out;
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) fail_at(n, fmt::format("url: '{}' must start with https://", url));
  for (char ch : url) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f)
      fail_at(n, fmt::format("url: '{}' holds a space or control character", url));
  }
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string::npos) fail_at(n, fmt::format("url: '{}' has no path (e.g. /dns-query)", url));
  std::string authority = rest.substr(0, slash);
  out.path = rest.substr(slash);
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) fail_at(n, fmt::format("url: '{}': missing ']'", url));
    out.host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') fail_at(n, fmt::format("url: '{}': bad port", url));
      port_text = after.substr(1);
    }
  } else if (size_t colon = authority.find(':'); colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  if (!port_text.empty()) {
    bool digits = port_text.size() <= 5 && std::all_of(port_text.begin(), port_text.end(),
                                                       [](char ch) { return ch >= '0' && ch <= '9'; });
    unsigned long value = digits ? std::stoul(port_text) : 0;
    if (!digits || value == 0 || value > 65535) fail_at(n, fmt::format("url: '{}': bad port '{}'", url, port_text));
    out.port = static_cast<uint16_t>(value);
  }
  if (!valid_tls_name(out.host))
    fail_at(n, fmt::format("url: '{}': '{}' is not a host name or address", url, out.host));
  return out;
}

// Whether an address text names its port ("ADDR@PORT", "[V6]:PORT", "V4:PORT").
bool names_port(const std::string& text) {
  if (text.find('@') != std::string::npos) return true;
  if (!text.empty() && text[0] == '[') return text.find("]:") != std::string::npos;
  return std::count(text.begin(), text.end(), ':') == 1;
}

void check_ca_file(const YAML::Node& n, const std::string& path) {
  // A regular file of sensible size: /dev/zero or a FIFO must not hang the check.
  constexpr uintmax_t kMaxBundle = 16u << 20;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail_at(n, fmt::format("ca-file: cannot read '{}' (not a file)", path));
  if (std::filesystem::file_size(path, ec) > kMaxBundle) fail_at(n, fmt::format("ca-file: '{}' is larger than 16 MB", path));
  std::ifstream in(path);
  if (!in) fail_at(n, fmt::format("ca-file: cannot read '{}'", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    fail_at(n, fmt::format("ca-file: '{}' holds no PEM certificate", path));
}

void check_pin(const YAML::Node& n, const std::string& pin) {
  std::vector<uint8_t> digest;
  if (wire::base64_decode(pin, digest) != wire::DecodeError::ok || digest.size() != 32)
    fail_at(n, fmt::format("spki-pin: '{}' is not the base64 of a SHA-256 digest (44 characters)", pin));
}

uint16_t default_port(UpstreamTransport t) {
  switch (t) {
    case UpstreamTransport::udp:
    case UpstreamTransport::tcp: return 53;
    case UpstreamTransport::tls:
    case UpstreamTransport::quic: return 853;
    case UpstreamTransport::https: return 443;
  }
  return 53;
}

ForwardUpstreamConfig parse_upstream(const YAML::Node& n) {
  ForwardUpstreamConfig u;
  u.line = n.Mark().line + 1;
  if (n.IsScalar()) {
    try {
      Endpoint ep = parse_endpoint(n.Scalar(), 53);
      u.address = ep.address;
      u.port = ep.port;
    } catch (const std::exception& e) {
      fail_at(n, fmt::format("upstream: {}", e.what()));
    }
    if (u.port == 0) fail_at(n, "upstream: port 0");
    return u;
  }
  if (!n.IsMap()) fail_at(n, "an upstream is an address (udp) or a map with address, transport, ...");
  only_keys(n, {"address", "transport", "tls-name", "ca-file", "spki-pin", "url"}, "forward upstream");
  bool transport_given = false;
  if (n["transport"]) {
    std::string t = scalar_at(n["transport"], "transport");
    if (t == "udp") u.transport = UpstreamTransport::udp;
    else if (t == "tcp") u.transport = UpstreamTransport::tcp;
    else if (t == "tls" || t == "dot") u.transport = UpstreamTransport::tls;
    else if (t == "https" || t == "doh") u.transport = UpstreamTransport::https;
    else if (t == "quic" || t == "doq") u.transport = UpstreamTransport::quic;
    else fail_at(n["transport"], fmt::format("transport: '{}' is not udp, tcp, tls, https or quic", t));
    transport_given = true;
  }
  if (n["url"] && !transport_given) u.transport = UpstreamTransport::https;
  const bool encrypted = u.transport == UpstreamTransport::tls || u.transport == UpstreamTransport::https ||
                         u.transport == UpstreamTransport::quic;
  if (n["tls-name"]) {
    u.tls_name = scalar_at(n["tls-name"], "tls-name");
    if (!valid_tls_name(u.tls_name))
      fail_at(n["tls-name"], fmt::format("tls-name: '{}' is not a host name or address", u.tls_name));
  }
  std::optional<ParsedUrl> url;
  if (n["url"]) {
    if (u.transport != UpstreamTransport::https) fail_at(n["url"], "url: only for transport https");
    u.url = scalar_at(n["url"], "url");
    url = parse_url(n["url"], u.url);
    u.http_path = url->path;
    std::string bracketed = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
    u.http_host = url->port == 443 ? bracketed : fmt::format("{}:{}", bracketed, url->port);
    if (u.tls_name.empty()) u.tls_name = url->host;
  } else if (u.transport == UpstreamTransport::https) {
    fail_at(n, "transport https needs a url (https://host/dns-query)");
  }
  if (n["address"]) {
    std::string text = scalar_at(n["address"], "address");
    try {
      uint16_t fallback = url ? url->port : default_port(u.transport);
      Endpoint ep = parse_endpoint(text, fallback);
      u.address = ep.address;
      u.port = names_port(text) ? ep.port : fallback;
    } catch (const std::exception& e) {
      fail_at(n["address"], fmt::format("address: {}", e.what()));
    }
    if (u.port == 0) fail_at(n["address"], "address: port 0");
  } else if (url) {
    try {
      u.address = parse_endpoint(url->host, url->port).address;
      u.port = url->port;
    } catch (const std::exception&) {
      // A host name: the block must give the address (no bootstrap lookup).
    }
  }
  if (u.address.empty()) fail_at(n, "an upstream needs an address (the url's host is a name: give its address)");
  if (n["ca-file"]) {
    if (!encrypted) fail_at(n["ca-file"], fmt::format("ca-file: not for transport {}", to_string(u.transport)));
    u.ca_file = scalar_at(n["ca-file"], "ca-file");
    check_ca_file(n["ca-file"], u.ca_file);
    if (u.tls_name.empty()) fail_at(n["ca-file"], "ca-file: needs a tls-name to check the certificate against");
  }
  if (n["spki-pin"]) {
    if (!encrypted) fail_at(n["spki-pin"], fmt::format("spki-pin: not for transport {}", to_string(u.transport)));
    u.spki_pins = strings_at(n["spki-pin"], "spki-pin");
    for (const auto& pin : u.spki_pins) check_pin(n["spki-pin"], pin);
  }
  if (!encrypted && n["tls-name"])
    fail_at(n["tls-name"], fmt::format("tls-name: not for transport {}", to_string(u.transport)));
  if (encrypted && u.tls_name.empty() && u.spki_pins.empty())
    fail_at(n, fmt::format("transport {} needs tls-name and/or spki-pin: Sextant does not use "
                           "unauthenticated encryption",
                           to_string(u.transport)));
  return u;
}

ZoneTrustConfig parse_trust(const YAML::Node& block, const std::string& zone) {
  ZoneTrustConfig t;
  if (block["negative-trust-anchor"]) t.negative_trust_anchor = bool_at(block["negative-trust-anchor"], "negative-trust-anchor");
  if (block["trust-anchor"]) {
    const YAML::Node& n = block["trust-anchor"];
    t.trust_anchors = strings_at(n, "trust-anchor");
    const wire::Name apex = wire::Name::from_text(zone);
    for (const auto& line : t.trust_anchors) {
      std::vector<wire::ResourceRecord> records;
      try {
        records = wire::read_zone_text(line, "trust-anchor", {.origin = apex, .max_include_depth = 0});
      } catch (const std::exception& e) {
        fail_at(n, fmt::format("trust-anchor: {}", e.what()));
      }
      if (records.size() != 1) fail_at(n, "trust-anchor: one DS or DNSKEY record per entry");
      const auto& rr = records[0];
      if (rr.type != wire::RRType::DS && rr.type != wire::RRType::DNSKEY)
        fail_at(n, "trust-anchor: only DS and DNSKEY records are anchors");
      if (!(rr.owner == apex))
        fail_at(n, fmt::format("trust-anchor: the record's owner {} is not the zone {}", rr.owner.to_text(), zone));
    }
    if (t.negative_trust_anchor && !t.trust_anchors.empty())
      fail_at(block["negative-trust-anchor"], "negative-trust-anchor and trust-anchor exclude each other");
  }
  return t;
}

template <typename Parse>
void each_block(const YAML::Node& n, const char* what, Parse parse) {
  if (n.IsNull()) return;
  if (!n.IsSequence()) fail_at(n, fmt::format("expected a list of {} blocks", what));
  for (const auto& block : n) {
    if (!block.IsMap()) fail_at(block, fmt::format("each {} entry is a map with at least 'zone'", what));
    parse(block);
  }
}

}  // namespace

void apply_forward_zones(Config& c, const YAML::Node& n) {
  std::vector<ForwardZoneConfig> zones;
  each_block(n, "forward-zones", [&](const YAML::Node& block) {
    only_keys(block, {"zone", "upstreams", "forward-first", "trust-anchor", "negative-trust-anchor"}, "forward zone");
    ForwardZoneConfig z;
    z.line = block.Mark().line + 1;
    if (!block["zone"]) fail_at(block, "a forward zone needs 'zone'");
    z.zone = zone_at(block["zone"]);
    if (block["forward-first"]) z.forward_first = bool_at(block["forward-first"], "forward-first");
    const YAML::Node& ups = block["upstreams"];
    if (!ups || ups.IsNull() || (ups.IsSequence() && ups.size() == 0))
      fail_at(block, fmt::format("forward zone {} needs at least one upstream", z.zone));
    if (ups.IsScalar()) {
      z.upstreams.push_back(parse_upstream(ups));
    } else if (ups.IsSequence()) {
      for (const auto& item : ups) {
        ForwardUpstreamConfig u = parse_upstream(item);
        for (const auto& other : z.upstreams) {
          if (other.address == u.address && other.port == u.port && other.transport == u.transport)
            fail_at(item, fmt::format("upstream {} port {} ({}) is listed twice", u.address, u.port,
                                      to_string(u.transport)));
        }
        z.upstreams.push_back(std::move(u));
      }
    } else {
      fail_at(ups, "upstreams: expected a list");
    }
    z.trust = parse_trust(block, z.zone);
    zones.push_back(std::move(z));
  });
  c.forward_zones = std::move(zones);
}

void apply_stub_zones(Config& c, const YAML::Node& n) {
  std::vector<StubZoneConfig> zones;
  each_block(n, "stub-zones", [&](const YAML::Node& block) {
    only_keys(block, {"zone", "servers", "trust-anchor", "negative-trust-anchor"}, "stub zone");
    StubZoneConfig z;
    z.line = block.Mark().line + 1;
    if (!block["zone"]) fail_at(block, "a stub zone needs 'zone'");
    z.zone = zone_at(block["zone"]);
    if (z.zone == ".") fail_at(block["zone"], "the root cannot be a stub zone (use resolver.root-hints)");
    const YAML::Node& servers = block["servers"];
    if (!servers || servers.IsNull() || (servers.IsSequence() && servers.size() == 0))
      fail_at(block, fmt::format("stub zone {} needs at least one server", z.zone));
    std::vector<YAML::Node> items;
    if (servers.IsScalar()) {
      items.push_back(servers);
    } else if (servers.IsSequence()) {
      for (const auto& item : servers) items.push_back(item);
    } else {
      fail_at(servers, "servers: expected a list of addresses or names");
    }
    for (const auto& item : items) {
      std::string text = scalar_at(item, "servers");
      StubServerConfig s;
      try {
        Endpoint ep = parse_endpoint(text, 53);
        s.address = ep.address;
        s.port = ep.port;
        if (s.port == 0) fail_at(item, "servers: port 0");
      } catch (const ConfigNodeError&) {
        throw;
      } catch (const std::exception&) {
        try {
          wire::Name name = wire::Name::from_text(text);
          if (name.is_root()) throw std::invalid_argument("the root");
          s.name = name.lowercased().to_text();
        } catch (const std::exception&) {
          fail_at(item, fmt::format("servers: '{}' is neither an address nor a name", text));
        }
      }
      if (std::find(z.servers.begin(), z.servers.end(), s) != z.servers.end())
        fail_at(item, fmt::format("servers: '{}' is listed twice", text));
      z.servers.push_back(std::move(s));
    }
    z.trust = parse_trust(block, z.zone);
    zones.push_back(std::move(z));
  });
  c.stub_zones = std::move(zones);
}

void check_zones(const Config& c, const std::string& source) {
  std::set<std::string> seen;
  auto add = [&](const std::string& zone, int line, const char* list) {
    if (!seen.insert(zone).second)
      throw ConfigError(fmt::format("{}:{}: {}: zone {} is configured twice (forward-zones and stub-zones "
                                    "together name each zone once)",
                                    source, line, list, zone));
  };
  for (const auto& z : c.forward_zones) add(z.zone, z.line, "forward-zones");
  for (const auto& z : c.stub_zones) add(z.zone, z.line, "stub-zones");
  // One upstream (address, port, transport) is one connection: it cannot
  // be authenticated two ways.
  std::vector<const ForwardUpstreamConfig*> upstreams;
  for (const auto& z : c.forward_zones) {
    for (const auto& u : z.upstreams) {
      for (const auto* other : upstreams) {
        if (other->address == u.address && other->port == u.port && other->transport == u.transport &&
            !(*other == u)) {
          throw ConfigError(fmt::format("{}:{}: forward-zones: upstream {} port {} ({}) is configured "
                                        "differently at line {} (name, CA, pins and URL must agree)",
                                        source, u.line, u.address, u.port, to_string(u.transport),
                                        other->line));
        }
      }
      upstreams.push_back(&u);
    }
  }
}

std::string blocks_reference() {
  return R"(
## `forward-zones` and `stub-zones` blocks

Each is a list of blocks. A question goes to the configured zone that is the longest suffix of
its name (forward or stub, whichever is closer); names outside every block are walked from the
root as usual. A reload (SIGHUP, `sextant control reload`) applies added, removed and changed
blocks at once and flushes the cache at and below each zone that changed.

A `forward-zones` block:

- `zone` (required): the domain, `.` for everything.
- `upstreams` (required): recursive resolvers, asked with RD=1 and their answers taken as final
  (validated here: their AD bit is ignored). Each is an address (`ADDR`, `ADDR@PORT`, UDP with
  TCP after TC) or a map:
  - `address`: `ADDR[@PORT]`; default port 53 (udp, tcp), 853 (tls, quic), 443 (https).
  - `transport`: `udp` (default), `tcp`, `tls` (DNS over TLS), `https` (DNS over HTTPS, needs
    `url`) or `quic` (DNS over QUIC).
  - `url`: for https, `https://HOST[:PORT]/PATH`; HOST is the TLS name unless `tls-name` is set,
    and the address when it is an IP literal (otherwise give `address`: no bootstrap lookup).
  - `tls-name`: the name the upstream's certificate must carry (checked against `ca-file`).
  - `ca-file`: PEM CA bundle for `tls-name`; default: the system's bundle.
  - `spki-pin`: one or a list of base64 SHA-256 digests of the certificate's
    SubjectPublicKeyInfo (RFC 7858 §4.2); with `tls-name` both must match.
  Encrypted upstreams need `tls-name` and/or `spki-pin`. An authentication failure is never
  retried in plaintext: the question fails with SERVFAIL and EDE 23 if no upstream answers.
- `forward-first` (default false): when every upstream fails, walk from the root instead of
  answering SERVFAIL (Unbound's `forward-first`).
- `trust-anchor`: DS or DNSKEY records (one per entry, presentation format) anchoring the
  zone's own chain of trust, for an internal signed zone no public parent vouches for.
- `negative-trust-anchor` (default false): do not validate at and below the zone (RFC 7646;
  answers carry EDE 33).

A `stub-zones` block:

- `zone` (required): the domain (not the root).
- `servers` (required): its authoritative servers, as addresses (`ADDR[@PORT]`) or names
  (resolved like any name server's name). Asked with RD=0; referrals below the zone are
  followed. Private and loopback addresses are allowed for the zone and below it even when
  `resolver.query-private-addresses` is off.
- `trust-anchor`, `negative-trust-anchor`: as for forward zones. An internal zone that its
  signed parent does not delegate (the parent proves the name does not exist) is bogus when
  validated: give it `negative-trust-anchor: true` (Unbound's `domain-insecure`) or a
  `trust-anchor` of its own.
)";
}

}  // namespace config_zones
}  // namespace sextant::resolver
