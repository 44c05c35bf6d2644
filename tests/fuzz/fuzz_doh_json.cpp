// libFuzzer target for the DoH JSON API: the query parameters
// (parse_json_query: percent-decoding, names, types, flags) and the JSON
// rendering of an answer (dns_json_from_answer over any octets).
//
// The input is split at its first NUL: before it, a request target; after
// it, a DNS message. Properties (any violation aborts):
// - nothing crashes or reads out of bounds (ASan/UBSan);
// - a parsed query is 200 with a DNS query that reads back with exactly one
//   question, or 400 with a reason and no query;
// - rendered JSON is printable ASCII, starts with {"Status": and ends with },
//   and its quotes balance (every string literal is closed).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "transports/doh_json.h"
#include "wire/message.h"

using namespace sextant;
using namespace sextant::transports;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void check_json(const std::string& json) {
  require(json.rfind("{\"Status\":", 0) == 0);
  require(json.back() == '}');
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    require(c >= 0x20 && c < 0x7f);
    if (in_string && c == '\\') {
      ++i;  // the escaped character
      continue;
    }
    if (c == '"') in_string = !in_string;
  }
  require(!in_string);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string_view target = input.substr(0, nul);
  auto query = parse_json_query(target);
  if (query.status == 200) {
    wire::Message m;
    require(wire::Message::parse(query.query, m) == wire::WireError::ok);
    require(m.questions.size() == 1);
  } else {
    require(query.status == 400 && !query.reason.empty() && query.query.empty());
  }
  if (nul != std::string_view::npos) {
    std::span<const uint8_t> answer(data + nul + 1, size - nul - 1);
    if (auto json = dns_json_from_answer(answer)) check_json(*json);
  }
  return 0;
}
