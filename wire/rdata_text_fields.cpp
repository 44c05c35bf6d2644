// Field-level conversions of rdata presentation text (rdata_text_fields.h).
#include "wire/rdata_text_fields.h"

#include <arpa/inet.h>

#include <fmt/format.h>

#include "wire/errors.h"

namespace sextant::wire::detail {

namespace {

void append_escaped_octet(std::string& out, uint8_t c) {
  if (c == '"' || c == '\\') {
    out.push_back('\\');
    out.push_back(static_cast<char>(c));
  } else if (c < 0x20 || c >= 0x7F) {
    out += fmt::format("\\{:03}", c);
  } else {
    out.push_back(static_cast<char>(c));
  }
}

}  // namespace

uint16_t read_u16(std::span<const uint8_t> d, size_t pos) noexcept {
  return static_cast<uint16_t>((d[pos] << 8) | d[pos + 1]);
}

void put_u16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

std::string quoted(std::span<const uint8_t> octets) {
  std::string out = "\"";
  for (uint8_t c : octets) append_escaped_octet(out, c);
  out.push_back('"');
  return out;
}

std::string ipv4_to_text(std::span<const uint8_t> a) {
  return fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
}

std::string ipv6_to_text(std::span<const uint8_t> a) {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, a.data(), buf, sizeof buf) == nullptr) return "::";
  return buf;
}

uint64_t parse_decimal(std::string_view text, uint64_t max, std::string_view what) {
  if (text.empty() || text.size() > 20) throw TextError("bad " + std::string(what) + " '" + std::string(text) + "'");
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') throw TextError("bad " + std::string(what) + " '" + std::string(text) + "'");
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > max) throw TextError(std::string(what) + " out of range: '" + std::string(text) + "'");
  }
  return v;
}

void parse_ipv4(std::string_view text, std::vector<uint8_t>& out) {
  std::string s(text);
  uint8_t buf[4];
  if (s.size() > 15 || inet_pton(AF_INET, s.c_str(), buf) != 1)
    throw TextError("bad IPv4 address '" + s + "'");
  out.insert(out.end(), buf, buf + 4);
}

void parse_ipv6(std::string_view text, std::vector<uint8_t>& out) {
  std::string s(text);
  uint8_t buf[16];
  if (s.size() >= INET6_ADDRSTRLEN || inet_pton(AF_INET6, s.c_str(), buf) != 1)
    throw TextError("bad IPv6 address '" + s + "'");
  out.insert(out.end(), buf, buf + 16);
}

}  // namespace sextant::wire::detail
