#include "resolver/config/config.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "resolver/config/config_binders.h"
#include "resolver/config/config_zones.h"
#include "wire/name.h"

namespace sextant::resolver {

namespace {

using namespace config_binders;

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = {
      // server
      {"server.listen", "[127.0.0.1@53, '::1@53']",
       "Addresses for plain DNS over UDP and TCP (`ADDR@PORT`, `[ADDR]:PORT`, or `ADDR` for port 53).",
       bind_endpoints(&Config::listen, 53)},
      {"server.threads", "0", "Worker threads, one event loop each; 0 means one per CPU core.",
       bind_uint(&Config::threads, 0, 256)},
      {"server.tcp-idle-timeout", "10s",
       "Close TCP/DoT/DoH connections idle this long (RFC 7766): no query in progress and no complete "
       "query or answer. Octets that do not complete a query (slow headers, a query trickled one octet "
       "at a time, HTTP/2 PINGs) do not restart it.",
       bind_duration_ms(&Config::tcp_idle_timeout_ms, 100, 3600000)},
      {"server.tcp-connections-per-worker", "1000",
       "Most concurrent TCP, DoT, DoH and DoQ connections per worker and listener. When full, a new "
       "connection closes the least recently active idle one (nothing in flight), so idle connections "
       "cannot lock new clients out; when none is idle the new one is refused (QUIC: CONNECTION_REFUSED).",
       bind_uint(&Config::tcp_connections_per_worker, 1, 1000000)},
      {"server.max-connections-per-client", "100",
       "Most concurrent TCP, DoT, DoH and DoQ connections from one client (an IPv4 address or an IPv6 "
       "/64), over all listeners and workers; over it a new connection is closed at once (QUIC: "
       "CONNECTION_REFUSED). Trusted proxies (`server.proxy-protocol-from`, `server.doh.trusted-proxies`) "
       "are exempt. 0: no cap (as dnsdist's `setMaxTCPConnectionsPerClient` default).",
       bind_uint(&Config::max_connections_per_client, 0, 1000000)},
      {"server.handshake-timeout", "5s",
       "Close a DoT/DoH/DoQ connection whose TLS or QUIC handshake has not finished this long after it "
       "was accepted, however its bytes trickle in (a TLS slowloris).",
       bind_duration_ms(&Config::handshake_timeout_ms, 100, 60000)},
      {"server.dot.listen", "[]", "Addresses for DNS over TLS (default port 853).",
       bind_endpoints(&Config::dot_listen, 853)},
      {"server.doh.listen", "[]", "Addresses for DNS over HTTPS (default port 443).",
       bind_endpoints(&Config::doh_listen, 443)},
      {"server.doh.path", "/dns-query", "URL path of the DoH endpoint.", bind_url_path(&Config::doh_path)},
      {"server.doh.h2c", "false",
       "Serve DoH in cleartext, behind a reverse proxy that terminates TLS: HTTP/2 with prior knowledge (h2c) "
       "or HTTP/1.1, told apart by the HTTP/2 connection preface.",
       bind_bool(&Config::doh_h2c)},
      {"server.doh.http1", "true",
       "Serve DoH over HTTP/1.1 beside HTTP/2 (TLS: ALPN `http/1.1`; cleartext: a connection that does not "
       "start with the HTTP/2 preface).",
       bind_bool(&Config::doh_http1)},
      {"server.doh.http1-max-requests", "1000",
       "Requests one HTTP/1.1 connection may carry (keep-alive); the last answer says `Connection: close`.",
       bind_uint(&Config::doh_http1_max_requests, 1, 1000000)},
      {"server.doh.http1-pipeline", "16",
       "Requests of one HTTP/1.1 connection with the resolver at once (pipelining); later ones wait unread.",
       bind_uint(&Config::doh_http1_pipeline, 1, 1024)},
      {"server.doh.max-streams", "100",
       "Concurrent requests (streams) on one HTTP/2 or HTTP/3 connection.",
       bind_uint(&Config::doh_max_streams, 1, 10000)},
      {"server.doh.http3-listen", "[]",
       "Addresses for DoH over HTTP/3 (QUIC on UDP, default port 443; concrete addresses, not 0.0.0.0 or ::). "
       "The HTTP/2 and HTTP/1.1 answers advertise it with `Alt-Svc`.",
       bind_quic_endpoints(&Config::doh_http3_listen, 443)},
      {"server.doh.json", "false",
       "The JSON API (`?name=example.com&type=AAAA`, `application/dns-json`, as Google and Cloudflare serve "
       "it) on `server.doh.path` and on `server.doh.json-path`.",
       bind_bool(&Config::doh_json)},
      {"server.doh.json-path", "/resolve", "Second URL path of the JSON API (Google's).",
       bind_url_path(&Config::doh_json_path)},
      {"server.doh.trusted-proxies", "[]",
       "Proxies whose X-Forwarded-For / PROXY v2 client address is believed.",
       bind_prefixes(&Config::doh_trusted_proxies)},
      {"server.proxy-protocol-from", "[]",
       "Load balancers (dnsdist `useProxyProtocol=true`, HAProxy) whose UDP, TCP and DoT queries start "
       "with a PROXY v2 header naming the client, which access control and the query log then see. A "
       "header is required from these and refused from everyone else (dropped and counted), as "
       "PowerDNS Recursor's `proxy-protocol-from` does.",
       bind_prefixes(&Config::proxy_protocol_from)},
      {"server.drain-time", "0s",
       "On SIGTERM, keep answering this long while failing load-balancer health checks (SERVFAIL, EDE "
       "14), so that dnsdist marks this instance down before its sockets close; a second signal ends "
       "it early. 0: close at once. Behind dnsdist use at least checkInterval x maxCheckFailures + "
       "checkTimeout.",
       bind_duration_ms(&Config::drain_time_ms, 0, 600000)},
      {"server.health-check-names", "['a.root-servers.net.']",
       "Query names that are a load balancer's health check when the balancer sends no PROXY v2 "
       "LOCAL header (dnsdist's default checkName); only matters during `drain-time`.",
       bind_names(&Config::health_check_names)},
      {"server.doq.listen", "[]", "Addresses for DNS over QUIC (UDP, default port 853).",
       bind_endpoints(&Config::doq_listen, 853)},
      {"server.doq.max-streams", "100",
       "Concurrent queries (bidirectional streams, QUIC `initial_max_streams_bidi`) on one DoQ connection.",
       bind_uint(&Config::doq_max_streams, 1, 10000)},
      {"server.tls.certificate", "", "PEM certificate chain for DoT, DoH and DoQ.",
       bind_string(&Config::tls_certificate)},
      {"server.tls.key", "", "PEM private key for the certificate.", bind_string(&Config::tls_key)},
      {"server.user", "",
       "Run as this user once the sockets are open (root is needed only to bind port 53); empty: "
       "stay as started. Recommended in production.",
       bind_string(&Config::user)},
      {"server.log-level", "info",
       "error, warning, info or debug (logs go to stderr). debug also tells every resolution "
       "step by step (\"walk:\" lines: servers asked and why, replies and how they were judged, "
       "what was cached, the DNSSEC verdict), as `sextant control trace` does for one question.",
       apply_log_level},
      // access control
      {"access-control",
       "[{subnet: 127.0.0.0/8, action: allow}, {subnet: '::1/128', action: allow},"
       " {subnet: 10.0.0.0/8, action: allow}, {subnet: 172.16.0.0/12, action: allow},"
       " {subnet: 192.168.0.0/16, action: allow}, {subnet: 'fc00::/7', action: allow},"
       " {subnet: 'fe80::/10', action: allow}]",
       "Client rules, first match wins: `allow`, `refuse` (REFUSED) or `deny` (drop). Clients that "
       "match no rule are refused: an open resolver is an amplifier.",
       apply_acl},
      // resolver
      {"resolver.root-hints", "", "Root hints file; empty uses the embedded IANA root.hints.",
       bind_string(&Config::root_hints)},
      {"resolver.qname-minimisation", "true", "RFC 9156 QNAME minimisation (relaxed mode).",
       bind_bool(&Config::qname_minimisation)},
      {"resolver.query-private-addresses", "false",
       "Allow name servers on loopback, RFC 1918 and ULA addresses (needed for the lab).",
       bind_bool(&Config::query_private_addresses)},
      {"resolver.edns-buffer-size", "1232", "EDNS UDP payload size advertised upstream and to clients.",
       bind_uint(&Config::edns_buffer_size, 512, 4096)},
      {"resolver.resolution-timeout", "3s", "Wall-time budget for one client question.",
       bind_duration_ms(&Config::resolution_timeout_ms, 100, 60000)},
      {"resolver.upstream-initial-timeout", "400ms",
       "First retransmission timeout for a server with no RTT history.",
       bind_duration_ms(&Config::upstream_initial_timeout_ms, 10, 10000)},
      {"resolver.max-upstream-queries", "100", "Upstream queries allowed for one client question.",
       bind_uint(&Config::max_upstream_queries, 1, 10000)},
      {"resolver.max-subquery-depth", "8", "Nesting of sub-queries (glueless NS, DS, DNSKEY).",
       bind_uint(&Config::max_subquery_depth, 1, 64)},
      {"resolver.max-cname-hops", "12", "CNAME/DNAME links followed for one question.",
       bind_uint(&Config::max_cname_hops, 1, 64)},
      // forwarding (config_zones.cpp parses the blocks)
      {"forward-zones", "[]",
       "Domains sent to recursive upstreams over UDP, TCP, TLS, HTTPS or QUIC instead of being walked; "
       "see the blocks below.",
       config_zones::apply_forward_zones},
      {"stub-zones", "[]",
       "Domains whose authoritative servers are configured (walked from them, RD=0); see the blocks below.",
       config_zones::apply_stub_zones},
      {"resolver.max-queries-per-zone", "100",
       "Queries in flight to one struggling zone, per worker. A zone struggles when every server "
       "it has is held down, timing out or slower than 200 ms, and what it answered lately (a "
       "window halving every 5 s, at least 16 replies) was mostly fruitless: more than half "
       "NXDOMAIN, error rcodes, lame replies or no reply at all, as a random-subdomain flood gets. "
       "A question that would go over it is not queued: it gets SERVFAIL at once (see "
       "`resolver.over-limit`), so a flood of names under one dead or slow zone cannot take every "
       "upstream socket. A slow zone that answers real names with data, and any zone that answers "
       "fast, is not capped by zone. 0: no cap.",
       bind_uint(&Config::max_queries_per_zone, 0, 1000000)},
      {"resolver.max-queries-per-server", "800",
       "Queries in flight to one struggling authoritative server address (timing out or slower "
       "than 200 ms, and the zone asked of it mostly fruitless as for "
       "`resolver.max-queries-per-zone`; all zones together, every open socket), per worker (a "
       "worker has 1,024 upstream sockets); a server at its cap is skipped, and a question with "
       "no other server fails like one over `resolver.max-queries-per-zone`. 0: no cap.",
       bind_uint(&Config::max_queries_per_server, 0, 1000000)},
      {"resolver.over-limit", "servfail",
       "What a question over `resolver.max-queries-per-zone` or `-per-server` gets: `servfail` "
       "(with an Extended DNS Error saying why) or `drop` (no answer).",
       [](Config& c, const YAML::Node& n) {
         std::string s = scalar(n);
         if (s == "servfail") c.drop_over_limit = false;
         else if (s == "drop") c.drop_over_limit = true;
         else throw std::invalid_argument(fmt::format("'{}' is not servfail or drop", s));
       }},
      {"resolver.server-hold-down", "5s",
       "A server that timed out twice in a row, answering nothing meanwhile, is held down for 1 s "
       "(or this, if shorter), then probed by one query at a time; each probe that fails doubles "
       "the next hold-down, up to this. While every server of a zone is held down, its questions "
       "get SERVFAIL with EDE 22 at once, without a packet.",
       bind_duration_ms(&Config::server_hold_down_ms, 100, 600000)},
      {"resolver.max-glueless-per-delegation", "4",
       "NS names without glue whose addresses are looked up for one zone cut (NXNSAttack, "
       "CVE-2020-12662).",
       bind_uint(&Config::max_glueless_per_delegation, 1, 64)},
      {"resolver.max-glueless-per-question", "8",
       "NS names without glue looked up for one client question, all zone cuts together.",
       bind_uint(&Config::max_glueless_per_question, 1, 256)},
      // cache
      {"cache.memory", "256M", "Total cache memory in bytes (suffixes k, M, G).",
       [](Config& c, const YAML::Node& n) {
         c.cache_memory_bytes = parse_size_bytes(scalar(n));
         if (c.cache_memory_bytes < 1024 * 1024) throw std::invalid_argument("must be at least 1M");
       }},
      {"cache.max-ttl", "1d",
       "Upper clamp on the TTLs of positive data, as Unbound's cache-max-ttl: clients see the "
       "clamped TTL and the data is asked for again when it ends.",
       bind_seconds(&Config::cache_max_ttl, 7 * kDay)},
      {"cache.min-ttl", "0",
       "Lower clamp on the TTLs of positive data, as Unbound's cache-min-ttl: clients see the "
       "raised TTL and the data is kept (not asked for again) that long. Negative answers follow "
       "cache.negative-max-ttl.",
       bind_seconds(&Config::cache_min_ttl, 3600)},
      {"cache.negative-max-ttl", "1h", "Upper clamp on NXDOMAIN/NODATA TTLs (RFC 2308).",
       bind_seconds(&Config::cache_negative_max_ttl, kDay)},
      {"cache.serve-stale", "true", "Serve expired data when refreshing fails (RFC 8767).",
       bind_bool(&Config::serve_stale)},
      {"cache.stale-max-ttl", "1d", "How long expired data is kept for serve-stale.",
       bind_seconds(&Config::stale_max_ttl, 7 * kDay)},
      {"cache.stale-client-timeout", "1800ms",
       "Answer from stale data when a refresh has not completed after this long.",
       bind_duration_ms(&Config::stale_client_timeout_ms, 10, 60000)},
      {"cache.prefetch", "true", "Refresh popular entries before they expire.", bind_bool(&Config::prefetch)},
      {"cache.prefetch-threshold", "10",
       "Percent of the original TTL left when a hit triggers a prefetch.",
       bind_uint(&Config::prefetch_threshold_percent, 1, 50)},
      {"cache.server-state-entries", "100000", "Bound on remembered authoritative servers (RTT, hold-down, EDNS/0x20 quirks), per worker.",
       bind_uint(&Config::server_state_entries, 16, 100000000)},
      {"cache.warm-restart.enabled", "true",
       "Save the cache (RRsets, negative answers with their proofs, delegations, ready answers, "
       "server RTTs) to `cache.warm-restart.file` at stop and load it at the next start, aged "
       "by the time that passed, so a restart does not start cold. A file from another "
       "version, damaged or truncated, or written under other DNSSEC settings is ignored with "
       "a warning; names at and below negative trust anchors, forward zones or stub zones that "
       "came, went or changed since are not restored.",
       bind_bool(&Config::warm_restart)},
      {"cache.warm-restart.file", "/var/cache/sextant/cache.snapshot",
       "Where the cache is saved; its directory is created at start (owned by `server.user`) "
       "if its parent exists. Empty: no warm restart.",
       [](Config& c, const YAML::Node& n) {
         c.warm_restart_file = n.IsNull() ? std::string() : scalar(n);
         if (!c.warm_restart_file.empty() && c.warm_restart_file.front() != '/')
           throw std::invalid_argument("must be an absolute path (or empty for no warm restart)");
       }},
      {"cache.warm-restart.save-interval", "0",
       "Also save the cache this often while running (e.g. `1h`), so a crash loses less; 0: "
       "only at stop (and on `sextant control dump-cache --to FILE`).",
       [](Config& c, const YAML::Node& n) {
         uint64_t ms = parse_duration_ms(scalar(n));
         if (ms != 0 && (ms < 60000 || ms > 7 * kDay * 1000))
           throw std::invalid_argument("must be 0 (only at stop) or between 1m and 7d");
         c.warm_restart_save_interval_ms = static_cast<uint32_t>(ms);
       }},
      // dnssec
      {"dnssec.validation", "true", "Validate DNSSEC from the trust anchors down.", bind_bool(&Config::dnssec)},
      {"dnssec.trust-anchor-file", "",
       "DS or DNSKEY records for the root (presentation format); empty uses the embedded KSK-2017 and KSK-2024.",
       bind_string(&Config::trust_anchor_file)},
      {"dnssec.negative-trust-anchors", "[]", "Domains below which validation is off (RFC 7646).",
       bind_strings(&Config::negative_trust_anchors)},
      {"dnssec.clock-skew", "300", "Seconds of clock skew tolerated on signature validity.",
       bind_seconds(&Config::clock_skew_s, kDay)},
      {"dnssec.nsec3-max-iterations", "50", "NSEC3 iterations above this make an answer insecure (RFC 9276).",
       bind_uint(&Config::nsec3_max_iterations, 0, 2500)},
      {"dnssec.bogus-ttl", "60", "How long bogus data is cached.", bind_seconds(&Config::bogus_ttl, 3600)},
      {"dnssec.aggressive-nsec", "true", "Synthesise negative answers from validated NSEC (RFC 8198).",
       bind_bool(&Config::aggressive_nsec)},
      {"dnssec.max-signature-validations", "30",
       "Signature verifications allowed per client question (KeyTrap defence).",
       bind_uint(&Config::max_signature_validations, 1, 10000)},
      {"dnssec.max-nsec3-hashes", "600", "NSEC3 hash computations allowed per client question.",
       bind_uint(&Config::max_nsec3_hashes, 1, 100000)},
      {"dnssec.auto-trust-anchor-file", "",
       "RFC 5011 managed trust anchors: a state file read at start and rewritten as keys are added, "
       "go missing or are revoked (the layout of Unbound's auto-trust-anchor-file, which works as is). "
       "A missing file starts from dnssec.trust-anchor-file or the built-in root anchors; its "
       "directory must stay writable for server.user. Empty: the anchors never change.",
       bind_string(&Config::auto_trust_anchor_file)},
      {"dnssec.trust-anchor-add-holddown", "30d",
       "RFC 5011 add hold-down: a new key is trusted after being seen this long (at least its TTL).",
       bind_seconds(&Config::trust_anchor_add_holddown_s, 365 * kDay)},
      {"dnssec.trust-anchor-remove-holddown", "30d", "How long a revoked key stays in the state file.",
       bind_seconds(&Config::trust_anchor_remove_holddown_s, 365 * kDay)},
      {"dnssec.trust-anchor-keep-missing", "366d",
       "Forget a key missing this long while another key is valid; 0 keeps it forever.",
       bind_seconds(&Config::trust_anchor_keep_missing_s, 3660 * kDay)},
      {"dnssec.trust-anchor-refresh", "0",
       "Probe interval of managed trust anchors; 0 follows RFC 5011 2.3 (1 hour to 15 days, from the "
       "DNSKEY TTL and signature lifetime). Short values are for tests.",
       bind_seconds(&Config::trust_anchor_refresh_s, 15 * kDay)},
      {"dnssec.root-key-sentinel", "true",
       "Answer RFC 8509 root-key-sentinel-is-ta-NNNNN / -not-ta-NNNNN queries (SERVFAIL when the "
       "root key tag NNNNN is not / is a trust anchor).",
       bind_bool(&Config::root_key_sentinel)},
      // rate-limit (resolver/front/rate_limiter.h)
      {"rate-limit.rate", "0",
       "Answers per second to one client prefix over UDP (token bucket); 0: off. Over it queries are "
       "dropped, and every `slip`-th gets a truncated answer (or BADCOOKIE to a client that sent a cookie) "
       "so that real clients retry over TCP. TCP, DoT, DoH and DoQ clients, clients with a valid server "
       "cookie and `exempt` prefixes are never limited. 100 suits a public resolver.",
       bind_sub_uint(&Config::rate_limit, &RateLimitConfig::rate, 0, 10000000)},
      {"rate-limit.burst", "0", "Answers a prefix may get at once before the rate applies; 0: the rate.",
       bind_sub_uint(&Config::rate_limit, &RateLimitConfig::burst, 0, 10000000)},
      {"rate-limit.slip", "2", "Every Nth limited query gets the small answer instead of none; 0: never, 1: always.",
       bind_sub_uint(&Config::rate_limit, &RateLimitConfig::slip, 0, 100)},
      {"rate-limit.ipv4-prefix", "24", "IPv4 clients are limited together by this prefix length.",
       bind_sub_uint(&Config::rate_limit, &RateLimitConfig::ipv4_prefix, 8, 32)},
      {"rate-limit.ipv6-prefix", "56", "IPv6 clients are limited together by this prefix length.",
       bind_sub_uint(&Config::rate_limit, &RateLimitConfig::ipv6_prefix, 16, 128)},
      {"rate-limit.table-size", "4M",
       "Memory of the prefix table, shared by the workers (8 bytes per prefix remembered; when full, the "
       "prefixes that owe least are forgotten first).",
       [](Config& c, const YAML::Node& n) {
         c.rate_limit.table_bytes = parse_size_bytes(scalar(n));
         if (c.rate_limit.table_bytes < 4096) throw std::invalid_argument("must be at least 4k");
       }},
      {"rate-limit.exempt", "[]", "Client prefixes never rate-limited (e.g. a NAT gateway of your own).",
       bind_sub_prefixes(&Config::rate_limit, &RateLimitConfig::exempt)},
      // cookies (resolver/front/server_cookies.h, wire/dns_cookie.h)
      {"cookies.server", "true",
       "DNS cookies (RFC 7873) for clients: answers carry a server cookie (RFC 9018 layout) and a valid "
       "one exempts the client from rate-limit; a malformed cookie gets FORMERR.",
       bind_sub_bool(&Config::cookies, &CookieConfig::server)},
      {"cookies.client", "true",
       "Send DNS cookies to authoritative servers and drop UDP replies whose client cookie is wrong; a "
       "server known to send cookies that answers without one is asked again over TCP.",
       bind_sub_bool(&Config::cookies, &CookieConfig::client)},
      {"cookies.secret", "",
       "Server cookie secret (32 hex digits), the same on every server of an anycast group (RFC 9018); "
       "empty: a random secret per process, rotated every `rotation`.",
       apply_cookie_secret()},
      {"cookies.accept-secrets", "[]",
       "Older secrets still accepted, for a rollover (RFC 9018 §4.4): add the new secret here on every "
       "server, then make it `secret` everywhere, then remove the old one.",
       apply_cookie_accept()},
      {"cookies.rotation", "1d",
       "Without `secret`: how often the random secret changes (cookies of the previous period stay valid).",
       bind_duration_ms_sub_seconds()},
      // rebinding (resolver/front/rebinding_filter.h)
      {"rebinding.enabled", "false",
       "DNS rebinding protection, like Unbound's private-address: A/AAAA records of public names on "
       "RFC 1918, 100.64/10, 127/8, 169.254/16, 0/8, ::, ::1, fc00::/7 and fe80::/10 addresses (and "
       "IPv4-mapped forms) are removed from answers; an answer left with no address is refused (REFUSED, "
       "EDE 15). Names in stub zones are exempt (forward zones are not: list internal ones in private-zones). "
       "Off by default because internal names in public zones are common in organisations; "
       "recommended for public resolvers and home gateways.",
       [](Config& c, const YAML::Node& n) { c.rebinding.enabled = parse_bool(scalar(n)); }},
      {"rebinding.private-zones", "[]",
       "Zones whose names may point at private addresses (Unbound's private-domain), e.g. your own "
       "internal zones.",
       bind_sub_names(&Config::rebinding, &RebindingConfig::private_zones)},
      // ecs (resolver/front/client_subnet.h, resolver/walk/walker_ecs.cpp)
      {"ecs.enabled", "false",
       "EDNS Client Subnet (RFC 7871): send the client's /24 or /56 to the zones and servers listed below "
       "(and no one else: never to forwarders unless ecs.servers lists them), and cache answers per "
       "scope. A client's own ECS option is used only from ecs.trusted-clients.",
       bind_sub_bool(&Config::ecs, &EcsConfig::enabled)},
      {"ecs.zones", "[]", "Zones (and the zones below them) whose servers get the client subnet.",
       bind_sub_names(&Config::ecs, &EcsConfig::zones)},
      {"ecs.servers", "[]", "Authoritative servers (`ADDR` or `ADDR@PORT`) that get the client subnet.",
       [](Config& c, const YAML::Node& n) {
         std::vector<std::string> out = scalar_list(n);
         for (const auto& s : out) (void)parse_endpoint(s, 53);
         c.ecs.servers = std::move(out);
       }},
      {"ecs.ipv4-prefix", "24", "Bits of an IPv4 client's address sent (RFC 7871 §11.1 recommends at most 24).",
       bind_sub_uint(&Config::ecs, &EcsConfig::ipv4_prefix, 1, 32)},
      {"ecs.ipv6-prefix", "56", "Bits of an IPv6 client's address sent (RFC 7871 §11.1 recommends at most 56).",
       bind_sub_uint(&Config::ecs, &EcsConfig::ipv6_prefix, 1, 128)},
      {"ecs.add-for",
       "['!127.0.0.0/8', '!10.0.0.0/8', '!100.64.0.0/10', '!169.254.0.0/16', '!192.168.0.0/16', "
       "'!172.16.0.0/12', '!::1/128', '!fc00::/7', '!fe80::/10', 0.0.0.0/0, '::/0']",
       "Clients whose subnet is sent: first match wins, `!` excludes, no match: not sent (PowerDNS's "
       "ecs-add-for and its default). Answers to the others from the listed zones are not cached.",
       [](Config& c, const YAML::Node& n) {
         std::vector<std::string> out = scalar_list(n);
         for (const auto& p : out) (void)parse_prefix(!p.empty() && p[0] == '!' ? p.substr(1) : p);
         c.ecs.add_for = std::move(out);
       }},
      {"ecs.trusted-clients", "[]",
       "Clients (prefixes; the address after PROXY or X-Forwarded-For) whose own ECS option is sent on, "
       "cut to ecs.ipv4-prefix / ipv6-prefix: a forwarder or load balancer in front. From others the "
       "option is ignored (the subnet comes from their address; the answer echoes it with scope 0); "
       "a source prefix of 0 (`do not reveal me`, RFC 7871 §7.1.2) is honoured from anyone.",
       bind_sub_prefixes(&Config::ecs, &EcsConfig::trusted_clients)},
      {"ecs.cache-share", "10",
       "Percent of cache.memory kept for answers scoped to one subnet (only when ECS is on).",
       bind_sub_uint(&Config::ecs, &EcsConfig::cache_share_percent, 1, 50)},
      // operations
      {"control.socket", "",
       "Unix socket for `sextant control` (stats, flush, dump, reload-tls), mode 0660; empty: none.",
       bind_string(&Config::control_socket)},
      {"metrics.listen", "[]",
       "Addresses serving Prometheus metrics over HTTP/1.1 (default port 9153); keep them private.",
       bind_endpoints(&Config::metrics_listen, 9153)},
      {"metrics.path", "/metrics", "URL path of the metrics endpoint.", bind_string(&Config::metrics_path)},
      {"dnstap.socket", "",
       "Unix socket of a dnstap collector (fstrm_capture, dnstap-ldns ...); empty: no query log.",
       bind_string(&Config::dnstap_socket)},
      {"dnstap.file", "", "Write the dnstap log to this file instead (rewritten at each start).",
       bind_string(&Config::dnstap_file)},
      {"dnstap.log-queries", "true", "Log client queries (CLIENT_QUERY).", bind_bool(&Config::dnstap_log_queries)},
      {"dnstap.log-responses", "true", "Log answers to clients (CLIENT_RESPONSE).",
       bind_bool(&Config::dnstap_log_responses)},
      {"dnstap.log-resolver-queries", "false", "Log the queries sent to authoritative servers (RESOLVER_QUERY).",
       bind_bool(&Config::dnstap_log_resolver_queries)},
      {"dnstap.log-resolver-responses", "false",
       "Log the answers from authoritative servers (RESOLVER_RESPONSE).",
       bind_bool(&Config::dnstap_log_resolver_responses)},
      {"dnstap.log-forwarder-queries", "false",
       "Log the queries sent to forward zones' upstream resolvers (FORWARDER_QUERY).",
       bind_bool(&Config::dnstap_log_forwarder_queries)},
      {"dnstap.log-forwarder-responses", "false",
       "Log the answers from forward zones' upstream resolvers (FORWARDER_RESPONSE).",
       bind_bool(&Config::dnstap_log_forwarder_responses)},
      {"dnstap.identity", "", "The dnstap identity field; empty: the host name.",
       bind_string(&Config::dnstap_identity)},
      // policy (resolver/config/policy_config.h, resolver/policy/README.md)
      {"policy.local-zones", "[]",
       "Zones answered locally, `{name, type}` with Unbound's local-zone types: transparent, typetransparent, "
       "static, redirect, refuse, deny, always_transparent, always_refuse, always_deny, always_nxdomain, "
       "always_nodata, always_null.",
       [](Config& c, const YAML::Node& n) { apply_local_zones(c.policy.top, n); }},
      {"policy.local-data", "[]",
       "Local records, one per entry in zone-file form (`\"db.internal. 300 A 10.0.0.5\"`; TTL 3600 if none); "
       "owners may be wildcards (`*.svc.cluster.example.`). Outside a declared zone a record gets a transparent "
       "zone of its own.",
       [](Config& c, const YAML::Node& n) { apply_local_data(c.policy.top, n); }},
      {"policy.local-data-ptr", "true", "Generate PTR records for local A and AAAA data (unless one exists).",
       [](Config& c, const YAML::Node& n) { c.policy.top.local_data_ptr = parse_bool(scalar(n)); }},
      {"policy.local-zone-files", "[]",
       "Zone files served as local data: `{file, name (else the file's SOA), type (default static)}`.",
       [](Config& c, const YAML::Node& n) { apply_local_zone_files(c.policy.top, n); }},
      {"policy.hosts-files", "[]", "Files in /etc/hosts form served as local data (A/AAAA, and PTR for the first name).",
       [](Config& c, const YAML::Node& n) { apply_hosts_files(c.policy.top, n); }},
      {"policy.allowlist", "",
       "Allowlist mode: `{names, files, action: refuse|nxdomain}`; only listed names resolve (`*.example.com` "
       "allows the names below example.com, not itself); others get REFUSED (or NXDOMAIN) with EDE 18.",
       [](Config& c, const YAML::Node& n) { apply_allowlist(c.policy.top, n); }},
      {"policy.blocklists", "[]",
       "Blocklists, `{name, file|files|names, format: any|hosts|domains, action: nxdomain|nodata|sinkhole|refuse, "
       "sinkhole: [0.0.0.0, '::'], ede: blocked|censored|filtered|none, ttl: 300}`; a name blocks itself and "
       "everything below. Bad lines are reported with file:line and skipped.",
       [](Config& c, const YAML::Node& n) { apply_blocklists(c.policy.top, n); }},
      {"policy.rpz", "[]",
       "Response policy zones, applied in order: `{file, zone (else the SOA owner), name, action: "
       "given|disabled|passthru|drop|tcp-only|nxdomain|nodata|cname, cname, ede}`. A zone that fails to load is "
       "refused whole (the previous copy stays on reload). From a primary (AXFR, then IXFR at the SOA refresh "
       "interval and on NOTIFY): `{zone, primaries: ['ADDR[@PORT]', ...], allow-notify: [prefixes] (default: the "
       "primaries), file (optional: the last good transfer, written after each and read at start), "
       "transfer-timeout: 120s, max-transfer-size: 512M}`; a transfer that fails keeps the previous copy, which is "
       "served past the SOA expire too (counted and logged). No TSIG.",
       [](Config& c, const YAML::Node& n) { apply_rpz(c.policy.top, n); }},
      {"policy.dns64", "",
       "DNS64 (RFC 6147): `{prefix: 64:ff9b::/96, clients: [prefixes], exclude: ['::ffff:0:0/96']}`; AAAA "
       "synthesised from A only when a name has no AAAA; not for DO+CD clients.",
       [](Config& c, const YAML::Node& n) { apply_dns64(c.policy.top, n); }},
      {"policy.cname-inspection", "true",
       "Also check the CNAME targets of answers against blocklists and RPZ QNAME triggers.",
       [](Config& c, const YAML::Node& n) { c.policy.top.cname_inspection = parse_bool(scalar(n)); }},
      {"policy.views", "[]",
       "Views, first match wins: `{name, clients: [prefixes], listeners: [ADDR@PORT], inherit: false, ...}` "
       "with any policy.* key above; a view without `inherit` has only what it sets. Clients no view "
       "selects get the top-level policy.",
       [](Config& c, const YAML::Node& n) { apply_views(c.policy, n); }},
      // the event log
      {"event-log.file", "",
       "One JSON object per line per client query (and per dropped malformed packet) to this file, or `-` "
       "for standard output; empty: off.",
       bind_string_event(&EventLogConfig::file)},
      {"event-log.sample", "1", "Log one query in N.", bind_uint_event(&EventLogConfig::sample, 1, 1000000)},
      {"event-log.max-per-second", "10000",
       "Most events per second over all workers (beyond: dropped and counted); 0: no cap.",
       bind_uint_event(&EventLogConfig::max_per_second, 0, 10000000)},
      {"event-log.queue-size", "4096", "Events waiting per worker for the writer; beyond: dropped and counted.",
       bind_uint_event(&EventLogConfig::queue_size, 16, 1048576)},
  };
  return table;
}

const Setting* find_setting(const std::string& key) {
  for (const auto& s : settings())
    if (key == s.key) return &s;
  return nullptr;
}

// True if some setting lives below `prefix` (so a map at `prefix` is a section).
bool is_section(const std::string& prefix) {
  std::string p = prefix + ".";
  for (const auto& s : settings())
    if (std::string_view(s.key).substr(0, p.size()) == p) return true;
  return false;
}

std::string where(const std::string& source, const YAML::Node& n) {
  if (n.Mark().line >= 0) return fmt::format("{}:{}", source, n.Mark().line + 1);
  return source;
}

void apply_tree(Config& c, const YAML::Node& node, const std::string& prefix, const std::string& source,
                std::set<std::string>& seen) {
  for (const auto& kv : node) {
    std::string name = kv.first.Scalar();
    std::string key = prefix.empty() ? name : prefix + "." + name;
    if (!seen.insert(key).second)
      throw ConfigError(fmt::format("{}: {}: set twice", where(source, kv.first), key));
    if (const Setting* s = find_setting(key)) {
      try {
        s->apply(c, kv.second);
      } catch (const ConfigNodeError& e) {
        throw ConfigError(fmt::format("{}:{}: {}: {}", source, e.line + 1, key, e.what()));
      } catch (const std::exception& e) {
        throw ConfigError(fmt::format("{}: {}: {}", where(source, kv.second), key, e.what()));
      }
    } else if (is_section(key)) {
      if (!kv.second.IsMap())
        throw ConfigError(fmt::format("{}: {}: expected a section (a map of settings)", where(source, kv.second), key));
      apply_tree(c, kv.second, key, source, seen);
    } else {
      throw ConfigError(fmt::format("{}: unknown setting '{}' (see `sextant --config-reference`)",
                                    where(source, kv.first), key));
    }
  }
}

}  // namespace

std::string Endpoint::to_text() const {
  if (address.find(':') != std::string::npos) return fmt::format("[{}]:{}", address, port);
  return fmt::format("{}:{}", address, port);
}

std::string Prefix::to_text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes, buf, sizeof buf);
  return fmt::format("{}/{}", buf, length);
}

Endpoint parse_endpoint(const std::string& text, uint16_t default_port) {
  Endpoint e;
  std::string addr = text;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos) throw std::invalid_argument(fmt::format("'{}': missing ']'", text));
    addr = text.substr(1, close - 1);
    std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':' && rest[0] != '@') throw std::invalid_argument(fmt::format("'{}': bad port", text));
      port = rest.substr(1);
    }
  } else if (auto at = text.find('@'); at != std::string::npos) {
    addr = text.substr(0, at);
    port = text.substr(at + 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    addr = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned char tmp[16];
  if (inet_pton(AF_INET, addr.c_str(), tmp) != 1 && inet_pton(AF_INET6, addr.c_str(), tmp) != 1)
    throw std::invalid_argument(fmt::format("'{}' is not an IPv4 or IPv6 address", addr));
  e.address = addr;
  e.port = port.empty() ? default_port : static_cast<uint16_t>(parse_unsigned(port, 65535));
  return e;
}

Prefix parse_prefix(const std::string& text) {
  Prefix p;
  auto slash = text.find('/');
  std::string addr = text.substr(0, slash);
  if (inet_pton(AF_INET, addr.c_str(), p.bytes) == 1) p.family = AF_INET;
  else if (inet_pton(AF_INET6, addr.c_str(), p.bytes) == 1) p.family = AF_INET6;
  else throw std::invalid_argument(fmt::format("'{}' is not an IPv4 or IPv6 prefix", text));
  unsigned max = p.family == AF_INET ? 32 : 128;
  p.length = static_cast<uint8_t>(slash == std::string::npos ? max : parse_unsigned(text.substr(slash + 1), max));
  // Clear host bits so that matching can compare whole octets.
  for (unsigned bit = p.length; bit < max; ++bit) p.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return p;
}

uint64_t parse_duration_ms(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) throw std::invalid_argument(fmt::format("'{}' is not a duration (e.g. 10s, 500ms, 1h)", text));
  uint64_t v = parse_unsigned(text.substr(0, i), std::numeric_limits<uint32_t>::max());
  std::string unit = text.substr(i);
  uint64_t mul;
  if (unit.empty() || unit == "s") mul = 1000;
  else if (unit == "ms") mul = 1;
  else if (unit == "m") mul = 60000;
  else if (unit == "h") mul = 3600000;
  else if (unit == "d") mul = 86400000;
  else throw std::invalid_argument(fmt::format("'{}': unknown duration unit '{}' (ms, s, m, h, d)", text, unit));
  return v * mul;
}

uint64_t parse_size_bytes(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) throw std::invalid_argument(fmt::format("'{}' is not a size (e.g. 256M)", text));
  uint64_t v = parse_unsigned(text.substr(0, i), uint64_t{1} << 40);
  std::string unit = text.substr(i);
  uint64_t mul;
  if (unit.empty()) mul = 1;
  else if (unit == "k" || unit == "K") mul = 1024;
  else if (unit == "M") mul = 1024 * 1024;
  else if (unit == "G") mul = 1024ull * 1024 * 1024;
  else throw std::invalid_argument(fmt::format("'{}': unknown size unit '{}' (k, M, G)", text, unit));
  return v * mul;
}

void parse_secret_hex(const std::string& text, uint8_t (&out)[16]) {
  if (text.size() != 32) throw std::invalid_argument(fmt::format("'{}' is not 32 hexadecimal digits", text));
  for (size_t i = 0; i < 16; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || p != text.data() + 2 * i + 2)
      throw std::invalid_argument(fmt::format("'{}' is not 32 hexadecimal digits", text));
    out[i] = static_cast<uint8_t>(v);
  }
}

Config default_config() {
  Config c;
  for (const auto& s : settings()) {
    YAML::Node n = YAML::Load(s.default_yaml);
    s.apply(c, n);
  }
  return c;
}

Config load_config_text(const std::string& yaml, const std::string& source) {
  Config c = default_config();
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}: {}", source, e.mark.line + 1, e.msg));
  }
  if (root.IsNull()) return c;
  if (!root.IsMap()) throw ConfigError(fmt::format("{}: the configuration must be a map of sections", source));
  std::set<std::string> seen;
  apply_tree(c, root, "", source, seen);
  if ((!c.dot_listen.empty() || !c.doq_listen.empty() || !c.doh_http3_listen.empty() ||
       (!c.doh_listen.empty() && !c.doh_h2c)) &&
      (c.tls_certificate.empty() || c.tls_key.empty()))
    throw ConfigError(fmt::format("{}: server.tls.certificate and server.tls.key are required for DoT, DoH (TLS or "
                                  "HTTP/3) and DoQ",
                                  source));
  if (!c.dnstap_socket.empty() && !c.dnstap_file.empty())
    throw ConfigError(fmt::format("{}: dnstap.socket and dnstap.file are exclusive: pick one", source));
  if (c.metrics_path.empty() || c.metrics_path.front() != '/')
    throw ConfigError(fmt::format("{}: metrics.path must start with '/'", source));
  config_zones::check_zones(c, source);
  c.policy.source = source;
  check_policy(c.policy, source);
  return c;
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("{}: cannot open the configuration file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return load_config_text(ss.str(), path);
}

std::string config_reference() {
  std::string out = "# Sextant configuration reference\n\nEvery setting is optional. Generated by "
                    "`sextant --config-reference` from the table that parses the file.\n\n"
                    "| key | default | meaning |\n|---|---|---|\n";
  for (const auto& s : settings())
    out += fmt::format("| `{}` | `{}` | {} |\n", s.key, s.default_yaml[0] ? s.default_yaml : "(empty)", s.doc);
  out += config_zones::blocks_reference();
  return out;
}

}  // namespace sextant::resolver
