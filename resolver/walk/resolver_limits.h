// Every knob of the walker with its default. The coordinator maps YAML keys
// onto this struct; the walker reads nothing else.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "dnssec/trust_anchors.h"
#include "dnssec/validation_budget.h"
#include "dnssec/verdict_cache.h"
#include "resolver/walk/server_address.h"
#include "resolver/walk/zone_outcomes.h"
#include "wire/name.h"

namespace sextant::resolver {

struct WalkerLimits {
  // Per client question (the whole plan of sub-queries shares these).
  uint32_t max_upstream_queries = 48;   // packets sent, retries included
  uint32_t max_subquery_depth = 5;      // glueless NS → its NS → ... (priming not counted)
  uint32_t max_cname_hops = 12;         // CNAME + DNAME links followed
  uint32_t max_referrals = 20;          // zone cuts descended per name
  // NXNSAttack (CVE-2020-12662): NS names without glue whose addresses are
  // looked up, per zone cut and per client question (all cuts together).
  uint32_t max_glueless_per_cut = 4;
  uint32_t max_glueless_per_question = 8;
  // Wall time before the client gets SERVFAIL (later: stale data).
  std::chrono::milliseconds resolution_deadline{3000};

  // Per zone cut: how often one server address is tried, and the total.
  uint32_t max_tries_per_server = 2;
  uint32_t max_sends_per_cut = 8;

  // Per walker (one per worker): queries in flight to one zone (all its
  // servers together, packets within their retransmission timeout) while
  // the zone struggles, and to one server address (every open socket). A
  // question that would go over either cap is not queued: it fails at once
  // with SERVFAIL (or no answer at all with `drop_over_limit`), so that a
  // flood of names under one slow or dead zone cannot take every upstream
  // socket and starve the other zones (BIND's fetches-per-zone and
  // fetches-per-server). 0 = no cap.
  //
  // A server struggles when it is held down, timed out without an answer
  // since, or answers slower than `struggling_rtt`. A zone struggles when
  // every server it has that we could ask struggles AND what the zone
  // answered lately was mostly fruitless (NXDOMAIN, errors, no reply:
  // zone_outcomes.h), so that a busy zone answering real names slowly is
  // not turned away while a flood of random names is. Only struggling
  // servers and zones are capped (a server, when it struggles and the zone
  // asked of it is mostly fruitless): a burst of a thousand new names all asks
  // the root and the TLD at once, and must not fail for it (the worker's
  // upstream socket budget still bounds it).
  uint32_t max_outstanding_per_zone = 100;
  uint32_t max_outstanding_per_server = 800;
  std::chrono::milliseconds struggling_rtt{200};
  ZoneOutcomePolicy zone_outcomes;
  bool drop_over_limit = false;
};

struct WalkerTimeouts {
  // Retransmission timer for a server never heard from. Short, because the
  // first attempt stays open: a late answer is still accepted while the
  // next server is already being asked (RFC 8767-style "don't wait").
  std::chrono::milliseconds initial_rto{300};
  std::chrono::milliseconds min_rto{50};
  std::chrono::milliseconds max_rto{1500};
  // Hard limit of one exchange given to the network (UDP wait, TCP connect +
  // answer); capped by the time left in the resolution.
  std::chrono::milliseconds exchange_timeout{2000};
  // A server that timed out this many times in a row (and answered nothing
  // meanwhile) is held down...
  uint32_t dead_after_timeouts = 2;
  // ...first for dead_hold_down_initial, doubled after each probe that
  // fails too, up to dead_hold_down; after each hold-down one query at a
  // time probes it. While every server of a zone is held down, the zone's
  // questions fail at once with SERVFAIL and EDE 22, without a packet; an
  // answered probe (or any late answer) makes the server, and so the zone,
  // live again at once. A short first hold-down keeps a blip of a
  // single-server zone short; the doubling keeps a dead zone's probes rare.
  std::chrono::milliseconds dead_hold_down_initial{1000};
  std::chrono::milliseconds dead_hold_down{5000};
  // How long a server's learned RTT/EDNS/0x20 facts are trusted.
  std::chrono::seconds server_state_lifetime{900};
};

// DNSSEC validation (RFC 4035 §5) of what the walker hands back.
//
// Off in a default-constructed WalkerOptions, so that unit tests of the
// walk itself need no anchors; the daemon turns it on from the config
// (dnssec.validation, default true) with the built-in root anchors or the
// configured anchor file. Enabled without any anchor covering a name, that
// name's answers are insecure (nothing to chain from).
struct WalkerDnssec {
  bool enabled = false;
  std::shared_ptr<const dnssec::TrustAnchors> anchors;
  std::shared_ptr<const dnssec::NegativeTrustAnchors> negative_anchors;  // may be null
  // Per client question; clock_skew_seconds and max_nsec3_iterations live here.
  dnssec::ValidationLimits limits;
  // How long bogus (60 s) and transient failures (5 s) are remembered.
  dnssec::VerdictCachePolicy cache_policy;
  // RFC 8198: answer NXDOMAIN/NODATA from cached validated NSEC records.
  bool aggressive_nsec = true;
};

class ConfiguredZones;
class DenialMemory;
class ServerStateTable;
class WalkTrace;

struct WalkerOptions {
  WalkerLimits limits;
  WalkerTimeouts timeouts;
  WalkerDnssec dnssec;

  bool qname_minimisation = true;     // RFC 9156, relaxed mode
  uint32_t qmin_max_minimise_count = 10;  // RFC 9156 MAX_MINIMISE_COUNT
  uint32_t qmin_minimise_one_label = 4;   // RFC 9156 MINIMISE_ONE_LAB

  bool use_ipv4 = true;
  bool use_ipv6 = true;
  // Name servers on loopback/private addresses are skipped unless allowed
  // (the lab runs its authorities on 127.0.0.0/8).
  bool allow_private_servers = false;
  // Destination port of every authoritative query (53; the lab may run its
  // authorities on another port).
  uint16_t upstream_port = 53;

  bool case_randomisation = true;     // 0x20, with TCP fallback on mismatch
  uint16_t edns_udp_size = 1232;
  bool upstream_dnssec_ok = true;     // DO=1 upstream, so signatures come along

  // ANY (RFC 8482): answer with one RRset of what the authority returned.
  bool minimal_any = true;

  // Root priming (RFC 8109): re-primed when the primed NS set expires;
  // after a failed priming the hints are used and priming retried after this.
  std::chrono::seconds priming_retry{60};
  // TTL clamps of answer data handed out, as the cache clamps what it
  // stores (cache.min-ttl / cache.max-ttl, like Unbound's cache-min-ttl and
  // cache-max-ttl): the client sees the TTL the data is cached with.
  uint32_t max_ttl = 86400;
  uint32_t min_ttl = 0;
  uint32_t max_negative_ttl = 3600;

  // Validated denials for RFC 8198, shared by the walkers of all workers
  // (the daemon gives every worker the same one). Null: the walker keeps
  // its own.
  std::shared_ptr<DenialMemory> denials;
  // What is known about each authoritative server (RTT, dead hold-down,
  // EDNS/0x20 quirks), shared the same way, so a dead server is found dead
  // once, not once per worker. Null: the walker keeps its own.
  std::shared_ptr<ServerStateTable> servers;

  // DNS cookies toward authoritative servers (RFC 7873 §5.1, RFC 9018 §3;
  // walker_cookies.cpp): each query over EDNS carries a client cookie made
  // from this secret and the server's address, plus the server cookie the
  // server last gave; replies with another client cookie are dropped.
  bool client_cookies = false;
  std::array<uint8_t, 16> cookie_secret{};
  // Every resolution tells its steps here while trace->enabled() (the
  // daemon's log at debug level). Null: only resolutions given a trace of
  // their own (ResolveOptions::trace) are traced.
  std::shared_ptr<WalkTrace> trace;
  // Forward and stub zones (configured_zones.h); null: every name is walked
  // from the root. Replaced by a reload (Walker::set_configured_zones).
  std::shared_ptr<const ConfiguredZones> configured;

  // EDNS Client Subnet (RFC 7871, walker_ecs.cpp): a client question that
  // carries a subnet (ResolveOptions::client_subnet) sends it to the servers
  // of these zones (and those below them) and to these servers, and to no
  // one else. Answers a server scopes to the subnet stay out of the shared
  // caches.
  struct Ecs {
    std::vector<wire::Name> zones;
    std::vector<ServerAddress> servers;  // address and port
  } ecs;

  // Exploration: 1 in `explore_one_in` server choices picks a random usable
  // server instead of the fastest, so RTT estimates stay current. 0 = never.
  uint32_t explore_one_in = 20;
};

}  // namespace sextant::resolver
