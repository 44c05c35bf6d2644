// PROXY v2 parsing, CIDR matching and X-Forwarded-For resolution.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include "tests/transports/encrypted_support.h"
#include "tests/transports/proxy_support.h"
#include "transports/proxy_protocol.h"

using namespace sextant::transports;
using namespace sextant::transports::test;
using namespace sextant::transports::proxy_test;

namespace {

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

namespace {

sockaddr_storage address(const char* text, uint16_t port = 5353) {
  sockaddr_storage s;
  REQUIRE(parse_ip_address(text, s));
  reinterpret_cast<sockaddr_in*>(&s)->sin_port = htons(port);  // same offset for sockaddr_in6
  return s;
}

const sockaddr* sa(const sockaddr_storage& s) { return reinterpret_cast<const sockaddr*>(&s); }

const std::vector<uint8_t> kQuery = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1};

}  // namespace

TEST_CASE("PROXY v2 datagrams: every outcome", "[proxy]") {
  TrustedProxies trusted({"127.0.0.1/32", "::1"});
  auto proxy = address("127.0.0.1");
  auto mapped = address("::ffff:127.0.0.1");
  auto stranger = address("127.0.0.2");
  ProxyHeader header;
  std::span<const uint8_t> payload;

  auto proxied = concat(proxy_v4("198.51.100.7", "192.0.2.53", 4444, 53, {}, 0x21, 0x12), kQuery);
  CHECK(unwrap_proxied_datagram(proxied, sa(proxy), &trusted, header, payload) == ProxyOutcome::proxied);
  CHECK(std::vector<uint8_t>(payload.begin(), payload.end()) == kQuery);
  CHECK(text_of(header.source) == "198.51.100.7");
  CHECK(text_of(header.destination) == "192.0.2.53");
  // An IPv4-mapped peer matches the IPv4 block.
  CHECK(unwrap_proxied_datagram(proxied, sa(mapped), &trusted, header, payload) == ProxyOutcome::proxied);

  auto local = concat(proxy_local(), kQuery);
  CHECK(unwrap_proxied_datagram(local, sa(proxy), &trusted, header, payload) == ProxyOutcome::local);
  CHECK(payload.size() == kQuery.size());
  CHECK_FALSE(header.has_addresses);

  // A trusted proxy must send a header; nobody else may.
  CHECK(unwrap_proxied_datagram(kQuery, sa(proxy), &trusted, header, payload) == ProxyOutcome::missing);
  CHECK(unwrap_proxied_datagram(proxied, sa(stranger), &trusted, header, payload) == ProxyOutcome::untrusted);
  CHECK(unwrap_proxied_datagram(proxied, sa(stranger), nullptr, header, payload) == ProxyOutcome::untrusted);
  TrustedProxies none;
  CHECK(unwrap_proxied_datagram(proxied, sa(proxy), &none, header, payload) == ProxyOutcome::untrusted);
  CHECK(unwrap_proxied_datagram(kQuery, sa(stranger), &trusted, header, payload) == ProxyOutcome::direct);
  CHECK(payload.size() == kQuery.size());
  CHECK(unwrap_proxied_datagram(kQuery, sa(stranger), nullptr, header, payload) == ProxyOutcome::direct);

  // Truncated or malformed headers from a trusted proxy.
  auto truncated = proxy_v4("198.51.100.7", "192.0.2.53", 1, 2);
  truncated.resize(20);
  CHECK(unwrap_proxied_datagram(truncated, sa(proxy), &trusted, header, payload) == ProxyOutcome::invalid);
  auto bad_version = proxied;
  bad_version[12] = 0x31;
  CHECK(unwrap_proxied_datagram(bad_version, sa(proxy), &trusted, header, payload) == ProxyOutcome::invalid);
  std::vector<uint8_t> just_signature(kSignature.begin(), kSignature.end());
  CHECK(unwrap_proxied_datagram(just_signature, sa(proxy), &trusted, header, payload) == ProxyOutcome::invalid);
  // A short datagram that is a prefix of the signature is no header at all.
  std::vector<uint8_t> prefix(kSignature.begin(), kSignature.begin() + 5);
  CHECK(unwrap_proxied_datagram(prefix, sa(proxy), &trusted, header, payload) == ProxyOutcome::missing);
  CHECK(unwrap_proxied_datagram(prefix, sa(stranger), &trusted, header, payload) == ProxyOutcome::direct);

  // IPv6 client through an IPv4 proxy.
  auto v6 = concat(proxy_v6("2001:db8::7", "2001:db8::53", 4444, 53), kQuery);
  CHECK(unwrap_proxied_datagram(v6, sa(proxy), &trusted, header, payload) == ProxyOutcome::proxied);
  CHECK(text_of(header.source) == "2001:db8::7");
  CHECK(payload.size() == kQuery.size());

  CHECK(std::string(to_string(ProxyOutcome::untrusted)) == "untrusted");
  CHECK(is_accepted(ProxyOutcome::local));
  CHECK_FALSE(is_accepted(ProxyOutcome::missing));
}

TEST_CASE("PROXY v2 stream reader: whole, split at every point, byte by byte", "[proxy]") {
  auto header = proxy_v4("198.51.100.7", "192.0.2.53", 4444, 853, {0x04, 0x00, 0x01, 'x'});
  auto stream = concat(header, kQuery);
  for (size_t split = 0; split <= stream.size(); ++split) {
    ProxyStreamReader reader;
    std::span<const uint8_t> first(stream.data(), split);
    std::span<const uint8_t> second(stream.data() + split, stream.size() - split);
    std::vector<uint8_t> after;
    if (reader.feed(first) == ProxyStreamReader::Status::done) {
      after.assign(first.begin(), first.end());
      after.insert(after.end(), second.begin(), second.end());
    } else {
      REQUIRE(first.empty());
      REQUIRE(reader.feed(second) == ProxyStreamReader::Status::done);
      after.assign(second.begin(), second.end());
    }
    CHECK(reader.outcome() == ProxyOutcome::proxied);
    CHECK(after == kQuery);
    CHECK(text_of(reader.header().source) == "198.51.100.7");
  }
  ProxyStreamReader bytes;
  size_t fed = 0;
  for (; fed < stream.size(); ++fed) {
    std::span<const uint8_t> one(stream.data() + fed, 1);
    if (bytes.feed(one) == ProxyStreamReader::Status::done) break;
  }
  CHECK(fed == header.size() - 1);
  CHECK(bytes.outcome() == ProxyOutcome::proxied);
  // Once done, the reader hands everything through untouched.
  std::span<const uint8_t> rest(kQuery);
  CHECK(bytes.feed(rest) == ProxyStreamReader::Status::done);
  CHECK(rest.size() == kQuery.size());
}

TEST_CASE("PROXY v2 stream reader: LOCAL, missing, invalid and oversized headers", "[proxy]") {
  {
    ProxyStreamReader reader;
    auto stream = concat(proxy_local(), kQuery);
    std::span<const uint8_t> data(stream);
    REQUIRE(reader.feed(data) == ProxyStreamReader::Status::done);
    CHECK(reader.outcome() == ProxyOutcome::local);
    CHECK(data.size() == kQuery.size());
  }
  {
    // A DNS frame where the header should be: missing, decided at the first octet.
    ProxyStreamReader reader;
    std::span<const uint8_t> data(kQuery);
    REQUIRE(reader.feed(data) == ProxyStreamReader::Status::done);
    CHECK(reader.outcome() == ProxyOutcome::missing);
    CHECK(data.empty());
  }
  {
    // The signature, then garbage: invalid.
    ProxyStreamReader reader;
    auto stream = concat(kSignature, {0x99, 0x11, 0, 12});
    std::span<const uint8_t> data(stream);
    REQUIRE(reader.feed(data) == ProxyStreamReader::Status::done);
    CHECK(reader.outcome() == ProxyOutcome::invalid);
  }
  {
    // A header announcing 60,000 octets of TLVs is refused without waiting for them.
    ProxyStreamReader reader;
    auto stream = concat(kSignature, {0x21, 0x11, 0xEA, 0x60});
    std::span<const uint8_t> data(stream);
    REQUIRE(reader.feed(data) == ProxyStreamReader::Status::done);
    CHECK(reader.outcome() == ProxyOutcome::invalid);
  }
  {
    // Just under the limit, fed in small pieces: the buffer stays bounded and it completes.
    size_t tlv_length = kMaxProxyHeaderLength - 16 - 12 - 3;
    std::vector<uint8_t> tlv = {0xEE, static_cast<uint8_t>(tlv_length >> 8), static_cast<uint8_t>(tlv_length)};
    tlv.resize(3 + tlv_length, 'a');
    auto stream = concat(proxy_v4("10.0.0.1", "10.0.0.2", 1, 2, tlv), kQuery);
    REQUIRE(stream.size() == kMaxProxyHeaderLength + kQuery.size());
    ProxyStreamReader reader;
    size_t offset = 0;
    ProxyStreamReader::Status status = ProxyStreamReader::Status::need_more;
    std::span<const uint8_t> rest;
    while (status == ProxyStreamReader::Status::need_more && offset < stream.size()) {
      size_t n = std::min<size_t>(100, stream.size() - offset);
      rest = std::span<const uint8_t>(stream.data() + offset, n);
      status = reader.feed(rest);
      offset += n;
    }
    CHECK(status == ProxyStreamReader::Status::done);
    CHECK(reader.outcome() == ProxyOutcome::proxied);
    CHECK(reader.header().header_length == kMaxProxyHeaderLength);
  }
}

TEST_CASE("PROXY v2 signature sniffer for peers that are not trusted", "[proxy]") {
  {
    ProxySignatureSniffer sniffer;
    CHECK(sniffer.feed(std::span<const uint8_t>(kSignature.data(), 5)) == ProxySignatureSniffer::Verdict::undecided);
    CHECK(sniffer.feed(std::span<const uint8_t>(kSignature.data() + 5, 7)) == ProxySignatureSniffer::Verdict::header);
  }
  {
    ProxySignatureSniffer sniffer;
    const std::vector<uint8_t> tls_hello = {0x16, 0x03, 0x01, 0x02, 0x00};
    CHECK(sniffer.feed(tls_hello) == ProxySignatureSniffer::Verdict::no_header);
    // Decided for good: later octets are not looked at.
    CHECK(sniffer.feed(kSignature) == ProxySignatureSniffer::Verdict::no_header);
  }
  {
    ProxySignatureSniffer sniffer;
    auto almost = kSignature;
    almost[11] = 0x0B;
    CHECK(sniffer.feed(almost) == ProxySignatureSniffer::Verdict::no_header);
  }
  CHECK(starts_with_proxy_v2_signature(kSignature));
  CHECK_FALSE(starts_with_proxy_v2_signature(std::span<const uint8_t>(kSignature.data(), 11)));
}
