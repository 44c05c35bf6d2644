#include "resolver/front/root_key_sentinel.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "dnssec/record_fields.h"

namespace sextant::resolver {

namespace {

constexpr std::string_view kIsTa = "root-key-sentinel-is-ta-";
constexpr std::string_view kNotTa = "root-key-sentinel-not-ta-";
constexpr size_t kDigits = 5;

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == y;
         });
}

}  // namespace

RootKeySentinel parse_root_key_sentinel(const wire::Name& qname) noexcept {
  const auto wire = qname.wire();
  if (wire.empty()) return {};
  const size_t length = wire[0];
  if (length != kIsTa.size() + kDigits && length != kNotTa.size() + kDigits) return {};
  const std::string_view label = qname.label(0);
  const std::string_view prefix = label.substr(0, label.size() - kDigits);
  RootKeySentinel out;
  if (equals_ignoring_case(prefix, kIsTa)) {
    out.kind = RootKeySentinel::Kind::is_ta;
  } else if (equals_ignoring_case(prefix, kNotTa)) {
    out.kind = RootKeySentinel::Kind::not_ta;
  } else {
    return {};
  }
  uint32_t tag = 0;
  for (char c : label.substr(label.size() - kDigits)) {
    if (c < '0' || c > '9') return {};
    tag = tag * 10 + static_cast<uint32_t>(c - '0');
  }
  if (tag > 0xffff) return {};
  out.key_tag = static_cast<uint16_t>(tag);
  return out;
}

bool sentinel_fails(const RootKeySentinel& sentinel, const dnssec::TrustAnchors* anchors) noexcept {
  if (sentinel.kind == RootKeySentinel::Kind::none) return false;
  bool trusted = false;
  if (const dnssec::TrustAnchor* root = anchors ? anchors->find(wire::Name()) : nullptr) {
    for (const wire::Rdata& rdata : root->ds) {
      dnssec::DsFields ds;
      if (dnssec::read_ds(rdata, ds) && ds.key_tag == sentinel.key_tag) trusted = true;
    }
  }
  return sentinel.kind == RootKeySentinel::Kind::is_ta ? !trusted : trusted;
}

}  // namespace sextant::resolver
