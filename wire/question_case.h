// Undoing 0x20 case randomisation in a reply, at the level where the case
// spread: the question's name in the packet.
//
// A resolver that sends "wWw.ExAmPlE.cOm" gets back the question in that
// case, and every name the server compressed against it (owners, and the
// names inside MX, SRV, CNAME, NS, SOA ... rdata, at any depth of pointers)
// is read from those very octets. Rewriting the question's letters in the
// packet before it is parsed gives every such name the case the resolver
// meant, whatever the record type, as if the query had been sent without
// randomisation.
#pragma once

#include <cstdint>
#include <span>

#include "wire/name.h"

namespace sextant::wire {

struct QuestionCase {
  bool found = false;          // the first question's name equals `sent`, ignoring case
  bool echoed_exactly = false; // ... and repeats its case octet for octet (the 0x20 check)
};

// Looks at the first question of the message in `packet` (uncompressed at
// offset 12, as every question must be). When its name equals `sent`
// ignoring case, records whether the case was echoed exactly, then writes
// `meant` (the same name, in the case the caller means) over it. Nothing
// is written otherwise. `meant` must equal `sent` ignoring case.
QuestionCase restore_question_case(std::span<uint8_t> packet, const Name& sent,
                                   const Name& meant) noexcept;

}  // namespace sextant::wire
