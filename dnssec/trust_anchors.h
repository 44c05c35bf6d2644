// Trust anchors (RFC 4033 §3, RFC 7958) and negative trust anchors (RFC 7646).
//
// Anchors are kept as DS sets: a DNSKEY anchor is turned into its SHA-256
// DS when loaded, so one code path (validate_zone_keys) authenticates an
// anchored zone's DNSKEY RRset whichever form the operator wrote.
//
// The default is the root zone's KSK-2017 (tag 20326) and KSK-2024 (tag
// 38696) as IANA publishes them (the text of Debian's /usr/share/dns/root.ds,
// embedded). A file of DS and/or DNSKEY records in presentation format
// replaces the default entirely (the lab anchors its own root).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "dnssec/security_state.h"
#include "wire/name.h"
#include "wire/record.h"

namespace sextant::dnssec {

struct TrustAnchor {
  wire::Name zone;
  std::vector<wire::Rdata> ds;  // DS rdata, from DS anchors or digested DNSKEY anchors
};

class TrustAnchors {
 public:
  TrustAnchors() = default;

  // The embedded root anchors.
  static TrustAnchors builtin_root();
  // DS and DNSKEY records (other types rejected). Throws wire::TextError for
  // a record that is neither, a malformed one, a DNSKEY that is not a zone
  // key, or an empty list.
  static TrustAnchors from_records(std::span<const wire::ResourceRecord> records);
  // Presentation-format text or file (wire/zone_reader.h); errors throw
  // wire::TextError with file:line.
  static TrustAnchors from_text(std::string_view text, std::string_view source_name = "anchors");
  static TrustAnchors from_file(const std::string& path);

  void add_ds(const wire::Name& zone, const wire::Rdata& ds);
  void add_dnskey(const wire::Name& zone, const wire::Rdata& dnskey);
  // A trust point with no trusted key yet (RFC 5011: all revoked): the
  // validator answers SERVFAIL below it rather than insecure.
  void add_zone(const wire::Name& zone);
  // Every anchor of `other` replaces this set's anchor for the same zone.
  void replace_with(const TrustAnchors& other);

  // The anchor at `name` or at its closest anchored ancestor; nullptr if no
  // anchor covers the name (then nothing below can be validated: insecure).
  const TrustAnchor* closest(const wire::Name& name) const noexcept;
  // The anchor for exactly this zone, if any.
  const TrustAnchor* find(const wire::Name& zone) const noexcept;
  std::span<const TrustAnchor> anchors() const noexcept { return anchors_; }
  bool empty() const noexcept { return anchors_.empty(); }

 private:
  TrustAnchor& entry(const wire::Name& zone);
  std::vector<TrustAnchor> anchors_;
};

// Names below which validation is switched off by configuration (RFC 7646):
// answers there are insecure and carry EDE 33 (Negative Trust Anchor).
class NegativeTrustAnchors {
 public:
  void add(const wire::Name& name);
  bool remove(const wire::Name& name);
  // The NTA at or above `name`, or nullptr.
  const wire::Name* covering(const wire::Name& name) const noexcept;
  // insecure + EDE 33 when an NTA covers `name`; indeterminate otherwise
  // (meaning: no NTA decision, validate normally).
  Verdict verdict_for(const wire::Name& name) const;
  std::span<const wire::Name> names() const noexcept { return names_; }

 private:
  std::vector<wire::Name> names_;
};

}  // namespace sextant::dnssec
