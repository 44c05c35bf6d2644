// RFC 8509 root key trust anchor sentinel: a validating resolver answers a
// question for A or AAAA whose first label is
//   root-key-sentinel-is-ta-NNNNN   with SERVFAIL unless the root key with
//                                   tag NNNNN is one of its trust anchors,
//   root-key-sentinel-not-ta-NNNNN  with SERVFAIL if it is,
// and as usual otherwise. Only answers that validated as secure (and were
// asked without CD) are touched: an insecure or unvalidated answer says
// nothing about the trust anchors, and a bogus one is SERVFAIL anyway
// (§3.2). NNNNN is the decimal key tag, five digits with leading zeros;
// a label with another form (or a tag above 65535) is an ordinary label.
// The trust anchors are the root's in use now: the keys RFC 5011
// maintenance trusts (Valid or Missing), or the configured DS/DNSKEY.
#pragma once

#include <cstdint>

#include "dnssec/trust_anchors.h"
#include "wire/name.h"

namespace sextant::resolver {

struct RootKeySentinel {
  enum class Kind : uint8_t { none, is_ta, not_ta };
  Kind kind = Kind::none;
  uint16_t key_tag = 0;
};

// Cheap for ordinary names: only a first label of 29 or 30 octets is read.
RootKeySentinel parse_root_key_sentinel(const wire::Name& qname) noexcept;

// True when the answer must be replaced by SERVFAIL. `anchors` may be null
// (no anchors: the root key is not a trust anchor).
bool sentinel_fails(const RootKeySentinel& sentinel, const dnssec::TrustAnchors* anchors) noexcept;

}  // namespace sextant::resolver
