#include "dnssec/nsec_proofs.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "dnssec/record_fields.h"

namespace sextant::dnssec {

using wire::RRType;

namespace {

DenialProof fail(std::string reason) {
  return {DenialStatus::not_proven, std::move(reason), std::nullopt};
}

DenialProof ok(std::string reason, std::optional<wire::Name> closest_encloser = std::nullopt) {
  return {DenialStatus::proven, std::move(reason), closest_encloser};
}

const NsecRecord* find_match(std::span<const NsecRecord> nsecs, const wire::Name& name) {
  for (const NsecRecord& n : nsecs) {
    if (n.owner == name) return &n;
  }
  return nullptr;
}

const NsecRecord* find_cover(std::span<const NsecRecord> nsecs, const wire::Name& name) {
  for (const NsecRecord& n : nsecs) {
    if (n.covers(name)) return &n;
  }
  return nullptr;
}

// The closest encloser of a name an NSEC covers: the longest ancestor shared
// with the NSEC's owner or next name (both exist, so it exists; a closer
// existing ancestor would sort between them and break the cover).
wire::Name closest_encloser(const wire::Name& qname, const NsecRecord& cover) {
  const size_t labels = std::max(qname.common_suffix_labels(cover.owner),
                                 qname.common_suffix_labels(cover.next));
  return qname.suffix(labels);
}

std::optional<wire::Name> wildcard_of(const wire::Name& name) {
  try {
    return name.prepend("*");
  } catch (const wire::TextError&) {
    return std::nullopt;  // too long: no wildcard can exist there
  }
}

}  // namespace

const char* to_string(DenialStatus s) noexcept {
  switch (s) {
    case DenialStatus::proven: return "proven";
    case DenialStatus::opt_out: return "opt-out";
    case DenialStatus::not_proven: return "not proven";
    case DenialStatus::iterations_too_high: return "NSEC3 iterations too high";
    case DenialStatus::budget_exhausted: return "NSEC3 hash budget exhausted";
  }
  return "unknown";
}

Verdict DenialProof::verdict() const {
  using wire::EdeCode;
  switch (status) {
    case DenialStatus::proven: return Verdict::secure();
    case DenialStatus::opt_out: return Verdict::insecure(reason);
    case DenialStatus::iterations_too_high:
      return Verdict::insecure(reason, EdeCode::UnsupportedNsec3Iterations);
    case DenialStatus::not_proven: return Verdict::bogus(EdeCode::NsecMissing, reason);
    case DenialStatus::budget_exhausted: return Verdict::bogus(EdeCode::DnssecBogus, reason, true);
  }
  return Verdict::bogus(EdeCode::DnssecBogus, reason);
}

bool NsecRecord::has_type(RRType type) const noexcept { return bitmap_has_type(type_bitmap, type); }

bool NsecRecord::covers(const wire::Name& name) const noexcept {
  if (name == owner) return false;
  // Parent-side delegation NSECs and DNAME owners say nothing below them.
  if (name.is_subdomain_of(owner) &&
      ((has_type(RRType::NS) && !has_type(RRType::SOA)) || has_type(RRType::DNAME))) {
    return false;
  }
  const int owner_vs_next = owner.canonical_compare(next);
  if (owner_vs_next < 0) return owner.canonical_compare(name) < 0 && name.canonical_compare(next) < 0;
  // The last NSEC of the zone: its next name is the apex, everything after
  // the owner is covered.
  return owner.canonical_compare(name) < 0 || name.canonical_compare(next) < 0;
}

std::vector<NsecRecord> collect_nsec(std::span<const wire::RRset> rrsets, const wire::Name& zone) {
  std::vector<NsecRecord> out;
  for (const wire::RRset& set : rrsets) {
    if (set.type != RRType::NSEC || !set.owner.is_subdomain_of(zone)) continue;
    for (const wire::Rdata& rdata : set.rdatas) {
      NsecFields fields;
      if (!read_nsec(rdata, fields)) continue;
      out.push_back({set.owner, fields.next,
                     std::vector<uint8_t>(fields.type_bitmap.begin(), fields.type_bitmap.end())});
    }
  }
  return out;
}

DenialProof nsec_prove_nxdomain(std::span<const NsecRecord> nsecs, const wire::Name& zone,
                                const wire::Name& qname) {
  const std::string q = qname.to_text();
  if (!qname.is_subdomain_of(zone)) return fail(fmt::format("{} is outside {}", q, zone.to_text()));
  if (find_match(nsecs, qname)) return fail(fmt::format("an NSEC shows that {} exists", q));
  const NsecRecord* cover = find_cover(nsecs, qname);
  if (!cover) return fail(fmt::format("no NSEC covers {}", q));
  const wire::Name ce = closest_encloser(qname, *cover);
  const auto wildcard = wildcard_of(ce);
  if (wildcard) {
    if (find_match(nsecs, *wildcard)) {
      return fail(fmt::format("wildcard {} exists: {} is not NXDOMAIN", wildcard->to_text(), q));
    }
    if (!find_cover(nsecs, *wildcard)) {
      return fail(fmt::format("no NSEC covers the wildcard {}", wildcard->to_text()));
    }
  }
  return ok(fmt::format("{} covered; wildcard at {} denied", q, ce.to_text()), ce);
}

DenialProof nsec_prove_nodata(std::span<const NsecRecord> nsecs, const wire::Name& zone,
                              const wire::Name& qname, RRType qtype) {
  const std::string q = fmt::format("{} {}", qname.to_text(), wire::to_string(qtype));
  if (!qname.is_subdomain_of(zone)) return fail(fmt::format("{} is outside {}", q, zone.to_text()));
  if (qtype == RRType::DS && qname == zone && !zone.is_root()) {
    return fail(fmt::format("{}: a DS can only be denied by the parent zone", q));
  }
  if (const NsecRecord* match = find_match(nsecs, qname)) {
    if (match->has_type(qtype)) return fail(fmt::format("{}: the NSEC lists the type", q));
    if (qtype != RRType::CNAME && match->has_type(RRType::CNAME)) {
      return fail(fmt::format("{}: the name has a CNAME", q));
    }
    const bool delegation = match->has_type(RRType::NS) && !match->has_type(RRType::SOA);
    if (qtype == RRType::DS) {
      if (match->has_type(RRType::SOA) && !qname.is_root()) {
        return fail(fmt::format("{}: the NSEC is from the child zone's apex", q));
      }
    } else if (delegation) {
      return fail(fmt::format("{}: the NSEC is the parent's side of a delegation", q));
    }
    DenialProof proof = ok(fmt::format("{}: the NSEC at the name lacks the type", q));
    proof.delegation = qtype == RRType::DS && delegation;
    return proof;
  }
  // An empty non-terminal: it exists (names below it do) and has no types.
  for (const NsecRecord& n : nsecs) {
    if (n.covers(qname) && n.next.is_subdomain_of(qname) && !(n.next == qname)) {
      return ok(fmt::format("{}: empty non-terminal", q));
    }
  }
  const NsecRecord* cover = find_cover(nsecs, qname);
  if (!cover) return fail(fmt::format("{}: no NSEC matches or covers the name", q));
  const wire::Name ce = closest_encloser(qname, *cover);
  const auto wildcard = wildcard_of(ce);
  const NsecRecord* wild = wildcard ? find_match(nsecs, *wildcard) : nullptr;
  if (!wild) return fail(fmt::format("{}: the name does not exist and no wildcard NSEC matches", q));
  if (wild->has_type(qtype) || (qtype != RRType::CNAME && wild->has_type(RRType::CNAME))) {
    return fail(fmt::format("{}: the wildcard {} has the type", q, wildcard->to_text()));
  }
  if (qtype != RRType::DS && wild->has_type(RRType::NS) && !wild->has_type(RRType::SOA)) {
    return fail(fmt::format("{}: the wildcard NSEC is a delegation", q));
  }
  return ok(fmt::format("{}: wildcard NODATA at {}", q, wildcard->to_text()), ce);
}

DenialProof nsec_prove_wildcard_answer(std::span<const NsecRecord> nsecs, const wire::Name& zone,
                                       const wire::Name& qname, uint8_t rrsig_labels) {
  const std::string q = qname.to_text();
  if (rrsig_labels >= qname.label_count() || rrsig_labels < zone.label_count()) {
    return fail(fmt::format("{}: labels {} is not a wildcard expansion in {}", q, rrsig_labels,
                            zone.to_text()));
  }
  if (!qname.is_subdomain_of(zone)) return fail(fmt::format("{} is outside {}", q, zone.to_text()));
  if (find_match(nsecs, qname)) return fail(fmt::format("an NSEC shows that {} exists", q));
  const NsecRecord* cover = find_cover(nsecs, qname);
  if (!cover) return fail(fmt::format("no NSEC covers {}", q));
  const wire::Name ce = closest_encloser(qname, *cover);
  if (ce.label_count() != rrsig_labels) {
    return fail(fmt::format("{}: a name closer than the wildcard's parent exists ({})", q,
                            ce.to_text()));
  }
  return ok(fmt::format("{}: no closer match than the wildcard", q), ce);
}

}  // namespace sextant::dnssec
