#include "wire/message.h"

#include <fmt/format.h>

#include <algorithm>

#include "wire/message_builder.h"
#include "wire/rdata.h"

namespace sextant::wire {

namespace {

constexpr size_t kMinRecordSize = 11;  // root owner + type, class, ttl, rdlength

uint16_t read_u16(std::span<const uint8_t> p, size_t at) noexcept {
  return static_cast<uint16_t>((p[at] << 8) | p[at + 1]);
}

uint32_t read_u32(std::span<const uint8_t> p, size_t at) noexcept {
  return (static_cast<uint32_t>(read_u16(p, at)) << 16) | read_u16(p, at + 2);
}

// Reads one record of `section` at `pos`. An OPT record is stored into
// `edns` instead of `records`.
WireError parse_record(std::span<const uint8_t> packet, size_t& pos, Section section,
                       std::vector<ResourceRecord>& records, std::optional<Edns>& edns) {
  ResourceRecord rr;
  WireError e = Name::parse(packet, pos, rr.owner);
  if (e != WireError::ok) return e;
  if (packet.size() - pos < 10) return WireError::truncated_record;
  rr.type = static_cast<RRType>(read_u16(packet, pos));
  rr.rclass = static_cast<RRClass>(read_u16(packet, pos + 2));
  rr.ttl = read_u32(packet, pos + 4);
  size_t rdlength = read_u16(packet, pos + 8);
  pos += 10;
  if (packet.size() - pos < rdlength) return WireError::truncated_rdata;
  size_t rdata_offset = pos;
  pos += rdlength;

  if (rr.type == RRType::OPT) {
    // RFC 6891 §6.1.1: only in the additional section, only once, root owner.
    if (section != Section::additional) return WireError::bad_opt_placement;
    if (edns) return WireError::multiple_opt;
    if (!rr.owner.is_root()) return WireError::bad_opt;
    Edns parsed;
    e = Edns::from_opt_record(static_cast<uint16_t>(rr.rclass), rr.ttl,
                              packet.subspan(rdata_offset, rdlength), parsed);
    if (e != WireError::ok) return e;
    edns = std::move(parsed);
    return WireError::ok;
  }
  e = expand_rdata(rr.type, packet, rdata_offset, rdlength, rr.rdata);
  if (e != WireError::ok) return e;
  records.push_back(std::move(rr));
  return WireError::ok;
}

void append_section_text(std::string& s, const char* title, const std::vector<ResourceRecord>& rrs) {
  if (rrs.empty()) return;
  s += fmt::format("\n;; {} SECTION:\n", title);
  for (const ResourceRecord& rr : rrs) {
    s += record_to_text(rr);
    s += '\n';
  }
}

}  // namespace

const char* to_string(Section s) noexcept {
  switch (s) {
    case Section::question: return "QUESTION";
    case Section::answer: return "ANSWER";
    case Section::authority: return "AUTHORITY";
    case Section::additional: return "ADDITIONAL";
  }
  return "UNKNOWN";
}

Rcode Message::rcode() const noexcept {
  uint16_t high = edns ? edns->extended_rcode : 0;
  return static_cast<Rcode>((high << 4) | header.rcode_low());
}

void Message::set_rcode(Rcode rcode) {
  auto v = static_cast<uint16_t>(rcode);
  header.set_rcode_low(v);
  uint8_t high = static_cast<uint8_t>((v >> 4) & 0xFF);
  if (high != 0 && !edns) edns.emplace();
  if (edns) edns->extended_rcode = high;
}

std::vector<ResourceRecord>& Message::section(Section s) {
  switch (s) {
    case Section::authority: return authority;
    case Section::additional: return additional;
    default: return answer;
  }
}

const std::vector<ResourceRecord>& Message::section(Section s) const {
  return const_cast<Message*>(this)->section(s);
}

WireError Message::parse(std::span<const uint8_t> packet, Message& out) {
  out = Message{};
  WireError e = Header::parse(packet, out.header);
  if (e != WireError::ok) return e;
  size_t pos = kHeaderSize;
  // Reserve no more than the data could possibly hold, so a header claiming
  // 65535 records costs nothing.
  size_t record_room = (packet.size() - pos) / kMinRecordSize;

  out.questions.reserve(std::min<size_t>(out.header.qdcount, record_room));
  for (size_t i = 0; i < out.header.qdcount; ++i) {
    if (pos >= packet.size()) return WireError::count_exceeds_data;
    Question q;
    e = Name::parse(packet, pos, q.name);
    if (e != WireError::ok) return e;
    if (packet.size() - pos < 4) return WireError::truncated_record;
    q.type = static_cast<RRType>(read_u16(packet, pos));
    q.qclass = static_cast<RRClass>(read_u16(packet, pos + 2));
    pos += 4;
    out.questions.push_back(q);
  }

  const std::pair<Section, uint16_t> sections[] = {
      {Section::answer, out.header.ancount},
      {Section::authority, out.header.nscount},
      {Section::additional, out.header.arcount},
  };
  for (auto [section, count] : sections) {
    std::vector<ResourceRecord>& records = out.section(section);
    records.reserve(std::min<size_t>(count, record_room));
    for (size_t i = 0; i < count; ++i) {
      if (pos >= packet.size()) return WireError::count_exceeds_data;
      e = parse_record(packet, pos, section, records, out.edns);
      if (e != WireError::ok) return e;
    }
  }
  if (pos != packet.size()) return WireError::trailing_data;
  return WireError::ok;
}

std::string Message::to_text() const {
  std::string s = fmt::format(";; ->>HEADER<<- opcode: {}, status: {}, id: {}\n",
                              to_string(header.opcode()), to_string(rcode()), header.id);
  std::string flags;
  const std::pair<bool, const char*> names[] = {
      {header.qr(), "qr"}, {header.aa(), "aa"}, {header.tc(), "tc"}, {header.rd(), "rd"},
      {header.ra(), "ra"}, {header.z(), "z"},   {header.ad(), "ad"}, {header.cd(), "cd"},
  };
  for (auto [on, name] : names) {
    if (on) {
      flags += ' ';
      flags += name;
    }
  }
  s += fmt::format(";; flags:{}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}\n",
                   flags, questions.size(), answer.size(), authority.size(),
                   additional.size() + (edns ? 1 : 0));
  if (edns) {
    s += "\n;; OPT PSEUDOSECTION:\n";
    s += edns->to_text();
  }
  if (!questions.empty()) {
    s += "\n;; QUESTION SECTION:\n";
    for (const Question& q : questions)
      s += fmt::format(";{}\t\t{}\t{}\n", q.name.to_text(), to_string(q.qclass), to_string(q.type));
  }
  append_section_text(s, "ANSWER", answer);
  append_section_text(s, "AUTHORITY", authority);
  append_section_text(s, "ADDITIONAL", additional);
  return s;
}

bool Message::same_content(const Message& other) const {
  return header.id == other.header.id && header.flags == other.header.flags &&
         questions == other.questions && answer == other.answer && authority == other.authority &&
         additional == other.additional && edns == other.edns;
}

WireError build_message(const Message& message, std::vector<uint8_t>& out) {
  // Compression only shrinks, so the uncompressed size bounds the buffer;
  // sizing to it (rather than 64 KiB) keeps small builds from zero-filling
  // a large vector every time.
  size_t bound = kHeaderSize;
  for (const Question& q : message.questions) bound += q.name.wire_size() + 4;
  for (const auto* records : {&message.answer, &message.authority, &message.additional})
    for (const ResourceRecord& rr : *records) bound += rr.owner.wire_size() + 10 + rr.rdata.size();
  if (message.edns) {
    bound += MessageBuilder::kOptFixedSize;
    for (const EdnsOption& o : message.edns->options) bound += 4 + o.data.size();
  }
  out.resize(std::min(bound, MessageBuilder::kMaxMessageSize));
  MessageBuilder builder(out);
  builder.header().id = message.header.id;
  builder.header().flags = message.header.flags;
  WireError e = WireError::ok;
  for (const Question& q : message.questions) {
    e = builder.add_question(q);
    if (e != WireError::ok) break;
  }
  if (e == WireError::ok && message.edns) e = builder.set_edns(*message.edns);
  if (e == WireError::ok) e = builder.set_rcode(message.rcode());
  const std::pair<Section, const std::vector<ResourceRecord>*> sections[] = {
      {Section::answer, &message.answer},
      {Section::authority, &message.authority},
      {Section::additional, &message.additional},
  };
  for (auto [section, records] : sections) {
    for (const ResourceRecord& rr : *records) {
      if (e != WireError::ok) break;
      e = builder.add_record(section, rr);
    }
  }
  if (e != WireError::ok) {
    out.clear();
    return e;
  }
  size_t size = builder.finish().size();
  out.resize(size);
  return WireError::ok;
}

}  // namespace sextant::wire
