// Leveled logging to stderr, safe from any thread. One line per event,
// written with a single write(2) so lines from workers never interleave.
#pragma once

#include <fmt/format.h>

#include <string_view>

#include "resolver/config/config.h"

namespace sextant::resolver::log {

void set_level(LogLevel level) noexcept;
bool enabled(LogLevel level) noexcept;
void write(LogLevel level, std::string_view message) noexcept;

template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::error)) write(LogLevel::error, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::warning)) write(LogLevel::warning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::info)) write(LogLevel::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::debug)) write(LogLevel::debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace sextant::resolver::log
