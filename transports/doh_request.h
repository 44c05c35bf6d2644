// The HTTP-level rules of DNS over HTTPS (RFC 8484), free of sockets and
// of HTTP framing so that HTTP/1.1, HTTP/2 and HTTP/3 share them and they
// can be tested on their own: which request is valid, which status an
// invalid one gets, and the cache lifetime of an answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sextant::transports {

inline constexpr size_t kMaxDnsMessageSize = 65535;
inline constexpr std::string_view kDnsMessageType = "application/dns-message";
inline constexpr std::string_view kDefaultDohPath = "/dns-query";

// The answer's form: RFC 8484 wire format, or the JSON API (doh_json.h).
enum class DohFormat : uint8_t { dns_message, json };

// Where the DoH service answers.
struct DohEndpoint {
  std::string path = std::string(kDefaultDohPath);
  // The JSON API: GET `path`?name=... (Cloudflare's form) and
  // GET `json_path`?name=... (Google's /resolve). Off by default.
  bool json = false;
  std::string json_path = "/resolve";
};

// What the HTTP layer collected for one request (stream).
struct DohHttpRequest {
  std::string method;             // :method
  std::string path;               // :path (request target), with its query string
  std::string content_type;       // content-type header, may be empty
  std::vector<uint8_t> body;      // at most kMaxDnsMessageSize octets kept
  bool body_too_large = false;    // more arrived than kMaxDnsMessageSize
  bool path_too_long = false;     // :path beyond what the server keeps

  static constexpr size_t kMaxPathLength = 96 * 1024;  // a 65535-octet GET query is 87380 characters
  static constexpr size_t kMaxHeaderValue = 4096;      // content-type, x-forwarded-for
  // Keeps the header fields DoH reads (:method, :path, content-type) within
  // the bounds above, for HTTP/2 and HTTP/3 alike; false for any other name.
  bool take_header(std::string_view name, std::string_view value);
};

struct DohValidation {
  unsigned status = 200;        // 200: `query` holds the DNS message
  std::vector<uint8_t> query;
  std::string_view reason;      // for logs and the error body
  DohFormat format = DohFormat::dns_message;  // of the answer, and of an error body
};

// Status codes: 404 other path, 405 other method (with "allow: GET, POST"),
// 415 POST without application/dns-message, 413 message over 65535 octets,
// 400 missing or malformed dns= parameter, bad base64url, or octets that are
// not a DNS query (shorter than a header, or QR set). With the JSON API on,
// a GET with name= and no dns= (or any GET on json_path) is a JSON query:
// 400 for a bad name, type or flag (format json).
DohValidation validate_doh_request(const DohHttpRequest& request, const DohEndpoint& endpoint);
DohValidation validate_doh_request(const DohHttpRequest& request, std::string_view endpoint_path);

// The path without "?query" (and without "#fragment").
std::string_view path_without_query(std::string_view path) noexcept;
// The raw value of `name` in the query string, if present exactly once or
// more (the first one wins; RFC 8484 defines the parameter only once).
std::optional<std::string_view> query_parameter(std::string_view path, std::string_view name) noexcept;
// "application/dns-message", case-insensitive, parameters after ';' ignored.
bool is_dns_message_content_type(std::string_view value) noexcept;
// At least a DNS header and QR clear.
bool looks_like_dns_query(std::span<const uint8_t> message) noexcept;

// The freshness lifetime for an answer (RFC 8484 §5.1): the smallest TTL of
// the answer section's records; for an answer without any, the negative
// caching time (min of the SOA's TTL and MINIMUM) from the authority section.
// nullopt for a malformed message or one with neither (then no max-age is
// sent). TTLs with the top bit set count as 0 (RFC 2181 §8).
std::optional<uint32_t> answer_cache_ttl(std::span<const uint8_t> message) noexcept;

}  // namespace sextant::transports
