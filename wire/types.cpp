#include "wire/types.h"

#include <utility>

namespace sextant::wire {

namespace {

// Mnemonics from the IANA "Resource Record (RR) TYPEs" registry. Types that
// Sextant has no typed rdata for still print by name; their rdata uses the
// RFC 3597 generic form.
constexpr std::pair<uint16_t, std::string_view> kTypeNames[] = {
    {1, "A"},          {2, "NS"},         {3, "MD"},          {4, "MF"},
    {5, "CNAME"},      {6, "SOA"},        {7, "MB"},          {8, "MG"},
    {9, "MR"},         {10, "NULL"},      {11, "WKS"},        {12, "PTR"},
    {13, "HINFO"},     {14, "MINFO"},     {15, "MX"},         {16, "TXT"},
    {17, "RP"},        {18, "AFSDB"},     {19, "X25"},        {20, "ISDN"},
    {21, "RT"},        {22, "NSAP"},      {23, "NSAP-PTR"},   {24, "SIG"},
    {25, "KEY"},       {26, "PX"},        {27, "GPOS"},       {28, "AAAA"},
    {29, "LOC"},       {30, "NXT"},       {31, "EID"},        {32, "NIMLOC"},
    {33, "SRV"},       {34, "ATMA"},      {35, "NAPTR"},      {36, "KX"},
    {37, "CERT"},      {38, "A6"},        {39, "DNAME"},      {40, "SINK"},
    {41, "OPT"},       {42, "APL"},       {43, "DS"},         {44, "SSHFP"},
    {45, "IPSECKEY"},  {46, "RRSIG"},     {47, "NSEC"},       {48, "DNSKEY"},
    {49, "DHCID"},     {50, "NSEC3"},     {51, "NSEC3PARAM"}, {52, "TLSA"},
    {53, "SMIMEA"},    {55, "HIP"},       {56, "NINFO"},      {57, "RKEY"},
    {58, "TALINK"},    {59, "CDS"},       {60, "CDNSKEY"},    {61, "OPENPGPKEY"},
    {62, "CSYNC"},     {63, "ZONEMD"},    {64, "SVCB"},       {65, "HTTPS"},
    {99, "SPF"},       {104, "NID"},      {105, "L32"},       {106, "L64"},
    {107, "LP"},       {108, "EUI48"},    {109, "EUI64"},     {249, "TKEY"},
    {250, "TSIG"},     {251, "IXFR"},     {252, "AXFR"},      {253, "MAILB"},
    {254, "MAILA"},    {255, "ANY"},      {256, "URI"},       {257, "CAA"},
    {258, "AVC"},      {259, "DOA"},      {260, "AMTRELAY"},  {261, "RESINFO"},
    {32768, "TA"},     {32769, "DLV"},
};

constexpr std::pair<uint16_t, std::string_view> kClassNames[] = {
    {1, "IN"}, {3, "CH"}, {4, "HS"}, {254, "NONE"}, {255, "ANY"},
};

constexpr std::pair<uint16_t, std::string_view> kRcodeNames[] = {
    {0, "NOERROR"},  {1, "FORMERR"},  {2, "SERVFAIL"}, {3, "NXDOMAIN"}, {4, "NOTIMP"},
    {5, "REFUSED"},  {6, "YXDOMAIN"}, {7, "YXRRSET"},  {8, "NXRRSET"},  {9, "NOTAUTH"},
    {10, "NOTZONE"}, {16, "BADVERS"}, {23, "BADCOOKIE"},
};

constexpr std::pair<uint16_t, std::string_view> kOpcodeNames[] = {
    {0, "QUERY"}, {1, "IQUERY"}, {2, "STATUS"}, {4, "NOTIFY"}, {5, "UPDATE"},
};

bool equals_nocase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'a' && a[i] <= 'z' ? static_cast<char>(a[i] - 32) : a[i];
    char y = b[i] >= 'a' && b[i] <= 'z' ? static_cast<char>(b[i] - 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

template <size_t N>
std::string_view lookup_name(const std::pair<uint16_t, std::string_view> (&table)[N], uint16_t v) {
  for (const auto& [value, name] : table) {
    if (value == v) return name;
  }
  return {};
}

template <size_t N>
std::optional<uint16_t> lookup_value(const std::pair<uint16_t, std::string_view> (&table)[N],
                                     std::string_view s) {
  for (const auto& [value, name] : table) {
    if (equals_nocase(name, s)) return value;
  }
  return std::nullopt;
}

// "TYPE123" / "CLASS123": the prefix (any case) followed by 1-5 decimal
// digits whose value fits in 16 bits.
std::optional<uint16_t> generic_number(std::string_view s, std::string_view prefix) {
  if (s.size() <= prefix.size() || s.size() > prefix.size() + 5) return std::nullopt;
  if (!equals_nocase(s.substr(0, prefix.size()), prefix)) return std::nullopt;
  std::string_view digits = s.substr(prefix.size());
  unsigned value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 0xFFFF) return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

std::string to_string(RRType t) {
  auto v = static_cast<uint16_t>(t);
  std::string_view name = lookup_name(kTypeNames, v);
  if (!name.empty()) return std::string(name);
  return "TYPE" + std::to_string(v);
}

std::optional<RRType> rrtype_from_text(std::string_view s) {
  if (auto v = lookup_value(kTypeNames, s)) return static_cast<RRType>(*v);
  if (auto v = generic_number(s, "TYPE")) return static_cast<RRType>(*v);
  return std::nullopt;
}

std::string to_string(RRClass c) {
  auto v = static_cast<uint16_t>(c);
  std::string_view name = lookup_name(kClassNames, v);
  if (!name.empty()) return std::string(name);
  return "CLASS" + std::to_string(v);
}

std::optional<RRClass> rrclass_from_text(std::string_view s) {
  if (auto v = lookup_value(kClassNames, s)) return static_cast<RRClass>(*v);
  if (auto v = generic_number(s, "CLASS")) return static_cast<RRClass>(*v);
  return std::nullopt;
}

std::string to_string(Rcode r) {
  auto v = static_cast<uint16_t>(r);
  std::string_view name = lookup_name(kRcodeNames, v);
  if (!name.empty()) return std::string(name);
  return "RCODE" + std::to_string(v);
}

std::string to_string(Opcode o) {
  auto v = static_cast<uint16_t>(o);
  std::string_view name = lookup_name(kOpcodeNames, v);
  if (!name.empty()) return std::string(name);
  return "OPCODE" + std::to_string(v);
}

const char* to_string(EdeCode e) noexcept {
  // The descriptions of the IANA "Extended DNS Error Codes" registry.
  switch (e) {
    case EdeCode::Other: return "Other Error";
    case EdeCode::UnsupportedDnskeyAlgorithm: return "Unsupported DNSKEY Algorithm";
    case EdeCode::UnsupportedDsDigestType: return "Unsupported DS Digest Type";
    case EdeCode::StaleAnswer: return "Stale Answer";
    case EdeCode::ForgedAnswer: return "Forged Answer";
    case EdeCode::DnssecIndeterminate: return "DNSSEC Indeterminate";
    case EdeCode::DnssecBogus: return "DNSSEC Bogus";
    case EdeCode::SignatureExpired: return "Signature Expired";
    case EdeCode::SignatureNotYetValid: return "Signature Not Yet Valid";
    case EdeCode::DnskeyMissing: return "DNSKEY Missing";
    case EdeCode::RrsigsMissing: return "RRSIGs Missing";
    case EdeCode::NoZoneKeyBitSet: return "No Zone Key Bit Set";
    case EdeCode::NsecMissing: return "NSEC Missing";
    case EdeCode::CachedError: return "Cached Error";
    case EdeCode::NotReady: return "Not Ready";
    case EdeCode::Blocked: return "Blocked";
    case EdeCode::Censored: return "Censored";
    case EdeCode::Filtered: return "Filtered";
    case EdeCode::Prohibited: return "Prohibited";
    case EdeCode::StaleNxdomainAnswer: return "Stale NXDOMAIN Answer";
    case EdeCode::NotAuthoritative: return "Not Authoritative";
    case EdeCode::NotSupported: return "Not Supported";
    case EdeCode::NoReachableAuthority: return "No Reachable Authority";
    case EdeCode::NetworkError: return "Network Error";
    case EdeCode::InvalidData: return "Invalid Data";
    case EdeCode::SignatureExpiredBeforeValid: return "Signature Expired before Valid";
    case EdeCode::TooEarly: return "Too Early";
    case EdeCode::UnsupportedNsec3Iterations: return "Unsupported NSEC3 Iterations Value";
    case EdeCode::UnableToConformToPolicy: return "Unable to conform to policy";
    case EdeCode::Synthesized: return "Synthesized";
    case EdeCode::InvalidQueryType: return "Invalid Query Type";
    case EdeCode::NegativeTrustAnchor: return "Negative Trust Anchor";
  }
  return "Unassigned";
}

}  // namespace sextant::wire
