#include "dnssec/trust_anchors.h"

#include <fmt/format.h>

#include <algorithm>

#include "dnssec/digests.h"
#include "dnssec/record_fields.h"
#include "wire/zone_reader.h"

namespace sextant::dnssec {

namespace {

// IANA's root anchors, as in Debian's dns-root-data (/usr/share/dns/root.ds):
// KSK-2017 and KSK-2024.
constexpr std::string_view kRootDs =
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
    ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16\n";

}  // namespace

TrustAnchors TrustAnchors::builtin_root() { return from_text(kRootDs, "built-in root anchors"); }

TrustAnchors TrustAnchors::from_records(std::span<const wire::ResourceRecord> records) {
  TrustAnchors anchors;
  for (const wire::ResourceRecord& rr : records) {
    if (rr.type == wire::RRType::DS) {
      DsFields ds;
      if (!read_ds(rr.rdata, ds)) {
        throw wire::TextError(fmt::format("malformed DS anchor for {}", rr.owner.to_text()));
      }
      anchors.add_ds(rr.owner, rr.rdata);
    } else if (rr.type == wire::RRType::DNSKEY) {
      anchors.add_dnskey(rr.owner, rr.rdata);
    } else {
      throw wire::TextError(fmt::format("trust anchor {} is a {} record: only DS and DNSKEY are allowed",
                                        rr.owner.to_text(), wire::to_string(rr.type)));
    }
  }
  if (anchors.empty()) throw wire::TextError("no trust anchors (no DS or DNSKEY records)");
  return anchors;
}

TrustAnchors TrustAnchors::from_text(std::string_view text, std::string_view source_name) {
  return from_records(wire::read_zone_text(text, source_name));
}

TrustAnchors TrustAnchors::from_file(const std::string& path) {
  return from_records(wire::read_zone_file(path));
}

TrustAnchor& TrustAnchors::entry(const wire::Name& zone) {
  for (TrustAnchor& a : anchors_) {
    if (a.zone == zone) return a;
  }
  anchors_.push_back({zone, {}});
  return anchors_.back();
}

void TrustAnchors::add_ds(const wire::Name& zone, const wire::Rdata& ds) {
  TrustAnchor& a = entry(zone);
  if (std::find(a.ds.begin(), a.ds.end(), ds) == a.ds.end()) a.ds.push_back(ds);
}

void TrustAnchors::add_dnskey(const wire::Name& zone, const wire::Rdata& dnskey) {
  DnskeyFields key;
  if (!read_dnskey(dnskey, key)) {
    throw wire::TextError(fmt::format("malformed DNSKEY anchor for {}", zone.to_text()));
  }
  if ((key.flags & kDnskeyFlagZone) == 0 || key.protocol != kDnskeyProtocol) {
    throw wire::TextError(fmt::format("DNSKEY anchor for {} is not a zone key", zone.to_text()));
  }
  const auto digest = ds_digest(static_cast<uint8_t>(DigestType::SHA256), zone, dnskey);
  if (!digest) throw wire::TextError("SHA-256 unavailable for a DNSKEY anchor");
  const uint16_t tag = key_tag(dnskey);
  wire::Rdata ds = {static_cast<uint8_t>(tag >> 8), static_cast<uint8_t>(tag), key.algorithm,
                    static_cast<uint8_t>(DigestType::SHA256)};
  ds.insert(ds.end(), digest->begin(), digest->end());
  add_ds(zone, ds);
}

void TrustAnchors::add_zone(const wire::Name& zone) { entry(zone); }

void TrustAnchors::replace_with(const TrustAnchors& other) {
  for (const TrustAnchor& a : other.anchors()) entry(a.zone).ds = a.ds;
}

const TrustAnchor* TrustAnchors::closest(const wire::Name& name) const noexcept {
  const TrustAnchor* best = nullptr;
  for (const TrustAnchor& a : anchors_) {
    if (name.is_subdomain_of(a.zone) && (!best || a.zone.label_count() > best->zone.label_count())) {
      best = &a;
    }
  }
  return best;
}

const TrustAnchor* TrustAnchors::find(const wire::Name& zone) const noexcept {
  for (const TrustAnchor& a : anchors_) {
    if (a.zone == zone) return &a;
  }
  return nullptr;
}

void NegativeTrustAnchors::add(const wire::Name& name) {
  if (std::find(names_.begin(), names_.end(), name) == names_.end()) names_.push_back(name);
}

bool NegativeTrustAnchors::remove(const wire::Name& name) {
  auto it = std::find(names_.begin(), names_.end(), name);
  if (it == names_.end()) return false;
  names_.erase(it);
  return true;
}

const wire::Name* NegativeTrustAnchors::covering(const wire::Name& name) const noexcept {
  const wire::Name* best = nullptr;
  for (const wire::Name& n : names_) {
    if (name.is_subdomain_of(n) && (!best || n.label_count() > best->label_count())) best = &n;
  }
  return best;
}

Verdict NegativeTrustAnchors::verdict_for(const wire::Name& name) const {
  if (const wire::Name* nta = covering(name)) {
    return Verdict::insecure(fmt::format("negative trust anchor {}", nta->to_text()),
                             wire::EdeCode::NegativeTrustAnchor);
  }
  return Verdict::indeterminate("no negative trust anchor");
}

}  // namespace sextant::dnssec
