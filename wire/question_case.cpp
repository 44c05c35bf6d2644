#include "wire/question_case.h"

#include <cstring>

#include "wire/header.h"

namespace sextant::wire {

QuestionCase restore_question_case(std::span<uint8_t> packet, const Name& sent,
                                   const Name& meant) noexcept {
  QuestionCase out;
  auto want = sent.wire();
  if (packet.size() < kHeaderSize + want.size() || meant.wire_size() != want.size()) return out;
  if (packet[4] == 0 && packet[5] == 0) return out;  // no question
  uint8_t* name = packet.data() + kHeaderSize;
  // Octet by octet, ignoring case: length octets compare equal only to
  // themselves (they are below 'A'), so a pointer or another label layout
  // never matches.
  bool exact = true;
  for (size_t i = 0; i < want.size(); ++i) {
    if (ascii_lower(name[i]) != ascii_lower(want[i])) return out;
    exact = exact && name[i] == want[i];
  }
  out.found = true;
  out.echoed_exactly = exact;
  std::memcpy(name, meant.wire().data(), want.size());
  return out;
}

}  // namespace sextant::wire
