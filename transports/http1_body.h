// The body of an HTTP/1.1 request (RFC 9112 §6): how its length is known
// (Content-Length, chunked transfer coding, or no body) and an incremental
// reader that collects it up to a size limit.
//
//   auto framing = http1_body_framing(head);      // status != 0: reject
//   Http1BodyReader body(framing, 65535);
//   body.feed(bytes) -> incomplete | complete | too_large | error;
//   body.consumed() of the bytes were body; the rest is the next request.
//
// Strict where smuggling hides: Transfer-Encoding together with
// Content-Length, several different Content-Length values, a coding other
// than "chunked", and malformed chunk sizes are errors. Chunk extensions and
// trailer fields are read and discarded, within bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "transports/http_request_head.h"

namespace sextant::transports {

struct Http1BodyFraming {
  enum class Kind : uint8_t { none, length, chunked };
  Kind kind = Kind::none;
  uint64_t length = 0;      // for Kind::length
  int status = 0;           // non-zero: the request is rejected with it (400, 501)
  const char* reason = "";  // why, for the log and the reply body
};

// Decides from the head alone how the body is framed.
Http1BodyFraming http1_body_framing(const HttpRequestHead& head);

class Http1BodyReader {
 public:
  enum class State : uint8_t { incomplete, complete, too_large, error };

  Http1BodyReader(const Http1BodyFraming& framing, size_t max_body);

  // Reads body octets from `data`; consumed() says how many were used.
  State feed(std::span<const uint8_t> data);
  State state() const noexcept { return state_; }
  size_t consumed() const noexcept { return consumed_; }
  const std::vector<uint8_t>& body() const noexcept { return body_; }
  std::vector<uint8_t>& body() noexcept { return body_; }
  const char* error_reason() const noexcept { return reason_; }

 private:
  enum class Phase : uint8_t { size_line, data, data_end, trailer, done };
  State fail(const char* reason);
  State feed_chunked(std::span<const uint8_t>& data);
  bool finish_size_line();

  Http1BodyFraming::Kind kind_;
  size_t max_body_;
  uint64_t remaining_ = 0;  // of the declared length, or of the current chunk
  Phase phase_ = Phase::size_line;
  std::string line_;        // a chunk-size line or trailer line being read
  size_t trailer_bytes_ = 0;
  size_t consumed_ = 0;
  std::vector<uint8_t> body_;
  State state_ = State::incomplete;
  const char* reason_ = "";
};

}  // namespace sextant::transports
