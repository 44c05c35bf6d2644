// Presentation format of rdata (RFC 1035 §5.1, RFC 3597 §5 and each type's
// RFC), both ways, driven by the schema table in rdata.cpp.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "wire/base_encoding.h"
#include "wire/rdata.h"
#include "wire/rdata_schema.h"
#include "wire/rdata_text_fields.h"
#include "wire/svc_params_text.h"

namespace sextant::wire {

namespace detail {

namespace {

uint32_t read_u32(std::span<const uint8_t> d, size_t pos) noexcept {
  return (uint32_t{d[pos]} << 24) | (uint32_t{d[pos + 1]} << 16) | (uint32_t{d[pos + 2]} << 8) |
         d[pos + 3];
}
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  put_u16(out, static_cast<uint16_t>(v >> 16));
  put_u16(out, static_cast<uint16_t>(v));
}

// ---------------------------------------------------------------------------
// Calendar arithmetic for RRSIG times (UTC, proleptic Gregorian), after
// Howard Hinnant's days_from_civil / civil_from_days.

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

std::string time_to_text(uint32_t seconds) {
  int64_t days = seconds / 86400;
  uint32_t rest = seconds % 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}", y, m, d, rest / 3600, (rest / 60) % 60,
                     rest % 60);
}

// ---------------------------------------------------------------------------
// Output helpers.

// Text can only express the canonical bitmap: no empty window, no trailing
// zero octets (RFC 4034 §4.1.2 "MUST"). Receivers accept others, but they
// are shown in generic form so that text reads back to the same octets.
bool type_bitmap_is_canonical(std::span<const uint8_t> bitmap) noexcept {
  size_t pos = 0;
  while (pos + 2 <= bitmap.size()) {
    size_t len = bitmap[pos + 1];
    if (len == 0 || pos + 2 + len > bitmap.size() || bitmap[pos + 1 + len] == 0) return false;
    pos += 2 + len;
  }
  return pos == bitmap.size();
}

std::string type_bitmap_to_text(std::span<const uint8_t> bitmap) {
  std::string out;
  size_t pos = 0;
  while (pos < bitmap.size()) {
    unsigned window = bitmap[pos];
    size_t len = bitmap[pos + 1];
    for (size_t i = 0; i < len; ++i) {
      uint8_t bits = bitmap[pos + 2 + i];
      for (unsigned b = 0; b < 8; ++b) {
        if (bits & (0x80 >> b)) {
          if (!out.empty()) out.push_back(' ');
          out += to_string(static_cast<RRType>(window * 256 + i * 8 + b));
        }
      }
    }
    pos += 2 + len;
  }
  return out;
}

bool is_caa_tag(std::span<const uint8_t> tag) noexcept {
  if (tag.empty()) return false;
  return std::all_of(tag.begin(), tag.end(), [](uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

std::string generic_rdata_to_text(std::span<const uint8_t> rdata) {
  if (rdata.empty()) return "\\# 0";
  return fmt::format("\\# {} {}", rdata.size(), hex_encode(rdata));
}

// Renders valid rdata by its schema; false if the schema has a field without
// a text form or a value the text grammar cannot carry.
bool typed_rdata_to_text(const TypeSchema& schema, std::span<const uint8_t> d, std::string& out) {
  size_t pos = 0;
  auto sep = [&] {
    if (!out.empty()) out.push_back(' ');
  };
  for (FieldKind kind : schema.fields) {
    if (kind == FieldKind::end) break;
    switch (kind) {
      case FieldKind::end:
        break;
      case FieldKind::name: {
        Name n;
        if (Name::parse_uncompressed(d, pos, n) != WireError::ok) return false;
        sep();
        out += n.to_text();
        break;
      }
      case FieldKind::u8:
      case FieldKind::algorithm:
        sep();
        out += std::to_string(d[pos]);
        pos += 1;
        break;
      case FieldKind::u16:
        sep();
        out += std::to_string(read_u16(d, pos));
        pos += 2;
        break;
      case FieldKind::rrtype:
        sep();
        out += to_string(static_cast<RRType>(read_u16(d, pos)));
        pos += 2;
        break;
      case FieldKind::u32:
      case FieldKind::ttl:
        sep();
        out += std::to_string(read_u32(d, pos));
        pos += 4;
        break;
      case FieldKind::time:
        sep();
        out += time_to_text(read_u32(d, pos));
        pos += 4;
        break;
      case FieldKind::ipv4:
        sep();
        out += ipv4_to_text(d.subspan(pos, 4));
        pos += 4;
        break;
      case FieldKind::ipv6:
        sep();
        out += ipv6_to_text(d.subspan(pos, 16));
        pos += 16;
        break;
      case FieldKind::char_string:
        sep();
        out += quoted(d.subspan(pos + 1, d[pos]));
        pos += 1 + d[pos];
        break;
      case FieldKind::char_strings:
        while (pos < d.size()) {
          sep();
          out += quoted(d.subspan(pos + 1, d[pos]));
          pos += 1 + d[pos];
        }
        break;
      case FieldKind::hex_with_length:
        sep();
        out += d[pos] == 0 ? std::string("-") : hex_encode(d.subspan(pos + 1, d[pos]), true);
        pos += 1 + d[pos];
        break;
      case FieldKind::base32_with_length:
        sep();
        out += base32hex_encode(d.subspan(pos + 1, d[pos]));
        pos += 1 + d[pos];
        break;
      case FieldKind::caa_tag: {
        auto tag = d.subspan(pos + 1, d[pos]);
        if (!is_caa_tag(tag)) return false;
        sep();
        out.append(reinterpret_cast<const char*>(tag.data()), tag.size());
        pos += 1 + d[pos];
        break;
      }
      case FieldKind::base64_to_end:
        if (pos < d.size()) {
          sep();
          out += base64_encode(d.subspan(pos));
        }
        pos = d.size();
        break;
      case FieldKind::hex_to_end:
        if (pos < d.size()) {
          sep();
          out += hex_encode(d.subspan(pos), true);
        }
        pos = d.size();
        break;
      case FieldKind::string_to_end:
        sep();
        out += quoted(d.subspan(pos));
        pos = d.size();
        break;
      case FieldKind::type_bitmap: {
        if (!type_bitmap_is_canonical(d.subspan(pos))) return false;
        std::string types = type_bitmap_to_text(d.subspan(pos));
        if (!types.empty()) {
          sep();
          out += types;
        }
        pos = d.size();
        break;
      }
      case FieldKind::svc_params: {
        if (!svc_mandatory_keys_present(d.subspan(pos))) return false;
        std::string params = svc_params_to_text(d.subspan(pos));
        if (!params.empty()) {
          sep();
          out += params;
        }
        pos = d.size();
        break;
      }
      case FieldKind::opaque_to_end:
      case FieldKind::a6_address:
        return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// Input helpers.

class TokenCursor {
 public:
  explicit TokenCursor(std::span<const TextToken> tokens) : tokens_(tokens) {}
  const TextToken& take(std::string_view what) {
    if (next_ >= tokens_.size()) throw TextError("missing " + std::string(what));
    return tokens_[next_++];
  }
  bool done() const noexcept { return next_ >= tokens_.size(); }
  std::span<const TextToken> take_rest() noexcept {
    auto rest = tokens_.subspan(next_);
    next_ = tokens_.size();
    return rest;
  }

 private:
  std::span<const TextToken> tokens_;
  size_t next_ = 0;
};

uint32_t parse_time_field(std::string_view text) {
  if (text.size() == 14 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    auto num = [&](size_t at, size_t n) {
      unsigned v = 0;
      for (size_t i = 0; i < n; ++i) v = v * 10 + static_cast<unsigned>(text[at + i] - '0');
      return v;
    };
    unsigned y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(8, 2), mi = num(10, 2), s = num(12, 2);
    static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || s > 59)
      throw TextError("bad time '" + std::string(text) + "'");
    int64_t seconds = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    if (seconds > 0xFFFFFFFFLL) throw TextError("time beyond 2106: '" + std::string(text) + "'");
    return static_cast<uint32_t>(seconds);
  }
  return static_cast<uint32_t>(parse_decimal(text, 0xFFFFFFFFu, "time"));
}

// DNSSEC algorithm numbers, or the mnemonics of the IANA registry.
uint8_t parse_algorithm(std::string_view text) {
  static constexpr std::pair<std::string_view, uint8_t> kMnemonics[] = {
      {"RSAMD5", 1},           {"DH", 2},
      {"DSA", 3},              {"RSASHA1", 5},
      {"DSA-NSEC3-SHA1", 6},   {"RSASHA1-NSEC3-SHA1", 7},
      {"RSASHA256", 8},        {"RSASHA512", 10},
      {"ECC-GOST", 12},        {"ECDSAP256SHA256", 13},
      {"ECDSAP384SHA384", 14}, {"ED25519", 15},
      {"ED448", 16},           {"INDIRECT", 252},
      {"PRIVATEDNS", 253},     {"PRIVATEOID", 254},
  };
  if (!text.empty() && text[0] >= '0' && text[0] <= '9')
    return static_cast<uint8_t>(parse_decimal(text, 0xFF, "algorithm"));
  for (const auto& [name, value] : kMnemonics) {
    if (name.size() == text.size() &&
        std::equal(name.begin(), name.end(), text.begin(),
                   [](char a, char b) { return a == (b >= 'a' && b <= 'z' ? b - 32 : b); }))
      return value;
  }
  throw TextError("unknown DNSSEC algorithm '" + std::string(text) + "'");
}

Name parse_name(const TextToken& token, const Name& origin) {
  if (!token.quoted && token.text == "@") return origin;
  return Name::from_text(token.text, &origin);
}

std::string joined(std::span<const TextToken> tokens) {
  std::string s;
  for (const auto& t : tokens) s += t.text;
  return s;
}

std::vector<uint8_t> parse_hex(std::string_view text, std::string_view what) {
  std::vector<uint8_t> out;
  DecodeError e = hex_decode(text, out);
  if (e != DecodeError::ok) throw TextError(fmt::format("bad hex in {}: {}", what, to_string(e)));
  return out;
}

std::vector<uint8_t> generic_rdata_from_tokens(TokenCursor& cursor) {
  uint64_t length = parse_decimal(cursor.take("rdata length after \\#").text, 65535, "rdata length");
  std::vector<uint8_t> data = parse_hex(joined(cursor.take_rest()), "\\# rdata");
  if (data.size() != length)
    throw TextError(fmt::format("\\# rdata length {} but {} octets of hex", length, data.size()));
  return data;
}

void append_char_string(std::vector<uint8_t>& out, const TextToken& token) {
  std::vector<uint8_t> s = decode_text_escapes(token.text, 255);
  out.push_back(static_cast<uint8_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace

std::vector<uint8_t> build_type_bitmap(std::vector<uint16_t> types) {
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  std::vector<uint8_t> out;
  size_t i = 0;
  while (i < types.size()) {
    uint8_t window = static_cast<uint8_t>(types[i] >> 8);
    uint8_t bits[32] = {};
    size_t used = 0;
    for (; i < types.size() && (types[i] >> 8) == window; ++i) {
      uint8_t low = static_cast<uint8_t>(types[i]);
      bits[low / 8] |= static_cast<uint8_t>(0x80 >> (low % 8));
      used = low / 8 + 1;
    }
    out.push_back(window);
    out.push_back(static_cast<uint8_t>(used));
    out.insert(out.end(), bits, bits + used);
  }
  return out;
}

std::vector<uint8_t> rdata_from_tokens(RRType type, std::span<const TextToken> tokens,
                                       const Name& origin) {
  TokenCursor cursor(tokens);
  const TypeSchema* schema = find_schema(type);
  if (!tokens.empty() && !tokens[0].quoted && tokens[0].text == "\\#") {
    cursor.take("\\#");
    std::vector<uint8_t> data = generic_rdata_from_tokens(cursor);
    if (schema != nullptr) {
      WireError e = validate_rdata(type, data);
      if (e != WireError::ok)
        throw TextError(fmt::format("\\# rdata is not valid {}: {}", to_string(type), to_string(e)));
    }
    return data;
  }
  if (schema == nullptr || !schema->has_text_form)
    throw TextError("rdata for " + to_string(type) + " must use the \\# generic form");
  std::vector<uint8_t> out;
  for (FieldKind kind : schema->fields) {
    if (kind == FieldKind::end) break;
    switch (kind) {
      case FieldKind::end:
        break;
      case FieldKind::name: {
        Name n = parse_name(cursor.take("domain name"), origin);
        auto w = n.wire();
        out.insert(out.end(), w.begin(), w.end());
        break;
      }
      case FieldKind::u8:
        out.push_back(static_cast<uint8_t>(parse_decimal(cursor.take("number").text, 0xFF, "8-bit number")));
        break;
      case FieldKind::algorithm:
        out.push_back(parse_algorithm(cursor.take("algorithm").text));
        break;
      case FieldKind::u16:
        put_u16(out, static_cast<uint16_t>(parse_decimal(cursor.take("number").text, 0xFFFF, "16-bit number")));
        break;
      case FieldKind::u32:
        put_u32(out, static_cast<uint32_t>(parse_decimal(cursor.take("number").text, 0xFFFFFFFFu, "32-bit number")));
        break;
      case FieldKind::ttl: {
        const std::string& t = cursor.take("number").text;
        auto v = parse_ttl(t);
        if (!v) throw TextError("bad time value '" + t + "'");
        put_u32(out, *v);
        break;
      }
      case FieldKind::rrtype: {
        const std::string& t = cursor.take("type").text;
        auto v = rrtype_from_text(t);
        if (!v) throw TextError("unknown type '" + t + "'");
        put_u16(out, static_cast<uint16_t>(*v));
        break;
      }
      case FieldKind::time:
        put_u32(out, parse_time_field(cursor.take("time").text));
        break;
      case FieldKind::ipv4:
        parse_ipv4(cursor.take("IPv4 address").text, out);
        break;
      case FieldKind::ipv6:
        parse_ipv6(cursor.take("IPv6 address").text, out);
        break;
      case FieldKind::char_string:
        append_char_string(out, cursor.take("character-string"));
        break;
      case FieldKind::char_strings:
        append_char_string(out, cursor.take("character-string"));
        while (!cursor.done()) append_char_string(out, cursor.take("character-string"));
        break;
      case FieldKind::hex_with_length: {
        const std::string& t = cursor.take("hex string").text;
        std::vector<uint8_t> v;
        if (t != "-") v = parse_hex(t, "salt");
        if (v.size() > 255) throw TextError("hex string longer than 255 octets");
        out.push_back(static_cast<uint8_t>(v.size()));
        out.insert(out.end(), v.begin(), v.end());
        break;
      }
      case FieldKind::base32_with_length: {
        const std::string& t = cursor.take("base32hex string").text;
        std::vector<uint8_t> v;
        DecodeError e = base32hex_decode(t, v);
        if (e != DecodeError::ok) throw TextError(fmt::format("bad base32hex '{}': {}", t, to_string(e)));
        if (v.empty() || v.size() > 255) throw TextError("base32hex field must hold 1 to 255 octets");
        out.push_back(static_cast<uint8_t>(v.size()));
        out.insert(out.end(), v.begin(), v.end());
        break;
      }
      case FieldKind::caa_tag: {
        const TextToken& t = cursor.take("CAA tag");
        auto tag = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(t.text.data()), t.text.size());
        if (t.quoted || !is_caa_tag(tag) || tag.size() > 255)
          throw TextError("bad CAA tag '" + t.text + "': letters and digits only");
        out.push_back(static_cast<uint8_t>(tag.size()));
        out.insert(out.end(), tag.begin(), tag.end());
        break;
      }
      case FieldKind::base64_to_end: {
        std::vector<uint8_t> v;
        DecodeError e = base64_decode(joined(cursor.take_rest()), v);
        if (e != DecodeError::ok) throw TextError(std::string("bad base64: ") + to_string(e));
        out.insert(out.end(), v.begin(), v.end());
        break;
      }
      case FieldKind::hex_to_end: {
        std::vector<uint8_t> v = parse_hex(joined(cursor.take_rest()), "digest");
        out.insert(out.end(), v.begin(), v.end());
        break;
      }
      case FieldKind::string_to_end: {
        std::vector<uint8_t> v = decode_text_escapes(cursor.take("string").text, 65535);
        out.insert(out.end(), v.begin(), v.end());
        break;
      }
      case FieldKind::type_bitmap: {
        std::vector<uint16_t> types;
        for (const auto& t : cursor.take_rest()) {
          auto v = rrtype_from_text(t.text);
          if (!v) throw TextError("unknown type '" + t.text + "' in type bitmap");
          types.push_back(static_cast<uint16_t>(*v));
        }
        std::vector<uint8_t> bitmap = build_type_bitmap(std::move(types));
        out.insert(out.end(), bitmap.begin(), bitmap.end());
        break;
      }
      case FieldKind::svc_params: {
        std::vector<uint8_t> params = svc_params_from_tokens(cursor.take_rest());
        out.insert(out.end(), params.begin(), params.end());
        break;
      }
      case FieldKind::opaque_to_end:
      case FieldKind::a6_address:
        throw TextError("rdata for " + to_string(type) + " must use the \\# generic form");
    }
  }
  if (!cursor.done()) throw TextError("unexpected text after " + to_string(type) + " rdata: '" + cursor.take("").text + "'");
  if (out.size() > 65535) throw TextError("rdata longer than 65535 octets");
  // A last check catches what the text grammar cannot, e.g. a TXT string
  // list or a name inside a field that the schema walk rejects.
  WireError e = validate_rdata(type, out);
  if (e != WireError::ok) throw TextError(fmt::format("invalid {} rdata: {}", to_string(type), to_string(e)));
  return out;
}

}  // namespace detail

std::string rdata_to_text(RRType type, std::span<const uint8_t> rdata) {
  const detail::TypeSchema* schema = detail::find_schema(type);
  if (schema != nullptr && schema->has_text_form && validate_rdata(type, rdata) == WireError::ok) {
    std::string out;
    if (detail::typed_rdata_to_text(*schema, rdata, out)) return out;
  }
  return detail::generic_rdata_to_text(rdata);
}

Rdata rdata_from_text(RRType type, std::string_view text, const Name& origin) {
  std::vector<detail::TextToken> tokens = detail::tokenize_rdata_text(text);
  return detail::rdata_from_tokens(type, tokens, origin);
}

std::string record_to_text(const ResourceRecord& rr) {
  return fmt::format("{}\t{}\t{}\t{}\t{}", rr.owner.to_text(), rr.ttl, to_string(rr.rclass),
                     to_string(rr.type), rdata_to_text(rr.type, rr.rdata));
}

}  // namespace sextant::wire
