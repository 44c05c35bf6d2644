// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit PRF over short
// inputs. RFC 9018 builds DNS server cookies with it; Sextant also keys the
// rate limiter's table with it, so that a client cannot choose addresses
// that collide.
//
// Debian's OpenSSL 3.0 offers SipHash only through EVP_MAC (a fetch and a
// context allocation per use), too heavy for a per-query hash; this is the
// reference algorithm, checked against the paper's and RFC 9018's vectors in
// tests/wire/test_dns_cookie.cpp and against OpenSSL in
// tests/dnssec/test_siphash_openssl.cpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sextant::wire {

using SipKey = std::array<uint8_t, 16>;

// The 64-bit result as a number (the reference code's output read
// little-endian).
uint64_t siphash24(const SipKey& key, std::span<const uint8_t> data) noexcept;

// The result as the reference code writes it: 8 octets, little-endian.
std::array<uint8_t, 8> siphash24_bytes(const SipKey& key, std::span<const uint8_t> data) noexcept;

}  // namespace sextant::wire
