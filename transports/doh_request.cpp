#include "transports/doh_request.h"

#include <algorithm>
#include <cctype>

#include "transports/doh_json.h"
#include "wire/base_encoding.h"

namespace sextant::transports {

namespace {

uint16_t read16(std::span<const uint8_t> m, size_t at) { return static_cast<uint16_t>(m[at] << 8 | m[at + 1]); }

uint32_t read32(std::span<const uint8_t> m, size_t at) {
  return static_cast<uint32_t>(m[at]) << 24 | static_cast<uint32_t>(m[at + 1]) << 16 |
         static_cast<uint32_t>(m[at + 2]) << 8 | m[at + 3];
}

// Moves `at` past a (possibly compressed) name; false if it runs off the end
// or uses a reserved label type. Each step advances, so the loop is bounded
// by the message size; pointers are not followed (we only skip).
bool skip_name(std::span<const uint8_t> m, size_t& at) noexcept {
  while (at < m.size()) {
    uint8_t length = m[at];
    if ((length & 0xC0) == 0xC0) {
      if (at + 2 > m.size()) return false;
      at += 2;
      return true;
    }
    if ((length & 0xC0) != 0) return false;
    at += 1;
    if (length == 0) return true;
    at += length;
  }
  return false;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

DohValidation reject(unsigned status, std::string_view reason) {
  DohValidation v;
  v.status = status;
  v.reason = reason;
  return v;
}

}  // namespace

std::string_view path_without_query(std::string_view path) noexcept {
  auto end = path.find_first_of("?#");
  return end == std::string_view::npos ? path : path.substr(0, end);
}

std::optional<std::string_view> query_parameter(std::string_view path, std::string_view name) noexcept {
  auto question = path.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = path.substr(question + 1);
  if (auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key == name) return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

bool DohHttpRequest::take_header(std::string_view name, std::string_view value) {
  if (name == ":method") {
    method.assign(value.substr(0, 16));
  } else if (name == ":path") {
    if (value.size() > kMaxPathLength) {
      path_too_long = true;
    } else {
      path.assign(value);
    }
  } else if (name == "content-type") {
    content_type.assign(value.substr(0, kMaxHeaderValue));
  } else {
    return false;
  }
  return true;
}

bool is_dns_message_content_type(std::string_view value) noexcept {
  auto semicolon = value.find(';');
  std::string_view type = value.substr(0, semicolon);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return iequals(type, kDnsMessageType);
}

bool looks_like_dns_query(std::span<const uint8_t> message) noexcept {
  return message.size() >= 12 && (message[2] & 0x80) == 0;
}

DohValidation validate_doh_request(const DohHttpRequest& request, std::string_view endpoint_path) {
  DohEndpoint endpoint;
  endpoint.path = std::string(endpoint_path);
  return validate_doh_request(request, endpoint);
}

namespace {

DohValidation validate_json_request(const DohHttpRequest& request) {
  if (request.method != "GET") {
    auto v = reject(405, "method not allowed");
    v.format = DohFormat::json;
    return v;
  }
  auto parsed = parse_json_query(request.path);
  DohValidation v;
  v.format = parsed.wire_answer ? DohFormat::dns_message : DohFormat::json;
  v.status = parsed.status;
  v.reason = parsed.reason;
  v.query = std::move(parsed.query);
  return v;
}

}  // namespace

DohValidation validate_doh_request(const DohHttpRequest& request, const DohEndpoint& endpoint) {
  if (request.path_too_long) return reject(400, "request URI too long");
  std::string_view path = path_without_query(request.path);
  if (endpoint.json && path == endpoint.json_path && path != endpoint.path) return validate_json_request(request);
  if (path != endpoint.path) return reject(404, "no such path");
  if (request.method == "POST") {
    if (!is_dns_message_content_type(request.content_type)) return reject(415, "content-type is not application/dns-message");
    if (request.body_too_large) return reject(413, "DNS message larger than 65535 octets");
    if (!looks_like_dns_query(request.body)) return reject(400, "body is not a DNS query");
    DohValidation v;
    v.query = request.body;
    return v;
  }
  if (request.method == "GET") {
    auto parameter = query_parameter(request.path, "dns");
    if (endpoint.json && !parameter && query_parameter(request.path, "name")) return validate_json_request(request);
    if (!parameter || parameter->empty()) return reject(400, "missing dns parameter");
    // base64url without padding encodes 65535 octets in 87380 characters.
    if (parameter->size() > (kMaxDnsMessageSize * 4 + 2) / 3) return reject(413, "DNS message larger than 65535 octets");
    DohValidation v;
    if (wire::base64url_decode(*parameter, v.query) != wire::DecodeError::ok) {
      return reject(400, "dns parameter is not base64url without padding");
    }
    if (v.query.size() > kMaxDnsMessageSize) return reject(413, "DNS message larger than 65535 octets");
    if (!looks_like_dns_query(v.query)) return reject(400, "dns parameter is not a DNS query");
    return v;
  }
  return reject(405, "method not allowed");
}

std::optional<uint32_t> answer_cache_ttl(std::span<const uint8_t> m) noexcept {
  if (m.size() < 12) return std::nullopt;
  uint16_t qdcount = read16(m, 4);
  uint16_t ancount = read16(m, 6);
  uint16_t nscount = read16(m, 8);
  size_t at = 12;
  for (unsigned i = 0; i < qdcount; ++i) {
    if (!skip_name(m, at) || at + 4 > m.size()) return std::nullopt;
    at += 4;
  }
  auto normalize = [](uint32_t ttl) { return (ttl & 0x80000000u) ? 0u : ttl; };
  std::optional<uint32_t> smallest;
  for (unsigned i = 0; i < ancount; ++i) {
    if (!skip_name(m, at) || at + 10 > m.size()) return std::nullopt;
    uint32_t ttl = normalize(read32(m, at + 4));
    size_t rdlength = read16(m, at + 8);
    at += 10;
    if (at + rdlength > m.size()) return std::nullopt;
    at += rdlength;
    smallest = smallest ? std::min(*smallest, ttl) : ttl;
  }
  if (ancount > 0) return smallest;
  for (unsigned i = 0; i < nscount; ++i) {
    if (!skip_name(m, at) || at + 10 > m.size()) return std::nullopt;
    uint16_t type = read16(m, at);
    uint32_t ttl = normalize(read32(m, at + 4));
    size_t rdlength = read16(m, at + 8);
    at += 10;
    if (at + rdlength > m.size()) return std::nullopt;
    if (type == 6 && rdlength >= 22) {  // SOA: MINIMUM is the last field
      uint32_t minimum = normalize(read32(m, at + rdlength - 4));
      uint32_t negative = std::min(ttl, minimum);
      smallest = smallest ? std::min(*smallest, negative) : negative;
    }
    at += rdlength;
  }
  return smallest;
}

}  // namespace sextant::transports
