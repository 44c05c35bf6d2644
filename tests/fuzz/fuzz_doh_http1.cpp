// libFuzzer target for DoH over HTTP/1.1 request handling: the request
// reader (head, body framing, chunked coding, discard), then the DoH rules
// (validate_doh_request, the JSON API included) on every request it yields.
//
// Properties checked on every input (any violation aborts):
// - nothing crashes, reads out of bounds or loops (ASan/UBSan, the time limit);
// - the events do not depend on how the bytes are split: all at once, in
//   input-chosen pieces, and one byte at a time give the same requests and
//   the same fatal status;
// - consumed() never exceeds what was offered, and a call that uses nothing
//   reports need_more or fatal (so a session cannot spin);
// - a fatal status is one of 400, 413, 414, 417, 431, 501, 505;
// - bodies never exceed the limit; validation gives 200 with a query of at
//   least a DNS header, or a 4xx status with a reason.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "transports/doh_request.h"
#include "transports/http1_request_reader.h"

using namespace sextant::transports;
using Event = Http1RequestReader::Event;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string> events_of(std::span<const uint8_t> input, size_t step_seed) {
  Http1ReaderLimits limits;
  limits.max_head = 2048;
  limits.max_target = 1024;
  limits.max_fields = 8;
  limits.max_body = 512;
  limits.max_discarded_body = 1024;
  Http1RequestReader reader(limits);
  std::vector<std::string> events;
  std::vector<uint8_t> pending;
  size_t given = 0;
  size_t step = step_seed == 0 ? input.size() : step_seed;
  for (size_t guard = 0; guard < 4 * input.size() + 16; ++guard) {
    if (pending.empty() && given < input.size()) {
      size_t n = std::min(step, input.size() - given);
      pending.assign(input.begin() + static_cast<ptrdiff_t>(given), input.begin() + static_cast<ptrdiff_t>(given + n));
      given += n;
    }
    auto event = reader.feed(pending);
    require(reader.consumed() <= pending.size());
    pending.erase(pending.begin(), pending.begin() + static_cast<ptrdiff_t>(reader.consumed()));
    if (event == Event::fatal) {
      int s = reader.fatal_status();
      require(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505);
      events.push_back("fatal " + std::to_string(s));
      return events;
    }
    if (event == Event::request) {
      auto& r = reader.request();
      require(r.body.size() <= limits.max_body);
      std::string e = r.head.method + " " + r.head.target + " " + std::string(r.body.begin(), r.body.end()) +
                      (r.body_too_large ? " big" : "") + (r.keep_alive ? " ka" : "");
      events.push_back(e);
      DohHttpRequest http;
      http.method = r.head.method;
      http.path = r.head.target;
      if (const std::string* type = r.head.field("content-type")) http.content_type = *type;
      http.body = r.body;
      http.body_too_large = r.body_too_large;
      DohEndpoint endpoint;
      endpoint.json = true;
      auto v = validate_doh_request(http, endpoint);
      require(v.status == 200 ? v.query.size() >= 12 : (v.status >= 400 && v.status < 500 && !v.reason.empty()));
    } else if (event == Event::continue_expected) {
      events.push_back("100");
    } else if (pending.empty() && given == input.size()) {
      return events;
    }
  }
  std::abort();  // the reader stopped making progress
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  auto whole = events_of(input, 0);
  require(events_of(input, size ? data[0] % 17 + 1 : 1) == whole);
  require(events_of(input, 1) == whole);
  return 0;
}
