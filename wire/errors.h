// Named errors for everything that reads DNS data from the wire or from text.
// Wire parsing never throws: it returns a WireError so the hot path stays
// exception-free and a malformed packet maps cleanly onto FORMERR.
// Text parsing (zone files, config, trust anchors) throws TextError, which
// carries the position so callers can report file:line.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sextant::wire {

enum class WireError : uint8_t {
  ok = 0,
  truncated_header,      // fewer than 12 octets
  truncated_name,        // a label or pointer runs past the end of the data
  truncated_record,      // type/class/ttl/rdlength run past the end
  truncated_rdata,       // rdlength runs past the end, or a field inside rdata does
  pointer_loop,          // too many compression jumps
  forward_pointer,       // a compression pointer that does not point backwards
  label_too_long,        // a label of more than 63 octets
  name_too_long,         // a name of more than 255 octets
  bad_label_type,        // the reserved 0x40/0x80 label types
  count_exceeds_data,    // a section count promises more records than the packet holds
  bad_rdata,             // rdata that does not match its type's layout
  bad_opt,               // OPT record with a non-root owner or malformed options
  bad_opt_placement,     // OPT outside the additional section
  multiple_opt,          // more than one OPT record
  trailing_data,         // octets after the last record
  too_large,             // output would exceed the size limit (builder)
  not_a_query,           // QR=1 where a query was expected
  bad_question,          // QDCOUNT other than 1 where one question is required
  pointer_into_header,   // a compression pointer into the 12-octet header
};

const char* to_string(WireError e) noexcept;

// A problem in presentation-format text. `what()` includes the position when
// the reader knows it ("root.hints:12: bad TTL 'x'").
class TextError : public std::runtime_error {
 public:
  explicit TextError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace sextant::wire
