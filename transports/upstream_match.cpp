#include "transports/upstream_match.h"

namespace sextant::transports {

namespace {

constexpr size_t kHeaderSize = 12;

uint16_t read16(std::span<const uint8_t> p, size_t at) noexcept {
  return static_cast<uint16_t>((p[at] << 8) | p[at + 1]);
}

// Parses the first question at offset 12: name, type, class.
bool read_question(std::span<const uint8_t> packet, wire::Name& name, uint16_t& type,
                   uint16_t& klass) noexcept {
  size_t pos = kHeaderSize;
  if (wire::Name::parse(packet, pos, name) != wire::WireError::ok) return false;
  if (pos + 4 > packet.size()) return false;
  type = read16(packet, pos);
  klass = read16(packet, pos + 2);
  return true;
}

}  // namespace

bool read_sent_question(std::span<const uint8_t> packet, SentQuestion& out) noexcept {
  if (packet.size() < kHeaderSize) return false;
  if (packet[2] & 0x80) return false;  // QR=1: not a query
  out.id = read16(packet, 0);
  out.opcode = static_cast<uint8_t>((packet[2] >> 3) & 0x0F);
  const uint16_t qdcount = read16(packet, 4);
  out.has_question = qdcount > 0;
  if (!out.has_question) return true;
  return read_question(packet, out.qname, out.qtype, out.qclass);
}

const char* to_string(ResponseMatch m) noexcept {
  switch (m) {
    case ResponseMatch::match: return "match";
    case ResponseMatch::too_short: return "too short";
    case ResponseMatch::not_a_response: return "not a response";
    case ResponseMatch::id_mismatch: return "ID mismatch";
    case ResponseMatch::opcode_mismatch: return "opcode mismatch";
    case ResponseMatch::question_mismatch: return "question mismatch";
    case ResponseMatch::malformed_question: return "malformed question";
  }
  return "unknown";
}

ResponseMatch match_response(const SentQuestion& sent, std::span<const uint8_t> response,
                             bool match_case) noexcept {
  if (response.size() < kHeaderSize) return ResponseMatch::too_short;
  if (!(response[2] & 0x80)) return ResponseMatch::not_a_response;
  if (read16(response, 0) != sent.id) return ResponseMatch::id_mismatch;
  if (((response[2] >> 3) & 0x0F) != sent.opcode) return ResponseMatch::opcode_mismatch;
  if (!sent.has_question) return ResponseMatch::match;

  const uint16_t qdcount = read16(response, 4);
  if (qdcount == 0) {
    const uint8_t rcode = response[3] & 0x0f;
    const bool error_rcode = rcode == 1 || rcode == 2 || rcode == 4 || rcode == 5;
    return error_rcode ? ResponseMatch::match : ResponseMatch::question_mismatch;
  }
  wire::Name name;
  uint16_t type = 0;
  uint16_t klass = 0;
  if (!read_question(response, name, type, klass)) return ResponseMatch::malformed_question;
  if (type != sent.qtype || klass != sent.qclass) return ResponseMatch::question_mismatch;
  const bool same_name = match_case ? name.equals_exact(sent.qname) : name == sent.qname;
  return same_name ? ResponseMatch::match : ResponseMatch::question_mismatch;
}

}  // namespace sextant::transports
