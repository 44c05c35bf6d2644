// SipHash-2-4 and the RFC 9018 cookie construction, against published
// vectors: the SipHash paper's (key 00..0f, message 00..n-1) and RFC 9018
// Appendix A. tests/dnssec/test_siphash_openssl.cpp compares every length
// up to 64 octets with OpenSSL's implementation as well.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "wire/dns_cookie.h"
#include "wire/siphash.h"

using namespace sextant::wire;

namespace {

std::vector<uint8_t> hex(const std::string& s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  return out;
}

std::string to_hex(std::span<const uint8_t> b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t v : b) {
    s += digits[v >> 4];
    s += digits[v & 15];
  }
  return s;
}

SipKey key_of(const std::string& h) {
  SipKey k{};
  auto b = hex(h);
  REQUIRE(b.size() == k.size());
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

std::vector<uint8_t> address(const std::string& text) {
  std::vector<uint8_t> out(16);
  if (inet_pton(AF_INET, text.c_str(), out.data()) == 1) {
    out.resize(4);
    return out;
  }
  REQUIRE(inet_pton(AF_INET6, text.c_str(), out.data()) == 1);
  return out;
}

std::span<const uint8_t, 8> client_part(const std::vector<uint8_t>& cookie) {
  return std::span<const uint8_t, 8>(cookie.data(), 8);
}

}  // namespace

TEST_CASE("SipHash-2-4 gives the reference vectors", "[siphash]") {
  SipKey key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> message;
  for (uint8_t i = 0; i < 16; ++i) message.push_back(i);
  // The paper's first vector (empty message) and its worked example (15 octets).
  CHECK(siphash24(key, {}) == 0x726fdb47dd0e0e31ull);
  CHECK(siphash24(key, std::span<const uint8_t>(message.data(), 15)) == 0xa129ca6149be45e5ull);
  auto bytes = siphash24_bytes(key, std::span<const uint8_t>(message.data(), 15));
  CHECK(to_hex(bytes) == "e545be4961ca29a1");  // little-endian, as the reference code writes it
}

TEST_CASE("RFC 9018 A.1: a client learns a new server cookie", "[cookie]") {
  SipKey secret = key_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
  auto client = hex("2464c4abcf10c957");
  ServerCookie c = make_server_cookie(secret, client_part(client), address("198.51.100.100"), 1559731985);
  CHECK(to_hex(c) == "010000005cf79f111f8130c3eee29480");
  CHECK(server_cookie_timestamp(c) == 1559731985u);
  CHECK(server_cookie_matches(secret, client_part(client), c, address("198.51.100.100")));
  CHECK_FALSE(server_cookie_matches(secret, client_part(client), c, address("198.51.100.101")));
}

TEST_CASE("RFC 9018 A.2: the same client gets a renewed cookie 40 minutes later", "[cookie]") {
  SipKey secret = key_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
  auto sent = hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480");
  auto server = std::span<const uint8_t>(sent).subspan(8);
  CHECK(server_cookie_matches(secret, client_part(sent), server, address("198.51.100.100")));
  CHECK(cookie_age(server_cookie_timestamp(server), 1559734385) == CookieAge::renew);
  ServerCookie renewed = make_server_cookie(secret, client_part(sent), address("198.51.100.100"), 1559734385);
  CHECK(to_hex(renewed) == "010000005cf7a871d4a564a1442aca77");
}

TEST_CASE("RFC 9018 A.3: reserved octets set by another implementation are hashed as received", "[cookie]") {
  SipKey secret = key_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
  auto sent = hex("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
  auto server = std::span<const uint8_t>(sent).subspan(8);
  CHECK(server_cookie_matches(secret, client_part(sent), server, address("203.0.113.203")));
  CHECK_FALSE(server_cookie_matches(secret, client_part(sent), server, address("203.0.113.204")));
  // Its timestamp is 1559727985; at 1559734700 it is 1 h 52 min old.
  CHECK(cookie_age(server_cookie_timestamp(server), 1559734700) == CookieAge::expired);
  ServerCookie renewed = make_server_cookie(secret, client_part(sent), address("203.0.113.203"), 1559734700);
  CHECK(to_hex(renewed) == "010000005cf7a9acf73a7810aca2381e");
}

TEST_CASE("RFC 9018 A.4: an IPv6 client across a secret rollover", "[cookie]") {
  SipKey old_secret = key_of("dd3bdf9344b678b185a6f5cb60fca715");
  SipKey new_secret = key_of("445536bcd2513298075a5d379663c962");
  auto sent = hex("22681ab97d52c298010000005cf7c57926556bd0934c72f8");
  auto server = std::span<const uint8_t>(sent).subspan(8);
  auto ip = address("2001:db8:220:1:59de:d0f4:8769:82b8");
  CHECK(server_cookie_matches(old_secret, client_part(sent), server, ip));
  CHECK_FALSE(server_cookie_matches(new_secret, client_part(sent), server, ip));
  ServerCookie renewed = make_server_cookie(new_secret, client_part(sent), ip, 1559741961);
  CHECK(to_hex(renewed) == "010000005cf7c609a6bb79d16625507a");
}

TEST_CASE("cookie ages follow RFC 1982 arithmetic across the wrap", "[cookie]") {
  const uint32_t now = 1559731985;
  CHECK(cookie_age(now, now) == CookieAge::fresh);
  CHECK(cookie_age(now - 1799, now) == CookieAge::fresh);
  CHECK(cookie_age(now - 1800, now) == CookieAge::renew);
  CHECK(cookie_age(now - 3600, now) == CookieAge::renew);
  CHECK(cookie_age(now - 3601, now) == CookieAge::expired);
  CHECK(cookie_age(now + 300, now) == CookieAge::fresh);
  CHECK(cookie_age(now + 301, now) == CookieAge::future);
  CHECK(cookie_age(4294964696u, 1000) == CookieAge::renew);  // an hour old across 2^32
  CHECK(cookie_age(1000, 4294964696u) == CookieAge::future);
}

TEST_CASE("server cookies of another version or size never match", "[cookie]") {
  SipKey secret = key_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
  auto client = hex("2464c4abcf10c957");
  ServerCookie c = make_server_cookie(secret, client_part(client), address("198.51.100.100"), 1559731985);
  ServerCookie other_version = c;
  other_version[0] = 2;
  CHECK_FALSE(server_cookie_matches(secret, client_part(client), other_version, address("198.51.100.100")));
  CHECK_FALSE(server_cookie_matches(secret, client_part(client), std::span<const uint8_t>(c).first(8),
                                    address("198.51.100.100")));
  ServerCookie flipped = c;
  flipped[15] ^= 1;
  CHECK_FALSE(server_cookie_matches(secret, client_part(client), flipped, address("198.51.100.100")));
}

TEST_CASE("client cookies differ per server and per secret", "[cookie]") {
  SipKey a = key_of("000102030405060708090a0b0c0d0e0f");
  SipKey b = key_of("0f0e0d0c0b0a09080706050403020100");
  auto s1 = address("192.0.2.1");
  auto s2 = address("192.0.2.2");
  CHECK(make_client_cookie(a, s1, 53) == make_client_cookie(a, s1, 53));
  CHECK(make_client_cookie(a, s1, 53) != make_client_cookie(a, s2, 53));
  CHECK(make_client_cookie(a, s1, 53) != make_client_cookie(a, s1, 5353));
  CHECK(make_client_cookie(a, s1, 53) != make_client_cookie(b, s1, 53));
}
