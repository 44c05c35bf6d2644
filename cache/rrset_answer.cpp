#include "cache/rrset_answer.h"

#include <cstring>
#include <vector>

#include "wire/header.h"
#include "wire/packet_scan.h"

namespace sextant::cache {

namespace {

// Record header of a rendered record: owner = pointer to the question name
// at offset 12, type, class, TTL, RDLENGTH.
constexpr size_t kRecordHeaderSize = 12;
constexpr uint8_t kRRSIGLabelsOffset = 3;  // RFC 4034 §3.1: type covered, algorithm, labels

// Labels of the owner name at the start of a key, the root not counted (as
// the RRSIG labels field counts them).
unsigned owner_labels(const RRsetEntry& e) noexcept {
  const uint8_t* key = entry_tail(&e);
  unsigned labels = 0;
  for (size_t pos = 0; pos < e.key_len && key[pos] != 0; pos += key[pos] + 1u) ++labels;
  return labels;
}

}  // namespace

bool rrset_answers_client(const RRsetEntry& e, bool dnssec_ok) noexcept {
  if (e.rank < Rank::answer_nonauth) return false;
  if (e.status != DnssecStatus::secure && e.status != DnssecStatus::insecure) return false;
  if (dnssec_ok && e.signature_count > 0) {
    const unsigned labels = owner_labels(e);
    for (auto sig : signatures_of(e)) {
      if (sig.size() <= kRRSIGLabelsOffset || sig[kRRSIGLabelsOffset] < labels) return false;
    }
  }
  return true;
}

bool render_rrset_answer(const RRsetEntry& e, uint16_t id, std::span<const uint8_t> qname_wire,
                         bool dnssec_ok, uint32_t ttl, std::span<uint8_t> out,
                         size_t& out_len) noexcept {
  const size_t records = size_t{e.rdata_count} + (dnssec_ok ? e.signature_count : 0);
  const size_t question_end = wire::kHeaderSize + qname_wire.size() + 4;
  if (records > 0xFFFF || question_end > out.size()) return false;
  uint8_t* o = out.data();
  write_u16(o, id);
  o[2] = kRenderedFlagsHigh;
  o[3] = kRenderedFlagsLow;
  write_u16(o + 4, 1);
  write_u16(o + 6, static_cast<uint16_t>(records));
  write_u16(o + 8, 0);
  write_u16(o + 10, 0);
  copy_short(o + wire::kHeaderSize, qname_wire.data(), qname_wire.size());
  write_u16(o + question_end - 4, static_cast<uint16_t>(e.type));
  write_u16(o + question_end - 2, static_cast<uint16_t>(e.rclass));

  size_t pos = question_end;
  const size_t capacity = out.size();
  // Items are (2-octet length, octets), records first, then RRSIGs.
  const uint8_t* item = entry_tail(&e) + e.key_len;
  auto put = [&](uint16_t type, uint16_t count) noexcept {
    for (uint16_t i = 0; i < count; ++i) {
      const uint16_t length = read_u16(item);
      if (capacity - pos < kRecordHeaderSize + length) return false;
      uint8_t* r = o + pos;
      r[0] = 0xC0;
      r[1] = wire::kHeaderSize;
      write_u16(r + 2, type);
      write_u16(r + 4, static_cast<uint16_t>(e.rclass));
      write_u32(r + 6, ttl);
      write_u16(r + 10, length);
      copy_short(r + kRecordHeaderSize, item + 2, length);
      pos += kRecordHeaderSize + length;
      item += 2 + length;
    }
    return true;
  };
  if (!put(static_cast<uint16_t>(e.type), e.rdata_count)) return false;
  if (dnssec_ok && !put(static_cast<uint16_t>(wire::RRType::RRSIG), e.signature_count)) {
    return false;
  }
  out_len = pos;
  return true;
}

bool packet_is_rrset_answer(const RRsetEntry& e, std::span<const uint8_t> packet, bool dnssec_ok) {
  if (packet.size() < wire::kHeaderSize) return false;
  size_t qname_end = wire::kHeaderSize;
  while (qname_end < packet.size() && packet[qname_end] != 0 && packet[qname_end] < 64) {
    qname_end += packet[qname_end] + 1u;
  }
  if (qname_end >= packet.size() || packet[qname_end] != 0) return false;
  ++qname_end;
  std::span<const uint8_t> qname(packet.data() + wire::kHeaderSize, qname_end - wire::kHeaderSize);

  std::vector<uint8_t> rendered(packet.size());
  size_t length = 0;
  if (!render_rrset_answer(e, read_u16(packet.data()), qname, dnssec_ok, 0, rendered, length) ||
      length != packet.size()) {
    return false;
  }
  std::vector<uint8_t> given(packet.begin(), packet.end());
  bool scanned = wire::for_each_scanned_record(given, [&](const wire::ScannedRecord& r) {
    write_u32(&given[r.ttl_offset], 0);
    return true;
  });
  if (!scanned) return false;
  // RD, AD and CD are the hit path's business (per client).
  constexpr uint8_t kRD = 0x01;
  constexpr uint8_t kADCD = 0x30;
  given[2] &= static_cast<uint8_t>(~kRD);
  rendered[2] &= static_cast<uint8_t>(~kRD);
  given[3] &= static_cast<uint8_t>(~kADCD);
  rendered[3] &= static_cast<uint8_t>(~kADCD);
  return given == rendered;
}

}  // namespace sextant::cache
