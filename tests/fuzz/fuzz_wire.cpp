// libFuzzer target for the message layer: parse -> build -> parse.
//
// Properties checked on every input (any violation aborts):
// - parsing (Message::parse, parse_query, text rendering, option decoders)
//   never crashes or reads out of bounds (ASan/UBSan watch that);
// - whatever Message::parse accepts, build_message() builds, unless its
//   uncompressed form really exceeds 65535 octets; the rebuilt octets parse
//   to the same content, and building that again gives the same octets;
// - a query Message::parse accepts is accepted by parse_query with the
//   same question and EDNS fields;
// - a size-limited build (12..1035 octets by message ID, add_records,
//   optionally padded to 128-octet blocks) stays within the limit,
//   parses, keeps whole RRsets as section prefixes, and sets TC whenever
//   answer or authority lost records;
// - known EDNS options that decode re-encode to the same octets;
// - restore_question_case() (0x20) on a parsed message finds its question,
//   and the packet with the question lower-cased parses to the same records
//   (names equal ignoring case, rdata of the same sizes).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <span>
#include <vector>

#include "wire/edns.h"
#include "wire/message.h"
#include "wire/message_builder.h"
#include "wire/query.h"
#include "wire/question_case.h"

using namespace sextant::wire;

namespace {

[[noreturn]] void fail(const char* what, const Message* m = nullptr) {
  std::fprintf(stderr, "fuzz_wire property violated: %s\n", what);
  if (m != nullptr) std::fprintf(stderr, "%s\n", m->to_text().c_str());
  std::abort();
}

#define CHECK_PROPERTY(cond, msg) \
  do {                            \
    if (!(cond)) fail(msg, &m);   \
  } while (0)

size_t uncompressed_size(const Message& m) {
  size_t n = kHeaderSize;
  for (const Question& q : m.questions) n += q.name.wire_size() + 4;
  for (const auto* section : {&m.answer, &m.authority, &m.additional})
    for (const ResourceRecord& rr : *section) n += rr.owner.wire_size() + 10 + rr.rdata.size();
  if (m.edns) n += MessageBuilder::kOptFixedSize + m.edns->options_wire().size();
  return n;
}

template <typename Option, typename Decoder>
bool reencodes(const EdnsOption& raw, Decoder decode) {
  Option typed;
  if (decode(raw.data, typed) != WireError::ok) return true;  // rejection is fine
  EdnsOption again = encode(typed);
  return again == raw;
}

void check_options(const Message& m) {
  for (const EdnsOption& o : m.edns->options) {
    bool ok = true;
    switch (static_cast<EdnsOptionCode>(o.code)) {
      case EdnsOptionCode::Cookie: ok = reencodes<CookieOption>(o, decode_cookie); break;
      case EdnsOptionCode::ClientSubnet: ok = reencodes<ClientSubnetOption>(o, decode_client_subnet); break;
      case EdnsOptionCode::TcpKeepalive: ok = reencodes<TcpKeepaliveOption>(o, decode_tcp_keepalive); break;
      case EdnsOptionCode::ExtendedError: ok = reencodes<ExtendedErrorOption>(o, decode_extended_error); break;
      case EdnsOptionCode::Padding: {
        PaddingOption p;
        ok = decode_padding(o.data, p) == WireError::ok && p.length == o.data.size();
        break;
      }
    }
    CHECK_PROPERTY(ok, "a decoded EDNS option does not re-encode to the same octets");
  }
  (void)m.edns->validate_known_options();
}

void check_query_agreement(const Message& m, const QueryParseResult& r, const ParsedQuery& q) {
  if (m.header.qr() || m.questions.size() != 1) return;
  CHECK_PROPERTY(r.outcome == QueryOutcome::ok, "parse_query rejects a query Message::parse accepts");
  CHECK_PROPERTY(q.qname.equals_exact(m.questions[0].name), "parse_query qname differs");
  CHECK_PROPERTY(q.qtype == m.questions[0].type && q.qclass == m.questions[0].qclass,
                 "parse_query qtype/qclass differ");
  CHECK_PROPERTY(q.has_edns == m.edns.has_value(), "parse_query EDNS presence differs");
  if (m.edns) {
    CHECK_PROPERTY(q.udp_payload_size == m.edns->udp_payload_size && q.edns_flags == m.edns->flags &&
                       q.edns_version == m.edns->version && q.extended_rcode == m.edns->extended_rcode,
                   "parse_query EDNS fields differ");
    CHECK_PROPERTY(q.option_count == m.edns->options.size(), "parse_query option count differs");
    const EdnsOption* cookie = m.edns->find(EdnsOptionCode::Cookie);
    CHECK_PROPERTY(q.has_cookie == (cookie != nullptr), "parse_query cookie presence differs");
    if (cookie != nullptr)
      CHECK_PROPERTY(std::equal(q.cookie.begin(), q.cookie.end(), cookie->data.begin(), cookie->data.end()),
                     "parse_query cookie differs");
  }
}

bool is_prefix(const std::vector<ResourceRecord>& part, const std::vector<ResourceRecord>& whole) {
  return part.size() <= whole.size() && std::equal(part.begin(), part.end(), whole.begin());
}

void check_limited_build(const Message& m) {
  static std::vector<uint8_t> buffer(4096);
  // The message ID picks the limit and whether to pad, so the fuzzer can
  // steer truncation onto every boundary.
  const size_t kLimit = 12 + m.header.id % 1024;
  const uint16_t padding_block = (m.header.id & 0x8000) ? 128 : 0;
  MessageBuilder b(buffer, kLimit);
  b.header().id = m.header.id;
  b.header().flags = static_cast<uint16_t>(m.header.flags & ~Header::kTC);
  for (const Question& q : m.questions)
    if (b.add_question(q) != WireError::ok) return;  // the question alone exceeds the limit
  if (m.edns && b.set_edns(*m.edns) != WireError::ok) return;
  if (m.edns && padding_block != 0 && b.set_padding_block(padding_block) != WireError::ok) return;
  (void)b.add_records(Section::answer, m.answer);
  (void)b.add_records(Section::authority, m.authority);
  (void)b.add_records(Section::additional, m.additional);
  std::span<const uint8_t> wire = b.finish();
  CHECK_PROPERTY(wire.size() <= kLimit, "limited build exceeds its limit");
  Message small;
  CHECK_PROPERTY(Message::parse(wire, small) == WireError::ok, "limited build does not parse");
  CHECK_PROPERTY(small.questions == m.questions, "limited build lost the question");
  CHECK_PROPERTY(is_prefix(small.answer, m.answer) && is_prefix(small.authority, m.authority),
                 "limited build reordered answer/authority");
  bool lost = small.answer.size() != m.answer.size() || small.authority.size() != m.authority.size();
  CHECK_PROPERTY(!lost || small.header.tc(), "answer/authority records lost without TC");
  CHECK_PROPERTY(small.header.tc() == b.truncated(), "TC disagrees with the builder");
  CHECK_PROPERTY(small.edns.has_value() == m.edns.has_value(), "limited build lost OPT");
  if (m.edns && padding_block != 0)
    CHECK_PROPERTY(wire.size() % padding_block == 0 || wire.size() == kLimit,
                   "padding missed the block size");
}

void check_question_case(std::span<const uint8_t> packet, const Message& m) {
  if (m.questions.empty()) return;
  const Name& asked = m.questions[0].name;
  std::vector<uint8_t> copy(packet.begin(), packet.end());
  QuestionCase c = restore_question_case(copy, asked, asked.lowercased());
  CHECK_PROPERTY(c.found && c.echoed_exactly, "restore_question_case misses the parsed question");
  Message lowered;
  CHECK_PROPERTY(Message::parse(copy, lowered) == WireError::ok,
                 "the packet with its question lower-cased does not parse");
  CHECK_PROPERTY(lowered.questions[0].name.equals_exact(asked.lowercased()),
                 "the question was not lower-cased");
  for (auto [a, b] : {std::pair{&m.answer, &lowered.answer}, std::pair{&m.authority, &lowered.authority},
                      std::pair{&m.additional, &lowered.additional}}) {
    CHECK_PROPERTY(a->size() == b->size(), "lower-casing the question changed a section");
    for (size_t i = 0; i < a->size(); ++i) {
      const ResourceRecord& x = (*a)[i];
      const ResourceRecord& y = (*b)[i];
      CHECK_PROPERTY(x.owner == y.owner && x.type == y.type && x.ttl == y.ttl &&
                         x.rdata.size() == y.rdata.size(),
                     "lower-casing the question changed a record beyond letter case");
    }
  }
  // Another name is never matched, and nothing is written then.
  if (asked.label_count() < Name::kMaxLabels && asked.wire_size() + 2 <= Name::kMaxWireSize) {
    std::vector<uint8_t> other(packet.begin(), packet.end());
    CHECK_PROPERTY(!restore_question_case(other, asked.prepend("x"), asked.prepend("x")).found &&
                       std::equal(other.begin(), other.end(), packet.begin(), packet.end()),
                   "restore_question_case matched another name");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> packet(data, size);

  ParsedQuery query;
  QueryParseResult query_result = parse_query(packet, query);

  Message m;
  if (Message::parse(packet, m) != WireError::ok) return 0;
  (void)m.to_text();
  if (m.edns) check_options(m);
  check_query_agreement(m, query_result, query);
  check_question_case(packet, m);

  std::vector<uint8_t> wire;
  WireError built = build_message(m, wire);
  if (built == WireError::too_large) {
    CHECK_PROPERTY(uncompressed_size(m) > MessageBuilder::kMaxMessageSize,
                   "build_message says too_large for a message that fits uncompressed");
    return 0;
  }
  CHECK_PROPERTY(built == WireError::ok, "build_message fails on a parsed message");
  Message again;
  WireError reparsed = Message::parse(wire, again);
  if (reparsed != WireError::ok) {
    std::fprintf(stderr, "reparse error: %s\n", to_string(reparsed));
    fail("the rebuilt message does not parse", &m);
  }
  CHECK_PROPERTY(again.same_content(m), "the rebuilt message parses to different content");
  std::vector<uint8_t> wire2;
  CHECK_PROPERTY(build_message(again, wire2) == WireError::ok && wire2 == wire,
                 "building the rebuilt message again gives different octets");

  check_limited_build(m);
  return 0;
}
