// Internal to wire/: the table that describes each RR type's rdata as a list
// of field kinds. rdata.cpp (wire checks, name expansion, canonical form) and
// rdata_text.cpp (presentation format) both walk it, so a type is described
// once and every operation treats it the same way.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/errors.h"
#include "wire/name.h"
#include "wire/types.h"

namespace sextant::wire::detail {

enum class FieldKind : uint8_t {
  end = 0,          // terminates a schema's field list
  name,             // a domain name
  u8,
  algorithm,        // u8 DNSSEC algorithm; text may use its mnemonic (RFC 4034 §A.1)
  u16,
  u32,
  ttl,              // u32 that text may write with units ("1h"): SOA timers, original TTL
  rrtype,           // u16 shown as a type mnemonic (RRSIG type covered)
  time,             // u32 shown as YYYYMMDDHHmmSS (RRSIG expiration/inception)
  ipv4,             // 4 octets
  ipv6,             // 16 octets
  char_string,      // <length octet><octets>
  char_strings,     // one or more <character-string>s up to the end (TXT)
  base64_to_end,    // opaque octets to the end, base64 in text (keys, signatures)
  hex_to_end,       // opaque octets to the end, hex in text (digests)
  hex_with_length,  // <length octet><octets>, hex in text, "-" when empty (NSEC3 salt)
  base32_with_length,  // <length octet><octets>, base32hex in text (NSEC3 next hash)
  type_bitmap,      // RFC 4034 §4.1.2 windowed bitmap up to the end (may be empty)
  svc_params,       // RFC 9460 SvcParams up to the end
  caa_tag,          // <length octet><tag>, tag unquoted alphanumerics in text
  string_to_end,    // octets to the end, a quoted string in text (CAA value, URI target)
  opaque_to_end,    // octets to the end with no typed text form (OPT, NXT bitmap)
  a6_address,       // A6 prefix length, address suffix and prefix name (RFC 2874)
};

struct TypeSchema {
  uint16_t type;
  std::array<FieldKind, 10> fields;
  // Names may arrive compressed (RFC 3597 §4: RFC 1035 types and the later
  // types receivers are asked to decompress).
  bool decompress_names;
  // Names are lower-cased in the DNSSEC canonical form (RFC 4034 §6.2 as
  // amended by RFC 6840 §5.1).
  bool canonical_lowercase;
  // The rdata has a presentation form besides RFC 3597 "\#".
  bool has_text_form;
};

// nullptr for types without a known layout; their rdata is opaque.
const TypeSchema* find_schema(RRType type) noexcept;

// SvcParamKey registry (RFC 9460 §14.3.2 and RFC 9540 for ohttp).
enum class SvcParamKey : uint16_t {
  mandatory = 0, alpn = 1, no_default_alpn = 2, port = 3, ipv4hint = 4, ech = 5,
  ipv6hint = 6, dohpath = 7, ohttp = 8,
};

// One token of presentation-format text. `text` is as written, with escapes
// still in it; for a quoted token it is what lies between the quotes.
struct TextToken {
  std::string text;
  bool quoted = false;
  size_t line = 0;  // 1-based line in the source the token started on
};

// One entry of a master file: the tokens up to the end of the line, with
// parenthesised groups joined across lines.
struct LogicalLine {
  std::vector<TextToken> tokens;
  bool leading_blank = false;  // the line started with a blank: owner omitted
  size_t line = 0;             // line the entry starts on
};

// RFC 1035 §5.1 lexical rules: blanks separate tokens, "quoted strings" are
// single tokens, parentheses join lines, ';' starts a comment, a backslash
// escapes the next character (kept in the token for the field parser). An
// unquoted token may contain a quoted part (SVCB `alpn="h2,h3"`), kept with
// its quotes.
class PresentationLexer {
 public:
  explicit PresentationLexer(std::string_view text) : text_(text) {}
  // Fills `out` with the next non-empty entry; false at the end of the text.
  // Throws TextError (without position: see line()) on an unterminated quote
  // or unbalanced parentheses.
  bool next(LogicalLine& out);
  // The line the lexer is on, for error messages.
  size_t line() const noexcept { return line_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t line_ = 1;
};

// Splits rdata text into tokens with PresentationLexer's rules; line ends
// separate tokens like blanks.
std::vector<TextToken> tokenize_rdata_text(std::string_view text);

// Parses rdata from tokens (the zone reader hands over the tokens after the
// type). Throws TextError naming the problem, without position.
std::vector<uint8_t> rdata_from_tokens(RRType type, std::span<const TextToken> tokens,
                                       const Name& origin);

// Checks an RFC 4034 §4.1.2 type bitmap: windows in increasing order, each
// 1 to 32 octets long, nothing left over.
WireError check_type_bitmap(std::span<const uint8_t> bitmap) noexcept;

// Checks RFC 9460 SvcParams: keys strictly increasing, lengths inside the
// data, and each known key's value in its expected format (§2.2, §7, §8).
WireError check_svc_params(std::span<const uint8_t> params) noexcept;

// A TTL or other seconds value: plain decimal, or BIND-style units
// ("1h30m", "1d", "2w", case-insensitive). nullopt when malformed or when it
// overflows 32 bits.
std::optional<uint32_t> parse_ttl(std::string_view text) noexcept;

// An RFC 4034 §4.1.2 type bitmap holding `types` (any order, duplicates
// allowed).
std::vector<uint8_t> build_type_bitmap(std::vector<uint16_t> types);

// Decodes a <character-string> token's escapes (\X and \DDD) into octets.
// Throws TextError for a bad escape or, when `max_size` is exceeded, for
// length.
std::vector<uint8_t> decode_text_escapes(std::string_view text, size_t max_size);

}  // namespace sextant::wire::detail
