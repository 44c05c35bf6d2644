// DNS Cookies (RFC 7873) built the interoperable way of RFC 9018, so that
// several servers (an anycast group, Sextant beside BIND or Knot) sharing a
// secret accept each other's cookies:
//
//   Server Cookie = Version (1) | Reserved (3) | Timestamp (4) | Hash (8)
//   Hash = SipHash-2-4(Client Cookie | Version | Reserved | Timestamp | Client IP, Secret)
//
// Pure functions: the caller supplies the secret, the client's address (4 or
// 16 octets) and the time (seconds since the epoch, compared modulo 2^32 as
// RFC 1982 serial numbers). Checked against RFC 9018 Appendix A in
// tests/wire/test_dns_cookie.cpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/siphash.h"

namespace sextant::wire {

inline constexpr size_t kClientCookieSize = 8;
inline constexpr size_t kInteropServerCookieSize = 16;
inline constexpr uint8_t kInteropCookieVersion = 1;

// RFC 9018 §4.3: a cookie older than an hour or more than five minutes in
// the future is not accepted; one older than half an hour is replaced by a
// fresh one in the answer.
inline constexpr uint32_t kCookieLifetimeSeconds = 3600;
inline constexpr uint32_t kCookieRenewAfterSeconds = 1800;
inline constexpr uint32_t kCookieFutureSkewSeconds = 300;

using ServerCookie = std::array<uint8_t, kInteropServerCookieSize>;

// A fresh server cookie (version 1, reserved zero, timestamp `now`).
ServerCookie make_server_cookie(const SipKey& secret, std::span<const uint8_t, kClientCookieSize> client_cookie,
                                std::span<const uint8_t> client_address, uint32_t now) noexcept;

enum class CookieAge : uint8_t {
  fresh,    // usable as it is
  renew,    // usable, but older than half an hour: answer with a new one
  expired,  // more than an hour old
  future,   // more than five minutes ahead
};
CookieAge cookie_age(uint32_t timestamp, uint32_t now) noexcept;

// True when `server_cookie` is a 16-octet version-1 cookie whose hash is
// the one `secret` gives for this client cookie and address. The reserved
// octets count as received (RFC 9018 §4.2); the age is not judged here.
bool server_cookie_matches(const SipKey& secret, std::span<const uint8_t, kClientCookieSize> client_cookie,
                           std::span<const uint8_t> server_cookie, std::span<const uint8_t> client_address) noexcept;

// The timestamp of a 16-octet server cookie (octets 4..7).
uint32_t server_cookie_timestamp(std::span<const uint8_t> server_cookie) noexcept;

// A client cookie for queries to one server (RFC 9018 §3, RFC 7873 §4.1):
// a function of the server's address and port and the client's secret, so
// that servers cannot link the client's queries to different servers, and
// a new secret gives new cookies. The client's own address is left out: the
// kernel picks it per query.
std::array<uint8_t, kClientCookieSize> make_client_cookie(const SipKey& secret,
                                                          std::span<const uint8_t> server_address,
                                                          uint16_t server_port) noexcept;

}  // namespace sextant::wire
