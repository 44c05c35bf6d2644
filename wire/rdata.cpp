// Wire-side rdata handling: the per-type schema table, layout checks, name
// expansion for rdata read from a message, compressible-name offsets and the
// DNSSEC canonical form. Presentation format lives in rdata_text.cpp.
#include "wire/rdata.h"

#include <algorithm>

#include "wire/rdata_schema.h"

namespace sextant::wire {

namespace detail {

namespace {

using F = FieldKind;

// Types with a known layout, in type order. The numbers of types without an
// RRType enumerator are spelled out with their mnemonic in a comment.
constexpr TypeSchema kSchemas[] = {
    // type  fields                                    decompress  lowercase  text
    {1, {F::ipv4}, false, false, true},                                   // A
    {2, {F::name}, true, true, true},                                     // NS
    {3, {F::name}, true, true, true},                                     // MD
    {4, {F::name}, true, true, true},                                     // MF
    {5, {F::name}, true, true, true},                                     // CNAME
    {6, {F::name, F::name, F::u32, F::ttl, F::ttl, F::ttl, F::ttl}, true, true, true},  // SOA
    {7, {F::name}, true, true, true},                                     // MB
    {8, {F::name}, true, true, true},                                     // MG
    {9, {F::name}, true, true, true},                                     // MR
    {12, {F::name}, true, true, true},                                    // PTR
    {13, {F::char_string, F::char_string}, false, false, true},           // HINFO
    {14, {F::name, F::name}, true, true, true},                           // MINFO
    {15, {F::u16, F::name}, true, true, true},                            // MX
    {16, {F::char_strings}, false, false, true},                          // TXT
    {17, {F::name, F::name}, true, true, true},                           // RP
    {18, {F::u16, F::name}, true, true, true},                            // AFSDB
    {21, {F::u16, F::name}, true, true, true},                            // RT
    {24, {F::rrtype, F::algorithm, F::u8, F::ttl, F::time, F::time, F::u16, F::name, F::base64_to_end},
     true, true, true},                                                   // SIG
    {25, {F::u16, F::u8, F::algorithm, F::base64_to_end}, false, false, true},   // KEY
    {26, {F::u16, F::name, F::name}, true, true, true},                   // PX
    {28, {F::ipv6}, false, false, true},                                  // AAAA
    {30, {F::name, F::opaque_to_end}, true, true, false},                 // NXT
    {33, {F::u16, F::u16, F::u16, F::name}, true, true, true},            // SRV
    {35, {F::u16, F::u16, F::char_string, F::char_string, F::char_string, F::name}, true, true,
     true},                                                               // NAPTR
    {36, {F::u16, F::name}, true, true, true},                            // KX
    {38, {F::a6_address}, false, true, false},                            // A6
    {39, {F::name}, true, true, true},                                    // DNAME
    {41, {F::opaque_to_end}, false, false, false},                        // OPT
    {43, {F::u16, F::algorithm, F::u8, F::hex_to_end}, false, false, true},      // DS
    {44, {F::u8, F::u8, F::hex_to_end}, false, false, true},              // SSHFP
    {46, {F::rrtype, F::algorithm, F::u8, F::ttl, F::time, F::time, F::u16, F::name, F::base64_to_end},
     true, true, true},                                                   // RRSIG
    {47, {F::name, F::type_bitmap}, false, false, true},                  // NSEC
    {48, {F::u16, F::u8, F::algorithm, F::base64_to_end}, false, false, true},   // DNSKEY
    {49, {F::base64_to_end}, false, false, true},                         // DHCID
    {50, {F::u8, F::u8, F::u16, F::hex_with_length, F::base32_with_length, F::type_bitmap},
     false, false, true},                                                 // NSEC3
    {51, {F::u8, F::u8, F::u16, F::hex_with_length}, false, false, true}, // NSEC3PARAM
    {52, {F::u8, F::u8, F::u8, F::hex_to_end}, false, false, true},       // TLSA
    {53, {F::u8, F::u8, F::u8, F::hex_to_end}, false, false, true},       // SMIMEA
    {59, {F::u16, F::algorithm, F::u8, F::hex_to_end}, false, false, true},      // CDS
    {60, {F::u16, F::u8, F::algorithm, F::base64_to_end}, false, false, true},   // CDNSKEY
    {61, {F::base64_to_end}, false, false, true},                         // OPENPGPKEY
    {62, {F::u32, F::u16, F::type_bitmap}, false, false, true},           // CSYNC
    {63, {F::u32, F::u8, F::u8, F::hex_to_end}, false, false, true},      // ZONEMD
    {64, {F::u16, F::name, F::svc_params}, false, false, true},           // SVCB
    {65, {F::u16, F::name, F::svc_params}, false, false, true},           // HTTPS
    {99, {F::char_strings}, false, false, true},                          // SPF
    {256, {F::u16, F::u16, F::string_to_end}, false, false, true},        // URI
    {257, {F::u8, F::caa_tag, F::string_to_end}, false, false, true},     // CAA
    {32769, {F::u16, F::algorithm, F::u8, F::hex_to_end}, false, false, true},   // DLV
};

uint16_t read_u16(std::span<const uint8_t> d, size_t pos) noexcept {
  return static_cast<uint16_t>((d[pos] << 8) | d[pos + 1]);
}

}  // namespace

const TypeSchema* find_schema(RRType type) noexcept {
  auto v = static_cast<uint16_t>(type);
  const TypeSchema* it = std::lower_bound(std::begin(kSchemas), std::end(kSchemas), v,
                                          [](const TypeSchema& s, uint16_t t) { return s.type < t; });
  if (it != std::end(kSchemas) && it->type == v) return it;
  return nullptr;
}

WireError check_type_bitmap(std::span<const uint8_t> bitmap) noexcept {
  size_t pos = 0;
  int last_window = -1;
  while (pos < bitmap.size()) {
    if (pos + 2 > bitmap.size()) return WireError::truncated_rdata;
    int window = bitmap[pos];
    size_t len = bitmap[pos + 1];
    if (window <= last_window) return WireError::bad_rdata;
    if (len == 0 || len > 32) return WireError::bad_rdata;
    if (pos + 2 + len > bitmap.size()) return WireError::truncated_rdata;
    last_window = window;
    pos += 2 + len;
  }
  return WireError::ok;
}

WireError check_svc_params(std::span<const uint8_t> params) noexcept {
  size_t pos = 0;
  int last_key = -1;
  while (pos < params.size()) {
    if (pos + 4 > params.size()) return WireError::truncated_rdata;
    uint16_t key = read_u16(params, pos);
    size_t len = read_u16(params, pos + 2);
    pos += 4;
    if (pos + len > params.size()) return WireError::truncated_rdata;
    if (static_cast<int>(key) <= last_key) return WireError::bad_rdata;
    last_key = key;
    std::span<const uint8_t> value = params.subspan(pos, len);
    pos += len;
    switch (static_cast<SvcParamKey>(key)) {
      case SvcParamKey::mandatory: {
        if (len == 0 || len % 2 != 0) return WireError::bad_rdata;
        int last = -1;
        for (size_t i = 0; i < len; i += 2) {
          uint16_t k = read_u16(value, i);
          // Sorted, no duplicates, and never "mandatory" itself (§8).
          if (k == 0 || static_cast<int>(k) <= last) return WireError::bad_rdata;
          last = k;
        }
        break;
      }
      case SvcParamKey::alpn: {
        if (len == 0) return WireError::bad_rdata;
        size_t i = 0;
        while (i < len) {
          size_t id_len = value[i];
          if (id_len == 0) return WireError::bad_rdata;
          if (i + 1 + id_len > len) return WireError::truncated_rdata;
          i += 1 + id_len;
        }
        break;
      }
      case SvcParamKey::no_default_alpn:
      case SvcParamKey::ohttp:
        if (len != 0) return WireError::bad_rdata;
        break;
      case SvcParamKey::port:
        if (len != 2) return WireError::bad_rdata;
        break;
      case SvcParamKey::ipv4hint:
        if (len == 0 || len % 4 != 0) return WireError::bad_rdata;
        break;
      case SvcParamKey::ipv6hint:
        if (len == 0 || len % 16 != 0) return WireError::bad_rdata;
        break;
      case SvcParamKey::ech:
      case SvcParamKey::dohpath:
      default:
        break;
    }
  }
  return WireError::ok;
}

namespace {

// Walks `data[start, end)` field by field as `schema` describes. Names are
// parsed from `data`, following compression pointers when `compressed` is
// set (then `data` is the whole message). The visitor sees every stretch of
// non-name octets through `octets(from, to)` and every name through
// `name(name, offset)`, where offset counts from `start` in the uncompressed
// rdata the visitor is building.
template <typename Visitor>
WireError walk_rdata(const TypeSchema& schema, std::span<const uint8_t> data, size_t start,
                     size_t end, bool compressed, Visitor& visitor) {
  size_t pos = start;
  size_t out_offset = 0;  // position in the uncompressed rdata
  auto need = [&](size_t n) { return end - pos >= n; };
  auto copy = [&](size_t n) {
    visitor.octets(pos, pos + n);
    pos += n;
    out_offset += n;
  };
  auto take_name = [&]() -> WireError {
    Name name;
    size_t cursor = pos;
    WireError e;
    if (compressed) {
      e = Name::parse(data, cursor, name);
      if (e == WireError::ok && cursor > end) e = WireError::truncated_rdata;
    } else {
      e = Name::parse_uncompressed(data.first(end), cursor, name);
    }
    if (e != WireError::ok) return e;
    visitor.name(name, out_offset);
    pos = cursor;
    out_offset += name.wire_size();
    return WireError::ok;
  };
  for (FieldKind kind : schema.fields) {
    if (kind == FieldKind::end) break;
    switch (kind) {
      case FieldKind::end:
        break;
      case FieldKind::name:
        if (pos >= end) return WireError::truncated_rdata;
        if (WireError e = take_name(); e != WireError::ok) return e;
        break;
      case FieldKind::u8:
      case FieldKind::algorithm:
        if (!need(1)) return WireError::truncated_rdata;
        copy(1);
        break;
      case FieldKind::u16:
      case FieldKind::rrtype:
        if (!need(2)) return WireError::truncated_rdata;
        copy(2);
        break;
      case FieldKind::u32:
      case FieldKind::ttl:
      case FieldKind::time:
      case FieldKind::ipv4:
        if (!need(4)) return WireError::truncated_rdata;
        copy(4);
        break;
      case FieldKind::ipv6:
        if (!need(16)) return WireError::truncated_rdata;
        copy(16);
        break;
      case FieldKind::char_string:
      case FieldKind::hex_with_length:
        if (!need(1) || !need(1 + size_t{data[pos]})) return WireError::truncated_rdata;
        copy(1 + size_t{data[pos]});
        break;
      case FieldKind::base32_with_length:
      case FieldKind::caa_tag:
        if (!need(1) || !need(1 + size_t{data[pos]})) return WireError::truncated_rdata;
        if (data[pos] == 0) return WireError::bad_rdata;  // an empty hash or tag means nothing
        copy(1 + size_t{data[pos]});
        break;
      case FieldKind::char_strings:
        if (!need(1)) return WireError::truncated_rdata;  // at least one string
        while (pos < end) {
          if (!need(1 + size_t{data[pos]})) return WireError::truncated_rdata;
          copy(1 + size_t{data[pos]});
        }
        break;
      case FieldKind::type_bitmap:
        if (WireError e = check_type_bitmap(data.subspan(pos, end - pos)); e != WireError::ok) return e;
        copy(end - pos);
        break;
      case FieldKind::svc_params:
        if (WireError e = check_svc_params(data.subspan(pos, end - pos)); e != WireError::ok) return e;
        copy(end - pos);
        break;
      case FieldKind::base64_to_end:
      case FieldKind::hex_to_end:
      case FieldKind::string_to_end:
      case FieldKind::opaque_to_end:
        copy(end - pos);
        break;
      case FieldKind::a6_address: {
        if (!need(1)) return WireError::truncated_rdata;
        size_t prefix_len = data[pos];
        if (prefix_len > 128) return WireError::bad_rdata;
        size_t suffix_octets = (128 - prefix_len + 7) / 8;
        if (!need(1 + suffix_octets)) return WireError::truncated_rdata;
        copy(1 + suffix_octets);
        if (prefix_len > 0) {
          if (pos >= end) return WireError::truncated_rdata;
          if (WireError e = take_name(); e != WireError::ok) return e;
        }
        break;
      }
    }
  }
  if (pos != end) return WireError::trailing_data;
  return WireError::ok;
}

struct NullVisitor {
  void octets(size_t, size_t) noexcept {}
  void name(const Name&, size_t) noexcept {}
};

// Builds uncompressed (optionally canonical) rdata.
struct CopyVisitor {
  std::span<const uint8_t> source;
  Rdata& out;
  bool lowercase_names;
  void octets(size_t from, size_t to) { out.insert(out.end(), source.begin() + from, source.begin() + to); }
  void name(const Name& n, size_t) {
    auto w = n.wire();
    size_t at = out.size();
    out.insert(out.end(), w.begin(), w.end());
    if (lowercase_names) {
      for (size_t i = at; i < out.size(); ++i) out[i] = ascii_lower(out[i]);
    }
  }
};

struct OffsetVisitor {
  std::array<uint16_t, 2>& offsets;
  size_t count = 0;
  void octets(size_t, size_t) noexcept {}
  void name(const Name&, size_t offset) noexcept {
    if (count < offsets.size()) offsets[count++] = static_cast<uint16_t>(offset);
  }
};

}  // namespace

}  // namespace detail

WireError expand_rdata(RRType type, std::span<const uint8_t> packet, size_t offset, size_t length,
                       Rdata& out) {
  out.clear();
  if (offset > packet.size() || length > packet.size() - offset) return WireError::truncated_rdata;
  const detail::TypeSchema* schema = detail::find_schema(type);
  if (schema == nullptr) {
    out.assign(packet.begin() + offset, packet.begin() + offset + length);
    return WireError::ok;
  }
  out.reserve(length);
  WireError e;
  if (schema->decompress_names) {
    detail::CopyVisitor visitor{packet, out, false};
    e = detail::walk_rdata(*schema, packet, offset, offset + length, true, visitor);
  } else {
    // Names in these types must not be compressed; parsing them inside the
    // rdata alone makes a pointer a plain error.
    auto rdata = packet.subspan(offset, length);
    detail::CopyVisitor visitor{rdata, out, false};
    e = detail::walk_rdata(*schema, rdata, 0, length, false, visitor);
  }
  if (e != WireError::ok) out.clear();
  return e;
}

WireError validate_rdata(RRType type, std::span<const uint8_t> rdata) noexcept {
  const detail::TypeSchema* schema = detail::find_schema(type);
  if (schema == nullptr) return WireError::ok;
  detail::NullVisitor visitor;
  return detail::walk_rdata(*schema, rdata, 0, rdata.size(), false, visitor);
}

size_t compressible_name_offsets(RRType type, std::span<const uint8_t> rdata,
                                 std::array<uint16_t, 2>& offsets) noexcept {
  switch (type) {
    case RRType::NS:
    case RRType::CNAME:
    case RRType::SOA:
    case RRType::PTR:
    case RRType::MX:
      break;
    default:
      return 0;
  }
  const detail::TypeSchema* schema = detail::find_schema(type);
  detail::OffsetVisitor visitor{offsets};
  if (detail::walk_rdata(*schema, rdata, 0, rdata.size(), false, visitor) != WireError::ok) return 0;
  return visitor.count;
}

Rdata canonical_rdata(RRType type, std::span<const uint8_t> rdata) {
  const detail::TypeSchema* schema = detail::find_schema(type);
  Rdata out;
  if (schema == nullptr || !schema->canonical_lowercase) {
    out.assign(rdata.begin(), rdata.end());
    return out;
  }
  out.reserve(rdata.size());
  detail::CopyVisitor visitor{rdata, out, true};
  if (detail::walk_rdata(*schema, rdata, 0, rdata.size(), false, visitor) != WireError::ok) {
    // Malformed rdata has no canonical form; keeping the octets as they are
    // lets a signature check fail on its own rather than here.
    out.assign(rdata.begin(), rdata.end());
  }
  return out;
}

}  // namespace sextant::wire
