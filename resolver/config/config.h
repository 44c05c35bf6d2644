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
#include "resolver/config/policy_config.h"

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

// How Sextant talks to a forward zone's upstream resolver.
enum class UpstreamTransport : uint8_t { udp, tcp, tls, https, quic };
const char* to_string(UpstreamTransport t) noexcept;

// One upstream resolver of a forward zone (config_zones.cpp documents the keys).
struct ForwardUpstreamConfig {
  std::string address;   // IPv4 or IPv6 literal
  uint16_t port = 53;
  UpstreamTransport transport = UpstreamTransport::udp;
  // Encrypted transports: the certificate must name `tls_name` (checked
  // against `ca_file`, or the system's bundle when empty) and/or its public
  // key must match one of `spki_pins` (base64 SHA-256 of the
  // SubjectPublicKeyInfo, RFC 7858 §4.2). Never plaintext as a fallback.
  std::string tls_name;
  std::string ca_file;
  std::vector<std::string> spki_pins;
  // https: the URL's authority (the :authority header) and path.
  std::string url;
  std::string http_host;
  std::string http_path;
  int line = 0;  // where it was configured (0: not from a file); not compared
  bool operator==(const ForwardUpstreamConfig& o) const {
    return address == o.address && port == o.port && transport == o.transport && tls_name == o.tls_name &&
           ca_file == o.ca_file && spki_pins == o.spki_pins && url == o.url;
  }
};

// Per-zone DNSSEC settings shared by forward and stub zones.
struct ZoneTrustConfig {
  std::vector<std::string> trust_anchors;  // DS/DNSKEY records (presentation format) for the zone
  bool negative_trust_anchor = false;      // do not validate at and below the zone (RFC 7646)
  bool operator==(const ZoneTrustConfig&) const = default;
};

// A domain whose questions go to recursive upstreams (RD=1) instead of
// being walked (Unbound's forward-zone).
struct ForwardZoneConfig {
  std::string zone;  // absolute, lower-case presentation form ("." for everything)
  std::vector<ForwardUpstreamConfig> upstreams;
  bool forward_first = false;  // walk when every upstream fails
  ZoneTrustConfig trust;
  int line = 0;
  bool operator==(const ForwardZoneConfig& o) const {
    return zone == o.zone && upstreams == o.upstreams && forward_first == o.forward_first && trust == o.trust;
  }
};

// One configured authoritative server of a stub zone: an address (with an
// optional port) or a name resolved like any other name server's.
struct StubServerConfig {
  std::string address;  // empty when `name` is set
  uint16_t port = 53;
  std::string name;
  bool operator==(const StubServerConfig&) const = default;
};

// A domain whose authoritative servers are given here (RD=0; the walk
// starts at them instead of the root), e.g. an internal zone no public
// parent delegates. Private addresses are allowed for it.
struct StubZoneConfig {
  std::string zone;
  std::vector<StubServerConfig> servers;
  ZoneTrustConfig trust;
  int line = 0;
  bool operator==(const StubZoneConfig& o) const {
    return zone == o.zone && servers == o.servers && trust == o.trust;
  }
};

struct Config {
  // server: where Sextant listens and how it runs.
  std::vector<Endpoint> listen;            // UDP and TCP
  unsigned threads = 0;                    // 0 = one per core
  uint32_t tcp_idle_timeout_ms = 0;
  unsigned tcp_connections_per_worker = 0;
  unsigned max_connections_per_client = 0;  // 0: no cap
  uint32_t handshake_timeout_ms = 0;
  unsigned doq_max_streams = 0;
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
  // Flood defences (per worker): queries in flight per zone and per server
  // (0 = no cap), what a question over a cap gets, the hold-down of a
  // server that stopped answering, NS names without glue looked up.
  unsigned max_queries_per_zone = 0;
  unsigned max_queries_per_server = 0;
  bool drop_over_limit = false;            // resolver.over-limit: drop (true) or servfail
  uint32_t server_hold_down_ms = 0;
  unsigned max_glueless_per_delegation = 0;
  unsigned max_glueless_per_question = 0;

  // forward-zones and stub-zones (config_zones.cpp)
  std::vector<ForwardZoneConfig> forward_zones;
  std::vector<StubZoneConfig> stub_zones;

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
  // Warm restart: the cache saved to a file at stop and loaded at start.
  bool warm_restart = true;
  std::string warm_restart_file;           // empty = off
  uint32_t warm_restart_save_interval_ms = 0;  // 0 = only at stop

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
  std::string auto_trust_anchor_file;      // RFC 5011 state file; empty = anchors never change
  uint32_t trust_anchor_add_holddown_s = 0;
  uint32_t trust_anchor_remove_holddown_s = 0;
  uint32_t trust_anchor_keep_missing_s = 0;
  uint32_t trust_anchor_refresh_s = 0;     // 0 = RFC 5011 §2.3 intervals
  bool root_key_sentinel = true;           // RFC 8509

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
  bool dnstap_log_forwarder_queries = false;
  bool dnstap_log_forwarder_responses = false;
  std::string dnstap_identity;             // empty = host name

  // Defences of a public resolver (resolver/config/defence_config.h).
  RateLimitConfig rate_limit;
  CookieConfig cookies;
  RebindingConfig rebinding;
  EcsConfig ecs;
  // policy: local data, allow and block lists, RPZ, DNS64, views
  // (resolver/config/policy_config.h).
  PolicyConfig policy;
  EventLogConfig event_log;                // the per-query JSON event log
};

// A configuration problem; what() is "FILE:LINE: key: message".
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& m) : std::runtime_error(m) {}
};

// Thrown by a setting's parser for a problem at a precise place inside its
// value (an item of a list of blocks); `line` is 0-based, as YAML marks are.
class ConfigNodeError : public std::invalid_argument {
 public:
  ConfigNodeError(int line, const std::string& m) : std::invalid_argument(m), line(line) {}
  int line;
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
