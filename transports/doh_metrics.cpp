#include "transports/doh_metrics.h"

namespace sextant::transports {

namespace {

struct DohHttpCounters {
  std::array<std::atomic<uint64_t>, 3> requests{};
  std::atomic<uint64_t> json_requests{0};
  std::array<std::atomic<uint64_t>, kDohStatuses.size()> statuses{};
};

DohHttpCounters& counters() noexcept {
  static DohHttpCounters c;
  return c;
}

}  // namespace

void count_doh_request(HttpVersion version, DohFormat format) noexcept {
  auto& c = counters();
  c.requests[static_cast<size_t>(version)].fetch_add(1, std::memory_order_relaxed);
  if (format == DohFormat::json) c.json_requests.fetch_add(1, std::memory_order_relaxed);
}

void count_doh_status(unsigned status) noexcept {
  size_t index = kDohStatuses.size() - 1;  // other
  for (size_t i = 0; i + 1 < kDohStatuses.size(); ++i) {
    if (kDohStatuses[i] == status) {
      index = i;
      break;
    }
  }
  counters().statuses[index].fetch_add(1, std::memory_order_relaxed);
}

DohHttpSnapshot doh_http_snapshot() noexcept {
  auto& c = counters();
  DohHttpSnapshot s;
  for (size_t i = 0; i < s.requests.size(); ++i) s.requests[i] = c.requests[i].load(std::memory_order_relaxed);
  s.json_requests = c.json_requests.load(std::memory_order_relaxed);
  for (size_t i = 0; i < s.statuses.size(); ++i) s.statuses[i] = c.statuses[i].load(std::memory_order_relaxed);
  return s;
}

}  // namespace sextant::transports
