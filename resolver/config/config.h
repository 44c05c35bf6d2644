// Sextant's configuration: one typed struct, filled from YAML by one table of
// settings (settings() in config.cpp) that also supplies every default and
// the reference documentation (`sextant --config-reference`), as PowerDNS
// Recursor's table.py does. Every setting has a default, so an empty file,
// or no file at all, gives a working resolver on 127.0.0.1 and ::1.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "resolver/config/defence_config.h"

namespace sextant::resolver {

// "127.0.0.1@53", "[::1]:53", "::1@853": an address and a port.
struct Endpoint {
  std::string address;
  uint16_t port = 0;
  std::string to_text() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// An address prefix such as 10.0.0.0/8 or fd00::/8.
struct Prefix {
  int family = 0;  // AF_INET or AF_INET6
  uint8_t bytes[16] = {};
  uint8_t length = 0;
  std::string to_text() const;
  friend bool operator==(const Prefix&, const Prefix&) = default;
};

enum class AclAction { allow, refuse, deny };  // deny = drop silently

struct AclRule {
  Prefix prefix;
  AclAction action = AclAction::allow;
  friend bool operator==(const AclRule&, const AclRule&) = default;
};

enum class LogLevel { error, warning, info, debug };

struct Config {
  // server: where Sextant listens and how it runs.
  std::vector<Endpoint> listen;            // UDP and TCP
  unsigned threads = 0;                    // 0 = one per core
  uint32_t tcp_idle_timeout_ms = 0;
  unsigned tcp_connections_per_worker = 0;
  std::vector<Endpoint> dot_listen;
  std::vector<Endpoint> doh_listen;
  std::vector<Endpoint> doq_listen;
  std::string doh_path;
  bool doh_h2c = false;                    // cleartext: h2c or HTTP/1.1
  std::vector<Prefix> doh_trusted_proxies;
  bool doh_http1 = true;
  unsigned doh_http1_max_requests = 0;
  unsigned doh_http1_pipeline = 0;
  unsigned doh_max_streams = 0;            // HTTP/2 and HTTP/3
  std::vector<Endpoint> doh_http3_listen;  // UDP (QUIC)
  bool doh_json = false;
  std::string doh_json_path;
  // Load balancers whose UDP, TCP and DoT traffic carries PROXY v2 headers.
  std::vector<Prefix> proxy_protocol_from;
  // SIGTERM: serve this long while failing health checks, then close.
  uint32_t drain_time_ms = 0;
  std::vector<std::string> health_check_names;  // presentation format, checked
  std::string tls_certificate;
  std::string tls_key;
  LogLevel log_level = LogLevel::info;
  std::string user;                        // drop to this user after binding; empty = stay

  // access-control: first matching rule wins; no match refuses.
  std::vector<AclRule> access_control;

  // resolver: the walker.
  std::string root_hints;                  // empty = embedded IANA root.hints
  bool qname_minimisation = true;
  bool query_private_addresses = false;    // loopback / RFC 1918 / ULA name servers
  uint16_t edns_buffer_size = 0;
  uint32_t resolution_timeout_ms = 0;
  unsigned max_upstream_queries = 0;
  unsigned max_subquery_depth = 0;
  unsigned max_cname_hops = 0;
  uint32_t upstream_initial_timeout_ms = 0;

  // cache
  uint64_t cache_memory_bytes = 0;
  uint32_t cache_max_ttl = 0;
  uint32_t cache_min_ttl = 0;
  uint32_t cache_negative_max_ttl = 0;
  bool serve_stale = true;
  uint32_t stale_max_ttl = 0;
  uint32_t stale_client_timeout_ms = 0;
  bool prefetch = true;
  unsigned prefetch_threshold_percent = 0;
  uint64_t server_state_entries = 0;

  // dnssec
  bool dnssec = true;
  std::string trust_anchor_file;           // empty = embedded root KSKs
  std::vector<std::string> negative_trust_anchors;
  uint32_t clock_skew_s = 0;
  unsigned nsec3_max_iterations = 0;
  uint32_t bogus_ttl = 0;
  bool aggressive_nsec = true;
  unsigned max_signature_validations = 0;
  unsigned max_nsec3_hashes = 0;

  // operations
  std::string control_socket;              // empty = no control socket
  std::vector<Endpoint> metrics_listen;    // HTTP /metrics listeners
  std::string metrics_path;
  std::string dnstap_socket;               // dnstap to a collector's Unix socket
  std::string dnstap_file;                 // ... or to a file
  bool dnstap_log_queries = true;
  bool dnstap_log_responses = true;
  bool dnstap_log_resolver_queries = false;
  bool dnstap_log_resolver_responses = false;
  std::string dnstap_identity;             // empty = host name

  // Defences of a public resolver (resolver/config/defence_config.h).
  RateLimitConfig rate_limit;
  CookieConfig cookies;
  RebindingConfig rebinding;
  EcsConfig ecs;
};

// A configuration problem; what() is "FILE:LINE: key: message".
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& m) : std::runtime_error(m) {}
};

// The defaults alone (what `sextant` runs with when given no file).
Config default_config();
// Reads and validates a YAML file; throws ConfigError.
Config load_config_file(const std::string& path);
// Same from text; `source` names it in error messages.
Config load_config_text(const std::string& yaml, const std::string& source);
// Markdown reference of every setting: key, default, meaning.
std::string config_reference();

// Parsers shared with the command line and tests; they throw std::invalid_argument.
Endpoint parse_endpoint(const std::string& text, uint16_t default_port);
Prefix parse_prefix(const std::string& text);
uint64_t parse_duration_ms(const std::string& text);  // "10s", "1800ms", "1h", "3" (seconds)
uint64_t parse_size_bytes(const std::string& text);   // "256M", "1G", "4096", "512k"
// 32 hexadecimal digits (a 128-bit secret) into `out`.
void parse_secret_hex(const std::string& text, uint8_t (&out)[16]);

}  // namespace sextant::resolver
