#include "wire/packet_scan.h"

namespace sextant::wire {

namespace {

constexpr uint32_t effective_ttl(uint32_t ttl) noexcept {
  // RFC 2181 §8: a TTL with the most significant bit set is treated as zero.
  return (ttl & 0x80000000u) ? 0 : ttl;
}

}  // namespace

bool scan_packet(std::span<const uint8_t> packet, PacketScan& out,
                 std::span<uint16_t> ttl_offsets) noexcept {
  using namespace packet_scan_detail;
  out = PacketScan{};
  if (packet.size() < 12 || packet.size() > 65535) return false;
  out.qdcount = u16(packet, 4);
  out.ancount = u16(packet, 6);
  out.nscount = u16(packet, 8);
  out.arcount = u16(packet, 10);

  size_t pos = 12;
  for (uint16_t i = 0; i < out.qdcount; ++i) {
    size_t start = pos;
    bool compressed = false;
    if (!skip_name(packet, pos, &compressed)) return false;
    if (i == 0) {
      out.qname_size = pos - start;
      out.qname_compressed = compressed;
    }
    if (packet.size() - pos < 4) return false;
    pos += 4;
  }
  out.question_end = pos;

  bool ok = true;
  bool walked = for_each_scanned_record(packet, [&](const ScannedRecord& r) {
    if (r.type == RRType::OPT) {
      if (r.section != 3 || out.has_opt) {
        ok = false;
        return false;
      }
      out.has_opt = true;
      out.opt_offset = r.owner_offset;
      out.opt_end = r.rdata_offset + r.rdata_length;
      return true;
    }
    if (out.ttl_count < ttl_offsets.size()) {
      ttl_offsets[out.ttl_count] = static_cast<uint16_t>(r.ttl_offset);
    } else {
      out.offsets_complete = false;
    }
    ++out.ttl_count;
    if (r.section == 1 || r.section == 2) {
      uint32_t ttl = effective_ttl(r.ttl);
      if (ttl < out.min_ttl) out.min_ttl = ttl;
      // SOA rdata ends with SERIAL REFRESH RETRY EXPIRE MINIMUM, so MINIMUM
      // is its last four octets whatever the (possibly compressed) names.
      if (r.section == 2 && r.type == RRType::SOA && r.rdata_length >= 22) {
        uint32_t minimum = effective_ttl(u32(packet, r.rdata_offset + r.rdata_length - 4));
        if (minimum < out.min_ttl) out.min_ttl = minimum;
      }
    }
    out.end = r.rdata_offset + r.rdata_length;
    return true;
  });
  if (!walked || !ok) return false;
  if (out.end == 0) out.end = out.question_end;
  if (out.has_opt && out.opt_end > out.end) out.end = out.opt_end;
  return out.end == packet.size();
}

}  // namespace sextant::wire
