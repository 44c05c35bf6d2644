#include "wire/dns_cookie.h"

#include <algorithm>

namespace sextant::wire {

namespace {

constexpr size_t kMaxAddress = 16;
// Client cookie, version, reserved, timestamp, address.
constexpr size_t kMaxHashInput = kClientCookieSize + 8 + kMaxAddress;

uint64_t cookie_hash(const SipKey& secret, std::span<const uint8_t, kClientCookieSize> client_cookie,
                     std::span<const uint8_t, 8> head, std::span<const uint8_t> client_address) noexcept {
  std::array<uint8_t, kMaxHashInput> input{};
  size_t address = std::min(client_address.size(), kMaxAddress);
  std::copy(client_cookie.begin(), client_cookie.end(), input.begin());
  std::copy(head.begin(), head.end(), input.begin() + kClientCookieSize);
  std::copy_n(client_address.begin(), address, input.begin() + kClientCookieSize + 8);
  return siphash24(secret, std::span<const uint8_t>(input.data(), kClientCookieSize + 8 + address));
}

void put_hash(uint64_t h, uint8_t* out) noexcept {
  for (size_t i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(h >> (8 * i));
}

}  // namespace

ServerCookie make_server_cookie(const SipKey& secret, std::span<const uint8_t, kClientCookieSize> client_cookie,
                                std::span<const uint8_t> client_address, uint32_t now) noexcept {
  ServerCookie c{};
  c[0] = kInteropCookieVersion;
  c[4] = static_cast<uint8_t>(now >> 24);
  c[5] = static_cast<uint8_t>(now >> 16);
  c[6] = static_cast<uint8_t>(now >> 8);
  c[7] = static_cast<uint8_t>(now);
  put_hash(cookie_hash(secret, client_cookie, std::span<const uint8_t, 8>(c.data(), 8), client_address), c.data() + 8);
  return c;
}

CookieAge cookie_age(uint32_t timestamp, uint32_t now) noexcept {
  // RFC 1982 arithmetic: the difference taken modulo 2^32, read signed.
  auto age = static_cast<int32_t>(now - timestamp);
  if (age < 0) return -static_cast<int64_t>(age) > kCookieFutureSkewSeconds ? CookieAge::future : CookieAge::fresh;
  if (static_cast<uint32_t>(age) > kCookieLifetimeSeconds) return CookieAge::expired;
  if (static_cast<uint32_t>(age) >= kCookieRenewAfterSeconds) return CookieAge::renew;
  return CookieAge::fresh;
}

bool server_cookie_matches(const SipKey& secret, std::span<const uint8_t, kClientCookieSize> client_cookie,
                           std::span<const uint8_t> server_cookie, std::span<const uint8_t> client_address) noexcept {
  if (server_cookie.size() != kInteropServerCookieSize || server_cookie[0] != kInteropCookieVersion) return false;
  uint8_t expected[8];
  put_hash(cookie_hash(secret, client_cookie, server_cookie.first<8>(), client_address), expected);
  // Constant time: a timing oracle would let an attacker build cookies
  // octet by octet.
  uint8_t diff = 0;
  for (size_t i = 0; i < 8; ++i) diff |= static_cast<uint8_t>(expected[i] ^ server_cookie[8 + i]);
  return diff == 0;
}

uint32_t server_cookie_timestamp(std::span<const uint8_t> server_cookie) noexcept {
  if (server_cookie.size() < 8) return 0;
  return (static_cast<uint32_t>(server_cookie[4]) << 24) | (static_cast<uint32_t>(server_cookie[5]) << 16) |
         (static_cast<uint32_t>(server_cookie[6]) << 8) | server_cookie[7];
}

std::array<uint8_t, kClientCookieSize> make_client_cookie(const SipKey& secret,
                                                          std::span<const uint8_t> server_address,
                                                          uint16_t server_port) noexcept {
  std::array<uint8_t, kMaxAddress + 2> input{};
  size_t address = std::min(server_address.size(), kMaxAddress);
  std::copy_n(server_address.begin(), address, input.begin());
  input[address] = static_cast<uint8_t>(server_port >> 8);
  input[address + 1] = static_cast<uint8_t>(server_port);
  std::array<uint8_t, kClientCookieSize> out{};
  put_hash(siphash24(secret, std::span<const uint8_t>(input.data(), address + 2)), out.data());
  return out;
}

}  // namespace sextant::wire
