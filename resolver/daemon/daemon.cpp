#include "resolver/daemon/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "cache/cache.h"
#include "resolver/front/access_control.h"
#include "resolver/config/config_reload.h"
#include "resolver/daemon/control_commands.h"
#include "resolver/daemon/daemon_metrics.h"
#include "resolver/daemon/defence_wiring.h"
#include "resolver/daemon/log.h"
#include "resolver/daemon/privileges.h"
#include "resolver/daemon/loop_timer_service.h"
#include "resolver/front/query_pipeline.h"
#include "resolver/walk/server_state_table.h"
#include "resolver/walk/root_hints.h"
#include "resolver/daemon/upstream_adapter.h"
#include "resolver/daemon/version.h"
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
#include "transports/worker_pool.h"

namespace sextant::resolver {

namespace {

cache::CacheConfig cache_config_from(const Config& c) {
  cache::CacheConfig cc;
  cc.max_ttl = c.cache_max_ttl;
  cc.min_ttl = c.cache_min_ttl;
  cc.negative_max_ttl = c.cache_negative_max_ttl;
  cc.bogus_ttl = c.bogus_ttl;
  cc.serve_stale = c.serve_stale;
  cc.stale_max = c.stale_max_ttl;
  cc.stale_client_timeout_ms = c.stale_client_timeout_ms;
  cc.prefetch = c.prefetch;
  cc.prefetch_percent = c.prefetch_threshold_percent;
  // Split the byte budget the way the stores are used: RRsets carry most
  // (single-RRset answers, the common case, are rendered from them and take
  // no answer entry), then the ready answers of everything else (CNAME
  // chains, negative and referral-shaped answers), then negative entries
  // and delegations.
  uint64_t total = c.cache_memory_bytes;
  // EDNS Client Subnet: answers for one subnet get a share of their own.
  if (c.ecs.enabled) {
    cc.scoped_answer_max_bytes = total * c.ecs.cache_share_percent / 100;
    total -= cc.scoped_answer_max_bytes;
  }
  cc.rrset_max_bytes = total * 60 / 100;
  cc.answer_max_bytes = total * 20 / 100;
  cc.negative_max_bytes = total * 12 / 100;
  cc.delegation_max_bytes = total * 8 / 100;
  return cc;
}

WalkerOptions walker_options_from(const Config& c) {
  WalkerOptions o;
  o.limits.max_upstream_queries = c.max_upstream_queries;
  o.limits.max_subquery_depth = c.max_subquery_depth;
  o.limits.max_cname_hops = c.max_cname_hops;
  o.limits.resolution_deadline = std::chrono::milliseconds(c.resolution_timeout_ms);
  o.timeouts.initial_rto = std::chrono::milliseconds(c.upstream_initial_timeout_ms);
  o.qname_minimisation = c.qname_minimisation;
  o.allow_private_servers = c.query_private_addresses;
  o.edns_udp_size = c.edns_buffer_size;
  o.max_ttl = c.cache_max_ttl;
  o.max_negative_ttl = c.cache_negative_max_ttl;
  // DNSSEC: on by default (dnssec.validation), chained from the embedded
  // root KSKs or the configured anchor file. The config table always fills
  // the knobs (0 is meaningful for skew, iterations and bogus TTL); the two
  // budgets start at 1, so 0 can only be an unfilled Config: keep the
  // library's default then.
  o.dnssec.enabled = c.dnssec;
  if (c.dnssec) {
    o.dnssec.anchors = std::make_shared<const dnssec::TrustAnchors>(
        c.trust_anchor_file.empty() ? dnssec::TrustAnchors::builtin_root()
                                    : dnssec::TrustAnchors::from_file(c.trust_anchor_file));
    auto ntas = std::make_shared<dnssec::NegativeTrustAnchors>();
    for (const auto& name : c.negative_trust_anchors) ntas->add(wire::Name::from_text(name));
    o.dnssec.negative_anchors = std::move(ntas);
  }
  o.dnssec.limits.clock_skew_seconds = c.clock_skew_s;
  o.dnssec.limits.max_nsec3_iterations =
      static_cast<uint16_t>(std::min(c.nsec3_max_iterations, 65535u));
  if (c.max_signature_validations > 0) {
    o.dnssec.limits.max_verifications_per_request = c.max_signature_validations;
  }
  if (c.max_nsec3_hashes > 0) o.dnssec.limits.max_nsec3_hashes_per_request = c.max_nsec3_hashes;
  o.dnssec.cache_policy.bogus_ttl = c.bogus_ttl;
  o.dnssec.aggressive_nsec = c.aggressive_nsec;
  apply_walker_defences(c, o);
  // One memory of validated denials for all workers: a client's next
  // query may land on any of them.
  o.denials = std::make_shared<DenialMemory>();
  // Server RTT, hold-downs and quirks: one table per worker for now (set in
  // the worker's start hook). Sharing one table between workers is built
  // (ServerStateTable is thread-safe) but a 1,000-query burst on a starved
  // machine then failed about half its queries on "resolution deadline
  // reached", against a few with a table per worker; until that is
  // understood, each worker keeps its own.
  return o;
}

// Everything one worker owns, created and destroyed on its own thread.
struct WorkerState {
  std::unique_ptr<transports::NetworkUpstream> upstream;
  std::unique_ptr<UpstreamAdapter> network;
  std::unique_ptr<LoopTimerService> timers;
  std::unique_ptr<Walker> walker;
  std::unique_ptr<QueryPipeline> pipeline;
  // This worker's server table; thread-safe, so metrics, dump and flush
  // read it from the admin thread (set before that thread starts).
  std::shared_ptr<ServerStateTable> servers;
};

// The TLS contexts of the encrypted listeners, kept for reloading.
struct TlsContexts {
  std::vector<std::shared_ptr<transports::TlsServerContext>> tcp;  // DoT, DoH
  std::vector<std::shared_ptr<transports::QuicTlsContext>> quic;   // DoQ, DoH over HTTP/3
};

// The Alt-Svc a DoH listener on `ep` sends: the HTTP/3 listener on the same
// address if there is one, else the first (clients reach it by the same
// host name); none without HTTP/3, or in cleartext (the reverse proxy in
// front decides what it advertises).
std::string doh_alt_svc(const Config& c, const Endpoint& ep) {
  if (c.doh_http3_listen.empty() || c.doh_h2c) return {};
  for (const auto& h3 : c.doh_http3_listen)
    if (h3.address == ep.address) return transports::doh3_alt_svc(h3.port);
  return transports::doh3_alt_svc(c.doh_http3_listen.front().port);
}

// DoT, DoH and DoQ share one certificate; each transport gets its own TLS
// context (ALPN differs) shared by every worker.
void add_encrypted_listeners(const Config& c, std::vector<transports::ListenerFactory>& factories,
                             TlsContexts& contexts,
                             const std::shared_ptr<const transports::TrustedProxies>& proxy_protocol_from) {
  transports::TlsFiles files{c.tls_certificate, c.tls_key};
  auto stream_options = [&c](const Endpoint& ep) {
    transports::StreamServerOptions o;
    o.address = ep.address;
    o.port = ep.port;
    o.idle_timeout_ms = c.tcp_idle_timeout_ms;
    o.max_connections = c.tcp_connections_per_worker;
    return o;
  };
  if (!c.dot_listen.empty()) {
    auto tls = transports::make_dot_tls_context(files);
    contexts.tcp.push_back(tls);
    for (const auto& ep : c.dot_listen) {
      transports::DotListenerConfig dc{.stream = stream_options(ep)};
      if (!proxy_protocol_from->empty()) {
        dc.stream.proxy_protocol = true;
        dc.stream.trusted_proxies = proxy_protocol_from;
      }
      factories.push_back(transports::make_dot_listener_factory(dc, tls));
    }
  }
  if (!c.doh_listen.empty()) {
    std::shared_ptr<transports::TlsServerContext> tls;
    if (!c.doh_h2c) {
      tls = transports::make_doh_tls_context(files, c.doh_http1);
      contexts.tcp.push_back(tls);
    }
    std::vector<std::string> proxies;
    for (const auto& p : c.doh_trusted_proxies) proxies.push_back(p.to_text());
    auto trusted = std::make_shared<const transports::TrustedProxies>(proxies);
    for (const auto& ep : c.doh_listen) {
      transports::DohListenerConfig dc;
      dc.stream = stream_options(ep);
      dc.stream.trusted_proxies = trusted;
      dc.path = c.doh_path;
      dc.tls = !c.doh_h2c;
      dc.json = c.doh_json;
      dc.json_path = c.doh_json_path;
      dc.max_concurrent_streams = c.doh_max_streams;
      dc.http1 = c.doh_http1;
      dc.http1_max_requests = c.doh_http1_max_requests;
      dc.http1_max_pipeline = c.doh_http1_pipeline;
      dc.alt_svc = doh_alt_svc(c, ep);
      factories.push_back(transports::make_doh_listener_factory(dc, tls));
    }
  }
  if (!c.doh_http3_listen.empty()) {
    auto tls = transports::make_doh3_tls_context(files);
    contexts.quic.push_back(tls);
    for (const auto& ep : c.doh_http3_listen) {
      transports::Doh3ListenerConfig hc;
      hc.address = ep.address;
      hc.port = ep.port;
      hc.endpoint.path = c.doh_path;
      hc.endpoint.json = c.doh_json;
      hc.endpoint.json_path = c.doh_json_path;
      hc.idle_timeout_ms = c.tcp_idle_timeout_ms;
      hc.max_connections = c.tcp_connections_per_worker;
      hc.max_streams_per_connection = c.doh_max_streams;
      factories.push_back(transports::make_doh3_listener_factory(hc, tls));
    }
  }
  if (!c.doq_listen.empty()) {
    auto tls = transports::make_doq_tls_context(files);
    contexts.quic.push_back(tls);
    for (const auto& ep : c.doq_listen) {
      transports::DoqListenerConfig qc;
      qc.address = ep.address;
      qc.port = ep.port;
      qc.idle_timeout_ms = c.tcp_idle_timeout_ms;
      qc.max_connections = c.tcp_connections_per_worker;
      factories.push_back(transports::make_doq_listener_factory(qc, tls));
    }
  }
}

std::vector<wire::Name> health_check_names_from(const Config& c) {
  std::vector<wire::Name> names;
  for (const auto& text : c.health_check_names) names.push_back(wire::Name::from_text(text));
  return names;
}

transports::DnstapOptions dnstap_options_from(const Config& c, unsigned workers) {
  transports::DnstapOptions o;
  o.output = c.dnstap_file.empty() ? transports::DnstapOptions::Output::unix_socket
                                   : transports::DnstapOptions::Output::file;
  o.path = c.dnstap_file.empty() ? c.dnstap_socket : c.dnstap_file;
  o.identity = c.dnstap_identity;
  if (o.identity.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) == 0) o.identity = host;
  }
  o.version = fmt::format("sextant {}", kSextantVersion);
  o.log_client_queries = c.dnstap_log_queries;
  o.log_client_responses = c.dnstap_log_responses;
  o.log_resolver_queries = c.dnstap_log_resolver_queries;
  o.log_resolver_responses = c.dnstap_log_resolver_responses;
  o.workers = workers;
  return o;
}

// Returns what happened, in the control socket's reply form.
std::string reload_tls(TlsContexts& contexts, const Config& c) {
  if (contexts.tcp.empty() && contexts.quic.empty()) {
    log::info("reload: no TLS listeners configured");
    return "ok: no TLS listeners configured, nothing to reload\n";
  }
  std::string errors;
  for (auto& ctx : contexts.tcp) {
    transports::TlsReloadResult r = ctx->reload();
    if (!r.ok) {
      log::error("reload: keeping the old certificate: {}", r.error);
      errors += r.error + "; ";
    }
  }
  for (auto& ctx : contexts.quic) {
    transports::TlsReloadResult r = ctx->reload();
    if (!r.ok) {
      log::error("reload: keeping the old QUIC certificate: {}", r.error);
      errors += r.error + "; ";
    }
  }
  if (!errors.empty()) return fmt::format("error: keeping the old certificate: {}\n", errors.substr(0, errors.size() - 2));
  log::info("reload: new connections use {} and {}", c.tls_certificate, c.tls_key);
  return fmt::format("ok: new connections use {} and {}\n", c.tls_certificate, c.tls_key);
}


}  // namespace

struct Daemon::State {
  Config config;
  std::string config_path;  // re-read by a reload; empty: embedded defaults
  RootHints hints;
  cache::CacheConfig cache_config;
  cache::Cache cache;
  // Built once (the trust anchor file is read here, so a bad file stops
  // the start-up) and copied to every worker's walker; the anchors are shared.
  WalkerOptions walker_options;
  // Replaced by a reload: every worker's pipeline is pointed at the new
  // rules (on its own thread) before the old ones are let go.
  std::shared_ptr<const AccessControl> acl;
  PipelineStats stats;
  DefenceStats defence_stats;  // cookies, rate limiting
  // SIGTERM behind a load balancer: health checks fail for server.drain-time.
  DrainState drain;
  PipelineSettings pipeline_settings;
  std::vector<WorkerState> workers;
  std::atomic<unsigned> stop_requests{0};  // SIGTERM/SIGINT: the first drains, a second cuts it short
  std::atomic<bool> reload_requested{false};
  TlsContexts tls;
  std::mutex reload_mu;  // SIGHUP (main thread) and the control socket both reload (and change NTAs)
  // Negative trust anchor sets a worker may not have let go of yet.
  std::vector<std::shared_ptr<const dnssec::NegativeTrustAnchors>> retired_ntas;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // Listener counters, registered by each worker as its listeners open;
  // read by the metrics exporter (the counters are relaxed atomics).
  std::mutex listeners_mu;
  std::vector<std::shared_ptr<const transports::UdpCounters>> udp_counters;
  std::vector<std::shared_ptr<const transports::TcpCounters>> tcp_counters;
  transports::WorkerPool* pool = nullptr;  // while run() serves
  std::unique_ptr<transports::DnstapWriter> dnstap;  // outlives the workers
  transports::AdminServer* admin = nullptr;

  State(Config c, std::string path)
      : config(std::move(c)),
        config_path(std::move(path)),
        hints(config.root_hints.empty() ? RootHints::embedded() : RootHints::load_file(config.root_hints)),
        cache_config(cache_config_from(config)),
        cache(cache_config),
        walker_options(walker_options_from(config)),
        acl(std::make_shared<const AccessControl>(config.access_control)),
        drain(health_check_names_from(config)) {
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
  }
};

namespace {

// Runs `change` on every worker's loop thread and waits (bounded) until all
// have run it; false if one did not in time (its old data must then stay alive).
// `change` is shared with the posted tasks: one that runs after the wait
// gave up still has it (and whatever it captured) to run.
bool on_every_worker(Daemon::State& s, std::function<void(WorkerState&)> change,
                     std::chrono::milliseconds wait = std::chrono::seconds(2)) {
  if (!s.pool) return false;
  struct Switch {
    std::mutex mu;
    std::condition_variable cv;
    unsigned pending = 0;
  };
  auto sw = std::make_shared<Switch>();
  auto shared_change = std::make_shared<std::function<void(WorkerState&)>>(std::move(change));
  unsigned workers = s.pool->size();
  sw->pending = workers;
  for (unsigned i = 0; i < workers; ++i) {
    bool posted = s.pool->post(i, [sw, shared_change, &s](const transports::WorkerContext& ctx) {
      // `s` outlives the pool, and the pool runs no task after stop().
      (*shared_change)(s.workers[ctx.index]);
      std::lock_guard lock(sw->mu);
      if (--sw->pending == 0) sw->cv.notify_all();
    });
    if (!posted) {
      std::lock_guard lock(sw->mu);
      --sw->pending;
    }
  }
  std::unique_lock lock(sw->mu);
  return sw->cv.wait_for(lock, wait, [&] { return sw->pending == 0; });
}

// Per-worker counters live on the worker threads (the walker's are plain
// integers): each worker copies its own on its loop, and the admin thread
// waits for them, at most `wait`.
DaemonSnapshot take_snapshot(Daemon::State& s, std::chrono::milliseconds wait) {
  DaemonSnapshot snap;
  snap.version = kSextantVersion;
  snap.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s.started).count();
  snap.pipeline = &s.stats;
  snap.defences = &s.defence_stats;
  snap.cache = s.cache.stats();
  for (const WorkerState& w : s.workers)
    if (auto table = w.servers) snap.servers_known += table->size();
  snap.dot = transports::snapshot(transports::transport_counters(transports::Transport::dot));
  snap.doh = transports::snapshot(transports::transport_counters(transports::Transport::doh));
  snap.doh_http = transports::doh_http_snapshot();
  snap.doq = transports::snapshot(transports::transport_counters(transports::Transport::doq));
  {
    std::lock_guard lock(s.listeners_mu);
    for (const auto& u : s.udp_counters) add_udp(snap, *u);
    for (const auto& t : s.tcp_counters) add_tcp(snap, *t);
  }
  snap.draining = s.drain.draining();
  snap.health_checks_failed = s.drain.health_checks_failed();
  if (s.dnstap) {
    snap.dnstap_enabled = true;
    snap.dnstap_logged = s.dnstap->logged();
    snap.dnstap_dropped = s.dnstap->dropped();
  }
  if (s.admin) {
    snap.control_commands = s.admin->commands_served();
    snap.metrics_scrapes = s.admin->scrapes_served();
    snap.admin_bad_requests = s.admin->bad_requests();
  }
  if (!s.pool) return snap;
  snap.workers = s.pool->size();
  struct Gather {
    std::mutex mu;
    DaemonSnapshot sums;
    unsigned reported = 0;
  };
  auto gather = std::make_shared<Gather>();
  on_every_worker(
      s,
      [gather](WorkerState& w) {
        if (!w.walker || !w.upstream || !w.pipeline) return;
        std::lock_guard lock(gather->mu);
        add_walker(gather->sums, w.walker->stats());
        add_upstream(gather->sums, w.upstream->counters());
        add_resolution_times(gather->sums, w.pipeline->resolution_times());
        ++gather->reported;
      },
      wait);
  std::lock_guard lock(gather->mu);
  snap.walker = gather->sums.walker;
  snap.upstream = gather->sums.upstream;
  snap.resolution_buckets = gather->sums.resolution_buckets;
  snap.resolution_total_us = gather->sums.resolution_total_us;
  snap.workers_reporting = gather->reported;
  return snap;
}

// Points every worker's pipeline at `acl`, each on its own thread.
bool switch_access_control(Daemon::State& s, const std::shared_ptr<const AccessControl>& acl) {
  return on_every_worker(s, [acl](WorkerState& w) {
    if (w.pipeline) w.pipeline->set_access_control(*acl);
  });
}

// Gives every worker's walker the new negative trust anchors, then drops
// what the cache learned at and below the names that changed (answers
// validated, or not, under the old set). Caller holds reload_mu.
bool switch_negative_anchors(Daemon::State& s, std::shared_ptr<const dnssec::NegativeTrustAnchors> next,
                             const std::vector<wire::Name>& changed) {
  bool ok = on_every_worker(s, [next](WorkerState& w) {
    if (w.walker) w.walker->set_negative_trust_anchors(next);
  });
  if (!ok) {
    s.retired_ntas.push_back(s.walker_options.dnssec.negative_anchors);  // a worker may still read it
  }
  s.walker_options.dnssec.negative_anchors = std::move(next);
  for (const auto& name : changed) {
    s.walker_options.denials->forget(name);
    s.cache.flush_subtree(name);
  }
  return ok;
}

// SIGHUP and `sextant control reload`: re-reads the configuration file,
// applies what can change live, keeps the cache. Returns the reply text.
std::string reload_configuration(Daemon::State& s) {
  std::lock_guard lock(s.reload_mu);
  if (s.config_path.empty()) {
    log::warning("reload: started without a configuration file (-c): only the TLS files are re-read");
    return "error: sextant was started without a configuration file (-c), nothing to re-read\n";
  }
  Config next;
  try {
    next = load_config_file(s.config_path);
  } catch (const std::exception& e) {
    log::error("reload: keeping the running configuration: {}", e.what());
    return fmt::format("error: keeping the running configuration: {}\n", e.what());
  }
  ReloadPlan plan = plan_reload(s.config, next);
  std::string report;
  bool failed = false;
  if (plan.log_level_changed) {
    log::set_level(next.log_level);
    s.config.log_level = next.log_level;
    report += "ok: log-level applied\n";
  }
  if (plan.access_control_changed) {
    auto acl = std::make_shared<const AccessControl>(next.access_control);
    if (switch_access_control(s, acl)) {
      s.acl = std::move(acl);  // the old rules are no longer referenced
      s.config.access_control = next.access_control;
      report += fmt::format("ok: access-control applied ({} rules)\n", next.access_control.size());
    } else {
      // A worker that has not switched may still read the old rules: keep them.
      failed = true;
      report += "error: access-control: not every worker switched in time; run reload again\n";
    }
  }
  if (plan.negative_trust_anchors_changed) {
    if (!s.config.dnssec) {
      report += "warning: dnssec.negative-trust-anchors changed but validation is off\n";
    } else {
      auto ntas = std::make_shared<dnssec::NegativeTrustAnchors>();
      for (const auto& name : next.negative_trust_anchors) ntas->add(wire::Name::from_text(name));
      std::vector<wire::Name> changed;
      for (const auto* list : {&s.config.negative_trust_anchors, &next.negative_trust_anchors})
        for (const auto& name : *list) changed.push_back(wire::Name::from_text(name));
      if (!switch_negative_anchors(s, std::move(ntas), changed)) failed = true;
      s.config.negative_trust_anchors = next.negative_trust_anchors;
      report += fmt::format("ok: negative-trust-anchors applied ({} names; names added with "
                            "insecure-add are replaced)\n",
                            next.negative_trust_anchors.size());
    }
  }
  std::string tls = reload_tls(s.tls, s.config);
  failed = failed || tls.rfind("error:", 0) == 0;
  report += tls;
  if (!plan.need_restart.empty()) {
    std::string keys;
    for (const auto& k : plan.need_restart) keys += (keys.empty() ? "" : ", ") + k;
    log::warning("reload: changed settings that need a restart (still running the old values): {}", keys);
    report += fmt::format("warning: need a restart (still running the old values): {}\n", keys);
  }
  if (!plan.access_control_changed && !plan.log_level_changed && !plan.negative_trust_anchors_changed &&
      plan.need_restart.empty())
    report += "ok: the configuration file is unchanged\n";
  log::info("reload of {} done; the cache was kept", s.config_path);
  return failed ? "error: the reload was not complete\n" + report : report;
}

// What the control socket's commands act on.
class DaemonControl final : public ControlTarget {
 public:
  explicit DaemonControl(Daemon::State& s) : s_(s) {}

  std::string status() override {
    const Config& c = s_.config;
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - s_.started);
    std::string out = fmt::format("version {}\nuptime {} s\nworkers {}\n", kSextantVersion, uptime.count(),
                                  s_.pool ? s_.pool->size() : 0);
    auto list = [&](const char* what, const std::vector<Endpoint>& eps) {
      for (const auto& ep : eps) out += fmt::format("listening {} {}\n", what, ep.to_text());
    };
    list("udp+tcp", c.listen);
    list("dot", c.dot_listen);
    list(c.doh_h2c ? "doh-h2c" : "doh", c.doh_listen);
    list("doh-http3", c.doh_http3_listen);
    list("doq", c.doq_listen);
    list("metrics", c.metrics_listen);
    out += fmt::format("dnssec-validation {}\n", c.dnssec ? "on" : "off");
    return out;
  }

  std::string stats() override {
    return build_metrics_report(take_snapshot(s_, std::chrono::milliseconds(1000))).plain();
  }

  size_t flush_name(const wire::Name& name) override {
    s_.walker_options.denials->forget(name);
    size_t n = s_.cache.flush_name(name);
    log::info("control: flushed {} ({} entries)", name.to_text(), n);
    return n;
  }

  size_t flush_subtree(const wire::Name& apex) override {
    s_.walker_options.denials->forget(apex);
    size_t n = s_.cache.flush_subtree(apex);
    log::info("control: flushed {} and below ({} entries)", apex.to_text(), n);
    return n;
  }

  void flush_all() override {
    s_.walker_options.denials->clear();
    for (WorkerState& w : s_.workers)
      if (auto table = w.servers) table->clear();
    s_.cache.flush_all();
    log::info("control: flushed the whole cache");
  }

  std::string dump_cache() override {
    std::string out = s_.cache.dump(static_cast<uint32_t>(std::time(nullptr)));
    for (size_t i = 0; i < s_.workers.size(); ++i) {
      out += fmt::format(";; servers (worker {})\n", i);
      if (auto table = s_.workers[i].servers) out += table->dump(std::chrono::steady_clock::now());
    }
    return out;
  }

  std::string reload_tls() override {
    std::lock_guard lock(s_.reload_mu);
    return resolver::reload_tls(s_.tls, s_.config);
  }

  std::string reload() override { return reload_configuration(s_); }

  std::string add_negative_anchor(const wire::Name& name) override { return change_negative_anchor(name, true); }
  std::string remove_negative_anchor(const wire::Name& name) override {
    return change_negative_anchor(name, false);
  }

  std::string list_negative_anchors() override {
    std::lock_guard lock(s_.reload_mu);
    std::string out;
    if (const auto& ntas = s_.walker_options.dnssec.negative_anchors)
      for (const auto& name : ntas->names()) out += name.to_text() + "\n";
    return out;
  }

 private:
  std::string change_negative_anchor(const wire::Name& name, bool add) {
    std::lock_guard lock(s_.reload_mu);
    if (!s_.config.dnssec) return "error: DNSSEC validation is off (dnssec.validation: false)\n";
    auto next = std::make_shared<dnssec::NegativeTrustAnchors>();
    if (const auto& now = s_.walker_options.dnssec.negative_anchors)
      for (const auto& n : now->names()) next->add(n);
    wire::Name lower = name.lowercased();
    if (add) {
      for (const auto& n : next->names())
        if (n == lower) return fmt::format("ok: {} is already a negative trust anchor\n", lower.to_text());
      next->add(lower);
    } else if (!next->remove(lower)) {
      return fmt::format("error: {} is not a negative trust anchor\n", lower.to_text());
    }
    bool ok = switch_negative_anchors(s_, std::move(next), {lower});
    log::info("control: negative trust anchor {} {}", lower.to_text(), add ? "added" : "removed");
    if (!ok) return "error: not every worker switched in time; run the command again\n";
    return fmt::format("ok: {} {}; cached data at and below it flushed\n", lower.to_text(),
                       add ? "is now a negative trust anchor (not validated)" : "is validated again");
  }

 public:

 private:
  Daemon::State& s_;
};

// SIGTERM behind a load balancer: keep serving for server.drain-time while
// health checks fail, so the balancer stops sending before the sockets
// close. A second stop request ends the wait.
void drain(Daemon::State& s) {
  const auto window = std::chrono::milliseconds(s.config.drain_time_ms);
  if (window.count() == 0) return;
  s.drain.start();
  log::info("draining for {} ms: health checks get SERVFAIL, other queries are answered "
            "(a second SIGTERM stops at once)", window.count());
  const auto end = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < end && s.stop_requests.load() < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  log::info("drained: {} health check(s) failed", s.drain.health_checks_failed());
}

}  // namespace

Daemon::Daemon(Config config, std::string config_path)
    : state_(std::make_unique<State>(std::move(config), std::move(config_path))) {}

Daemon::~Daemon() = default;

void Daemon::request_stop() noexcept { state_->stop_requests.fetch_add(1); }

void Daemon::request_reload() noexcept { state_->reload_requested.store(true); }

void Daemon::run() {
  State& s = *state_;
  const Config& c = s.config;
  log::set_level(c.log_level);

  std::vector<transports::ListenerFactory> factories;
  std::vector<std::string> proxies;
  for (const auto& p : c.proxy_protocol_from) proxies.push_back(p.to_text());
  auto proxy_protocol_from = std::make_shared<const transports::TrustedProxies>(proxies);
  for (const auto& ep : c.listen) {
    transports::SocketAddress address = transports::parse_address_or_throw(ep.to_text(), 53);
    transports::UdpListenerConfig udp;
    udp.address = address;
    if (!proxy_protocol_from->empty()) udp.trusted_proxies = proxy_protocol_from;
    factories.push_back(transports::make_udp_listener_factory(udp, [&s](transports::UdpListener& l) {
      std::lock_guard lock(s.listeners_mu);
      s.udp_counters.push_back(l.counters_handle());
    }));
    transports::TcpListenerConfig tcp;
    tcp.address = address;
    tcp.idle_timeout_ms = c.tcp_idle_timeout_ms;
    tcp.max_connections = c.tcp_connections_per_worker;
    if (!proxy_protocol_from->empty()) tcp.trusted_proxies = proxy_protocol_from;
    factories.push_back(transports::make_tcp_listener_factory(tcp, [&s](transports::TcpListener& l) {
      std::lock_guard lock(s.listeners_mu);
      s.tcp_counters.push_back(l.counters_handle());
    }));
  }
  add_encrypted_listeners(c, factories, s.tls, proxy_protocol_from);
  if (!c.dnssec) log::warning("DNSSEC validation is off (dnssec.validation: false)");

  std::optional<TargetUser> run_as;
  if (!c.user.empty()) run_as = lookup_user(c.user);  // an unknown user stops the start at once

  unsigned threads = c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
  s.workers.resize(threads);
  if (!c.dnstap_socket.empty() || !c.dnstap_file.empty()) {
    s.dnstap = std::make_unique<transports::DnstapWriter>(dnstap_options_from(c, threads));
    s.pipeline_settings.dnstap = s.dnstap.get();
  }

  transports::WorkerHooks hooks;
  hooks.start = [&s](const transports::WorkerContext& ctx) -> transports::QueryHandler* {
    WorkerState& w = s.workers[ctx.index];
    w.upstream = std::make_unique<transports::NetworkUpstream>(ctx.loop);
    w.timers = std::make_unique<LoopTimerService>(ctx.loop, *transports::LoopClock::current());
    w.network = std::make_unique<UpstreamAdapter>(*w.upstream, *w.timers);
    if (s.dnstap) w.network->set_dnstap(s.dnstap.get(), ctx.index);
    WalkerOptions options = s.walker_options;
    options.servers = std::make_shared<ServerStateTable>(static_cast<size_t>(s.config.server_state_entries));
    w.servers = options.servers;
    w.walker = std::make_unique<Walker>(*w.network, *w.timers, std::move(options), s.hints, &s.cache);
    w.pipeline = std::make_unique<QueryPipeline>(s.pipeline_settings, *s.acl, s.cache, *w.walker, *w.timers, s.stats);
    return w.pipeline.get();
  };
  hooks.stop = [&s](const transports::WorkerContext& ctx, std::function<void()> done) {
    WorkerState& w = s.workers[ctx.index];
    // Pipeline and walker first (they cancel their timers and packets),
    // then the upstream sockets, which close asynchronously.
    w.pipeline.reset();
    w.walker.reset();
    w.network.reset();
    w.timers.reset();
    transports::NetworkUpstream* up = w.upstream.get();
    up->shutdown([&w, done = std::move(done)] {
      w.upstream.reset();
      done();
    });
  };

  transports::WorkerPool pool(transports::WorkerPoolConfig{.workers = threads, .shutdown_grace_ms = 1000},
                              std::move(factories), std::move(hooks));
  pool.start();
  s.pool = &pool;

  // The operator's side door starts after the workers (stats read them)
  // and stops before them.
  DaemonControl control(s);
  transports::AdminServerConfig admin_config;
  admin_config.control_socket = c.control_socket;
  for (const auto& ep : c.metrics_listen)
    admin_config.metrics.push_back(transports::parse_address_or_throw(ep.to_text(), 9153));
  admin_config.metrics_path = c.metrics_path;
  if (run_as) {
    // The socket stays usable by the daemon's user and group after the switch.
    admin_config.control_socket_uid = static_cast<int>(run_as->uid);
    admin_config.control_socket_gid = static_cast<int>(run_as->gid);
  }
  transports::AdminServer admin(
      admin_config,
      {.control = [&control](std::string_view command) { return run_control_command(command, control); },
       .metrics =
           [&s] { return build_metrics_report(take_snapshot(s, std::chrono::milliseconds(1000))).prometheus(); }});
  if (!c.control_socket.empty() || !c.metrics_listen.empty()) {
    s.admin = &admin;  // before its thread exists: that thread reads it
    try {
      admin.start();
    } catch (...) {
      s.admin = nullptr;
      s.pool = nullptr;
      pool.stop();
      throw;
    }
  }
  // Every listening socket is open: root is no longer needed.
  if (run_as) {
    try {
      drop_privileges(*run_as);
    } catch (...) {
      admin.stop();
      s.admin = nullptr;
      s.pool = nullptr;
      pool.stop();
      throw;
    }
    log::info("running as user {} (uid {}, gid {})", run_as->name, run_as->uid, run_as->gid);
  }
  auto describe = [](const std::vector<Endpoint>& eps, const char* what) {
    std::string out;
    for (const auto& ep : eps) out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", ep.to_text(), what);
    return out;
  };
  std::string where = describe(c.listen, "udp+tcp");
  for (auto [eps, what] : {std::pair{&c.dot_listen, "dot"}, {&c.doh_listen, c.doh_h2c ? "doh h2c" : "doh"},
                           {&c.doh_http3_listen, "doh http3"}, {&c.doq_listen, "doq"}})
    if (!eps->empty()) where += ", " + describe(*eps, what);
  if (!c.control_socket.empty()) where += fmt::format(", control socket {}", c.control_socket);
  if (!c.metrics_listen.empty()) where += ", " + describe(c.metrics_listen, "metrics");
  if (s.dnstap) where += fmt::format(", dnstap to {}", c.dnstap_file.empty() ? c.dnstap_socket : c.dnstap_file);
  if (!c.proxy_protocol_from.empty()) where += fmt::format(", PROXY v2 from {}", fmt::join(proxies, " "));
  log::info("sextant listening on {} with {} worker(s); root hints: {}", where, threads,
            c.root_hints.empty() ? "embedded" : c.root_hints);

  while (s.stop_requests.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (s.reload_requested.exchange(false)) reload_configuration(s);
  }
  drain(s);
  log::info("stopping: answering in-flight queries for up to 1 s");
  admin.stop();
  s.admin = nullptr;
  s.pool = nullptr;
  pool.stop();
  // Flushes the query log now that no worker writes to it.
  s.pipeline_settings.dnstap = nullptr;
  s.dnstap.reset();
  const PipelineStats& st = s.stats;
  log::info("stopped after {} queries ({} cache hits, {} misses, {} SERVFAIL)", st.queries.load(),
            st.cache_hits.load(), st.cache_misses.load(), st.servfail.load());
}

}  // namespace sextant::resolver
