#include "resolver/walk/root_hints.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "wire/errors.h"
#include "wire/zone_reader.h"

namespace sextant::resolver {

namespace {

// The data lines of IANA's root.hints ("last update: April 18, 2024").
constexpr std::string_view kEmbeddedRootHints = R"(
.                        3600000      NS    A.ROOT-SERVERS.NET.
A.ROOT-SERVERS.NET.      3600000      A     198.41.0.4
A.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:ba3e::2:30
.                        3600000      NS    B.ROOT-SERVERS.NET.
B.ROOT-SERVERS.NET.      3600000      A     170.247.170.2
B.ROOT-SERVERS.NET.      3600000      AAAA  2801:1b8:10::b
.                        3600000      NS    C.ROOT-SERVERS.NET.
C.ROOT-SERVERS.NET.      3600000      A     192.33.4.12
C.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:2::c
.                        3600000      NS    D.ROOT-SERVERS.NET.
D.ROOT-SERVERS.NET.      3600000      A     199.7.91.13
D.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:2d::d
.                        3600000      NS    E.ROOT-SERVERS.NET.
E.ROOT-SERVERS.NET.      3600000      A     192.203.230.10
E.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:a8::e
.                        3600000      NS    F.ROOT-SERVERS.NET.
F.ROOT-SERVERS.NET.      3600000      A     192.5.5.241
F.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:2f::f
.                        3600000      NS    G.ROOT-SERVERS.NET.
G.ROOT-SERVERS.NET.      3600000      A     192.112.36.4
G.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:12::d0d
.                        3600000      NS    H.ROOT-SERVERS.NET.
H.ROOT-SERVERS.NET.      3600000      A     198.97.190.53
H.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:1::53
.                        3600000      NS    I.ROOT-SERVERS.NET.
I.ROOT-SERVERS.NET.      3600000      A     192.36.148.17
I.ROOT-SERVERS.NET.      3600000      AAAA  2001:7fe::53
.                        3600000      NS    J.ROOT-SERVERS.NET.
J.ROOT-SERVERS.NET.      3600000      A     192.58.128.30
J.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:c27::2:30
.                        3600000      NS    K.ROOT-SERVERS.NET.
K.ROOT-SERVERS.NET.      3600000      A     193.0.14.129
K.ROOT-SERVERS.NET.      3600000      AAAA  2001:7fd::1
.                        3600000      NS    L.ROOT-SERVERS.NET.
L.ROOT-SERVERS.NET.      3600000      A     199.7.83.42
L.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:9f::42
.                        3600000      NS    M.ROOT-SERVERS.NET.
M.ROOT-SERVERS.NET.      3600000      A     202.12.27.33
M.ROOT-SERVERS.NET.      3600000      AAAA  2001:dc3::35
)";

}  // namespace

RootHints RootHints::embedded() { return parse(kEmbeddedRootHints, "built-in root hints"); }

RootHints RootHints::parse(std::string_view text, std::string_view source, uint16_t port) {
  // wire's zone reader does the master-file syntax; this keeps only what
  // hints mean: root NS names and their addresses.
  std::vector<wire::ResourceRecord> records = wire::read_zone_text(text, source);
  std::vector<wire::Name> ns_names;
  for (const auto& rr : records) {
    if (rr.type != wire::RRType::NS) continue;
    if (!rr.owner.is_root()) {
      throw wire::TextError(
          fmt::format("{}: NS record owned by {}, not the root", source, rr.owner.to_text()));
    }
    wire::Name name;
    size_t pos = 0;
    if (wire::Name::parse_uncompressed(rr.rdata, pos, name) != wire::WireError::ok) {
      throw wire::TextError(fmt::format("{}: malformed NS record", source));
    }
    if (std::find(ns_names.begin(), ns_names.end(), name) == ns_names.end()) {
      ns_names.push_back(name);
    }
  }
  RootHints hints;
  for (const auto& name : ns_names) {
    NameServerHint server{name, {}};
    for (const auto& rr : records) {
      if ((rr.type != wire::RRType::A && rr.type != wire::RRType::AAAA) || !(rr.owner == name)) {
        continue;
      }
      if (auto address = ServerAddress::from_rdata(rr.rdata, port)) {
        server.addresses.push_back(*address);
      }
    }
    hints.servers.push_back(std::move(server));
  }
  if (hints.address_count() == 0) {
    throw wire::TextError(fmt::format("{}: no root NS with an address", source));
  }
  return hints;
}

RootHints RootHints::load_file(const std::string& path, uint16_t port) {
  std::ifstream in(path);
  if (!in) throw wire::TextError(fmt::format("{}: cannot open root hints", path));
  std::ostringstream content;
  content << in.rdbuf();
  return parse(content.str(), path, port);
}

void RootHints::set_port(uint16_t port) {
  for (auto& s : servers) {
    for (auto& a : s.addresses) a.port = port;
  }
}

size_t RootHints::address_count() const noexcept {
  size_t n = 0;
  for (const auto& s : servers) n += s.addresses.size();
  return n;
}

}  // namespace sextant::resolver
