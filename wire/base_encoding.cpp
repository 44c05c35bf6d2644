#include "wire/base_encoding.h"

namespace sextant::wire {

namespace {

constexpr char kBase64Std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kBase32Hex[] = "0123456789abcdefghijklmnopqrstuv";

bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int base64_value(char c, bool url) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

int base32hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'v') return c - 'a' + 10;
  if (c >= 'A' && c <= 'V') return c - 'A' + 10;
  return -1;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string base64_encode_with(std::span<const uint8_t> data, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

}  // namespace

const char* to_string(DecodeError e) noexcept {
  switch (e) {
    case DecodeError::ok: return "ok";
    case DecodeError::bad_character: return "invalid character";
    case DecodeError::bad_length: return "invalid length";
    case DecodeError::bad_padding: return "invalid padding";
    case DecodeError::trailing_bits: return "non-zero trailing bits";
  }
  return "unknown decode error";
}

std::string base64_encode(std::span<const uint8_t> data) {
  return base64_encode_with(data, kBase64Std, true);
}

std::string base64url_encode(std::span<const uint8_t> data) {
  return base64_encode_with(data, kBase64Url, false);
}

DecodeError base64_decode(std::string_view text, std::vector<uint8_t>& out,
                          const Base64Options& options) {
  std::vector<uint8_t> decoded;
  decoded.reserve(text.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  size_t symbols = 0;  // alphabet characters seen
  size_t pads = 0;     // '=' seen
  for (char c : text) {
    if (options.skip_whitespace && is_blank(c)) continue;
    if (c == '=') {
      if (options.padding == Base64Padding::forbidden) return DecodeError::bad_padding;
      ++pads;
      continue;
    }
    int v = base64_value(c, options.url_alphabet);
    if (v < 0) return DecodeError::bad_character;
    if (pads != 0) return DecodeError::bad_padding;  // data after padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    ++symbols;
    if (symbols % 4 == 0) {
      decoded.push_back(static_cast<uint8_t>(acc >> 16));
      decoded.push_back(static_cast<uint8_t>(acc >> 8));
      decoded.push_back(static_cast<uint8_t>(acc));
      acc = 0;
    }
  }
  size_t rest = symbols % 4;
  if (rest == 1) return DecodeError::bad_length;
  size_t expected_pads = rest == 0 ? 0 : 4 - rest;
  if (pads != 0 && pads != expected_pads) return DecodeError::bad_padding;
  if (pads == 0 && expected_pads != 0 && options.padding == Base64Padding::required)
    return DecodeError::bad_padding;
  if (rest == 2) {
    if (acc & 0x0F) return DecodeError::trailing_bits;
    decoded.push_back(static_cast<uint8_t>(acc >> 4));
  } else if (rest == 3) {
    if (acc & 0x03) return DecodeError::trailing_bits;
    decoded.push_back(static_cast<uint8_t>(acc >> 10));
    decoded.push_back(static_cast<uint8_t>(acc >> 2));
  }
  out.insert(out.end(), decoded.begin(), decoded.end());
  return DecodeError::ok;
}

DecodeError base64url_decode(std::string_view text, std::vector<uint8_t>& out) {
  return base64_decode(text, out, Base64Options{true, Base64Padding::forbidden, false});
}

std::string base32hex_encode(std::span<const uint8_t> data) {
  std::string out;
  out.reserve((data.size() * 8 + 4) / 5);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Hex[(acc >> bits) & 31]);
    }
    acc &= (1u << bits) - 1;
  }
  if (bits > 0) out.push_back(kBase32Hex[(acc << (5 - bits)) & 31]);
  return out;
}

DecodeError base32hex_decode(std::string_view text, std::vector<uint8_t>& out) {
  // 8 symbols carry 5 octets; a final group of 2, 4, 5 or 7 symbols carries
  // 1, 2, 3 or 4 octets. Any other remainder cannot come from an encoder.
  size_t rest = text.size() % 8;
  if (rest == 1 || rest == 3 || rest == 6) return DecodeError::bad_length;
  std::vector<uint8_t> decoded;
  decoded.reserve(text.size() * 5 / 8);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') return DecodeError::bad_padding;
    int v = base32hex_value(c);
    if (v < 0) return DecodeError::bad_character;
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      decoded.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return DecodeError::trailing_bits;
  out.insert(out.end(), decoded.begin(), decoded.end());
  return DecodeError::ok;
}

std::string hex_encode(std::span<const uint8_t> data, bool upper_case) {
  const char* digits = upper_case ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

DecodeError hex_decode(std::string_view text, std::vector<uint8_t>& out, bool skip_whitespace) {
  std::vector<uint8_t> decoded;
  decoded.reserve(text.size() / 2);
  int high = -1;
  for (char c : text) {
    if (skip_whitespace && is_blank(c)) continue;
    int v = hex_value(c);
    if (v < 0) return DecodeError::bad_character;
    if (high < 0) {
      high = v;
    } else {
      decoded.push_back(static_cast<uint8_t>((high << 4) | v));
      high = -1;
    }
  }
  if (high >= 0) return DecodeError::bad_length;
  out.insert(out.end(), decoded.begin(), decoded.end());
  return DecodeError::ok;
}

}  // namespace sextant::wire
