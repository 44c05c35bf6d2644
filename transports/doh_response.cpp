#include "transports/doh_response.h"

#include <string>

#include "transports/doh_json.h"

namespace sextant::transports {

DohResponse doh_answer_response(std::span<const uint8_t> answer, DohFormat format) {
  DohResponse r;
  r.max_age = answer_cache_ttl(answer);
  if (format == DohFormat::dns_message) {
    r.content_type = kDnsMessageType;
    r.body.assign(answer.begin(), answer.end());
    return r;
  }
  auto json = dns_json_from_answer(answer);
  if (!json) return doh_error_response(500, "the resolver's answer could not be rendered", format);
  r.content_type = kDnsJsonType;
  r.cors = true;
  r.body.assign(json->begin(), json->end());
  return r;
}

DohResponse doh_error_response(unsigned status, std::string_view reason, DohFormat format) {
  DohResponse r;
  r.status = status;
  r.allow = status == 405;
  std::string text;
  if (format == DohFormat::json) {
    r.content_type = kDnsJsonType;
    r.cors = true;
    text = "{\"error\":";
    append_json_string(text, reason);
    text += "}";
  } else {
    r.content_type = "text/plain";
    text = std::string(reason) + "\n";
  }
  r.body.assign(text.begin(), text.end());
  return r;
}

std::string_view http_reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

DohHeaderFields::DohHeaderFields(const DohResponse& response, std::string_view alt_svc)
    : status_(std::to_string(response.status)), content_length_(std::to_string(response.body.size())) {
  fields_.emplace_back(":status", status_);
  if (!response.content_type.empty()) fields_.emplace_back("content-type", response.content_type);
  if (response.max_age) {
    cache_control_ = "max-age=" + std::to_string(*response.max_age);
    fields_.emplace_back("cache-control", cache_control_);
  }
  if (response.allow) fields_.emplace_back("allow", "GET, POST");
  if (response.cors) fields_.emplace_back("access-control-allow-origin", "*");
  if (!alt_svc.empty()) fields_.emplace_back("alt-svc", alt_svc);
  fields_.emplace_back("content-length", content_length_);
}

}  // namespace sextant::transports
