// Root hints: the root NS names and their addresses the walker starts from
// before priming (RFC 8109). Built in (a copy of IANA's root.hints), or read
// from a file in the same format when the config names one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/walk/server_address.h"
#include "wire/name.h"

namespace sextant::resolver {

struct NameServerHint {
  wire::Name name;
  std::vector<ServerAddress> addresses;
};

struct RootHints {
  std::vector<NameServerHint> servers;

  // The built-in copy of root.hints (IANA, 2024-04-18).
  static RootHints embedded();
  // Parses master-file text (wire/zone_reader.h syntax), keeping NS
  // records owned by the root and the A/AAAA records of those NS names
  // (other records are ignored). Throws wire::TextError naming `source`
  // and the line if the text is malformed, an NS is not owned by the root,
  // or no NS with an address remains. `port` is given to every address.
  static RootHints parse(std::string_view text, std::string_view source = "root hints",
                         uint16_t port = 53);
  // Reads and parses a file; throws wire::TextError if it cannot be read.
  static RootHints load_file(const std::string& path, uint16_t port = 53);

  // Gives every address `port` (the lab's authorities may not listen on 53).
  void set_port(uint16_t port);
  size_t address_count() const noexcept;
};

}  // namespace sextant::resolver
