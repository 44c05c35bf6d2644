// What the DoH listeners count at the HTTP level, across HTTP/1.1, HTTP/2
// and HTTP/3: requests by HTTP version, JSON API requests, and responses by
// status. Process-wide relaxed atomics (like transport_metrics.h), read by
// the metrics exporter; the connection and query counts stay in the `doh`
// TransportCounters.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "transports/doh_request.h"

namespace sextant::transports {

enum class HttpVersion : uint8_t { http1, http2, http3 };
inline constexpr std::array<const char*, 3> kHttpVersionNames = {"1.1", "2", "3"};

// The statuses DoH answers with; anything else counts as "other".
inline constexpr std::array<unsigned, 13> kDohStatuses = {200, 400, 404, 405, 413, 414, 415,
                                                          417, 431, 500, 501, 505, 0};

struct DohHttpSnapshot {
  std::array<uint64_t, 3> requests{};             // by HttpVersion
  uint64_t json_requests = 0;
  std::array<uint64_t, kDohStatuses.size()> statuses{};  // by kDohStatuses index (last: other)
};

// A request was read completely (valid or not).
void count_doh_request(HttpVersion version, DohFormat format) noexcept;
// A response with `status` was submitted.
void count_doh_status(unsigned status) noexcept;
DohHttpSnapshot doh_http_snapshot() noexcept;

}  // namespace sextant::transports
