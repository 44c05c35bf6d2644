// libFuzzer target for the HTTP/1.x request-head parser behind /metrics.
//
// Properties checked on every input (any violation aborts):
// - feeding never crashes or reads out of bounds (ASan/UBSan watch that);
// - the result does not depend on how the bytes are split: all at once,
//   in two pieces at an input-chosen point, and one byte at a time give the
//   same state, the same error status and the same head;
// - an error always carries a status among 400, 414, 431, 505 and a reason;
// - a complete head respects the limits (field count) and its target starts
//   with '/' or is "*".
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "transports/http_request_head.h"

using sextant::transports::HttpRequestHeadParser;
using State = HttpRequestHeadParser::State;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool same(const HttpRequestHeadParser& a, const HttpRequestHeadParser& b) {
  if (a.state() != b.state() || a.error_status() != b.error_status()) return false;
  if (a.state() != State::complete) return true;
  return a.head().method == b.head().method && a.head().target == b.head().target &&
         a.head().minor_version == b.head().minor_version && a.head().fields == b.head().fields;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMaxHead = 1024;
  constexpr size_t kMaxFields = 8;

  HttpRequestHeadParser whole(kMaxHead, kMaxFields);
  whole.feed(input);

  HttpRequestHeadParser halves(kMaxHead, kMaxFields);
  size_t split = size ? data[0] % (size + 1) : 0;
  halves.feed(input.substr(0, split));
  halves.feed(input.substr(split));

  HttpRequestHeadParser bytes(kMaxHead, kMaxFields);
  for (size_t i = 0; i < size; ++i) bytes.feed(input.substr(i, 1));

  require(same(whole, halves));
  require(same(whole, bytes));
  if (whole.state() == State::error) {
    int s = whole.error_status();
    require(s == 400 || s == 414 || s == 431 || s == 505);
    require(!whole.error_reason().empty());
  }
  if (whole.state() == State::complete) {
    require(whole.head().fields.size() <= kMaxFields);
    require(!whole.head().target.empty());
    require(whole.head().target[0] == '/' || whole.head().target == "*");
  }
  return 0;
}
