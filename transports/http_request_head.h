// The head of an HTTP/1.x request (request line and header fields), read
// incrementally from a byte stream: used by the metrics endpoint (Prometheus
// scrapes over HTTP/1.1) and by DoH over HTTP/1.1 (transports/doh_http1.*),
// which reads several requests from one connection (keep-alive, pipelining).
//
//   HttpRequestHeadParser parser;
//   switch (parser.feed(bytes)) { case incomplete: read more; case complete:
//   use parser.head(), then parser.consumed() of `bytes` were the head;
//   case error: reply parser.error_status() and close }
//   parser.reset() before the next request on the same connection.
//
// Strict on purpose (RFC 9112): CRLF or bare LF line ends, no obsolete
// line folding, token methods, origin-form or asterisk-form targets (and,
// when asked, absolute-form ones), a bounded head. A request body is not read here (see http1_body.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sextant::transports {

struct HttpRequestHead {
  std::string method;  // as sent (methods are case-sensitive)
  std::string target;  // "/metrics?x=1"
  int minor_version = 1;
  std::vector<std::pair<std::string, std::string>> fields;  // names lower-cased, values trimmed

  // The path part of the target (before '?').
  std::string_view path() const;
  // The first field with this (lower-case) name, or null.
  const std::string* field(std::string_view lower_name) const;
};

class HttpRequestHeadParser {
 public:
  enum class State { incomplete, complete, error };

  // `max_target`: longest request target (longer: 414); the head as a whole
  // (request line included) is bounded by max_head_bytes. With
  // `absolute_form`, "http://host/path" targets are accepted and kept as
  // "/path" (RFC 9112 §3.2.2: a server must accept them).
  explicit HttpRequestHeadParser(size_t max_head_bytes = 8192, size_t max_fields = 64, size_t max_target = 2048,
                                 bool absolute_form = false)
      : max_head_bytes_(max_head_bytes), max_fields_(max_fields), max_target_(max_target),
        absolute_form_(absolute_form) {}

  // Appends bytes; returns the state after them. Bytes after a complete
  // head are not read: consumed() tells how many of this call's bytes
  // belonged to the head.
  State feed(std::string_view bytes);
  size_t consumed() const noexcept { return consumed_; }
  // Forgets the request, ready for the next one on the same connection.
  void reset();

  State state() const noexcept { return state_; }
  const HttpRequestHead& head() const noexcept { return head_; }
  // Moves the complete head out (the parser needs reset() afterwards).
  HttpRequestHead take_head() noexcept { return std::move(head_); }
  // For State::error: the status to answer with (400, 414, 431, 501 or 505)
  // and a short reason for the log and the reply body.
  int error_status() const noexcept { return error_status_; }
  const std::string& error_reason() const noexcept { return error_reason_; }

 private:
  State fail(int status, std::string reason);
  State parse_line(std::string_view line);
  State parse_request_line(std::string_view line);
  State parse_field(std::string_view line);

  size_t max_head_bytes_;
  size_t max_fields_;
  size_t max_target_;
  bool absolute_form_;
  size_t head_bytes_ = 0;
  size_t consumed_ = 0;
  bool seen_request_line_ = false;
  std::string pending_;  // the unfinished line
  HttpRequestHead head_;
  State state_ = State::incomplete;
  int error_status_ = 0;
  std::string error_reason_;
};

}  // namespace sextant::transports
