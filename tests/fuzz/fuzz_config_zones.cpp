// libFuzzer target: configuration text, aimed at the forward-zones and
// stub-zones blocks (resolver/config/config_zones.cpp: upstream maps, URLs,
// pins, trust anchors, server lists). Any input must give a Config or a
// ConfigError, never a crash, a hang or a leak. Inputs whose brackets nest
// deeply are skipped: they only exercise yaml-cpp's recursion, which the
// operator's own file is trusted not to abuse.
#include <cstddef>
#include <cstdint>
#include <string>

#include "resolver/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  int depth = 0, deepest = 0;
  for (char ch : text) {
    if (ch == '[' || ch == '{') deepest = std::max(deepest, ++depth);
    if (ch == ']' || ch == '}') --depth;
  }
  if (deepest > 16) return 0;
  try {
    sextant::resolver::load_config_text(text, "fuzz.yaml");
  } catch (const std::exception&) {
    // ConfigError (and yaml-cpp's own, wrapped) are the expected outcome.
  }
  return 0;
}
