// Numeric registries of the DNS: RR types, classes, opcodes, rcodes, EDNS
// option codes and Extended DNS Error codes, with their mnemonics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sextant::wire {

// Values outside the named ones are valid too (RFC 3597 "TYPE12345").
enum class RRType : uint16_t {
  A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, HINFO = 13, MX = 15, TXT = 16,
  AAAA = 28, SRV = 33, NAPTR = 35, DNAME = 39, OPT = 41, DS = 43, SSHFP = 44,
  RRSIG = 46, NSEC = 47, DNSKEY = 48, NSEC3 = 50, NSEC3PARAM = 51, TLSA = 52,
  CDS = 59, CDNSKEY = 60, ZONEMD = 63, SVCB = 64, HTTPS = 65,
  IXFR = 251, AXFR = 252, ANY = 255, CAA = 257,
};

enum class RRClass : uint16_t { IN = 1, CH = 3, HS = 4, NONE = 254, ANY = 255 };

enum class Opcode : uint8_t { QUERY = 0, IQUERY = 1, STATUS = 2, NOTIFY = 4, UPDATE = 5 };

// The 12-bit rcode space (4 bits in the header, 8 more in OPT).
enum class Rcode : uint16_t {
  NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5,
  YXDOMAIN = 6, YXRRSET = 7, NXRRSET = 8, NOTAUTH = 9, NOTZONE = 10,
  BADVERS = 16, BADCOOKIE = 23,
};

enum class EdnsOptionCode : uint16_t {
  ClientSubnet = 8, Cookie = 10, TcpKeepalive = 11, Padding = 12, ExtendedError = 15,
};

// RFC 8914 Extended DNS Error codes.
enum class EdeCode : uint16_t {
  Other = 0, UnsupportedDnskeyAlgorithm = 1, UnsupportedDsDigestType = 2, StaleAnswer = 3,
  ForgedAnswer = 4, DnssecIndeterminate = 5, DnssecBogus = 6, SignatureExpired = 7,
  SignatureNotYetValid = 8, DnskeyMissing = 9, RrsigsMissing = 10, NoZoneKeyBitSet = 11,
  NsecMissing = 12, CachedError = 13, NotReady = 14, Blocked = 15, Censored = 16,
  Filtered = 17, Prohibited = 18, StaleNxdomainAnswer = 19, NotAuthoritative = 20,
  NotSupported = 21, NoReachableAuthority = 22, NetworkError = 23, InvalidData = 24,
  SignatureExpiredBeforeValid = 25, TooEarly = 26, UnsupportedNsec3Iterations = 27,
  UnableToConformToPolicy = 28, Synthesized = 29, InvalidQueryType = 30,
  NegativeTrustAnchor = 33,
};

// "A", "NSEC3", or "TYPE65534" for unnamed values.
std::string to_string(RRType t);
// Accepts mnemonics case-insensitively and "TYPEnnn".
std::optional<RRType> rrtype_from_text(std::string_view s);

std::string to_string(RRClass c);
// Accepts "IN", "CH", "HS", "NONE", "ANY" and "CLASSnnn".
std::optional<RRClass> rrclass_from_text(std::string_view s);

std::string to_string(Rcode r);
std::string to_string(Opcode o);
const char* to_string(EdeCode e) noexcept;

// Meta types that never live in a zone or a cache (RFC 6895 §3.1).
constexpr bool is_meta_type(RRType t) noexcept {
  auto v = static_cast<uint16_t>(t);
  return v == 41 || (v >= 128 && v <= 255);
}

}  // namespace sextant::wire
