#include "wire/message_builder.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "wire/rdata.h"

namespace sextant::wire {

namespace {

// Compression pointers hold 14 bits of offset.
constexpr size_t kMaxPointerTarget = 0x3FFF;

// Hash of a suffix, built right to left so that every suffix of a name is
// hashed in one pass over it. Case-insensitive (c | 0x20 folds ASCII case,
// and merely collides a few punctuation octets), so an entry serves both
// matching modes. It only filters candidates for suffix_matches(), so it is
// kept cheap: a plain sum over each label's octets, with no multiply chain
// per octet.
uint16_t extend_hash(uint32_t suffix_hash, const uint8_t* label) noexcept {
  uint32_t sum = 0;
  for (size_t i = 1; i <= label[0]; ++i) sum += label[i] | 0x20u;
  uint32_t h = (suffix_hash * 0x9E3779B1u) ^ (label[0] << 16) ^ sum;
  return static_cast<uint16_t>(h ^ (h >> 16));
}

}  // namespace

MessageBuilder::MessageBuilder(std::span<uint8_t> buffer, size_t limit) noexcept
    : buffer_(buffer), limit_(std::min({limit, buffer.size(), kMaxMessageSize})) {
  unusable_ = limit_ < kHeaderSize;
}

size_t MessageBuilder::reserved() const noexcept {
  if (!edns_enabled_) return 0;
  return kOptFixedSize + edns_options_size_ + (padding_block_ != 0 ? 4 : 0);
}

size_t MessageBuilder::record_limit() const noexcept {
  size_t r = reserved();
  return r > limit_ ? 0 : limit_ - r;
}

size_t MessageBuilder::remaining() const noexcept {
  size_t l = record_limit();
  return l > pos_ ? l - pos_ : 0;
}

bool MessageBuilder::write_bytes(const void* data, size_t n) noexcept {
  if (n > record_limit() || pos_ > record_limit() - n) return false;
  if (n != 0) std::memcpy(buffer_.data() + pos_, data, n);
  pos_ += n;
  return true;
}

bool MessageBuilder::write_u16(uint16_t v) noexcept {
  const uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  return write_bytes(b, 2);
}

bool MessageBuilder::write_u32(uint32_t v) noexcept {
  const uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                        static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  return write_bytes(b, 4);
}

bool MessageBuilder::suffix_matches(size_t at, const uint8_t* suffix, size_t suffix_size,
                                    bool exact_case) const noexcept {
  size_t s = 0;
  // Everything here was written by this builder: pointers point backwards.
  // The hop cap is only a guard against a bug turning into a hang.
  size_t hops = 0;
  while (at < pos_ && s < suffix_size) {
    uint8_t len = buffer_[at];
    if ((len & 0xC0) == 0xC0) {
      if (at + 1 >= pos_ || ++hops > Name::kMaxLabels) return false;
      at = (static_cast<size_t>(len & 0x3F) << 8) | buffer_[at + 1];
      continue;
    }
    if (len != suffix[s]) return false;
    if (len == 0) return s + 1 == suffix_size;
    if (at + 1 + len > pos_ || s + 1 + len > suffix_size) return false;
    for (size_t i = 1; i <= len; ++i) {
      uint8_t a = buffer_[at + i];
      uint8_t b = suffix[s + i];
      if (exact_case ? a != b : ascii_lower(a) != ascii_lower(b)) return false;
    }
    at += 1 + len;
    s += 1 + len;
  }
  return false;
}

bool MessageBuilder::write_name(const Name& name, bool exact_case_only) noexcept {
  const uint8_t* wire = name.wire().data();
  const size_t size = name.wire_size();
  std::array<uint8_t, Name::kMaxLabels + 1> offsets;
  std::array<uint16_t, Name::kMaxLabels + 1> hashes;
  size_t labels = 0;
  for (size_t p = 0; wire[p] != 0; p += 1 + wire[p]) offsets[labels++] = static_cast<uint8_t>(p);
  uint32_t h = 0;
  for (size_t i = labels; i-- > 0;) {
    hashes[i] = extend_hash(h, wire + offsets[i]);
    h = hashes[i];
  }

  // The longest suffix already in the output wins.
  size_t match_label = labels;  // labels == no match (only the root is left)
  size_t match_offset = 0;
  for (size_t i = 0; i < labels && match_label == labels; ++i) {
    for (size_t k = 0; k < compression_count_; ++k) {
      const CompressionEntry& entry = compression_[k];
      if (entry.hash == hashes[i] &&
          suffix_matches(entry.offset, wire + offsets[i], size - offsets[i], exact_case_only)) {
        match_label = i;
        match_offset = entry.offset;
        break;
      }
    }
  }

  size_t start = pos_;
  size_t literal = match_label < labels ? offsets[match_label] : size;
  if (!write_bytes(wire, literal)) return false;
  if (match_label < labels) {
    if (!write_u16(static_cast<uint16_t>(0xC000 | match_offset))) return false;
  }
  // Remember the suffixes just written literally as new targets.
  for (size_t i = 0; i < match_label; ++i) {
    size_t offset = start + offsets[i];
    if (offset > kMaxPointerTarget || compression_count_ >= kCompressionEntries) break;
    compression_[compression_count_++] = CompressionEntry{static_cast<uint16_t>(offset), hashes[i]};
  }
  return true;
}

bool MessageBuilder::write_rdata(RRType type, std::span<const uint8_t> rdata) noexcept {
  std::array<uint16_t, 2> name_offsets{};
  size_t n = compressible_name_offsets(type, rdata, name_offsets);
  n = std::min<size_t>(n, name_offsets.size());
  std::sort(name_offsets.begin(), name_offsets.begin() + static_cast<ptrdiff_t>(n));
  size_t done = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t at = name_offsets[i];
    if (at < done || at >= rdata.size()) break;  // not expected from valid rdata
    Name name;
    size_t end = at;
    if (Name::parse_uncompressed(rdata, end, name) != WireError::ok) break;
    if (!write_bytes(rdata.data() + done, at - done)) return false;
    if (!write_name(name, /*exact_case_only=*/true)) return false;
    done = end;
  }
  return write_bytes(rdata.data() + done, rdata.size() - done);
}

bool MessageBuilder::write_record(const Name& owner, RRType type, RRClass rclass, uint32_t ttl,
                                  std::span<const uint8_t> rdata) noexcept {
  if (rdata.size() > 0xFFFF) return false;
  if (!write_name(owner, /*exact_case_only=*/false)) return false;
  if (!write_u16(static_cast<uint16_t>(type)) || !write_u16(static_cast<uint16_t>(rclass)) ||
      !write_u32(ttl) || !write_u16(0)) {
    return false;
  }
  size_t rdlength_at = pos_ - 2;
  if (!write_rdata(type, rdata)) return false;
  size_t written = pos_ - rdlength_at - 2;
  if (written > 0xFFFF) return false;
  buffer_[rdlength_at] = static_cast<uint8_t>(written >> 8);
  buffer_[rdlength_at + 1] = static_cast<uint8_t>(written);
  return true;
}

uint16_t& MessageBuilder::count_of(Section section) noexcept {
  return counts_[static_cast<size_t>(section)];
}

void MessageBuilder::enter_section(Section section) {
  if (finished_) throw std::logic_error("MessageBuilder: record added after finish()");
  if (section == Section::question)
    throw std::logic_error("MessageBuilder: use add_question() for the question section");
  if (section < current_section_)
    throw std::logic_error("MessageBuilder: sections must be written in order");
  current_section_ = section;
}

MessageBuilder::Mark MessageBuilder::mark(Section section) noexcept {
  return Mark{pos_, compression_count_, count_of(section)};
}

void MessageBuilder::rollback(const Mark& m, Section section) noexcept {
  pos_ = m.pos;
  compression_count_ = m.compression_count;
  count_of(section) = m.count;
}

WireError MessageBuilder::set_rcode(Rcode rcode) noexcept {
  auto v = static_cast<uint16_t>(rcode);
  if (v > 0xFFF || (v > 0xF && !edns_enabled_)) return WireError::bad_opt;
  header_.set_rcode_low(v);
  rcode_high_ = static_cast<uint8_t>(v >> 4);
  return WireError::ok;
}

WireError MessageBuilder::add_question(const Name& name, RRType type, RRClass qclass) {
  if (finished_) throw std::logic_error("MessageBuilder: question added after finish()");
  if (current_section_ != Section::question)
    throw std::logic_error("MessageBuilder: questions must come before records");
  if (unusable_) return WireError::too_large;
  Mark m = mark(Section::question);
  if (!write_name(name, false) || !write_u16(static_cast<uint16_t>(type)) ||
      !write_u16(static_cast<uint16_t>(qclass))) {
    rollback(m, Section::question);
    return WireError::too_large;
  }
  ++count_of(Section::question);
  return WireError::ok;
}

WireError MessageBuilder::begin_response(const ParsedQuery& query) {
  header_ = response_header_for(query.header);
  if (query.question_end == 0) return unusable_ ? WireError::too_large : WireError::ok;
  // The Name holds the question octets exactly as the client sent them.
  return add_question(query.qname, query.qtype, query.qclass);
}

WireError MessageBuilder::begin_response(const Message& query) {
  header_ = response_header_for(query.header);
  if (unusable_) return WireError::too_large;
  for (const Question& q : query.questions) {
    WireError e = add_question(q);
    if (e != WireError::ok) return e;
  }
  return WireError::ok;
}

WireError MessageBuilder::add_record(Section section, const ResourceRecord& rr) {
  enter_section(section);
  if (unusable_ || truncated_) return WireError::too_large;
  Mark m = mark(section);
  if (!write_record(rr.owner, rr.type, rr.rclass, rr.ttl, rr.rdata)) {
    rollback(m, section);
    return WireError::too_large;
  }
  ++count_of(section);
  return WireError::ok;
}

WireError MessageBuilder::add_rrset(Section section, const Name& owner, RRType type,
                                    RRClass rclass, uint32_t ttl, std::span<const Rdata> rdatas) {
  enter_section(section);
  if (unusable_ || truncated_) return WireError::too_large;
  Mark m = mark(section);
  for (const Rdata& rdata : rdatas) {
    if (!write_record(owner, type, rclass, ttl, rdata)) {
      rollback(m, section);
      if (section != Section::additional) truncated_ = true;
      return WireError::too_large;
    }
    ++count_of(section);
  }
  return WireError::ok;
}

WireError MessageBuilder::add_rrset(Section section, const RRset& set, bool with_signatures) {
  enter_section(section);
  if (unusable_ || truncated_) return WireError::too_large;
  Mark m = mark(section);
  auto write_all = [&](RRType type, const std::vector<Rdata>& rdatas) {
    for (const Rdata& rdata : rdatas) {
      if (!write_record(set.owner, type, set.rclass, set.ttl, rdata)) return false;
      ++count_of(section);
    }
    return true;
  };
  if (!write_all(set.type, set.rdatas) ||
      (with_signatures && !write_all(RRType::RRSIG, set.signatures))) {
    rollback(m, section);
    if (section != Section::additional) truncated_ = true;
    return WireError::too_large;
  }
  return WireError::ok;
}

WireError MessageBuilder::add_records(Section section, std::span<const ResourceRecord> records) {
  enter_section(section);
  WireError first_error = WireError::ok;
  size_t i = 0;
  while (i < records.size()) {
    const ResourceRecord& head = records[i];
    // RRSIG type covered is the first field of its rdata.
    auto covers = [&](const ResourceRecord& rr) {
      return rr.type == RRType::RRSIG && rr.rdata.size() >= 2 &&
             static_cast<RRType>((rr.rdata[0] << 8) | rr.rdata[1]) == head.type;
    };
    size_t end = i + 1;
    while (end < records.size() && records[end].owner == head.owner &&
           records[end].rclass == head.rclass &&
           (records[end].type == head.type || (head.type != RRType::RRSIG && covers(records[end])))) {
      ++end;
    }
    if (unusable_ || truncated_) return first_error != WireError::ok ? first_error : WireError::too_large;
    Mark m = mark(section);
    bool fits = true;
    for (size_t k = i; k < end && fits; ++k) {
      const ResourceRecord& rr = records[k];
      fits = write_record(rr.owner, rr.type, rr.rclass, rr.ttl, rr.rdata);
      if (fits) ++count_of(section);
    }
    if (!fits) {
      rollback(m, section);
      if (first_error == WireError::ok) first_error = WireError::too_large;
      if (section != Section::additional) {
        truncated_ = true;
        return first_error;
      }
    }
    i = end;
  }
  return first_error;
}

WireError MessageBuilder::set_edns(const EdnsParams& params) noexcept {
  if (finished_ || unusable_) return WireError::too_large;
  if (!edns_enabled_) {
    size_t needed = kOptFixedSize + (padding_block_ != 0 ? 4 : 0);
    if (pos_ + needed > limit_) return WireError::too_large;
    edns_enabled_ = true;
  }
  edns_ = params;
  return WireError::ok;
}

WireError MessageBuilder::set_edns(const Edns& edns) noexcept {
  EdnsParams params;
  params.udp_payload_size = edns.udp_payload_size;
  params.dnssec_ok = edns.dnssec_ok();
  params.version = edns.version;
  params.other_flags = static_cast<uint16_t>(edns.flags & ~Edns::kDoBit);
  WireError e = set_edns(params);
  for (const EdnsOption& option : edns.options) {
    if (e != WireError::ok) break;
    e = add_edns_option(option);
  }
  return e;
}

WireError MessageBuilder::add_edns_option(uint16_t code, std::span<const uint8_t> data) noexcept {
  if (!edns_enabled_) return WireError::bad_opt;
  if (finished_) return WireError::too_large;
  size_t n = 4 + data.size();
  if (data.size() > 0xFFFF || edns_options_size_ + n > 0xFFFF) return WireError::too_large;
  if (pos_ + reserved() + n > limit_) return WireError::too_large;
  // The options sit at the very end of the buffer; slide them left to
  // append the new one after them.
  uint8_t* old_start = buffer_.data() + limit_ - edns_options_size_;
  std::memmove(old_start - n, old_start, edns_options_size_);
  uint8_t* p = buffer_.data() + limit_ - n;
  p[0] = static_cast<uint8_t>(code >> 8);
  p[1] = static_cast<uint8_t>(code);
  p[2] = static_cast<uint8_t>(data.size() >> 8);
  p[3] = static_cast<uint8_t>(data.size());
  if (!data.empty()) std::memcpy(p + 4, data.data(), data.size());
  edns_options_size_ += n;
  return WireError::ok;
}

WireError MessageBuilder::add_extended_error(EdeCode code, std::string_view extra_text) noexcept {
  if (!edns_enabled_) return WireError::bad_opt;
  if (extra_text.size() > 0xFFFF - 2) return WireError::too_large;
  // Written in place rather than through add_edns_option(), which takes one
  // contiguous span: the info-code and the text are two pieces.
  size_t n = 2 + extra_text.size();
  if (pos_ + reserved() + 4 + n > limit_ || edns_options_size_ + 4 + n > 0xFFFF)
    return WireError::too_large;
  uint8_t* old_start = buffer_.data() + limit_ - edns_options_size_;
  std::memmove(old_start - 4 - n, old_start, edns_options_size_);
  uint8_t* p = buffer_.data() + limit_ - 4 - n;
  auto ede = static_cast<uint16_t>(EdnsOptionCode::ExtendedError);
  p[0] = static_cast<uint8_t>(ede >> 8);
  p[1] = static_cast<uint8_t>(ede);
  p[2] = static_cast<uint8_t>(n >> 8);
  p[3] = static_cast<uint8_t>(n);
  p[4] = static_cast<uint8_t>(static_cast<uint16_t>(code) >> 8);
  p[5] = static_cast<uint8_t>(code);
  if (!extra_text.empty()) std::memcpy(p + 6, extra_text.data(), extra_text.size());
  edns_options_size_ += 4 + n;
  return WireError::ok;
}

WireError MessageBuilder::set_padding_block(uint16_t block) noexcept {
  if (!edns_enabled_) return WireError::bad_opt;
  if (block != 0 && padding_block_ == 0 && pos_ + reserved() + 4 > limit_) return WireError::too_large;
  padding_block_ = block;
  return WireError::ok;
}

std::span<const uint8_t> MessageBuilder::finish() noexcept {
  if (unusable_) return {};
  if (finished_) return {buffer_.data(), finished_size_};
  finished_ = true;
  if (edns_enabled_) {
    uint8_t* opt = buffer_.data() + pos_;
    size_t options_at = pos_ + kOptFixedSize;
    // The reservation guarantees options_at + options + padding header <= limit_.
    std::memmove(buffer_.data() + options_at, buffer_.data() + limit_ - edns_options_size_,
                 edns_options_size_);
    size_t end = options_at + edns_options_size_;
    if (padding_block_ != 0) {
      size_t unpadded = end + 4;
      size_t target = (unpadded + padding_block_ - 1) / padding_block_ * padding_block_;
      target = std::min(target, limit_);
      size_t pad = target - unpadded;
      uint8_t* p = buffer_.data() + end;
      auto code = static_cast<uint16_t>(EdnsOptionCode::Padding);
      p[0] = static_cast<uint8_t>(code >> 8);
      p[1] = static_cast<uint8_t>(code);
      p[2] = static_cast<uint8_t>(pad >> 8);
      p[3] = static_cast<uint8_t>(pad);
      std::memset(p + 4, 0, pad);
      end = target;
    }
    uint16_t flags = static_cast<uint16_t>((edns_.other_flags & ~Edns::kDoBit) |
                                           (edns_.dnssec_ok ? Edns::kDoBit : 0));
    uint32_t ttl = (static_cast<uint32_t>(rcode_high_) << 24) |
                   (static_cast<uint32_t>(edns_.version) << 16) | flags;
    size_t rdlength = end - options_at;
    opt[0] = 0;  // root owner
    opt[1] = 0;
    opt[2] = static_cast<uint8_t>(RRType::OPT);
    opt[3] = static_cast<uint8_t>(edns_.udp_payload_size >> 8);
    opt[4] = static_cast<uint8_t>(edns_.udp_payload_size);
    opt[5] = static_cast<uint8_t>(ttl >> 24);
    opt[6] = static_cast<uint8_t>(ttl >> 16);
    opt[7] = static_cast<uint8_t>(ttl >> 8);
    opt[8] = static_cast<uint8_t>(ttl);
    opt[9] = static_cast<uint8_t>(rdlength >> 8);
    opt[10] = static_cast<uint8_t>(rdlength);
    pos_ = end;
    ++count_of(Section::additional);
  }
  header_.qdcount = count_of(Section::question);
  header_.ancount = count_of(Section::answer);
  header_.nscount = count_of(Section::authority);
  header_.arcount = count_of(Section::additional);
  if (truncated_) header_.set_tc(true);
  header_.write(buffer_.data());
  finished_size_ = pos_;
  return {buffer_.data(), finished_size_};
}

}  // namespace sextant::wire
