// A budget of HTTP/2 frames that make the server work without giving the
// client an answer: PING, SETTINGS and PRIORITY frames, and streams the
// client resets before their answer went out (the rapid reset of
// CVE-2023-44487). Each one spends a token; each stream that ends normally
// (its answer sent) earns one back, up to the initial budget. An empty
// budget ends the connection with GOAWAY ENHANCE_YOUR_CALM.
//
// nghttp2 1.52 as Debian ships it already bounds two of these on its own
// (stream resets per second, nghttp2_option_set_stream_reset_rate_limit, and
// unacknowledged PING/SETTINGS answers, max_outbound_ack); this budget does
// not depend on the rate at which the client reads, nor on a library
// version, and it counts what it closes.
#pragma once

#include <cstdint>

namespace sextant::transports {

class Http2FloodGuard {
 public:
  explicit Http2FloodGuard(uint32_t budget = 100) : budget_(budget), tokens_(budget) {}

  // A frame that costs work without a request: false once the budget is
  // spent (the connection must end).
  bool spend() noexcept {
    if (tokens_ == 0) return false;
    --tokens_;
    return tokens_ > 0;
  }
  // A stream answered and closed normally.
  void earn() noexcept {
    if (tokens_ < budget_) ++tokens_;
  }
  uint32_t tokens() const noexcept { return tokens_; }

 private:
  uint32_t budget_;
  uint32_t tokens_;
};

}  // namespace sextant::transports
