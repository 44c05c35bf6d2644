#include "dnssec/key_chain.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "dnssec/digests.h"
#include "dnssec/record_fields.h"
#include "dnssec/rrsig_verify.h"

namespace sextant::dnssec {

namespace {

bool usable_ds(const DsFields& ds) {
  return is_supported_digest(ds.digest_type) && is_supported_algorithm(ds.algorithm) &&
         ds.digest.size() == digest_size(ds.digest_type);
}

}  // namespace

bool has_usable_ds(std::span<const wire::Rdata> ds_rdatas) {
  for (const wire::Rdata& rdata : ds_rdatas) {
    DsFields ds;
    if (read_ds(rdata, ds) && usable_ds(ds)) return true;
  }
  return false;
}

bool ds_matches_dnskey(const wire::Name& owner, std::span<const uint8_t> ds_rdata,
                       std::span<const uint8_t> dnskey_rdata) {
  DsFields ds;
  DnskeyFields key;
  if (!read_ds(ds_rdata, ds) || !read_dnskey(dnskey_rdata, key)) return false;
  if (ds.algorithm != key.algorithm || ds.key_tag != key_tag(dnskey_rdata)) return false;
  const auto digest = ds_digest(ds.digest_type, owner, dnskey_rdata);
  return digest && digest->size() == ds.digest.size() &&
         std::equal(digest->begin(), digest->end(), ds.digest.begin());
}

ZoneKeysResult validate_zone_keys(const wire::Name& zone, const wire::RRset& dnskeys,
                                  std::span<const wire::Rdata> ds_rdatas, uint32_t now,
                                  ValidationBudget& budget) {
  using wire::EdeCode;
  const ValidationLimits& limits = budget.limits();
  ZoneKeysResult result;
  const std::string zone_text = zone.to_text();

  // 1. The DS records we can use.
  std::vector<DsFields> usable;
  bool saw_unsupported_digest = false;
  bool saw_unsupported_algorithm = false;
  bool have_sha2 = false;
  for (const wire::Rdata& rdata : ds_rdatas) {
    DsFields ds;
    if (!read_ds(rdata, ds)) continue;
    if (!is_supported_digest(ds.digest_type)) {
      saw_unsupported_digest = true;
      continue;
    }
    if (!is_supported_algorithm(ds.algorithm)) {
      saw_unsupported_algorithm = true;
      continue;
    }
    if (ds.digest.size() != digest_size(ds.digest_type)) continue;  // malformed: ignore
    if (ds.digest_type != static_cast<uint8_t>(DigestType::SHA1)) have_sha2 = true;
    usable.push_back(ds);
  }
  if (have_sha2) {
    std::erase_if(usable, [](const DsFields& ds) {
      return ds.digest_type == static_cast<uint8_t>(DigestType::SHA1);
    });
  }
  if (usable.size() > limits.max_ds_per_zone) usable.resize(limits.max_ds_per_zone);
  if (usable.empty()) {
    if (ds_rdatas.empty()) {
      result.verdict = Verdict::insecure(fmt::format("{}: no DS", zone_text));
    } else if (saw_unsupported_algorithm) {
      result.verdict = Verdict::insecure(
          fmt::format("{}: DS set has only unsupported algorithms", zone_text),
          EdeCode::UnsupportedDnskeyAlgorithm);
    } else if (saw_unsupported_digest) {
      result.verdict = Verdict::insecure(
          fmt::format("{}: DS set has only unsupported digest types", zone_text),
          EdeCode::UnsupportedDsDigestType);
    } else {
      result.verdict =
          Verdict::bogus(EdeCode::DnssecBogus, fmt::format("{}: DS set is malformed", zone_text));
    }
    return result;
  }

  // 2. The DNSKEYs the DS set vouches for.
  if (!(dnskeys.owner == zone) || dnskeys.type != wire::RRType::DNSKEY) {
    result.verdict = Verdict::bogus(
        EdeCode::DnskeyMissing, fmt::format("{}: the key set given is not its DNSKEY RRset", zone_text));
    return result;
  }
  if (dnskeys.rdatas.empty()) {
    result.verdict =
        Verdict::bogus(EdeCode::DnskeyMissing, fmt::format("{}: no DNSKEY records", zone_text));
    return result;
  }
  auto keys = std::make_shared<ZoneKeySet>(zone, dnskeys.rdatas);
  std::vector<const ZoneKey*> trusted;
  bool matched_unusable = false;
  for (const DsFields& ds : usable) {
    uint32_t tried = 0;
    for (const ZoneKey& key : keys->keys()) {
      if (key.tag != ds.key_tag || key.algorithm != ds.algorithm || !key.is_zone_key()) continue;
      if (++tried > limits.max_keys_per_tag) break;
      const auto digest = ds_digest(ds.digest_type, zone, key.rdata);
      if (!digest || !std::equal(digest->begin(), digest->end(), ds.digest.begin(), ds.digest.end())) {
        continue;
      }
      if (key.load_error == KeyError::ok) {
        if (std::find(trusted.begin(), trusted.end(), &key) == trusted.end()) trusted.push_back(&key);
      } else if (is_unsupported_key(key.load_error)) {
        matched_unusable = true;
      }
    }
  }
  if (trusted.empty()) {
    if (matched_unusable) {
      result.verdict = Verdict::insecure(
          fmt::format("{}: the DS matches only keys this validator cannot use", zone_text),
          EdeCode::UnsupportedDnskeyAlgorithm);
    } else {
      result.verdict = Verdict::bogus(
          EdeCode::DnskeyMissing, fmt::format("{}: no DNSKEY matches the DS set", zone_text));
    }
    return result;
  }

  // 3. The DNSKEY RRset signed by one of them.
  const RrsetVerification check = verify_rrset_with(dnskeys, zone, trusted, now, budget);
  if (!check.secure()) {
    result.verdict = check.verdict();
    return result;
  }
  result.verdict = Verdict::secure();
  result.keys = std::move(keys);
  result.ttl_limit = check.ttl_limit;
  return result;
}

}  // namespace sextant::dnssec
