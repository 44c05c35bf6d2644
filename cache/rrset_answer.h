// Answers rendered from the RRset store: the answer cache's second form.
//
// Most answers a resolver caches are one RRset at the question name, e.g.
// "n1.example. A" answered by the A RRset (and, for DO clients, its RRSIGs).
// Keeping such an answer as a wire packet next to the RRset it was built
// from would store every record and signature twice. Instead the answer
// cache stores nothing for it (AnswerCache::insert checks that the packet
// is exactly what the RRset renders to) and its hit path renders the
// answer from the RRset entry: header, question in the client's case,
// the records with the owner compressed to the question, TTLs as left.
//
// Only what the RRset alone answers completely is rendered:
// - CD=0 questions of a data type (not ANY, not meta types, not RRSIG);
// - entries of answer rank (RFC 2181 §5.4.1: glue and referral data never
//   answer a client) whose validation is settled: secure or insecure
//   (indeterminate data may be unvalidated upstream data in a validating
//   resolver, bogus data is never served);
// - for DO clients, no wildcard expansion (an RRSIG whose labels field is
//   smaller than the owner's label count): such an answer needs the
//   NSEC/NSEC3 proof that no closer name exists (RFC 4035 §3.1.3.3), which
//   only a full answer entry carries.
// Everything else (CNAME chains, negative answers, answers with an
// authority section or an informational EDE) keeps a wire entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "cache/rrset_cache.h"
#include "wire/types.h"

namespace sextant::cache {

// Header flags of a rendered answer: QR, RD, RA, opcode QUERY, rcode
// NOERROR. The resolver rewrites RD, AD and CD per client anyway.
inline constexpr uint8_t kRenderedFlagsHigh = 0x81;
inline constexpr uint8_t kRenderedFlagsLow = 0x80;

// Whether a question may be answered from an RRset alone (see above).
constexpr bool question_answerable_from_rrset(wire::RRType qtype, bool checking_disabled) noexcept {
  return !checking_disabled && !wire::is_meta_type(qtype) && qtype != wire::RRType::RRSIG &&
         qtype != wire::RRType::ANY;
}

// Whether entry `e` may answer a client with (dnssec_ok) or without DO.
bool rrset_answers_client(const RRsetEntry& e, bool dnssec_ok) noexcept;

// Writes the answer rendered from `e` into `out`: ID `id`, the question
// `qname_wire` (uncompressed, the client's case) with e's type and class,
// then e's records (and with `dnssec_ok` its RRSIGs), every TTL `ttl`.
// Returns false, writing nothing usable, if it does not fit into `out` or
// has more than 65535 records. Never allocates.
bool render_rrset_answer(const RRsetEntry& e, uint16_t id, std::span<const uint8_t> qname_wire,
                         bool dnssec_ok, uint32_t ttl, std::span<uint8_t> out,
                         size_t& out_len) noexcept;

// Whether `packet` (no OPT record, one uncompressed question) is what
// render_rrset_answer() makes of `e` for the same question, apart from the
// ID, the TTL fields and the RD/AD/CD bits (which the hit path sets).
bool packet_is_rrset_answer(const RRsetEntry& e, std::span<const uint8_t> packet, bool dnssec_ok);

}  // namespace sextant::cache
