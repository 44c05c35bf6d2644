// Settings of the defences of a public resolver (issue 16): UDP rate
// limiting, DNS cookies, rebinding protection, EDNS Client Subnet, and the
// limits of the encrypted front-ends. Parsed by the settings table in
// config.cpp like every other setting; kept apart so the Config struct stays
// readable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sextant::resolver {

// rate-limit: answers per second per client prefix over UDP.
struct RateLimitConfig {
  uint32_t rate = 0;          // 0: off
  uint32_t burst = 0;         // 0: the rate
  uint32_t slip = 2;
  unsigned ipv4_prefix = 24;
  unsigned ipv6_prefix = 56;
  uint64_t table_bytes = 4 << 20;
  std::vector<std::string> exempt;  // prefixes, checked when parsed
  friend bool operator==(const RateLimitConfig&, const RateLimitConfig&) = default;
};

// cookies: RFC 7873 server and client cookies, RFC 9018 construction.
struct CookieConfig {
  bool server = true;                       // answer with and verify server cookies
  bool client = true;                       // send and track cookies to authoritative servers
  std::string secret;                       // 32 hex digits; empty: random, rotated
  std::vector<std::string> accept_secrets;  // also accepted (rollover)
  uint32_t rotation_s = 86400;
  friend bool operator==(const CookieConfig&, const CookieConfig&) = default;
};

// rebinding: answers of public zones pointing at private addresses.
struct RebindingConfig {
  bool enabled = false;
  std::vector<std::string> private_zones;  // presentation format, checked
  friend bool operator==(const RebindingConfig&, const RebindingConfig&) = default;
};

// ecs: EDNS Client Subnet (RFC 7871).
struct EcsConfig {
  bool enabled = false;
  std::vector<std::string> zones;    // presentation format, checked
  std::vector<std::string> servers;  // addresses (ADDR, ADDR@PORT), checked
  unsigned ipv4_prefix = 24;
  unsigned ipv6_prefix = 56;
  std::vector<std::string> add_for;  // prefixes, "!" excludes; checked
  std::vector<std::string> trusted_clients;  // prefixes, checked
  unsigned cache_share_percent = 10;
  friend bool operator==(const EcsConfig&, const EcsConfig&) = default;
};

}  // namespace sextant::resolver
