#include "wire/rdata_views.h"

#include "wire/rdata_schema.h"

namespace sextant::wire {

namespace {

// Bounds-checked cursor over rdata; every read fails rather than overruns.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) noexcept : data_(data) {}
  bool u8(uint8_t& v) noexcept {
    if (data_.size() - pos_ < 1) return false;
    v = data_[pos_++];
    return true;
  }
  bool u16(uint16_t& v) noexcept {
    if (data_.size() - pos_ < 2) return false;
    v = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& v) noexcept {
    if (data_.size() - pos_ < 4) return false;
    v = (uint32_t{data_[pos_]} << 24) | (uint32_t{data_[pos_ + 1]} << 16) |
        (uint32_t{data_[pos_ + 2]} << 8) | data_[pos_ + 3];
    pos_ += 4;
    return true;
  }
  bool name(Name& n) noexcept { return Name::parse_uncompressed(data_, pos_, n) == WireError::ok; }
  bool bytes(size_t n, std::span<const uint8_t>& out) noexcept {
    if (data_.size() - pos_ < n) return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool length_prefixed(std::span<const uint8_t>& out) noexcept {
    uint8_t len;
    return u8(len) && bytes(len, out);
  }
  std::span<const uint8_t> rest() noexcept {
    auto r = data_.subspan(pos_);
    pos_ = data_.size();
    return r;
  }
  size_t pos() const noexcept { return pos_; }
  bool at_end() const noexcept { return pos_ == data_.size(); }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

void put_u16(Rdata& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void put_u32(Rdata& out, uint32_t v) {
  put_u16(out, static_cast<uint16_t>(v >> 16));
  put_u16(out, static_cast<uint16_t>(v));
}

void put_name(Rdata& out, const Name& n) {
  auto w = n.wire();
  // Reserving first also keeps GCC 12 -O2 from a false -Warray-bounds.
  out.reserve(out.size() + w.size());
  out.insert(out.end(), w.begin(), w.end());
}

}  // namespace

std::optional<TypeBitmapView> TypeBitmapView::parse(std::span<const uint8_t> bitmap) noexcept {
  if (detail::check_type_bitmap(bitmap) != WireError::ok) return std::nullopt;
  TypeBitmapView v;
  v.data_ = bitmap;
  return v;
}

bool TypeBitmapView::has_type(RRType type) const noexcept {
  auto t = static_cast<uint16_t>(type);
  unsigned window = t >> 8;
  unsigned low = t & 0xFF;
  size_t pos = 0;
  while (pos + 2 <= data_.size()) {
    unsigned w = data_[pos];
    size_t len = data_[pos + 1];
    if (w == window) {
      size_t octet = low / 8;
      return octet < len && pos + 2 + octet < data_.size() &&
             (data_[pos + 2 + octet] & (0x80 >> (low % 8))) != 0;
    }
    if (w > window) return false;
    pos += 2 + len;
  }
  return false;
}

std::vector<RRType> TypeBitmapView::types() const {
  std::vector<RRType> out;
  size_t pos = 0;
  while (pos + 2 <= data_.size()) {
    unsigned window = data_[pos];
    size_t len = data_[pos + 1];
    for (size_t i = 0; i < len && pos + 2 + i < data_.size(); ++i) {
      for (unsigned b = 0; b < 8; ++b) {
        if (data_[pos + 2 + i] & (0x80 >> b))
          out.push_back(static_cast<RRType>(window * 256 + i * 8 + b));
      }
    }
    pos += 2 + len;
  }
  return out;
}

Rdata build_type_bitmap(std::span<const RRType> types) {
  std::vector<uint16_t> values;
  values.reserve(types.size());
  for (RRType t : types) values.push_back(static_cast<uint16_t>(t));
  return detail::build_type_bitmap(std::move(values));
}

std::optional<TargetNameView> TargetNameView::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  TargetNameView v;
  if (!r.name(v.target) || !r.at_end()) return std::nullopt;
  return v;
}

std::optional<SoaView> SoaView::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  SoaView v;
  if (!r.name(v.mname) || !r.name(v.rname) || !r.u32(v.serial) || !r.u32(v.refresh) ||
      !r.u32(v.retry) || !r.u32(v.expire) || !r.u32(v.minimum) || !r.at_end())
    return std::nullopt;
  return v;
}

std::optional<MxView> MxView::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  MxView v;
  if (!r.u16(v.preference) || !r.name(v.exchange) || !r.at_end()) return std::nullopt;
  return v;
}

std::optional<SrvView> SrvView::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  SrvView v;
  if (!r.u16(v.priority) || !r.u16(v.weight) || !r.u16(v.port) || !r.name(v.target) || !r.at_end())
    return std::nullopt;
  return v;
}

std::optional<RrsigView> RrsigView::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  RrsigView v;
  uint16_t type = 0;
  if (!r.u16(type) || !r.u8(v.algorithm) || !r.u8(v.labels) || !r.u32(v.original_ttl) ||
      !r.u32(v.expiration) || !r.u32(v.inception) || !r.u16(v.key_tag) || !r.name(v.signer))
    return std::nullopt;
  v.type_covered = static_cast<RRType>(type);
  v.signature_offset = r.pos();
  v.signature = r.rest();
  return v;
}

uint16_t compute_key_tag(std::span<const uint8_t> rdata) noexcept {
  if (rdata.size() < 4) return 0;
  if (rdata[3] == 1) {
    // RSA/MD5 (Appendix B.1): the third- and second-last octets of the modulus.
    if (rdata.size() < 7) return 0;
    return static_cast<uint16_t>((rdata[rdata.size() - 3] << 8) | rdata[rdata.size() - 2]);
  }
  uint32_t ac = 0;
  for (size_t i = 0; i < rdata.size(); ++i) ac += (i & 1) ? rdata[i] : uint32_t{rdata[i]} << 8;
  ac += (ac >> 16) & 0xFFFF;
  return static_cast<uint16_t>(ac & 0xFFFF);
}

std::optional<DnskeyView> DnskeyView::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  DnskeyView v;
  if (!r.u16(v.flags) || !r.u8(v.protocol) || !r.u8(v.algorithm)) return std::nullopt;
  v.public_key = r.rest();
  v.key_tag_ = compute_key_tag(rdata);
  return v;
}

std::optional<DsView> DsView::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  DsView v;
  if (!r.u16(v.key_tag) || !r.u8(v.algorithm) || !r.u8(v.digest_type)) return std::nullopt;
  v.digest = r.rest();
  return v;
}

std::optional<NsecView> NsecView::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  NsecView v;
  if (!r.name(v.next)) return std::nullopt;
  auto types = TypeBitmapView::parse(r.rest());
  if (!types) return std::nullopt;
  v.types = *types;
  return v;
}

std::optional<Nsec3View> Nsec3View::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  Nsec3View v;
  if (!r.u8(v.hash_algorithm) || !r.u8(v.flags) || !r.u16(v.iterations) || !r.length_prefixed(v.salt) ||
      !r.length_prefixed(v.next_hashed_owner) || v.next_hashed_owner.empty())
    return std::nullopt;
  auto types = TypeBitmapView::parse(r.rest());
  if (!types) return std::nullopt;
  v.types = *types;
  return v;
}

std::optional<Nsec3ParamView> Nsec3ParamView::parse(std::span<const uint8_t> rdata) noexcept {
  Reader r(rdata);
  Nsec3ParamView v;
  if (!r.u8(v.hash_algorithm) || !r.u8(v.flags) || !r.u16(v.iterations) || !r.length_prefixed(v.salt) ||
      !r.at_end())
    return std::nullopt;
  return v;
}

Rdata make_name_rdata(const Name& target) {
  Rdata out;
  put_name(out, target);
  return out;
}

Rdata make_soa_rdata(const Name& mname, const Name& rname, uint32_t serial, uint32_t refresh,
                     uint32_t retry, uint32_t expire, uint32_t minimum) {
  Rdata out;
  out.reserve(mname.wire_size() + rname.wire_size() + 20);
  put_name(out, mname);
  put_name(out, rname);
  for (uint32_t v : {serial, refresh, retry, expire, minimum}) put_u32(out, v);
  return out;
}

Rdata make_a_rdata(const std::array<uint8_t, 4>& address) { return Rdata(address.begin(), address.end()); }

Rdata make_aaaa_rdata(const std::array<uint8_t, 16>& address) {
  return Rdata(address.begin(), address.end());
}

Rdata make_mx_rdata(uint16_t preference, const Name& exchange) {
  Rdata out;
  put_u16(out, preference);
  put_name(out, exchange);
  return out;
}

Rdata make_txt_rdata(std::span<const std::string_view> strings) {
  if (strings.empty()) throw TextError("TXT rdata needs at least one string");
  Rdata out;
  for (std::string_view s : strings) {
    if (s.size() > 255) throw TextError("TXT string longer than 255 octets");
    out.push_back(static_cast<uint8_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  if (out.size() > 65535) throw TextError("TXT rdata longer than 65535 octets");
  return out;
}

Rdata make_nsec_rdata(const Name& next, std::span<const RRType> types) {
  Rdata out;
  put_name(out, next);
  Rdata bitmap = build_type_bitmap(types);
  out.insert(out.end(), bitmap.begin(), bitmap.end());
  return out;
}

}  // namespace sextant::wire
