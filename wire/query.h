// The server's hot path: reading a client query without heap allocation.
//
// parse_query() reads the header, the single question (into an inline
// wire::Name) and the OPT record's fields, and records spans into the packet
// for the options it knows, so a listener can decide how to answer before
// anything is copied. Records other than OPT (in any section) are walked and
// bounds-checked but not decoded. The caller keeps the packet alive as long
// as it uses the spans.
//
// The outcome tells the caller what to do:
//   drop    - fewer than 12 octets: no ID to answer to;
//   ignore  - QR=1: a response arriving at a server port (RFC 1035 §7.3);
//   formerr - the header is readable but the rest is not (answer FORMERR,
//             echoing the question if `question_end` != 0);
//   ok      - a well-formed query with exactly one question.
// Opcode, class, type and EDNS version are not judged here (NOTIMP, BADVERS
// and REFUSED are the resolver's decisions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/errors.h"
#include "wire/header.h"
#include "wire/name.h"
#include "wire/types.h"

namespace sextant::wire {

enum class QueryOutcome : uint8_t { ok, drop, ignore, formerr };
const char* to_string(QueryOutcome o) noexcept;

struct ParsedQuery {
  Header header;

  // The question, in the client's case.
  Name qname;
  RRType qtype = RRType::A;
  RRClass qclass = RRClass::IN;
  // Offset just past the question (12 + qname + 4) when the question was
  // read, else 0. packet[12, question_end) is the question to echo verbatim.
  size_t question_end = 0;

  // EDNS, if the query carried an OPT record.
  bool has_edns = false;
  uint16_t udp_payload_size = 0;  // as sent (not clamped to 512)
  uint8_t extended_rcode = 0;
  uint8_t edns_version = 0;
  uint16_t edns_flags = 0;
  bool dnssec_ok = false;
  size_t opt_offset = 0;                      // where the OPT record starts in the packet
  std::span<const uint8_t> edns_options;      // the whole OPT rdata
  // The data of the first option of each kind (empty span if absent; check
  // the has_ flag, since an empty option is legal for padding/keepalive).
  bool has_cookie = false;
  bool has_client_subnet = false;
  bool has_padding = false;
  bool has_tcp_keepalive = false;
  std::span<const uint8_t> cookie;
  std::span<const uint8_t> client_subnet;
  std::span<const uint8_t> tcp_keepalive;
  uint16_t option_count = 0;                  // all options, known or not
};

struct QueryParseResult {
  QueryOutcome outcome = QueryOutcome::drop;
  // Why, when the outcome is not ok: truncated_header (drop), not_a_query
  // (ignore), bad_question for QDCOUNT != 1, or the parse error (formerr).
  WireError error = WireError::ok;
};

// Never allocates, never throws, never reads outside `packet`. On any
// outcome `out.header` is filled if the header was readable.
// The section walk follows the same rules as Message::parse: counts beyond
// the data, OPT placement, a second OPT, a non-root OPT owner, broken option
// framing and trailing octets are all formerr with the matching WireError.
QueryParseResult parse_query(std::span<const uint8_t> packet, ParsedQuery& out) noexcept;

}  // namespace sextant::wire
