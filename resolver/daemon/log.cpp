#include "resolver/daemon/log.h"

#include <unistd.h>

#include <atomic>
#include <ctime>
#include <string>

namespace sextant::resolver::log {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};

const char* level_name(LogLevel l) noexcept {
  switch (l) {
    case LogLevel::error: return "error";
    case LogLevel::warning: return "warning";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
  }
  return "?";
}
}  // namespace

void set_level(LogLevel level) noexcept { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool enabled(LogLevel level) noexcept {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void write(LogLevel level, std::string_view message) noexcept {
  try {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    gmtime_r(&ts.tv_sec, &utc);
    std::string line = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z sextant[{}] {}: {}\n",
                                   utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                                   utc.tm_sec, ts.tv_nsec / 1000000, getpid(), level_name(level), message);
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
  } catch (...) {
    // Logging must never take the resolver down (e.g. on allocation failure).
  }
}

}  // namespace sextant::resolver::log
