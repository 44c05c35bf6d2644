// The daemon's insides, shared by its parts: daemon.cpp (start, serve,
// stop; the control commands), daemon_setup.cpp (what the configuration
// turns into: cache, walker options, listeners, TLS, dnstap) and
// daemon_reload.cpp (snapshots for metrics, reload). Not for use outside
// resolver/daemon/.
#pragma once

#include <signal.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "cache/cache.h"
#include "resolver/anchors/trust_anchor_keeper.h"
#include "resolver/front/access_control.h"
#include "resolver/config/config_reload.h"
#include "resolver/daemon/cache_persistence.h"
#include "resolver/daemon/control_commands.h"
#include "resolver/daemon/control_trace.h"
#include "resolver/daemon/daemon_metrics.h"
#include "resolver/daemon/defence_wiring.h"
#include "resolver/daemon/forward_upstreams.h"
#include "resolver/forward/forward_table.h"
#include "resolver/daemon/log.h"
#include "resolver/daemon/policy_runtime.h"
#include "resolver/eventlog/event_log.h"
#include "resolver/daemon/privileges.h"
#include "resolver/daemon/trust_anchor_report.h"
#include "resolver/daemon/loop_timer_service.h"
#include "resolver/front/query_pipeline.h"
#include "resolver/walk/server_state_table.h"
#include "resolver/walk/root_hints.h"
#include "resolver/daemon/upstream_adapter.h"
#include "resolver/daemon/version.h"
#include "resolver/daemon/walk_trace_log.h"
#include "resolver/walk/walker.h"
#include "transports/admin_server.h"
#include "transports/dnstap_writer.h"
#include "transports/doh3_listener.h"
#include "transports/doh_listener.h"
#include "transports/doq_listener.h"
#include "transports/dot_listener.h"
#include "transports/loop_clock.h"
#include "transports/proxy_protocol.h"
#include "transports/socket_util.h"
#include "transports/tcp_listener.h"
#include "transports/udp_listener.h"
#include "transports/upstream.h"
#include "transports/upstream_pool.h"
#include "transports/worker_pool.h"
#include "resolver/daemon/daemon.h"

namespace sextant::resolver {

// A worker's own client counters, on cache lines of their own: the hit path
// increments two of them per query, which must not bounce between cores.
struct alignas(64) WorkerPipelineStats {
  PipelineStats counters;
};

// Everything one worker owns, created and destroyed on its own thread.
struct WorkerState {
  std::unique_ptr<transports::NetworkUpstream> upstream;
  std::unique_ptr<transports::UpstreamPool> pool;  // forward upstreams over tcp, tls, https, quic
  std::unique_ptr<UpstreamAdapter> network;
  std::unique_ptr<LoopTimerService> timers;
  std::unique_ptr<Walker> walker;
  std::unique_ptr<QueryPipeline> pipeline;
  // Outlives the pipeline (metrics read it from the admin thread).
  std::unique_ptr<WorkerPipelineStats> stats = std::make_unique<WorkerPipelineStats>();
  // This worker's server table; thread-safe, so metrics, dump and flush
  // read it from the admin thread (set before that thread starts).
  std::shared_ptr<ServerStateTable> servers;
};

// The TLS contexts of the encrypted listeners, kept for reloading.
struct TlsContexts {
  std::vector<std::shared_ptr<transports::TlsServerContext>> tcp;  // DoT, DoH
  std::vector<std::shared_ptr<transports::QuicTlsContext>> quic;   // DoQ, DoH over HTTP/3
};


// ---- daemon_setup.cpp -------------------------------------------------------

cache::CacheConfig cache_config_from(const Config& c);

// The root anchors (embedded or the configured file); the forward and stub
// zones' own anchors are added to a copy of these (anchors_with()).
dnssec::TrustAnchors base_anchors_from(const Config& c);

std::shared_ptr<const dnssec::TrustAnchors> anchors_with(const dnssec::TrustAnchors& base, const ForwardTable& table);

// dnssec.negative-trust-anchors and the zones configured with one.
std::shared_ptr<dnssec::NegativeTrustAnchors> negative_anchors_from(const std::vector<std::string>& names,
                                                                    const ForwardTable& table);

WalkerOptions walker_options_from(const Config& c, const dnssec::TrustAnchors& base_anchors,
                                  const std::shared_ptr<const ForwardTable>& forward);

// Warm restart (cache.warm-restart.*): the file, and the DNSSEC settings a
// snapshot must have been written under.
std::unique_ptr<CachePersistence> make_persistence(const Config& c, cache::Cache& cache,
                                                   const WalkerOptions& o);

// The Alt-Svc a DoH listener on `ep` sends: the HTTP/3 listener on the same
// address if there is one, else the first (clients reach it by the same
// host name); none without HTTP/3, or in cleartext (the reverse proxy in
// front decides what it advertises).
std::string doh_alt_svc(const Config& c, const Endpoint& ep);

// DoT, DoH and DoQ share one certificate; each transport gets its own TLS
// context (ALPN differs) shared by every worker.
// `client_limits` is the per-client connection cap they share with TCP.
void add_encrypted_listeners(const Config& c, std::vector<transports::ListenerFactory>& factories,
                             TlsContexts& contexts,
                             const std::shared_ptr<const transports::TrustedProxies>& proxy_protocol_from,
                             const std::shared_ptr<transports::ClientConnectionTable>& client_limits);

std::vector<wire::Name> health_check_names_from(const Config& c);

transports::DnstapOptions dnstap_options_from(const Config& c, unsigned workers);

// Returns what happened, in the control socket's reply form.
std::string reload_tls(TlsContexts& contexts, const Config& c);

struct Daemon::State {
  Config config;
  std::string config_path;  // re-read by a reload; empty: embedded defaults
  RootHints hints;
  cache::CacheConfig cache_config;
  cache::Cache cache;
  // The root anchors as configured (read once: a bad file stops the start).
  dnssec::TrustAnchors base_anchors;
  // forward-zones and stub-zones; replaced by a reload.
  std::shared_ptr<const ForwardTable> forward;
  // Built once and copied to every worker's walker; the anchors are shared.
  WalkerOptions walker_options;
  // Replaced by a reload: every worker's pipeline is pointed at the new
  // rules (on its own thread) before the old ones are let go.
  std::shared_ptr<const AccessControl> acl;
  DefenceStats defence_stats;  // cookies, rate limiting
  // SIGTERM behind a load balancer: health checks fail for server.drain-time.
  DrainState drain;
  PipelineSettings pipeline_settings;
  std::vector<WorkerState> workers;
  std::atomic<unsigned> stop_requests{0};  // SIGTERM/SIGINT: the first drains, a second cuts it short
  std::atomic<bool> reload_requested{false};
  TlsContexts tls;
  std::mutex reload_mu;  // SIGHUP (main thread) and the control socket both reload (and change NTAs)
  // Negative trust anchor sets (and forward tables, anchors) a worker may not have let go of yet.
  std::vector<std::shared_ptr<const dnssec::NegativeTrustAnchors>> retired_ntas;
  std::vector<std::shared_ptr<const void>> retired;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // Listener counters, registered by each worker as its listeners open;
  // read by the metrics exporter (the counters are relaxed atomics).
  std::mutex listeners_mu;
  std::vector<std::shared_ptr<const transports::UdpCounters>> udp_counters;
  std::vector<std::shared_ptr<const transports::TcpCounters>> tcp_counters;
  transports::WorkerPool* pool = nullptr;  // while run() serves
  std::unique_ptr<transports::DnstapWriter> dnstap;  // outlives the workers
  std::unique_ptr<eventlog::EventLog> event_log;      // outlives the workers
  // The running policy (views, lists, RPZ, DNS64); built in run(), once the
  // number of workers is known.
  std::unique_ptr<PolicyRuntime> policy;
  transports::AdminServer* admin = nullptr;
  std::unique_ptr<CachePersistence> persistence;  // warm restart
  // RFC 5011 (dnssec.auto-trust-anchor-file): probes on worker 0's loop.
  std::unique_ptr<TrustAnchorKeeper> anchor_keeper;

  State(Config c, std::string path)
      : config(std::move(c)),
        config_path(std::move(path)),
        hints(config.root_hints.empty() ? RootHints::embedded() : RootHints::load_file(config.root_hints)),
        cache_config(cache_config_from(config)),
        cache(cache_config),
        base_anchors(base_anchors_from(config)),
        forward(ForwardTable::build(config)),
        walker_options(walker_options_from(config, base_anchors, forward)),
        acl(std::make_shared<const AccessControl>(config.access_control)),
        drain(health_check_names_from(config)),
        persistence(make_persistence(config, cache, walker_options)) {
    pipeline_settings.drain = &drain;
    pipeline_settings.defences = defence_settings_from(config, &defence_stats);
    pipeline_settings.rebinding = rebinding_filter_from(config);
    pipeline_settings.ecs = ecs_settings_from(config);
    pipeline_settings.edns_buffer_size = config.edns_buffer_size;
    pipeline_settings.serve_stale = config.serve_stale;
    pipeline_settings.stale_client_timeout = std::chrono::milliseconds(config.stale_client_timeout_ms);
    pipeline_settings.prefetch = config.prefetch;
    pipeline_settings.tcp_keepalive_100ms =
        static_cast<uint16_t>(std::min<uint32_t>(config.tcp_idle_timeout_ms / 100, 65535));
    pipeline_settings.root_key_sentinel = config.dnssec && config.root_key_sentinel;
    if (config.dnssec && !config.auto_trust_anchor_file.empty()) {
      TrustAnchorKeeper::Settings ks;
      ks.state_file = config.auto_trust_anchor_file;
      ks.timers.add_hold_down = config.trust_anchor_add_holddown_s;
      ks.timers.remove_hold_down = config.trust_anchor_remove_holddown_s;
      ks.timers.keep_missing = config.trust_anchor_keep_missing_s;
      ks.timers.refresh = config.trust_anchor_refresh_s;
      ks.log = [](bool warning, const std::string& m) {
        if (warning) log::warning("{}", m);
        else log::info("{}", m);
      };
      anchor_keeper = std::make_unique<TrustAnchorKeeper>(std::move(ks), *walker_options.dnssec.anchors);
      walker_options.dnssec.anchors = anchor_keeper->anchors();
    }
  }
};

// ---- daemon_reload.cpp ------------------------------------------------------

// Runs `change` on every worker's loop thread and waits (bounded) until all
// have run it; false if one did not in time (its old data must then stay alive).
// `change` is shared with the posted tasks: one that runs after the wait
// gave up still has it (and whatever it captured) to run.
bool on_every_worker(Daemon::State& s, std::function<void(WorkerState&)> change,
                     std::chrono::milliseconds wait = std::chrono::seconds(2));

// Per-worker counters live on the worker threads (the walker's are plain
// integers): each worker copies its own on its loop, and the admin thread
// waits for them, at most `wait`.
DaemonSnapshot take_snapshot(Daemon::State& s, std::chrono::milliseconds wait);

// Points every worker's pipeline at `acl`, each on its own thread.
bool switch_access_control(Daemon::State& s, const std::shared_ptr<const AccessControl>& acl);

// Points every worker's pipeline at `next`, each on its own thread.
bool switch_policy(Daemon::State& s, const std::shared_ptr<const policy::Policy>& next);

// Gives every worker's walker the new negative trust anchors, then drops
// what the cache learned at and below the names that changed (answers
// validated, or not, under the old set). Caller holds reload_mu.
bool switch_negative_anchors(Daemon::State& s, std::shared_ptr<const dnssec::NegativeTrustAnchors> next,
                             const std::vector<wire::Name>& changed);

// A reload's forward-zones and stub-zones: the new table, the zones' trust
// anchors and negative trust anchors go to every worker (walker and
// upstream adapter) on its own thread; what the changed zones left in the
// cache and in the workers' memories is dropped. Caller holds reload_mu.
std::string switch_forward_zones(Daemon::State& s, const Config& next, bool& failed);

// SIGHUP and `sextant control reload`: re-reads the configuration file,
// applies what can change live, keeps the cache. Returns the reply text.
std::string reload_configuration(Daemon::State& s);

}  // namespace sextant::resolver
