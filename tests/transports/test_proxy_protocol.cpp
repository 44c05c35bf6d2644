// PROXY v2 parsing, CIDR matching and X-Forwarded-For resolution.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include "tests/transports/encrypted_support.h"
#include "transports/proxy_protocol.h"

using namespace sextant::transports;
using namespace sextant::transports::test;

namespace {

std::vector<uint8_t> proxy_v4(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                              std::vector<uint8_t> tlvs = {}, uint8_t command = 0x21) {
  std::vector<uint8_t> h = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, command, 0x11};
  uint16_t length = static_cast<uint16_t>(12 + tlvs.size());
  h.push_back(static_cast<uint8_t>(length >> 8));
  h.push_back(static_cast<uint8_t>(length));
  in_addr a;
  inet_pton(AF_INET, src, &a);
  h.insert(h.end(), reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + 4);
  inet_pton(AF_INET, dst, &a);
  h.insert(h.end(), reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + 4);
  h.push_back(static_cast<uint8_t>(sport >> 8));
  h.push_back(static_cast<uint8_t>(sport));
  h.push_back(static_cast<uint8_t>(dport >> 8));
  h.push_back(static_cast<uint8_t>(dport));
  h.insert(h.end(), tlvs.begin(), tlvs.end());
  return h;
}

std::string text_of(const sockaddr_storage& s) { return address_text(s); }

}  // namespace

TEST_CASE("PROXY v2 IPv4 header is parsed", "[proxy]") {
  auto h = proxy_v4("198.51.100.9", "192.0.2.53", 40000, 443);
  h.push_back(0xAA);  // application data after the header
  ProxyHeader header;
  REQUIRE(parse_proxy_v2(h, header) == ProxyParse::complete);
  CHECK(header.header_length == 28);
  CHECK(header.has_addresses);
  CHECK_FALSE(header.local);
  CHECK(text_of(header.source) == "198.51.100.9");
  CHECK(ntohs(reinterpret_cast<sockaddr_in*>(&header.source)->sin_port) == 40000);
  CHECK(text_of(header.destination) == "192.0.2.53");
}

TEST_CASE("PROXY v2 IPv6, LOCAL and TLVs", "[proxy]") {
  std::vector<uint8_t> h = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0, 36};
  in6_addr a;
  inet_pton(AF_INET6, "2001:db8::7", &a);
  h.insert(h.end(), reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + 16);
  inet_pton(AF_INET6, "2001:db8::1", &a);
  h.insert(h.end(), reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + 16);
  h.insert(h.end(), {0x12, 0x34, 0x01, 0xBB});
  ProxyHeader header;
  REQUIRE(parse_proxy_v2(h, header) == ProxyParse::complete);
  CHECK(text_of(header.source) == "2001:db8::7");
  CHECK(header.header_length == 52);

  auto local = proxy_v4("1.2.3.4", "5.6.7.8", 1, 2, {}, 0x20);
  REQUIRE(parse_proxy_v2(local, header) == ProxyParse::complete);
  CHECK(header.local);
  CHECK_FALSE(header.has_addresses);

  auto with_tlv = proxy_v4("10.1.2.3", "10.0.0.1", 5, 6, {0x04, 0x00, 0x02, 'h', 'i'});
  REQUIRE(parse_proxy_v2(with_tlv, header) == ProxyParse::complete);
  CHECK(header.header_length == with_tlv.size());
  CHECK(text_of(header.source) == "10.1.2.3");
}

TEST_CASE("PROXY v2 partial, wrong and hostile headers", "[proxy]") {
  auto h = proxy_v4("198.51.100.9", "192.0.2.53", 1, 2);
  ProxyHeader header;
  for (size_t n = 0; n < h.size(); ++n) {
    CHECK(parse_proxy_v2(std::span<const uint8_t>(h.data(), n), header) == ProxyParse::need_more);
  }
  const std::string v1 = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
  CHECK(parse_proxy_v2(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v1.data()), v1.size()), header) ==
        ProxyParse::invalid);
  auto bad_version = h;
  bad_version[12] = 0x11;
  CHECK(parse_proxy_v2(bad_version, header) == ProxyParse::invalid);
  auto bad_command = h;
  bad_command[12] = 0x2F;
  CHECK(parse_proxy_v2(bad_command, header) == ProxyParse::invalid);
  auto short_block = h;
  short_block[15] = 4;  // IPv4 needs 12
  std::string error;
  CHECK(parse_proxy_v2(short_block, header, &error) == ProxyParse::invalid);
  CHECK_FALSE(error.empty());
  auto huge = h;
  huge[14] = 0xFF;
  huge[15] = 0xFF;
  CHECK(parse_proxy_v2(huge, header) == ProxyParse::invalid);
}

TEST_CASE("CIDR blocks and trusted proxies", "[proxy]") {
  TrustedProxies trusted({"127.0.0.1", "10.0.0.0/8", "2001:db8::/32", "192.168.1.77/24"});
  sockaddr_storage a;
  REQUIRE(parse_ip_address("10.200.3.4", a));
  CHECK(trusted.contains(reinterpret_cast<sockaddr*>(&a)));
  REQUIRE(parse_ip_address("11.0.0.1", a));
  CHECK_FALSE(trusted.contains(reinterpret_cast<sockaddr*>(&a)));
  REQUIRE(parse_ip_address("192.168.1.5", a));
  CHECK(trusted.contains(reinterpret_cast<sockaddr*>(&a)));  // host bits of the block were cleared
  REQUIRE(parse_ip_address("2001:db8:ffff::1", a));
  CHECK(trusted.contains(reinterpret_cast<sockaddr*>(&a)));
  REQUIRE(parse_ip_address("::ffff:127.0.0.1", a));
  CHECK(trusted.contains(reinterpret_cast<sockaddr*>(&a)));
  REQUIRE(parse_ip_address("127.0.0.2", a));
  CHECK_FALSE(trusted.contains(reinterpret_cast<sockaddr*>(&a)));
  CHECK_FALSE(parse_cidr("10.0.0.0/33"));
  CHECK_FALSE(parse_cidr("10.0.0/8"));
  CHECK_FALSE(parse_cidr("fe80::/129"));
  CHECK_FALSE(parse_cidr("10.0.0.0/"));
  CHECK(parse_cidr("0.0.0.0/0"));
  CHECK_THROWS_AS(TrustedProxies({"not-an-address"}), std::invalid_argument);
}

TEST_CASE("X-Forwarded-For yields the rightmost untrusted address", "[proxy]") {
  TrustedProxies trusted({"10.0.0.0/8"});
  sockaddr_storage client;
  REQUIRE(client_from_forwarded_for("203.0.113.7", trusted, client));
  CHECK(text_of(client) == "203.0.113.7");
  // A client-forged entry on the left is ignored: the rightmost untrusted wins.
  REQUIRE(client_from_forwarded_for("1.1.1.1, 203.0.113.7, 10.0.0.2", trusted, client));
  CHECK(text_of(client) == "203.0.113.7");
  REQUIRE(client_from_forwarded_for("[2001:db8::5]:443, 10.1.1.1:80", trusted, client));
  CHECK(text_of(client) == "2001:db8::5");
  CHECK_FALSE(client_from_forwarded_for("garbage", trusted, client));
  CHECK_FALSE(client_from_forwarded_for("", trusted, client));
  // Garbage left of a trusted hop: the trusted hop is as far as we can go.
  REQUIRE(client_from_forwarded_for("junk, 10.0.0.9", trusted, client));
  CHECK(text_of(client) == "10.0.0.9");
}
