// The one place the version is written (--version, status, /metrics).
#pragma once

namespace sextant::resolver {

inline constexpr const char* kSextantVersion = "0.1.0";

}  // namespace sextant::resolver
