// PROXY v2 headers written by hand (haproxy/doc/proxy-protocol.txt §2.2), for
// the parser's and the listeners' tests.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <vector>

namespace sextant::transports::proxy_test {

inline const std::vector<uint8_t> kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

inline void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// PROXY (command 0x21) over TCP (0x11) or UDP (0x12) for IPv4 addresses.
inline std::vector<uint8_t> proxy_v4(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                                     std::vector<uint8_t> tlvs = {}, uint8_t command = 0x21,
                                     uint8_t family_protocol = 0x11) {
  std::vector<uint8_t> h = kSignature;
  h.push_back(command);
  h.push_back(family_protocol);
  put16(h, static_cast<uint16_t>(12 + tlvs.size()));
  in_addr a;
  inet_pton(AF_INET, src, &a);
  h.insert(h.end(), reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + 4);
  inet_pton(AF_INET, dst, &a);
  h.insert(h.end(), reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + 4);
  put16(h, sport);
  put16(h, dport);
  h.insert(h.end(), tlvs.begin(), tlvs.end());
  return h;
}

inline std::vector<uint8_t> proxy_v6(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                                     uint8_t family_protocol = 0x21) {
  std::vector<uint8_t> h = kSignature;
  h.push_back(0x21);
  h.push_back(family_protocol);
  put16(h, 36);
  in6_addr a;
  inet_pton(AF_INET6, src, &a);
  h.insert(h.end(), reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + 16);
  inet_pton(AF_INET6, dst, &a);
  h.insert(h.end(), reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + 16);
  put16(h, sport);
  put16(h, dport);
  return h;
}

// What dnsdist puts in front of its health checks (makeLocalProxyHeader):
// LOCAL, family UNSPEC, no address block.
inline std::vector<uint8_t> proxy_local() {
  std::vector<uint8_t> h = kSignature;
  h.insert(h.end(), {0x20, 0x00, 0x00, 0x00});
  return h;
}

inline std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace sextant::transports::proxy_test
