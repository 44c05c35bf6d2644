// Reads HTTP/1.1 requests one after another from a connection's byte
// stream (keep-alive, pipelining): the head (http_request_head.h), then the
// body by its framing (http1_body.h), with the checks RFC 9112 asks of a
// server. Pure: no sockets, so the DoH session and the fuzzer run the same
// code.
//
//   Http1RequestReader reader;
//   switch (reader.feed(bytes)) {           // reader.consumed() octets used
//     case need_more:  read more;
//     case continue_expected: may send "100 Continue", then feed the rest;
//     case request:    use reader.request(), then feed the rest;
//     case fatal:      answer reader.fatal_status() with Connection: close;
//   }
//
// A body announced by Content-Length beyond the limit (and at most
// kMaxDiscardedBody) is read and thrown away: the request comes out with
// body_too_large, for a 413 that keeps the connection. A larger one, or one
// after "Expect: 100-continue" (the client waits for our word), is fatal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "transports/http1_body.h"
#include "transports/http_request_head.h"

namespace sextant::transports {

struct Http1Request {
  HttpRequestHead head;
  std::vector<uint8_t> body;
  bool body_too_large = false;  // over max_body; the body was discarded
  // Keep-alive: HTTP/1.1's default, unless "Connection: close"; HTTP/1.0
  // only with "Connection: keep-alive" (then keep_alive_explicit, to echo).
  bool keep_alive = true;
  bool keep_alive_explicit = false;
  std::string forwarded_for;    // every X-Forwarded-For field, comma-joined, bounded
};

struct Http1ReaderLimits {
  size_t max_head = 104 * 1024;   // request line and fields together
  size_t max_target = 96 * 1024;  // a GET carrying a 65535-octet query is 87380 characters
  size_t max_fields = 64;
  size_t max_body = 65535;
  uint64_t max_discarded_body = 1 << 20;
  size_t max_forwarded_for = 4096;
};

class Http1RequestReader {
 public:
  enum class Event : uint8_t { need_more, continue_expected, request, fatal };

  explicit Http1RequestReader(Http1ReaderLimits limits = {});

  // Reads from `data` up to the end of one request (or a fatal error, or
  // the end of `data`); consumed() tells how many octets were used. After
  // `fatal` every call returns fatal again.
  Event feed(std::span<const uint8_t> data);
  size_t consumed() const noexcept { return consumed_; }

  // The request after Event::request (valid until the next feed).
  Http1Request& request() noexcept { return request_; }
  int fatal_status() const noexcept { return fatal_status_; }
  const std::string& fatal_reason() const noexcept { return fatal_reason_; }

 private:
  enum class Phase : uint8_t { head, body, discard, failed };
  Event fail(int status, std::string reason);
  // After a complete head: the checks, then the body's framing.
  std::optional<Event> begin_body();
  Event complete();

  Http1ReaderLimits limits_;
  HttpRequestHeadParser head_;
  std::optional<Http1BodyReader> body_;
  Phase phase_ = Phase::head;
  uint64_t discard_left_ = 0;
  bool continue_pending_ = false;
  Http1Request request_;
  size_t consumed_ = 0;
  int fatal_status_ = 0;
  std::string fatal_reason_;
};

}  // namespace sextant::transports
