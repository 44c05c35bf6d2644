#include "transports/http_request_head.h"

#include <algorithm>

namespace sextant::transports {

namespace {

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

// Visible ASCII in a request target; no spaces, no controls.
bool is_target_char(char c) { return c > 0x20 && c < 0x7f; }

// RFC 9112 §3.2.2: "http://host:port/path?q" -> "/path?q" ("/" without a
// path or query); anything else is returned as it is, for the checks below.
std::string_view origin_form(std::string_view target) {
  auto starts_with_nocase = [&](std::string_view prefix) {
    return target.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), target.begin(), [](char p, char t) {
             return p == (t >= 'A' && t <= 'Z' ? static_cast<char>(t - 'A' + 'a') : t);
           });
  };
  size_t scheme = starts_with_nocase("http://") ? 7 : starts_with_nocase("https://") ? 8 : 0;
  if (scheme == 0) return target;
  size_t path = target.find_first_of("/?", scheme);
  if (path == std::string_view::npos) return "/";
  return target.substr(path);  // "?q" without a path fails the origin-form check
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view HttpRequestHead::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

const std::string* HttpRequestHead::field(std::string_view lower_name) const {
  for (const auto& [name, value] : fields)
    if (name == lower_name) return &value;
  return nullptr;
}

HttpRequestHeadParser::State HttpRequestHeadParser::fail(int status, std::string reason) {
  state_ = State::error;
  error_status_ = status;
  error_reason_ = std::move(reason);
  pending_.clear();
  return state_;
}

void HttpRequestHeadParser::reset() {
  head_bytes_ = 0;
  consumed_ = 0;
  seen_request_line_ = false;
  pending_.clear();
  head_ = HttpRequestHead{};
  state_ = State::incomplete;
  error_status_ = 0;
  error_reason_.clear();
}

HttpRequestHeadParser::State HttpRequestHeadParser::feed(std::string_view bytes) {
  const size_t offered = bytes.size();
  consumed_ = 0;
  while (state_ == State::incomplete && !bytes.empty()) {
    size_t newline = bytes.find('\n');
    std::string_view piece = bytes.substr(0, newline == std::string_view::npos ? bytes.size() : newline + 1);
    bytes.remove_prefix(piece.size());
    head_bytes_ += piece.size();
    if (head_bytes_ > max_head_bytes_) {
      return seen_request_line_ ? fail(431, "request header fields too large")
                                : fail(414, "request line too long");
    }
    pending_.append(piece);
    if (newline == std::string_view::npos) break;
    std::string_view line = pending_;
    line.remove_suffix(1);  // '\n'
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    State s = parse_line(line);
    if (s == State::incomplete) pending_.clear();
  }
  consumed_ = offered - bytes.size();
  return state_;
}

HttpRequestHeadParser::State HttpRequestHeadParser::parse_line(std::string_view line) {
  if (line.find('\0') != std::string_view::npos || line.find('\r') != std::string_view::npos)
    return fail(400, "control character in the request head");
  if (!seen_request_line_) {
    // RFC 9112 §2.2: a server SHOULD ignore empty lines before the request line.
    if (line.empty()) return state_;
    return parse_request_line(line);
  }
  if (line.empty()) {
    state_ = State::complete;
    pending_.clear();
    return state_;
  }
  return parse_field(line);
}

HttpRequestHeadParser::State HttpRequestHeadParser::parse_request_line(std::string_view line) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "malformed method");
  if (target.size() > max_target_) return fail(414, "request target too long");
  if (absolute_form_) target = origin_form(target);
  if (target.empty() || !std::all_of(target.begin(), target.end(), is_target_char) ||
      (target.front() != '/' && target != "*"))
    return fail(400, "request target must be a path");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return fail(400, "malformed HTTP version");
  if (version[5] != '1') return fail(505, "only HTTP/1.x is served here");
  head_.method = std::string(method);
  head_.target = std::string(target);
  head_.minor_version = version[7] - '0';
  seen_request_line_ = true;
  return state_;
}

HttpRequestHeadParser::State HttpRequestHeadParser::parse_field(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete line folding");
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return fail(400, "header field without a colon");
  std::string_view name = line.substr(0, colon);
  if (!is_token(name)) return fail(400, "malformed header field name");
  if (head_.fields.size() >= max_fields_) return fail(431, "too many header fields");
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  head_.fields.emplace_back(std::move(lower), std::string(trim_ows(line.substr(colon + 1))));
  return state_;
}

}  // namespace sextant::transports
