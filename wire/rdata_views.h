// Typed read access to the rdata the resolver, cache and validator look
// inside, and builders for the few rdata the resolver synthesises.
//
// Every view parses uncompressed rdata (what ResourceRecord holds), checks
// every bound and the exact length, and returns std::nullopt for anything
// malformed. Views copy names into Name (inline storage) and point at the
// rdata for variable-length blobs, so parsing never allocates; the rdata
// must outlive a view that holds spans into it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::wire {

// The RFC 4034 §4.1.2 type bitmap of NSEC, NSEC3 (and CSYNC).
class TypeBitmapView {
 public:
  TypeBitmapView() = default;
  // Windows must increase and be 1..32 octets long.
  static std::optional<TypeBitmapView> parse(std::span<const uint8_t> bitmap) noexcept;
  bool has_type(RRType type) const noexcept;
  // All types present, in increasing order.
  std::vector<RRType> types() const;
  bool empty() const noexcept { return data_.empty(); }
  std::span<const uint8_t> wire() const noexcept { return data_; }

 private:
  std::span<const uint8_t> data_;
};

// Builds a type bitmap from types in any order (duplicates allowed).
Rdata build_type_bitmap(std::span<const RRType> types);

// NS, CNAME, PTR, DNAME (and MB/MD/MF/MG/MR): rdata that is a single name.
struct TargetNameView {
  Name target;
  static std::optional<TargetNameView> parse(std::span<const uint8_t> rdata) noexcept;
};

struct SoaView {
  Name mname;
  Name rname;
  uint32_t serial = 0;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;
  static std::optional<SoaView> parse(std::span<const uint8_t> rdata) noexcept;
};

struct MxView {
  uint16_t preference = 0;
  Name exchange;
  static std::optional<MxView> parse(std::span<const uint8_t> rdata) noexcept;
};

struct SrvView {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  Name target;
  static std::optional<SrvView> parse(std::span<const uint8_t> rdata) noexcept;
};

struct RrsigView {
  RRType type_covered = RRType::A;
  uint8_t algorithm = 0;
  uint8_t labels = 0;
  uint32_t original_ttl = 0;
  uint32_t expiration = 0;
  uint32_t inception = 0;
  uint16_t key_tag = 0;
  Name signer;
  std::span<const uint8_t> signature;
  // Octets before the signature: rdata[0, signature_offset) is the
  // RRSIG_RDATA a validator hashes (RFC 4034 §3.1.8.1). The signer name
  // must be in canonical (lower-case) form there: take the prefix of
  // canonical_rdata(RRType::RRSIG, rdata) when the name may carry upper case.
  size_t signature_offset = 0;
  static std::optional<RrsigView> parse(std::span<const uint8_t> rdata) noexcept;
};

// DNSKEY and CDNSKEY (and the old KEY layout).
struct DnskeyView {
  static constexpr uint16_t kZoneKeyFlag = 0x0100;  // RFC 4034 §2.1.1 bit 7
  static constexpr uint16_t kRevokeFlag = 0x0080;   // RFC 5011 §3 bit 8
  static constexpr uint16_t kSepFlag = 0x0001;      // RFC 4034 §2.1.1 bit 15

  uint16_t flags = 0;
  uint8_t protocol = 0;
  uint8_t algorithm = 0;
  std::span<const uint8_t> public_key;
  bool is_zone_key() const noexcept { return (flags & kZoneKeyFlag) != 0; }
  bool is_sep() const noexcept { return (flags & kSepFlag) != 0; }
  bool revoked() const noexcept { return (flags & kRevokeFlag) != 0; }
  // RFC 4034 Appendix B (with B.1 for algorithm 1), over the whole rdata.
  uint16_t key_tag() const noexcept { return key_tag_; }
  static std::optional<DnskeyView> parse(std::span<const uint8_t> rdata) noexcept;

 private:
  uint16_t key_tag_ = 0;
};

// The key tag of DNSKEY rdata (RFC 4034 Appendix B); 0 for rdata too short
// to be a DNSKEY.
uint16_t compute_key_tag(std::span<const uint8_t> dnskey_rdata) noexcept;

// DS and CDS.
struct DsView {
  uint16_t key_tag = 0;
  uint8_t algorithm = 0;
  uint8_t digest_type = 0;
  std::span<const uint8_t> digest;
  static std::optional<DsView> parse(std::span<const uint8_t> rdata) noexcept;
};

struct NsecView {
  Name next;
  TypeBitmapView types;
  static std::optional<NsecView> parse(std::span<const uint8_t> rdata) noexcept;
};

struct Nsec3View {
  static constexpr uint8_t kOptOutFlag = 0x01;  // RFC 5155 §3.1.2.1

  uint8_t hash_algorithm = 0;
  uint8_t flags = 0;
  uint16_t iterations = 0;
  std::span<const uint8_t> salt;
  std::span<const uint8_t> next_hashed_owner;  // raw hash octets, not base32
  TypeBitmapView types;
  bool opt_out() const noexcept { return (flags & kOptOutFlag) != 0; }
  static std::optional<Nsec3View> parse(std::span<const uint8_t> rdata) noexcept;
};

struct Nsec3ParamView {
  uint8_t hash_algorithm = 0;
  uint8_t flags = 0;
  uint16_t iterations = 0;
  std::span<const uint8_t> salt;
  static std::optional<Nsec3ParamView> parse(std::span<const uint8_t> rdata) noexcept;
};

// Builders for synthesised records (DNAME-derived CNAMEs, locally served
// zones, negative answers). They produce uncompressed rdata.
Rdata make_name_rdata(const Name& target);  // NS, CNAME, PTR, DNAME
inline Rdata make_cname_rdata(const Name& target) { return make_name_rdata(target); }
inline Rdata make_ptr_rdata(const Name& target) { return make_name_rdata(target); }
Rdata make_soa_rdata(const Name& mname, const Name& rname, uint32_t serial, uint32_t refresh,
                     uint32_t retry, uint32_t expire, uint32_t minimum);
Rdata make_a_rdata(const std::array<uint8_t, 4>& address);
Rdata make_aaaa_rdata(const std::array<uint8_t, 16>& address);
Rdata make_mx_rdata(uint16_t preference, const Name& exchange);
// TXT from strings of at most 255 octets each; throws TextError otherwise
// (and for an empty list, which TXT cannot carry).
Rdata make_txt_rdata(std::span<const std::string_view> strings);
Rdata make_nsec_rdata(const Name& next, std::span<const RRType> types);

}  // namespace sextant::wire
