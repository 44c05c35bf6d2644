// RFC 4648 encodings used by the DNS: base64 (DNSKEY, RRSIG, SVCB ech),
// base64url without padding (DoH GET, RFC 8484 §4.1), base32hex without
// padding (NSEC3 hashed names, RFC 5155 §3.3) and hex (DS, TLSA, salts).
//
// Decoders are strict: an alphabet character out of place, a wrong length,
// misplaced padding or non-zero bits left over in the last symbol all fail
// with a named error, so two different texts never decode to the same octets.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sextant::wire {

enum class DecodeError : uint8_t {
  ok = 0,
  bad_character,  // a character outside the alphabet
  bad_length,     // a length no encoding produces
  bad_padding,    // '=' missing where required, present where forbidden, or misplaced
  trailing_bits,  // non-zero bits in the unused part of the last symbol
};

const char* to_string(DecodeError e) noexcept;

enum class Base64Padding : uint8_t { required, optional, forbidden };

struct Base64Options {
  bool url_alphabet = false;      // '-' and '_' instead of '+' and '/'
  Base64Padding padding = Base64Padding::required;
  bool skip_whitespace = false;   // presentation format splits keys over lines
};

std::string base64_encode(std::span<const uint8_t> data);
// RFC 4648 §5 alphabet, no padding: the form DoH GET requests carry.
std::string base64url_encode(std::span<const uint8_t> data);
// Appends the decoded octets to `out` only on success.
DecodeError base64_decode(std::string_view text, std::vector<uint8_t>& out,
                          const Base64Options& options = {});
DecodeError base64url_decode(std::string_view text, std::vector<uint8_t>& out);

// Extended-hex alphabet "0-9A-V", written lower-case, never padded.
std::string base32hex_encode(std::span<const uint8_t> data);
// Accepts either case; rejects padding.
DecodeError base32hex_decode(std::string_view text, std::vector<uint8_t>& out);

std::string hex_encode(std::span<const uint8_t> data, bool upper_case = false);
// Accepts either case; needs an even number of digits. With
// `skip_whitespace`, blanks between digits are ignored.
DecodeError hex_decode(std::string_view text, std::vector<uint8_t>& out,
                       bool skip_whitespace = false);

}  // namespace sextant::wire
