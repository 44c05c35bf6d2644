// What a DoH response carries, whatever the HTTP version: status, content
// type, freshness (RFC 8484 §5.1), the Allow field of a 405, and the body.
// The HTTP/1.1, HTTP/2 and HTTP/3 sessions each turn this into their own
// header encoding.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "transports/doh_request.h"

namespace sextant::transports {

struct DohResponse {
  unsigned status = 200;
  std::string_view content_type;    // a static string; empty: no body type
  std::optional<uint32_t> max_age;  // Cache-Control: max-age=N
  bool allow = false;               // Allow: GET, POST (405)
  // Access-Control-Allow-Origin: * (JSON answers, which browsers' pages
  // fetch from other origins, as Google's and Cloudflare's allow).
  bool cors = false;
  std::vector<uint8_t> body;
};

// 200 with the answer as `format` asks (wire, or its JSON rendering), with
// max-age from the smallest TTL. An answer the JSON renderer cannot read
// becomes 500.
DohResponse doh_answer_response(std::span<const uint8_t> answer, DohFormat format);

// An error status with a short body naming `reason`: text/plain for wire
// clients, {"error": "..."} for JSON ones.
DohResponse doh_error_response(unsigned status, std::string_view reason, DohFormat format);

// The header fields of `response` for HTTP/2 and HTTP/3 (lowercase names,
// :status first), as views into this object: HTTP/2 and HTTP/3 sessions
// turn them into nghttp2_nv / nghttp3_nv, which the libraries copy when the
// response is submitted. Not copyable or movable, so the views stay valid.
// `alt_svc` is empty where no Alt-Svc is sent (HTTP/3 itself).
class DohHeaderFields {
 public:
  DohHeaderFields(const DohResponse& response, std::string_view alt_svc);
  DohHeaderFields(const DohHeaderFields&) = delete;
  DohHeaderFields& operator=(const DohHeaderFields&) = delete;

  const std::vector<std::pair<std::string_view, std::string_view>>& fields() const noexcept { return fields_; }

 private:
  std::string status_;
  std::string content_length_;
  std::string cache_control_;
  std::vector<std::pair<std::string_view, std::string_view>> fields_;
};

// "OK", "Bad Request", ... for HTTP/1.1 status lines.
std::string_view http_reason_phrase(unsigned status) noexcept;

}  // namespace sextant::transports
