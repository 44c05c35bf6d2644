// Writes a DNS message into a caller-provided buffer, with name compression,
// a size limit, truncation at RRset boundaries and EDNS(0).
//
// Sections are written in order (question, answer, authority, additional);
// EDNS may be set at any time and its OPT record is appended by finish().
// The builder never allocates: the compression table is a fixed-size member
// and EDNS options wait at the far end of the caller's buffer (inside the
// room reserved for OPT) until finish() moves them into place.
//
// Size limit and truncation (RFC 1035 §4.2.1, RFC 2181 §9, RFC 6891 §7):
// the room for OPT is reserved as soon as EDNS is set, so OPT always fits.
// add_rrset() is all-or-nothing. When an RRset does not fit in the answer or
// authority section, nothing of it is written, TC is set and every later
// record is refused (too_large). In the additional section a set that does
// not fit is just left out (TC stays clear), and smaller sets may still fit.
//
// Compression: owner names are compressed case-insensitively against every
// name written so far (so an answer's owner takes the question's case, as
// resolvers echoing 0x20 expect); names inside rdata (only where
// compressible_name_offsets() allows: NS, CNAME, SOA, PTR, MX) are
// compressed only against exact-case matches, so a parse of the output gives
// back the rdata octets unchanged.
//
// Typical use:
//   std::array<uint8_t, 1232> buf;
//   MessageBuilder b(buf, client_limit);
//   b.begin_response(query);
//   b.set_edns({.udp_payload_size = 1232, .dnssec_ok = query.dnssec_ok});
//   b.add_rrset(Section::answer, rrset);
//   std::span<const uint8_t> wire = b.finish();
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "wire/edns.h"
#include "wire/errors.h"
#include "wire/header.h"
#include "wire/message.h"
#include "wire/name.h"
#include "wire/query.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::wire {

// The scalar fields of the OPT record the builder writes.
struct EdnsParams {
  uint16_t udp_payload_size = 1232;
  bool dnssec_ok = false;
  uint8_t version = 0;
  uint16_t other_flags = 0;  // Z bits other than DO, normally 0
};

class MessageBuilder {
 public:
  static constexpr size_t kMaxMessageSize = 65535;
  // Names remembered for compression. 64 suffixes cover a typical answer
  // (question, a few owners, NS/MX targets); when full, names are still
  // written, just without new compression targets.
  static constexpr size_t kCompressionEntries = 64;
  static constexpr size_t kOptFixedSize = 11;  // root owner + type + class + ttl + rdlength

  // The message will not exceed min(limit, buffer.size(), 65535) octets. A
  // limit below 12 makes every call fail with too_large.
  MessageBuilder(std::span<uint8_t> buffer, size_t limit) noexcept;
  explicit MessageBuilder(std::span<uint8_t> buffer) noexcept
      : MessageBuilder(buffer, buffer.size()) {}

  MessageBuilder(const MessageBuilder&) = delete;
  MessageBuilder& operator=(const MessageBuilder&) = delete;

  // ID and flags; finish() replaces the counts with those of what was
  // written (and sets TC once truncated), whatever the caller put there.
  Header& header() noexcept { return header_; }
  const Header& header() const noexcept { return header_; }

  // The full 12-bit rcode; bits above 15 go into OPT, so a value above 15
  // without set_edns() first is refused with bad_opt.
  WireError set_rcode(Rcode rcode) noexcept;

  // Appends a question. Throws std::logic_error if records were already added.
  WireError add_question(const Name& name, RRType type, RRClass qclass);
  WireError add_question(const Question& q) { return add_question(q.name, q.type, q.qclass); }

  // Starts a response: header = response_header_for(query.header), and the
  // question exactly as the client wrote it (case included) if it was read
  // (question_end != 0; a FORMERR answer to an unreadable question has none).
  WireError begin_response(const ParsedQuery& query);
  // The same from a parsed Message (all its questions, in their case).
  WireError begin_response(const Message& query);

  // One record, all or nothing; too_large if it does not fit. Does not set
  // TC: a single record is the caller's unit, not an RRset.
  // Throws std::logic_error if `section` comes before one already written to,
  // or is Section::question.
  WireError add_record(Section section, const ResourceRecord& rr);

  // A whole RRset, its records then (if `with_signatures`) its RRSIGs, with
  // the truncation rules described at the top of this file.
  WireError add_rrset(Section section, const RRset& set, bool with_signatures = true);
  WireError add_rrset(Section section, const Name& owner, RRType type, RRClass rclass,
                      uint32_t ttl, std::span<const Rdata> rdatas);

  // Adds a parsed section's records, grouping consecutive records of the
  // same owner, class and type (RRSIGs join the set they cover) into RRsets
  // handled like add_rrset(). Returns the first non-ok result (too_large
  // after truncation), having written every group that fit.
  WireError add_records(Section section, std::span<const ResourceRecord> records);

  // Enables EDNS and reserves room for OPT (and for options added so far).
  // too_large if what is already written leaves no room. May be called again
  // to change the fields; options are kept.
  WireError set_edns(const EdnsParams& params) noexcept;
  // Fields and every option of `edns` (extended_rcode is taken from
  // set_rcode(), not from here).
  WireError set_edns(const Edns& edns) noexcept;
  // Appends an option; bad_opt without set_edns(), too_large if it does not
  // fit in the size limit (or would make the OPT rdata exceed 65535).
  WireError add_edns_option(uint16_t code, std::span<const uint8_t> data) noexcept;
  WireError add_edns_option(const EdnsOption& option) noexcept {
    return add_edns_option(option.code, option.data);
  }
  WireError add_extended_error(EdeCode code, std::string_view extra_text = {}) noexcept;
  // RFC 8467 block-length padding: finish() adds a Padding option so the
  // whole message is a multiple of `block` octets (468 is the recommended
  // response block), or as close as the limit allows. 0 turns it off.
  // bad_opt without set_edns(); reserves the 4-octet option header.
  WireError set_padding_block(uint16_t block) noexcept;

  bool truncated() const noexcept { return truncated_; }
  bool has_edns() const noexcept { return edns_enabled_; }
  // Octets written so far, without the pending OPT record.
  size_t size() const noexcept { return pos_; }
  size_t limit() const noexcept { return limit_; }
  // Room left for records, after the OPT reservation.
  size_t remaining() const noexcept;

  // Writes OPT and the final header; returns the message. Later calls
  // return the same span; adding after finish() throws std::logic_error.
  // Returns an empty span if the limit is below 12.
  std::span<const uint8_t> finish() noexcept;

 private:
  struct CompressionEntry {
    uint16_t offset;  // where the suffix starts in the output
    uint16_t hash;    // case-insensitive hash of its uncompressed wire form
  };
  struct Mark {
    size_t pos;
    size_t compression_count;
    uint16_t count;
  };

  bool write_name(const Name& name, bool exact_case_only) noexcept;
  bool write_rdata(RRType type, std::span<const uint8_t> rdata) noexcept;
  bool write_record(const Name& owner, RRType type, RRClass rclass, uint32_t ttl,
                    std::span<const uint8_t> rdata) noexcept;
  bool write_bytes(const void* data, size_t n) noexcept;
  bool write_u16(uint16_t v) noexcept;
  bool write_u32(uint32_t v) noexcept;
  bool suffix_matches(size_t output_offset, const uint8_t* suffix, size_t suffix_size,
                      bool exact_case) const noexcept;
  void enter_section(Section section);
  uint16_t& count_of(Section section) noexcept;
  Mark mark(Section section) noexcept;
  void rollback(const Mark& m, Section section) noexcept;
  size_t reserved() const noexcept;
  // Limit for record data: limit_ minus the OPT reservation.
  size_t record_limit() const noexcept;

  std::span<uint8_t> buffer_;
  size_t limit_;
  size_t pos_ = kHeaderSize;
  Header header_;
  std::array<uint16_t, 4> counts_{};  // per Section, written into header_ by finish()
  uint8_t rcode_high_ = 0;  // bits 4..11 of the rcode, written into OPT
  Section current_section_ = Section::question;
  bool truncated_ = false;
  bool finished_ = false;
  bool unusable_ = false;
  size_t finished_size_ = 0;

  bool edns_enabled_ = false;
  EdnsParams edns_;
  uint16_t padding_block_ = 0;
  // Options in wire form live at buffer_[limit_ - edns_options_size_, limit_).
  size_t edns_options_size_ = 0;

  size_t compression_count_ = 0;
  std::array<CompressionEntry, kCompressionEntries> compression_{};
};

}  // namespace sextant::wire
