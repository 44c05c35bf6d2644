#include "wire/errors.h"

namespace sextant::wire {

const char* to_string(WireError e) noexcept {
  switch (e) {
    case WireError::ok: return "ok";
    case WireError::truncated_header: return "truncated header";
    case WireError::truncated_name: return "truncated name";
    case WireError::truncated_record: return "truncated record";
    case WireError::truncated_rdata: return "truncated rdata";
    case WireError::pointer_loop: return "compression pointer loop";
    case WireError::forward_pointer: return "compression pointer does not point backwards";
    case WireError::pointer_into_header: return "compression pointer into the header";
    case WireError::label_too_long: return "label longer than 63 octets";
    case WireError::name_too_long: return "name longer than 255 octets";
    case WireError::bad_label_type: return "reserved label type";
    case WireError::count_exceeds_data: return "section count exceeds the data";
    case WireError::bad_rdata: return "malformed rdata";
    case WireError::bad_opt: return "malformed OPT record";
    case WireError::bad_opt_placement: return "OPT record outside the additional section";
    case WireError::multiple_opt: return "more than one OPT record";
    case WireError::trailing_data: return "trailing data";
    case WireError::too_large: return "message too large";
    case WireError::not_a_query: return "not a query";
    case WireError::bad_question: return "bad question section";
  }
  return "unknown error";
}

}  // namespace sextant::wire
