// The daemon seen from its admin thread: per-worker counters gathered into
// one snapshot (metrics, status), and a reload switching access control,
// policy, forward zones and the rest on every worker.
#include "resolver/daemon/daemon_internal.h"

namespace sextant::resolver {

// Runs `change` on every worker's loop thread and waits (bounded) until all
// have run it; false if one did not in time (its old data must then stay alive).
// `change` is shared with the posted tasks: one that runs after the wait
// gave up still has it (and whatever it captured) to run.
bool on_every_worker(Daemon::State& s, std::function<void(WorkerState&)> change,
                     std::chrono::milliseconds wait) {
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
  snap.defences = &s.defence_stats;
  for (const WorkerState& w : s.workers) add_pipeline(snap, w.stats->counters);
  snap.cache = s.cache.stats();
  if (s.persistence) {
    const WarmRestartStats& w = s.persistence->stats();
    snap.warm_restart.restored_entries = w.restored_entries.load();
    snap.warm_restart.saves_ok = w.saves_ok.load();
    snap.warm_restart.saves_failed = w.saves_failed.load();
    snap.warm_restart.last_save_entries = w.last_save_entries.load();
    snap.warm_restart.loading = w.loading.load();
  }
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
  if (s.policy) snap.policy = s.policy->snapshot();
  if (s.event_log) {
    snap.event_log_enabled = true;
    snap.event_log_written = s.event_log->written();
    snap.event_log_dropped_full = s.event_log->dropped_queue_full();
    snap.event_log_dropped_rate = s.event_log->dropped_rate_limited();
  }
  if (s.anchor_keeper) {
    snap.trust_anchors_managed = true;
    snap.trust_anchors = s.anchor_keeper->status();
    snap.trust_anchor_counters = s.anchor_keeper->counters();
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
        if (w.network) add_forward_upstreams(gather->sums, w.network->forward_stats());
        add_resolution_times(gather->sums, w.pipeline->resolution_times());
        ++gather->reported;
      },
      wait);
  std::lock_guard lock(gather->mu);
  snap.walker = gather->sums.walker;
  snap.upstream = gather->sums.upstream;
  snap.forward_upstreams = gather->sums.forward_upstreams;
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

// Points every worker's pipeline at `next`, each on its own thread.
bool switch_policy(Daemon::State& s, const std::shared_ptr<const policy::Policy>& next) {
  return on_every_worker(s, [next](WorkerState& w) {
    if (w.pipeline) w.pipeline->set_policy(next);
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

// A reload's forward-zones and stub-zones: the new table, the zones' trust
// anchors and negative trust anchors go to every worker (walker and
// upstream adapter) on its own thread; what the changed zones left in the
// cache and in the workers' memories is dropped. Caller holds reload_mu.
std::string switch_forward_zones(Daemon::State& s, const Config& next, bool& failed) {
  std::shared_ptr<const ForwardTable> table;
  try {
    check_forward_upstreams(next, s.config_path);
    table = ForwardTable::build(next);
  } catch (const std::exception& e) {
    failed = true;
    log::error("reload: keeping the running forward and stub zones: {}", e.what());
    return fmt::format("error: forward-zones/stub-zones not applied: {}\n", e.what());
  }
  std::shared_ptr<const dnssec::TrustAnchors> anchors = s.walker_options.dnssec.anchors;
  std::shared_ptr<const dnssec::NegativeTrustAnchors> ntas = s.walker_options.dnssec.negative_anchors;
  if (s.config.dnssec) {
    anchors = anchors_with(s.base_anchors, *table);
    // The running set (it may hold insecure-add names) minus the old zones'
    // anchors, plus the new ones.
    auto next_ntas = std::make_shared<dnssec::NegativeTrustAnchors>();
    if (ntas) {
      for (const auto& name : ntas->names()) {
        const auto& old = s.forward->negative_anchors();
        bool from_zone = std::find(old.begin(), old.end(), name) != old.end() &&
                         std::find(s.config.negative_trust_anchors.begin(), s.config.negative_trust_anchors.end(),
                                   name.to_text()) == s.config.negative_trust_anchors.end();
        if (!from_zone) next_ntas->add(name);
      }
    }
    for (const auto& name : table->negative_anchors()) {
      const wire::Name* covering = next_ntas->covering(name);
      if (!covering || !(*covering == name)) next_ntas->add(name);
    }
    ntas = next_ntas;
  }
  const std::vector<wire::Name> changed = changed_zones(s.config, next);
  bool ok = on_every_worker(s, [table, anchors, ntas, changed](WorkerState& w) {
    if (w.walker) {
      w.walker->set_configured_zones(table);
      w.walker->set_trust_anchors(anchors, false);
      w.walker->set_negative_trust_anchors(ntas);
      for (const auto& zone : changed) w.walker->forget_zone(zone);
    }
    if (w.network) w.network->set_forward_table(table);
  });
  if (!ok) {
    // A worker that has not switched yet may still read the old ones.
    failed = true;
    s.retired.push_back(s.forward);
    s.retired.push_back(s.walker_options.dnssec.anchors);
    s.retired_ntas.push_back(s.walker_options.dnssec.negative_anchors);
  }
  s.forward = table;
  s.walker_options.configured = table;
  s.walker_options.dnssec.anchors = anchors;
  s.walker_options.dnssec.negative_anchors = ntas;
  std::string flushed;
  for (const auto& zone : changed) {
    s.walker_options.denials->forget(zone);
    s.cache.flush_subtree(zone);
    flushed += (flushed.empty() ? "" : ", ") + zone.to_text();
  }
  s.config.forward_zones = next.forward_zones;
  s.config.stub_zones = next.stub_zones;
  log::info("reload: {} forward and {} stub zones; flushed {}", next.forward_zones.size(), next.stub_zones.size(),
            flushed.empty() ? "nothing" : flushed);
  if (!ok) return "error: forward-zones: not every worker switched in time; run reload again\n";
  return fmt::format("ok: forward-zones and stub-zones applied ({} forward, {} stub; cache flushed at {})\n",
                     next.forward_zones.size(), next.stub_zones.size(), flushed.empty() ? "nothing" : flushed);
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
  if (plan.forward_zones_changed) report += switch_forward_zones(s, next, failed);
  if (plan.negative_trust_anchors_changed) {
    if (!s.config.dnssec) {
      report += "warning: dnssec.negative-trust-anchors changed but validation is off\n";
    } else {
      auto ntas = negative_anchors_from(next.negative_trust_anchors, *s.forward);
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
  if (plan.policy_rebuild && s.policy) {
    std::string policy = s.policy->reload(next.policy, [&s](const auto& p) { return switch_policy(s, p); });
    failed = failed || policy.find("error: policy: not every worker") != std::string::npos;
    s.config.policy = next.policy;
    report += policy;
  }
  if (s.event_log) {
    if (s.event_log->reopen()) report += "ok: event log reopened\n";
    else report += fmt::format("error: event log: cannot reopen {}\n", s.event_log->options().path);
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
      !plan.forward_zones_changed && !plan.policy_settings_changed && plan.need_restart.empty())
    report += "ok: the configuration file is unchanged\n";
  log::info("reload of {} done; the cache was kept", s.config_path);
  return failed ? "error: the reload was not complete\n" + report : report;
}

}  // namespace sextant::resolver
