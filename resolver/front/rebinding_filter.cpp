#include "resolver/front/rebinding_filter.h"

#include <algorithm>

#include "wire/packet_scan.h"

namespace sextant::resolver {

namespace {

bool ipv4_rebinding(const uint8_t* a) noexcept {
  return a[0] == 0 ||                                 // 0.0.0.0/8 ("this network")
         a[0] == 10 ||                                // RFC 1918
         a[0] == 127 ||                               // loopback
         (a[0] == 100 && (a[1] & 0xC0) == 64) ||      // 100.64.0.0/10 shared (CGNAT)
         (a[0] == 169 && a[1] == 254) ||              // link-local
         (a[0] == 172 && (a[1] & 0xF0) == 16) ||      // RFC 1918
         (a[0] == 192 && a[1] == 168);                // RFC 1918
}

}  // namespace

bool is_rebinding_address(std::span<const uint8_t> a) noexcept {
  if (a.size() == 4) return ipv4_rebinding(a.data());
  if (a.size() != 16) return false;
  bool zero_head = std::all_of(a.begin(), a.begin() + 10, [](uint8_t b) { return b == 0; });
  if (zero_head && a[10] == 0xFF && a[11] == 0xFF) return ipv4_rebinding(a.data() + 12);  // ::ffff:a.b.c.d
  if (zero_head && a[10] == 0 && a[11] == 0 && a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] <= 1)
    return true;                                             // :: and ::1
  if ((a[0] & 0xFE) == 0xFC) return true;                    // fc00::/7 unique local
  if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return true;    // fe80::/10 link-local
  return false;
}

RebindingFilter::RebindingFilter(bool enabled, const std::vector<wire::Name>& private_zones) : enabled_(enabled) {
  for (const auto& z : private_zones) exempt_zone(z);
}

void RebindingFilter::exempt_zone(const wire::Name& zone) { exempt_.insert(zone.lowercased()); }

bool RebindingFilter::is_exempt(const wire::Name& owner, const ConfiguredZones* configured) const noexcept {
  if (configured != nullptr && configured->inside_stub(owner)) return true;
  if (exempt_.empty()) return false;
  for (size_t labels = 0; labels <= owner.label_count(); ++labels)
    if (exempt_.count(owner.suffix(labels))) return true;
  return false;
}

RebindingFilter::Verdict RebindingFilter::filter(const ResolutionResult& in, ResolutionResult& out,
                                                 size_t& removed, const ConfiguredZones* configured) const {
  removed = 0;
  if (!enabled_) return Verdict::clean;
  auto is_address = [](const wire::RRset& s) { return s.type == wire::RRType::A || s.type == wire::RRType::AAAA; };
  bool any = false;
  for (const auto& set : in.answer) {
    if (!is_address(set)) continue;
    for (const auto& rd : set.rdatas) any = any || is_rebinding_address(rd);
  }
  if (!any) return Verdict::clean;
  // Something is private: now (rarely) look at the owners and rebuild.
  out = in;
  size_t left = 0, addresses = 0;
  for (auto& set : out.answer) {
    if (!is_address(set)) continue;
    addresses += set.rdatas.size();
    if (is_exempt(set.owner, configured)) {
      left += set.rdatas.size();
      continue;
    }
    size_t before = set.rdatas.size();
    std::erase_if(set.rdatas, [](const wire::Rdata& rd) { return is_rebinding_address(rd); });
    if (set.rdatas.size() != before) {
      removed += before - set.rdatas.size();
      set.signatures.clear();  // they cover the whole set, not what is left
    }
    left += set.rdatas.size();
  }
  if (removed == 0) return Verdict::clean;
  std::erase_if(out.answer, [&](const wire::RRset& s) { return is_address(s) && s.rdatas.empty(); });
  return left == 0 || addresses == removed ? Verdict::refused : Verdict::filtered;
}

bool RebindingFilter::answer_is_clean(std::span<const uint8_t> packet,
                                      const ConfiguredZones* configured) const noexcept {
  if (!enabled_) return true;
  bool clean = true;
  wire::for_each_scanned_record(packet, [&](const wire::ScannedRecord& r) noexcept {
    if (r.section != 1) return false;  // past the answer section
    if ((r.type != wire::RRType::A || r.rdata_length != 4) && (r.type != wire::RRType::AAAA || r.rdata_length != 16))
      return true;
    if (!is_rebinding_address(packet.subspan(r.rdata_offset, r.rdata_length))) return true;
    size_t pos = r.owner_offset;
    wire::Name owner;
    if (wire::Name::parse(packet, pos, owner) == wire::WireError::ok && is_exempt(owner, configured)) return true;
    clean = false;
    return false;
  });
  return clean;
}

}  // namespace sextant::resolver
