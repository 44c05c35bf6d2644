// Field-level conversions between wire octets and presentation text, shared
// by the rdata presentation code (rdata_text.cpp) and the SvcParams one
// (svc_params_text.cpp). Parsers throw TextError naming the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sextant::wire::detail {

uint16_t read_u16(std::span<const uint8_t> d, size_t pos) noexcept;
void put_u16(std::vector<uint8_t>& out, uint16_t v);

// A <character-string> in quotes, with '"', '\' and non-printable octets
// escaped (\X and \DDD).
std::string quoted(std::span<const uint8_t> octets);
std::string ipv4_to_text(std::span<const uint8_t> a);  // 4 octets
std::string ipv6_to_text(std::span<const uint8_t> a);  // 16 octets

// A decimal number no larger than `max`; `what` names the field in errors.
uint64_t parse_decimal(std::string_view text, uint64_t max, std::string_view what);
// Append the address's 4 or 16 octets to `out`.
void parse_ipv4(std::string_view text, std::vector<uint8_t>& out);
void parse_ipv6(std::string_view text, std::vector<uint8_t>& out);

}  // namespace sextant::wire::detail
