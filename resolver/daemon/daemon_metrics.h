// Everything the daemon counts, gathered into one snapshot and named once:
// the /metrics endpoint and `sextant control stats` both render the
// MetricsReport built here.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cache/cache_stats.h"
#include "resolver/anchors/trust_anchor_keeper.h"
#include "resolver/daemon/metrics_report.h"
#include "resolver/daemon/policy_runtime.h"
#include "resolver/front/query_pipeline.h"
#include "resolver/walk/walker.h"
#include "transports/doh_metrics.h"
#include "transports/tcp_listener.h"
#include "transports/transport_metrics.h"
#include "transports/udp_listener.h"
#include "transports/upstream.h"
#include "transports/upstream_endpoint.h"

namespace sextant::resolver {

// Warm restart (CachePersistence): what the start restored, what saves did.
struct WarmRestartSnapshot {
  uint64_t restored_entries = 0;
  uint64_t saves_ok = 0;
  uint64_t saves_failed = 0;
  uint64_t last_save_entries = 0;
  bool loading = false;
};

// The client-side counters of every worker's pipeline, summed (each worker
// counts into its own PipelineStats: no cache line shared on the hit path).
struct PipelineTotals {
  uint64_t queries = 0, cache_hits = 0, cache_misses = 0, stale_served = 0, prefetches = 0, dropped = 0,
           formerr = 0, refused = 0, notimp = 0, servfail = 0, truncated = 0, policy_answers = 0,
           policy_rewrites = 0, policy_dropped = 0, dns64_synthesised = 0;
};

struct DaemonSnapshot {
  std::string version;
  double uptime_seconds = 0;
  unsigned workers = 0;
  unsigned workers_reporting = 0;  // workers whose per-thread counters made it in time
  bool have_pipeline = false;
  PipelineTotals pipeline;
  const DefenceStats* defences = nullptr;  // cookies, rate limiting
  cache::CacheStats cache;
  WarmRestartSnapshot warm_restart;
  size_t servers_known = 0;        // the walkers' shared server-state table
  WalkerStats walker;              // summed over workers
  std::vector<uint64_t> upstream;  // summed; one per upstream counter (see add_upstream)
  // Forward zones' upstreams, summed over workers by label.
  std::vector<transports::UpstreamEndpointStats> forward_upstreams;
  std::vector<uint64_t> resolution_buckets;  // summed ResolutionTimes buckets
  uint64_t resolution_total_us = 0;
  std::vector<uint64_t> udp;       // summed over UDP listeners
  std::vector<uint64_t> tcp;       // summed over TCP listeners
  transports::TransportCountersSnapshot dot, doh, doq;
  transports::DohHttpSnapshot doh_http;  // DoH requests by HTTP version, responses by status
  // PROXY v2 outcomes of the UDP and TCP listeners (summed), by ProxyOutcome.
  std::array<uint64_t, transports::kProxyOutcomeCount> udp_proxy{}, tcp_proxy{};
  bool draining = false;             // SIGTERM received, server.drain-time running
  uint64_t health_checks_failed = 0; // health checks answered SERVFAIL while draining
  bool dnstap_enabled = false;
  uint64_t dnstap_logged = 0;
  uint64_t dnstap_dropped = 0;
  PolicySnapshot policy;
  bool event_log_enabled = false;
  uint64_t event_log_written = 0;
  uint64_t event_log_dropped_full = 0;
  uint64_t event_log_dropped_rate = 0;
  uint64_t control_commands = 0;
  uint64_t metrics_scrapes = 0;
  uint64_t admin_bad_requests = 0;
  // RFC 5011 managed trust anchors (dnssec.auto-trust-anchor-file), if any.
  bool trust_anchors_managed = false;
  std::vector<TrustAnchorKeeper::AnchorStatus> trust_anchors;
  TrustAnchorKeeper::Counters trust_anchor_counters;
};

// Adds one worker's or listener's counters into the snapshot's sums.
void add_pipeline(DaemonSnapshot& s, const PipelineStats& p);
void add_walker(DaemonSnapshot& s, const WalkerStats& w);
void add_upstream(DaemonSnapshot& s, const transports::UpstreamCounters& u);
void add_forward_upstreams(DaemonSnapshot& s, const std::vector<transports::UpstreamEndpointStats>& upstreams);
void add_udp(DaemonSnapshot& s, const transports::UdpCounters& u);
void add_tcp(DaemonSnapshot& s, const transports::TcpCounters& t);
void add_resolution_times(DaemonSnapshot& s, const ResolutionTimes& t);

MetricsReport build_metrics_report(const DaemonSnapshot& s);

}  // namespace sextant::resolver
