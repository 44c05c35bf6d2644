// A whole DNS message, parsed into owned values (RFC 1035 §4, RFC 6891).
//
// This is the general-purpose form: upstream answers, tests, logs. The server
// hot path reads client queries with wire/query.h (no allocation) and writes
// with wire/message_builder.h.
//
// Parsing rules (every one returns a named WireError, nothing crashes or
// reads out of bounds):
// - section counts promising more records than the packet holds:
//   count_exceeds_data (checked up front against the minimum record sizes
//   and again while reading);
// - rdata is expanded to uncompressed form with expand_rdata() (rdata.h) and
//   checked against its type's layout;
// - OPT only in the additional section (bad_opt_placement), at most once
//   (multiple_opt), with the root as owner (bad_opt); it is lifted out into
//   `edns` and does not appear in `additional`;
// - octets after the last record: trailing_data.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wire/edns.h"
#include "wire/errors.h"
#include "wire/header.h"
#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::wire {

struct Question {
  Name name;  // in the case it was received with
  RRType type = RRType::A;
  RRClass qclass = RRClass::IN;

  bool operator==(const Question&) const = default;  // name compared case-insensitively
};

enum class Section : uint8_t { question, answer, authority, additional };
const char* to_string(Section s) noexcept;

struct Message {
  // After parse(), the counts are those read from the wire (arcount includes
  // OPT). The builder writes the counts of what it actually emitted, so
  // callers building from a Message need not keep them in sync.
  Header header;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answer;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;  // without the OPT record
  std::optional<Edns> edns;

  // The full 12-bit rcode: header bits plus OPT's extended bits.
  Rcode rcode() const noexcept;
  // Splits `rcode` over the header and OPT; values above 15 need OPT, so
  // an Edns with defaults is created if there is none.
  void set_rcode(Rcode rcode);

  std::vector<ResourceRecord>& section(Section s);
  const std::vector<ResourceRecord>& section(Section s) const;

  // Parses a complete message. On error `out` holds whatever was read so
  // far and must not be used.
  static WireError parse(std::span<const uint8_t> packet, Message& out);

  // dig-like text: header line, flags and counts, OPT pseudosection, then
  // each section with one record per line (record_to_text from rdata.h).
  std::string to_text() const;

  // Compares everything, names case-insensitively; header counts are not
  // compared (they describe a wire form, not the content).
  bool same_content(const Message& other) const;
};

// Serialises `message` without a size limit beyond 65535 octets, with name
// compression. Returns too_large if it does not fit in 65535 octets (or a
// section has more than 65535 records). See message_builder.h for the
// size-limited, truncating form.
WireError build_message(const Message& message, std::vector<uint8_t>& out);

}  // namespace sextant::wire
