// Does a datagram answer the query we sent? The upstream client keeps the
// query's ID and question and accepts only a response that repeats them, so
// an off-path spoofer must guess the source port, the ID and (with 0x20) the
// letter case of the name.
#pragma once

#include <cstdint>
#include <span>

#include "wire/name.h"

namespace sextant::transports {

struct SentQuestion {
  uint16_t id = 0;
  uint8_t opcode = 0;
  bool has_question = false;  // QDCOUNT was 0: only the ID can be matched
  wire::Name qname;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

// Reads ID and the first question from an outgoing query. False if the
// packet is shorter than a header, is a response (QR=1) or its question does
// not parse.
bool read_sent_question(std::span<const uint8_t> packet, SentQuestion& out) noexcept;

enum class ResponseMatch : uint8_t {
  match,
  too_short,          // under 12 octets
  not_a_response,     // QR=0
  id_mismatch,
  opcode_mismatch,    // a reply to another kind of message is no reply to this one
  question_mismatch,  // different name/type/class, or the name's case with match_case
  malformed_question,
};
const char* to_string(ResponseMatch m) noexcept;

// A response must carry the same ID, opcode and question. One without a
// question section (QDCOUNT=0) is accepted only with an error RCODE
// (FORMERR, SERVFAIL, NOTIMP, REFUSED): some servers answer that way to
// queries they cannot parse, and the walker must see those to fall back.
ResponseMatch match_response(const SentQuestion& sent, std::span<const uint8_t> response,
                             bool match_case) noexcept;

}  // namespace sextant::transports
