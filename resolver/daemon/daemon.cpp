#include "resolver/daemon/daemon.h"

#include "resolver/daemon/daemon_internal.h"

namespace sextant::resolver {

namespace {

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
    if (s_.anchor_keeper) out += trust_anchor_status(*s_.anchor_keeper);
    for (const auto& z : c.forward_zones) {
      std::string ups;
      for (const auto& u : z.upstreams) {
        ups += fmt::format("{}{}://{}@{}", ups.empty() ? "" : " ", to_string(u.transport), u.address, u.port);
      }
      out += fmt::format("forward-zone {}{} {}\n", z.zone, z.forward_first ? " (forward-first)" : "", ups);
    }
    for (const auto& z : c.stub_zones) {
      std::string servers;
      for (const auto& sv : z.servers) {
        servers += (servers.empty() ? "" : " ") + (sv.name.empty() ? fmt::format("{}@{}", sv.address, sv.port) : sv.name);
      }
      out += fmt::format("stub-zone {} {}\n", z.zone, servers);
    }
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

  std::string dump_cache_snapshot() override {
    cache::SnapshotCounts counts;
    std::vector<uint8_t> bytes = s_.persistence->snapshot(&counts);
    log::info("control: cache snapshot of {} entries ({} octets) sent", counts.total(), bytes.size());
    return std::string(bytes.begin(), bytes.end());
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

  // On worker 0's walker (its server table and primed root), awaited here.
  std::string trace(const wire::Name& name, wire::RRType type) override {
    auto run = std::make_shared<TracedResolution>(wire::Question{name, type, wire::RRClass::IN});
    const bool posted = s_.pool && s_.pool->post(0, [run, &s = s_](const transports::WorkerContext& ctx) {
      WorkerState& w = s.workers[ctx.index];
      if (w.walker) {
        run->start(*w.walker);
      } else {
        run->fail("the worker is stopping");
      }
    });
    if (!posted) return "error: no worker to resolve on (stopping)\n";
    run->wait(s_.walker_options.limits.resolution_deadline + std::chrono::seconds(1));
    log::info("control: traced {} {}", name.to_text(), wire::to_string(type));
    return run->report();
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
  // Every encrypted upstream's CA bundle loads (or the start stops, naming it).
  check_forward_upstreams(c, s.config_path.empty() ? std::string("(defaults)") : s.config_path);

  std::vector<transports::ListenerFactory> factories;
  std::vector<std::string> proxies;
  for (const auto& p : c.proxy_protocol_from) proxies.push_back(p.to_text());
  auto proxy_protocol_from = std::make_shared<const transports::TrustedProxies>(proxies);
  // One per-client connection count for every stream and QUIC listener.
  auto client_limits = std::make_shared<transports::ClientConnectionTable>(c.max_connections_per_client);
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
    tcp.client_limits = client_limits;
    if (!proxy_protocol_from->empty()) tcp.trusted_proxies = proxy_protocol_from;
    factories.push_back(transports::make_tcp_listener_factory(tcp, [&s](transports::TcpListener& l) {
      std::lock_guard lock(s.listeners_mu);
      s.tcp_counters.push_back(l.counters_handle());
    }));
  }
  add_encrypted_listeners(c, factories, s.tls, proxy_protocol_from, client_limits);
  if (!c.dnssec) log::warning("DNSSEC validation is off (dnssec.validation: false)");

  std::optional<TargetUser> run_as;
  if (!c.user.empty()) run_as = lookup_user(c.user);  // an unknown user stops the start at once

  unsigned threads = c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
  s.workers.resize(threads);
  // Each worker's server table exists before the workers do: the warm
  // restart's loader fills them while the pool starts.
  std::vector<ServerStateTable*> tables;
  for (WorkerState& w : s.workers) {
    w.servers = std::make_shared<ServerStateTable>(static_cast<size_t>(c.server_state_entries));
    tables.push_back(w.servers.get());
  }
  s.persistence->set_server_tables(std::move(tables));
  s.persistence->prepare_directory(run_as ? static_cast<int>(run_as->uid) : -1,
                                   run_as ? static_cast<int>(run_as->gid) : -1);
  s.persistence->start_loading();
  // The policy's files are read before any listener answers: a list or a
  // zone that cannot be loaded stops the start, naming it.
  s.policy = std::make_unique<PolicyRuntime>(threads, s.cache);
  {
    policy::BuildReport report = s.policy->load(c.policy);
    for (const auto& w : report.warnings) log::warning("policy: {}", w);
    if (has_policy(c.policy))
      log::info("policy: {} entries loaded in {:.3f} s", report.entries, report.seconds);
  }
  s.pipeline_settings.policy_counters = &s.policy->counters();
  if (!c.event_log.file.empty()) {
    eventlog::EventLogOptions eo;
    eo.path = c.event_log.file;
    eo.workers = threads;
    eo.sample = c.event_log.sample;
    eo.max_per_second = c.event_log.max_per_second;
    eo.queue_size = c.event_log.queue_size;
    s.event_log = std::make_unique<eventlog::EventLog>(eo);
    s.pipeline_settings.event_log = s.event_log.get();
  }
  if (!c.dnstap_socket.empty() || !c.dnstap_file.empty()) {
    s.dnstap = std::make_unique<transports::DnstapWriter>(dnstap_options_from(c, threads));
    s.pipeline_settings.dnstap = s.dnstap.get();
  }

  transports::WorkerHooks hooks;
  hooks.start = [&s](const transports::WorkerContext& ctx) -> transports::QueryHandler* {
    WorkerState& w = s.workers[ctx.index];
    w.upstream = std::make_unique<transports::NetworkUpstream>(ctx.loop);
    w.pool = std::make_unique<transports::UpstreamPool>(ctx.loop);
    w.timers = std::make_unique<LoopTimerService>(ctx.loop, *transports::LoopClock::current());
    w.network = std::make_unique<UpstreamAdapter>(*w.upstream, *w.timers, w.pool.get());
    w.network->set_forward_table(s.forward);
    if (s.dnstap) w.network->set_dnstap(s.dnstap.get(), ctx.index);
    WalkerOptions options = s.walker_options;
    options.servers = w.servers;
    w.walker = std::make_unique<Walker>(*w.network, *w.timers, std::move(options), s.hints, &s.cache);
    w.pipeline = std::make_unique<QueryPipeline>(s.pipeline_settings, *s.acl, s.cache, *w.walker, *w.timers,
                                                 w.stats->counters);
    w.pipeline->set_policy(s.policy->current());
    return w.pipeline.get();
  };
  hooks.stop = [&s](const transports::WorkerContext& ctx, std::function<void()> done) {
    WorkerState& w = s.workers[ctx.index];
    if (ctx.index == 0 && s.anchor_keeper) s.anchor_keeper->stop();  // it probes through this walker
    // Pipeline and walker first (they cancel their timers and packets),
    // then the upstream sockets, which close asynchronously.
    w.pipeline.reset();
    w.walker.reset();
    w.network.reset();
    w.timers.reset();
    transports::UpstreamPool* pool = w.pool.get();
    pool->shutdown([&w, done = std::move(done)]() mutable {
      w.pool.reset();
      transports::NetworkUpstream* up = w.upstream.get();
      up->shutdown([&w, done = std::move(done)] {
        w.upstream.reset();
        done();
      });
    });
  };

  transports::WorkerPool pool(transports::WorkerPoolConfig{.workers = threads, .shutdown_grace_ms = 1000},
                              std::move(factories), std::move(hooks));
  // A head start for the warm restart (CachePersistence::kLoadHeadStart):
  // the usual cache is in before the first question; a larger one goes on
  // loading while the workers answer.
  if (!s.persistence->wait_loaded(CachePersistence::kLoadHeadStart))
    log::info("warm restart: still loading; answering meanwhile");
  pool.start();
  s.pool = &pool;
  if (s.anchor_keeper) {
    // Probes run on worker 0; new anchors go to every worker's walker.
    pool.post(0, [&s, &pool](const transports::WorkerContext&) {
      WorkerState& w = s.workers[0];
      s.anchor_keeper->start(*w.walker, *w.timers, [&s, &pool](std::shared_ptr<const dnssec::TrustAnchors> a) {
        for (unsigned i = 0; i < pool.size(); ++i) {
          pool.post(i, [&s, a](const transports::WorkerContext& ctx) {
            if (auto& walker = s.workers[ctx.index].walker) walker->set_trust_anchors(a, true);
          });
        }
      });
    });
  }

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
  if (run_as && s.anchor_keeper) {
    const std::string error = s.anchor_keeper->hand_over(run_as->uid, run_as->gid);
    if (!error.empty()) log::warning("trust anchors: {}: the state file may not be updated as {}", error, run_as->name);
  }
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
  if (s.event_log) where += fmt::format(", event log to {}", c.event_log.file);
  if (!c.proxy_protocol_from.empty()) where += fmt::format(", PROXY v2 from {}", fmt::join(proxies, " "));
  log::info("sextant listening on {} with {} worker(s); root hints: {}", where, threads,
            c.root_hints.empty() ? "embedded" : c.root_hints);

  while (s.stop_requests.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (s.reload_requested.exchange(false)) reload_configuration(s);
    s.persistence->on_tick(std::chrono::steady_clock::now());
  }
  drain(s);
  log::info("stopping: answering in-flight queries for up to 1 s");
  admin.stop();
  s.admin = nullptr;
  s.pool = nullptr;
  pool.stop();
  // Flushes the query logs now that no worker writes to them.
  s.pipeline_settings.dnstap = nullptr;
  s.dnstap.reset();
  // The workers are gone: the cache holds still while it is written.
  s.persistence->save_at_stop();
  s.pipeline_settings.event_log = nullptr;
  s.event_log.reset();
  DaemonSnapshot totals;
  for (const WorkerState& w : s.workers) add_pipeline(totals, w.stats->counters);
  const PipelineTotals& st = totals.pipeline;
  log::info("stopped after {} queries ({} cache hits, {} misses, {} SERVFAIL)", st.queries, st.cache_hits,
            st.cache_misses, st.servfail);
}

}  // namespace sextant::resolver
