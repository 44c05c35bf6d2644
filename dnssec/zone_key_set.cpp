#include "dnssec/zone_key_set.h"

#include "dnssec/digests.h"
#include "dnssec/record_fields.h"

namespace sextant::dnssec {

bool ZoneKey::is_zone_key() const noexcept {
  return (flags & kDnskeyFlagZone) != 0 && (flags & kDnskeyFlagRevoke) == 0 &&
         protocol == kDnskeyProtocol;
}

ZoneKeySet::ZoneKeySet(const wire::Name& zone, std::span<const wire::Rdata> dnskey_rdatas)
    : zone_(zone) {
  keys_.reserve(dnskey_rdatas.size());
  for (const wire::Rdata& rdata : dnskey_rdatas) {
    DnskeyFields fields;
    if (!read_dnskey(rdata, fields)) continue;
    ZoneKey key;
    key.rdata = rdata;
    key.flags = fields.flags;
    key.protocol = fields.protocol;
    key.algorithm = fields.algorithm;
    key.tag = key_tag(rdata);
    // Loading decodes the key but does no signature work, so even a hostile
    // set of many keys costs little here; the budget bounds verifications.
    key.load_error = PublicKey::load(fields.algorithm, fields.public_key, key.key);
    keys_.push_back(std::move(key));
  }
}

bool ZoneKeySet::has_usable_key() const noexcept {
  for (const ZoneKey& key : keys_) {
    if (key.usable()) return true;
  }
  return false;
}

}  // namespace sextant::dnssec
