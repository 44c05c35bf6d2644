// One upstream resolver reached over a persistent connection: plain TCP,
// DNS over TLS (RFC 7858), DNS over HTTPS (RFC 8484, HTTP/2) or DNS over
// QUIC (RFC 9250), with how its certificate is authenticated, and the
// counters kept for it. Used by UpstreamPool (upstream_pool.h).
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sextant::transports {

// udp names plain UDP forwarders in counters; the pool itself carries the others.
enum class UpstreamChannel : uint8_t { udp, tcp, tls, https, quic };
const char* to_string(UpstreamChannel c) noexcept;

struct UpstreamEndpoint {
  sockaddr_storage address{};  // AF_INET or AF_INET6 with the port
  UpstreamChannel channel = UpstreamChannel::tls;
  // Authentication (tls, https, quic), RFC 7858 §4.2 / RFC 8310: the
  // certificate chain must verify against `ca_file` (the system's bundle
  // when empty) and name `tls_name` (a DNS name or an IP address), and/or
  // the SHA-256 of the leaf's SubjectPublicKeyInfo must be one of
  // `spki_pins`. With pins alone the chain is not checked (the pin is the
  // trust). With neither, the endpoint is refused: no opportunistic TLS.
  std::string tls_name;
  std::string ca_file;
  std::vector<std::array<uint8_t, 32>> spki_pins;
  // https: the :authority and :path of the requests.
  std::string http_host;
  std::string http_path = "/dns-query";
  // How metrics name it.
  std::string label;

  // Identity: two endpoints with the same key share connections.
  std::string key() const;
};

// Counters of one endpoint in one worker (copied out on the worker's thread).
struct UpstreamEndpointStats {
  std::string label;
  UpstreamChannel channel = UpstreamChannel::tls;
  uint64_t queries = 0;         // handed to a connection
  uint64_t answers = 0;
  uint64_t timeouts = 0;
  uint64_t connect_failures = 0;    // TCP/UDP connect refused or unreachable
  uint64_t handshake_failures = 0;  // TLS/QUIC handshake failed (other than authentication)
  uint64_t auth_failures = 0;       // certificate or pin did not match
  uint64_t protocol_errors = 0;     // bad frame, HTTP status, stream reset, ...
  uint64_t closed_in_flight = 0;    // the upstream closed with queries outstanding
  uint64_t connections_opened = 0;
  uint64_t handshakes = 0;          // full handshakes
  uint64_t resumed_handshakes = 0;  // TLS session resumed
  uint64_t reused_queries = 0;      // sent on a connection that had carried a query before
  uint64_t rtt_sum_us = 0;          // over answered queries
  uint64_t open_connections = 0;    // gauge
};

}  // namespace sextant::transports
