// A zone's DNSKEY RRset prepared for verification: each key parsed, its tag
// computed and its public key loaded into OpenSSL once. The resolver keeps
// the ZoneKeySet of a validated zone (shared_ptr<const ZoneKeySet>) next to
// the cached DNSKEY RRset, so answers from that zone are checked without
// decoding keys again. Immutable after construction, so it may be shared
// between threads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dnssec/algorithms.h"
#include "wire/name.h"
#include "wire/record.h"

namespace sextant::dnssec {

struct ZoneKey {
  wire::Rdata rdata;  // the whole DNSKEY rdata
  uint16_t flags = 0;
  uint8_t protocol = 0;
  uint8_t algorithm = 0;
  uint16_t tag = 0;
  PublicKey key;                          // loaded when load_error == ok
  KeyError load_error = KeyError::malformed_key;

  // RFC 4035 §5.3.1 / RFC 5011 §2.1: a key may verify zone data only with
  // the Zone Key flag, protocol 3, and not revoked.
  bool is_zone_key() const noexcept;
  bool usable() const noexcept { return is_zone_key() && load_error == KeyError::ok; }
};

class ZoneKeySet {
 public:
  ZoneKeySet() = default;
  // Malformed DNSKEY rdata is kept out; keys with unsupported algorithms or
  // sizes are kept (with load_error set) so the caller can tell
  // "unsupported" from "missing".
  ZoneKeySet(const wire::Name& zone, std::span<const wire::Rdata> dnskey_rdatas);

  const wire::Name& zone() const noexcept { return zone_; }
  std::span<const ZoneKey> keys() const noexcept { return keys_; }
  bool empty() const noexcept { return keys_.empty(); }
  // At least one usable key with a supported algorithm.
  bool has_usable_key() const noexcept;

 private:
  wire::Name zone_;
  std::vector<ZoneKey> keys_;
};

}  // namespace sextant::dnssec
