// The `forward-zones` and `stub-zones` settings: lists of blocks, each
// checked item by item so that an error names the line of the item (and
// the key) that is wrong. Internal to resolver/config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "resolver/config/config.h"

namespace sextant::resolver::config_zones {

void apply_forward_zones(Config& c, const YAML::Node& n);
void apply_stub_zones(Config& c, const YAML::Node& n);
// Checks across both lists (a zone configured twice); throws ConfigError
// naming `source` and the line.
void check_zones(const Config& c, const std::string& source);
// Markdown describing the keys of one block, for the configuration reference.
std::string blocks_reference();

}  // namespace sextant::resolver::config_zones
