#include "transports/http1_body.h"

#include <algorithm>
#include <string_view>

namespace sextant::transports {

namespace {

constexpr size_t kMaxSizeLine = 1024;     // chunk size plus extensions
constexpr size_t kMaxTrailerBytes = 8192;  // all trailer lines together

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// 1*DIGIT without sign or spaces; false on overflow past 2^53 (far beyond
// any body we accept, and no wrap-around).
bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 15) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Http1BodyFraming reject(int status, const char* reason) {
  Http1BodyFraming f;
  f.status = status;
  f.reason = reason;
  return f;
}

}  // namespace

Http1BodyFraming http1_body_framing(const HttpRequestHead& head) {
  std::string codings;  // every Transfer-Encoding field, comma-joined
  bool has_te = false;
  bool has_length = false;
  uint64_t length = 0;
  for (const auto& [name, value] : head.fields) {
    if (name == "transfer-encoding") {
      if (has_te) codings += ',';
      codings += value;
      has_te = true;
    } else if (name == "content-length") {
      // A list of identical values ("5, 5") is one length (RFC 9110 §8.6).
      std::string_view rest = value;
      while (true) {
        size_t comma = rest.find(',');
        uint64_t v = 0;
        if (!parse_decimal(trim(rest.substr(0, comma)), v)) return reject(400, "malformed Content-Length");
        if (has_length && v != length) return reject(400, "conflicting Content-Length values");
        has_length = true;
        length = v;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
  }
  if (has_te) {
    // Both framings at once is how requests are smuggled past proxies.
    if (has_length) return reject(400, "both Transfer-Encoding and Content-Length");
    if (head.minor_version == 0) return reject(400, "Transfer-Encoding in an HTTP/1.0 request");
    std::string_view list = codings;
    std::string_view last;
    size_t count = 0;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view item = trim(list.substr(0, comma));
      if (!item.empty()) {
        last = item;
        ++count;
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    if (count != 1 || !iequals(last, "chunked")) return reject(501, "transfer coding other than chunked");
    Http1BodyFraming f;
    f.kind = Http1BodyFraming::Kind::chunked;
    return f;
  }
  Http1BodyFraming f;
  if (has_length && length > 0) {
    f.kind = Http1BodyFraming::Kind::length;
    f.length = length;
  }
  return f;
}

Http1BodyReader::Http1BodyReader(const Http1BodyFraming& framing, size_t max_body)
    : kind_(framing.kind), max_body_(max_body) {
  switch (kind_) {
    case Http1BodyFraming::Kind::none:
      state_ = State::complete;
      break;
    case Http1BodyFraming::Kind::length:
      remaining_ = framing.length;
      if (framing.length > max_body_) {
        state_ = State::too_large;  // known before a single octet is read
      } else {
        body_.reserve(static_cast<size_t>(framing.length));
      }
      break;
    case Http1BodyFraming::Kind::chunked:
      break;
  }
}

Http1BodyReader::State Http1BodyReader::fail(const char* reason) {
  state_ = State::error;
  reason_ = reason;
  return state_;
}

Http1BodyReader::State Http1BodyReader::feed(std::span<const uint8_t> data) {
  consumed_ = 0;
  if (state_ != State::incomplete) return state_;
  const size_t offered = data.size();
  if (kind_ == Http1BodyFraming::Kind::length) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
    body_.insert(body_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(take));
    remaining_ -= take;
    consumed_ = take;
    if (remaining_ == 0) state_ = State::complete;
    return state_;
  }
  feed_chunked(data);
  consumed_ = offered - data.size();
  return state_;
}

// chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 §7.1);
// lines end in CRLF or a bare LF, like the request head.
Http1BodyReader::State Http1BodyReader::feed_chunked(std::span<const uint8_t>& data) {
  while (!data.empty() && state_ == State::incomplete) {
    switch (phase_) {
      case Phase::size_line:
      case Phase::data_end:
      case Phase::trailer: {
        uint8_t c = data.front();
        data = data.subspan(1);
        if (c != '\n') {
          if (phase_ == Phase::trailer && ++trailer_bytes_ > kMaxTrailerBytes) return fail("trailer section too large");
          if (line_.size() >= kMaxSizeLine) return fail("chunk size line too long");
          line_.push_back(static_cast<char>(c));
          continue;
        }
        std::string_view line = line_;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (phase_ == Phase::data_end) {
          if (!line.empty()) return fail("chunk data longer than its size");
          phase_ = Phase::size_line;
        } else if (phase_ == Phase::trailer) {
          if (line.empty()) {
            phase_ = Phase::done;
            state_ = State::complete;
          }
          // A trailer field: discarded (nothing in DoH uses one).
        } else if (!finish_size_line()) {
          return state_;
        }
        line_.clear();
        break;
      }
      case Phase::data: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
        if (body_.size() + take > max_body_) {
          state_ = State::too_large;
          return state_;
        }
        body_.insert(body_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(take));
        data = data.subspan(take);
        remaining_ -= take;
        if (remaining_ == 0) phase_ = Phase::data_end;
        break;
      }
      case Phase::done:
        return state_;
    }
  }
  return state_;
}

bool Http1BodyReader::finish_size_line() {
  std::string_view line = line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // chunk-size [ chunk-ext ]: hex digits, then optional ";name=value" parts.
  size_t end = 0;
  uint64_t size = 0;
  while (end < line.size() && hex_value(line[end]) >= 0) {
    if (end >= 8) {  // more than 4 GiB: far past any limit
      fail("chunk size too large");
      return false;
    }
    size = size * 16 + static_cast<uint64_t>(hex_value(line[end]));
    ++end;
  }
  if (end == 0) {
    fail("malformed chunk size");
    return false;
  }
  std::string_view rest = trim(line.substr(end));
  if (!rest.empty() && rest.front() != ';') {
    fail("malformed chunk size");
    return false;
  }
  if (size == 0) {
    phase_ = Phase::trailer;
    return true;
  }
  if (body_.size() + size > max_body_) {
    state_ = State::too_large;
    return false;
  }
  remaining_ = size;
  phase_ = Phase::data;
  return true;
}

}  // namespace sextant::transports
