#include "dnssec/rrsig_verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "wire/rdata.h"

namespace sextant::dnssec {

namespace {

void put_u16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  put_u16(out, static_cast<uint16_t>(v >> 16));
  put_u16(out, static_cast<uint16_t>(v));
}

// How telling a failure is when nothing verified: the highest rank is
// reported (a signature that was checked and failed says more than one that
// had no key).
int rank(RrsetStatus s) noexcept {
  switch (s) {
    case RrsetStatus::secure: return 100;
    case RrsetStatus::budget_exhausted: return 90;
    case RrsetStatus::bad_signature: return 80;
    case RrsetStatus::signature_expired: return 70;
    case RrsetStatus::signature_not_yet_valid: return 60;
    case RrsetStatus::expired_before_valid: return 55;
    case RrsetStatus::dnskey_missing: return 50;
    case RrsetStatus::unsupported_algorithm: return 40;
    case RrsetStatus::no_matching_signature: return 20;
    case RrsetStatus::no_signatures: return 10;
  }
  return 0;
}

// The canonical RRset for one signature: the rdatas in canonical form,
// sorted and without duplicates (RFC 4034 §6.3), computed once per set.
std::vector<wire::Rdata> canonical_rdatas(const wire::RRset& rrset) {
  std::vector<wire::Rdata> out;
  out.reserve(rrset.rdatas.size());
  for (const wire::Rdata& rdata : rrset.rdatas) out.push_back(wire::canonical_rdata(rrset.type, rdata));
  // Octet-wise, as §6.3 requires, with a shorter rdata first when it is a
  // prefix of a longer one. (An explicit memcmp: GCC 12 warns falsely on
  // vector<uint8_t>::operator< at -O2, -Wstringop-overread.)
  auto less = [](const wire::Rdata& a, const wire::Rdata& b) {
    const size_t common = std::min(a.size(), b.size());
    const int c = common ? std::memcmp(a.data(), b.data(), common) : 0;
    return c < 0 || (c == 0 && a.size() < b.size());
  };
  std::sort(out.begin(), out.end(), less);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Appends the signed data for one RRSIG; false if the labels value is
// impossible for the owner.
bool build_signed_data(const wire::RRset& rrset, std::span<const uint8_t> rrsig_rdata,
                       const RrsigFields& sig, std::span<const wire::Rdata> canonical,
                       std::vector<uint8_t>& out) {
  if (sig.labels > rrset.owner.label_count()) return false;
  // RRSIG rdata up to the signer, then the signer in canonical form.
  // (resize + memcpy: GCC 12 at -O2 misreads insert() after clear() as an
  // overflow, -Wstringop-overflow.)
  out.resize(18);
  std::memcpy(out.data(), rrsig_rdata.data(), 18);
  const wire::Name signer = sig.signer.lowercased();
  out.insert(out.end(), signer.wire().begin(), signer.wire().end());

  wire::Name owner = rrset.owner.lowercased();
  if (sig.labels < owner.label_count()) {
    try {
      owner = owner.suffix(sig.labels).prepend("*");
    } catch (const wire::TextError&) {
      return false;  // cannot happen: a suffix plus "*" is never longer than the owner
    }
  }
  for (const wire::Rdata& rdata : canonical) {
    out.insert(out.end(), owner.wire().begin(), owner.wire().end());
    put_u16(out, static_cast<uint16_t>(rrset.type));
    put_u16(out, static_cast<uint16_t>(rrset.rclass));
    put_u32(out, sig.original_ttl);
    put_u16(out, static_cast<uint16_t>(rdata.size()));
    out.insert(out.end(), rdata.begin(), rdata.end());
  }
  return true;
}

}  // namespace

const char* to_string(RrsetStatus s) noexcept {
  switch (s) {
    case RrsetStatus::secure: return "secure";
    case RrsetStatus::no_signatures: return "no RRSIG";
    case RrsetStatus::no_matching_signature: return "no RRSIG for this type and zone";
    case RrsetStatus::dnskey_missing: return "no DNSKEY matches the RRSIG";
    case RrsetStatus::unsupported_algorithm: return "only unsupported algorithms";
    case RrsetStatus::signature_expired: return "signature expired";
    case RrsetStatus::signature_not_yet_valid: return "signature not yet valid";
    case RrsetStatus::expired_before_valid: return "signature expires before it is valid";
    case RrsetStatus::bad_signature: return "signature does not verify";
    case RrsetStatus::budget_exhausted: return "validation budget exhausted";
  }
  return "unknown";
}

Verdict RrsetVerification::verdict() const {
  using wire::EdeCode;
  switch (status) {
    case RrsetStatus::secure: return Verdict::secure();
    case RrsetStatus::no_signatures:
    case RrsetStatus::no_matching_signature: return Verdict::bogus(EdeCode::RrsigsMissing, reason);
    case RrsetStatus::dnskey_missing: return Verdict::bogus(EdeCode::DnskeyMissing, reason);
    case RrsetStatus::unsupported_algorithm:
      return Verdict::bogus(EdeCode::UnsupportedDnskeyAlgorithm, reason);
    case RrsetStatus::signature_expired: return Verdict::bogus(EdeCode::SignatureExpired, reason);
    case RrsetStatus::signature_not_yet_valid:
      return Verdict::bogus(EdeCode::SignatureNotYetValid, reason);
    case RrsetStatus::expired_before_valid:
      return Verdict::bogus(EdeCode::SignatureExpiredBeforeValid, reason);
    case RrsetStatus::bad_signature: return Verdict::bogus(EdeCode::DnssecBogus, reason);
    case RrsetStatus::budget_exhausted: return Verdict::bogus(EdeCode::DnssecBogus, reason, true);
  }
  return Verdict::bogus(EdeCode::DnssecBogus, reason);
}

std::vector<uint8_t> signed_data(const wire::RRset& rrset, std::span<const uint8_t> rrsig_rdata) {
  RrsigFields sig;
  std::vector<uint8_t> out;
  if (!read_rrsig(rrsig_rdata, sig)) return out;
  const std::vector<wire::Rdata> canonical = canonical_rdatas(rrset);
  if (!build_signed_data(rrset, rrsig_rdata, sig, canonical, out)) out.clear();
  return out;
}

RrsetVerification verify_rrset(const wire::RRset& rrset, const ZoneKeySet& keys, uint32_t now,
                               ValidationBudget& budget) {
  std::vector<const ZoneKey*> candidates;
  candidates.reserve(keys.keys().size());
  for (const ZoneKey& key : keys.keys()) {
    if (key.is_zone_key()) candidates.push_back(&key);
  }
  return verify_rrset_with(rrset, keys.zone(), candidates, now, budget);
}

RrsetVerification verify_rrset_with(const wire::RRset& rrset, const wire::Name& zone,
                                    std::span<const ZoneKey* const> candidates, uint32_t now,
                                    ValidationBudget& budget) {
  const ValidationLimits& limits = budget.limits();
  RrsetVerification result;
  result.status = RrsetStatus::no_signatures;
  result.reason = fmt::format("{} {}: no RRSIG", rrset.owner.to_text(), wire::to_string(rrset.type));
  auto fail = [&](RrsetStatus status, std::string reason) {
    if (rank(status) > rank(result.status)) {
      result.status = status;
      result.reason = std::move(reason);
    }
  };
  const std::string what = fmt::format("{} {}", rrset.owner.to_text(), wire::to_string(rrset.type));
  if (rrset.rdatas.empty()) {
    fail(RrsetStatus::no_matching_signature, fmt::format("{}: empty RRset", what));
    return result;
  }

  std::vector<wire::Rdata> canonical;
  bool canonical_ready = false;
  std::vector<uint8_t> data;
  uint32_t signatures_tried = 0;

  for (const wire::Rdata& rrsig_rdata : rrset.signatures) {
    RrsigFields sig;
    if (!read_rrsig(rrsig_rdata, sig) || sig.type_covered != rrset.type || !(sig.signer == zone) ||
        !rrset.owner.is_subdomain_of(zone) || sig.labels > rrset.owner.label_count()) {
      fail(RrsetStatus::no_matching_signature,
           fmt::format("{}: no RRSIG by {} that fits the set", what, zone.to_text()));
      continue;
    }
    if (!is_supported_algorithm(sig.algorithm)) {
      fail(RrsetStatus::unsupported_algorithm,
           fmt::format("{}: RRSIG algorithm {} is not supported", what, sig.algorithm));
      continue;
    }
    // Validity period: cheap, so before any key work (RFC 4035 §5.3.1).
    if (serial_before(sig.expiration, sig.inception)) {
      fail(RrsetStatus::expired_before_valid,
           fmt::format("{}: RRSIG (tag {}) expires before its inception", what, sig.key_tag));
      continue;
    }
    if (serial_before(sig.expiration, now - limits.clock_skew_seconds)) {
      fail(RrsetStatus::signature_expired,
           fmt::format("{}: RRSIG (tag {}) expired", what, sig.key_tag));
      continue;
    }
    if (serial_before(now + limits.clock_skew_seconds, sig.inception)) {
      fail(RrsetStatus::signature_not_yet_valid,
           fmt::format("{}: RRSIG (tag {}) not yet valid", what, sig.key_tag));
      continue;
    }
    // Keys with this tag and algorithm; capped per tag against collisions
    // crafted by an attacker (KeyTrap).
    std::vector<const ZoneKey*> keys;
    for (const ZoneKey* key : candidates) {
      if (key->tag == sig.key_tag && key->algorithm == sig.algorithm && key->usable()) {
        keys.push_back(key);
        if (keys.size() >= limits.max_keys_per_tag) break;
      }
    }
    if (keys.empty()) {
      fail(RrsetStatus::dnskey_missing,
           fmt::format("{}: no DNSKEY with tag {} algorithm {} in {}", what, sig.key_tag,
                       sig.algorithm, zone.to_text()));
      continue;
    }
    if (signatures_tried >= limits.max_signatures_per_rrset) {
      fail(RrsetStatus::budget_exhausted,
           fmt::format("{}: more than {} signatures to try", what, limits.max_signatures_per_rrset));
      break;
    }
    ++signatures_tried;
    if (!canonical_ready) {
      canonical = canonical_rdatas(rrset);
      canonical_ready = true;
    }
    if (!build_signed_data(rrset, rrsig_rdata, sig, canonical, data)) continue;
    for (const ZoneKey* key : keys) {
      if (!budget.take_verification()) {
        fail(RrsetStatus::budget_exhausted,
             fmt::format("{}: {}", what, to_string(BudgetError::verifications)));
        return result;
      }
      if (key->key.verify(sig.signature, data)) {
        result.status = RrsetStatus::secure;
        result.reason.clear();
        result.rrsig_labels = sig.labels;
        result.wildcard_expanded = sig.labels < rrset.owner.rrsig_label_count();
        if (result.wildcard_expanded) result.wildcard_parent = rrset.owner.suffix(sig.labels);
        uint32_t ttl = std::min(rrset.ttl, sig.original_ttl);
        // Inside the skew allowance the signature may already be past its
        // expiration: valid now, but not worth caching.
        ttl = serial_before(sig.expiration, now) ? 0 : std::min(ttl, sig.expiration - now);
        result.ttl_limit = ttl;
        return result;
      }
      fail(RrsetStatus::bad_signature,
           fmt::format("{}: RRSIG (tag {} algorithm {}) does not verify", what, sig.key_tag,
                       sig.algorithm));
    }
  }
  return result;
}

}  // namespace sextant::dnssec
