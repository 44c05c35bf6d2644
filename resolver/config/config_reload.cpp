#include "resolver/config/config_reload.h"

#include <utility>

namespace sextant::resolver {

namespace {

struct RestartOnly {
  const char* key;
  bool (*same)(const Config&, const Config&);
};

// Every setting but those applied live (access-control, log-level,
// negative trust anchors, forward and stub zones), by its key in the configuration
// table (a unit test checks that together they are the whole table).
#define SEXTANT_RESTART_ONLY(field, key) \
  RestartOnly { key, [](const Config& a, const Config& b) { return a.field == b.field; } }
const RestartOnly kRestartOnly[] = {
    SEXTANT_RESTART_ONLY(listen, "server.listen"),
    SEXTANT_RESTART_ONLY(threads, "server.threads"),
    SEXTANT_RESTART_ONLY(tcp_idle_timeout_ms, "server.tcp-idle-timeout"),
    SEXTANT_RESTART_ONLY(tcp_connections_per_worker, "server.tcp-connections-per-worker"),
    SEXTANT_RESTART_ONLY(max_connections_per_client, "server.max-connections-per-client"),
    SEXTANT_RESTART_ONLY(handshake_timeout_ms, "server.handshake-timeout"),
    SEXTANT_RESTART_ONLY(doq_max_streams, "server.doq.max-streams"),
    SEXTANT_RESTART_ONLY(dot_listen, "server.dot.listen"),
    SEXTANT_RESTART_ONLY(doh_listen, "server.doh.listen"),
    SEXTANT_RESTART_ONLY(doh_path, "server.doh.path"),
    SEXTANT_RESTART_ONLY(doh_h2c, "server.doh.h2c"),
    SEXTANT_RESTART_ONLY(doh_trusted_proxies, "server.doh.trusted-proxies"),
    SEXTANT_RESTART_ONLY(doh_http1, "server.doh.http1"),
    SEXTANT_RESTART_ONLY(doh_http1_max_requests, "server.doh.http1-max-requests"),
    SEXTANT_RESTART_ONLY(doh_http1_pipeline, "server.doh.http1-pipeline"),
    SEXTANT_RESTART_ONLY(doh_max_streams, "server.doh.max-streams"),
    SEXTANT_RESTART_ONLY(doh_http3_listen, "server.doh.http3-listen"),
    SEXTANT_RESTART_ONLY(doh_json, "server.doh.json"),
    SEXTANT_RESTART_ONLY(doh_json_path, "server.doh.json-path"),
    SEXTANT_RESTART_ONLY(proxy_protocol_from, "server.proxy-protocol-from"),
    SEXTANT_RESTART_ONLY(drain_time_ms, "server.drain-time"),
    SEXTANT_RESTART_ONLY(health_check_names, "server.health-check-names"),
    SEXTANT_RESTART_ONLY(doq_listen, "server.doq.listen"),
    SEXTANT_RESTART_ONLY(tls_certificate, "server.tls.certificate"),
    SEXTANT_RESTART_ONLY(tls_key, "server.tls.key"),
    SEXTANT_RESTART_ONLY(user, "server.user"),
    SEXTANT_RESTART_ONLY(root_hints, "resolver.root-hints"),
    SEXTANT_RESTART_ONLY(qname_minimisation, "resolver.qname-minimisation"),
    SEXTANT_RESTART_ONLY(query_private_addresses, "resolver.query-private-addresses"),
    SEXTANT_RESTART_ONLY(edns_buffer_size, "resolver.edns-buffer-size"),
    SEXTANT_RESTART_ONLY(resolution_timeout_ms, "resolver.resolution-timeout"),
    SEXTANT_RESTART_ONLY(upstream_initial_timeout_ms, "resolver.upstream-initial-timeout"),
    SEXTANT_RESTART_ONLY(max_upstream_queries, "resolver.max-upstream-queries"),
    SEXTANT_RESTART_ONLY(max_subquery_depth, "resolver.max-subquery-depth"),
    SEXTANT_RESTART_ONLY(max_cname_hops, "resolver.max-cname-hops"),
    SEXTANT_RESTART_ONLY(max_queries_per_zone, "resolver.max-queries-per-zone"),
    SEXTANT_RESTART_ONLY(max_queries_per_server, "resolver.max-queries-per-server"),
    SEXTANT_RESTART_ONLY(drop_over_limit, "resolver.over-limit"),
    SEXTANT_RESTART_ONLY(server_hold_down_ms, "resolver.server-hold-down"),
    SEXTANT_RESTART_ONLY(max_glueless_per_delegation, "resolver.max-glueless-per-delegation"),
    SEXTANT_RESTART_ONLY(max_glueless_per_question, "resolver.max-glueless-per-question"),
    SEXTANT_RESTART_ONLY(cache_memory_bytes, "cache.memory"),
    SEXTANT_RESTART_ONLY(cache_max_ttl, "cache.max-ttl"),
    SEXTANT_RESTART_ONLY(cache_min_ttl, "cache.min-ttl"),
    SEXTANT_RESTART_ONLY(cache_negative_max_ttl, "cache.negative-max-ttl"),
    SEXTANT_RESTART_ONLY(serve_stale, "cache.serve-stale"),
    SEXTANT_RESTART_ONLY(stale_max_ttl, "cache.stale-max-ttl"),
    SEXTANT_RESTART_ONLY(stale_client_timeout_ms, "cache.stale-client-timeout"),
    SEXTANT_RESTART_ONLY(prefetch, "cache.prefetch"),
    SEXTANT_RESTART_ONLY(prefetch_threshold_percent, "cache.prefetch-threshold"),
    SEXTANT_RESTART_ONLY(server_state_entries, "cache.server-state-entries"),
    SEXTANT_RESTART_ONLY(warm_restart, "cache.warm-restart.enabled"),
    SEXTANT_RESTART_ONLY(warm_restart_file, "cache.warm-restart.file"),
    SEXTANT_RESTART_ONLY(warm_restart_save_interval_ms, "cache.warm-restart.save-interval"),
    SEXTANT_RESTART_ONLY(dnssec, "dnssec.validation"),
    SEXTANT_RESTART_ONLY(trust_anchor_file, "dnssec.trust-anchor-file"),
    SEXTANT_RESTART_ONLY(clock_skew_s, "dnssec.clock-skew"),
    SEXTANT_RESTART_ONLY(nsec3_max_iterations, "dnssec.nsec3-max-iterations"),
    SEXTANT_RESTART_ONLY(bogus_ttl, "dnssec.bogus-ttl"),
    SEXTANT_RESTART_ONLY(aggressive_nsec, "dnssec.aggressive-nsec"),
    SEXTANT_RESTART_ONLY(max_signature_validations, "dnssec.max-signature-validations"),
    SEXTANT_RESTART_ONLY(max_nsec3_hashes, "dnssec.max-nsec3-hashes"),
    SEXTANT_RESTART_ONLY(auto_trust_anchor_file, "dnssec.auto-trust-anchor-file"),
    SEXTANT_RESTART_ONLY(trust_anchor_add_holddown_s, "dnssec.trust-anchor-add-holddown"),
    SEXTANT_RESTART_ONLY(trust_anchor_remove_holddown_s, "dnssec.trust-anchor-remove-holddown"),
    SEXTANT_RESTART_ONLY(trust_anchor_keep_missing_s, "dnssec.trust-anchor-keep-missing"),
    SEXTANT_RESTART_ONLY(trust_anchor_refresh_s, "dnssec.trust-anchor-refresh"),
    SEXTANT_RESTART_ONLY(root_key_sentinel, "dnssec.root-key-sentinel"),
    SEXTANT_RESTART_ONLY(control_socket, "control.socket"),
    SEXTANT_RESTART_ONLY(metrics_listen, "metrics.listen"),
    SEXTANT_RESTART_ONLY(metrics_path, "metrics.path"),
    SEXTANT_RESTART_ONLY(dnstap_socket, "dnstap.socket"),
    SEXTANT_RESTART_ONLY(dnstap_file, "dnstap.file"),
    SEXTANT_RESTART_ONLY(dnstap_log_queries, "dnstap.log-queries"),
    SEXTANT_RESTART_ONLY(dnstap_log_responses, "dnstap.log-responses"),
    SEXTANT_RESTART_ONLY(dnstap_log_resolver_queries, "dnstap.log-resolver-queries"),
    SEXTANT_RESTART_ONLY(dnstap_log_resolver_responses, "dnstap.log-resolver-responses"),
    SEXTANT_RESTART_ONLY(dnstap_log_forwarder_queries, "dnstap.log-forwarder-queries"),
    SEXTANT_RESTART_ONLY(dnstap_log_forwarder_responses, "dnstap.log-forwarder-responses"),
    SEXTANT_RESTART_ONLY(dnstap_identity, "dnstap.identity"),
    SEXTANT_RESTART_ONLY(rate_limit.rate, "rate-limit.rate"),
    SEXTANT_RESTART_ONLY(rate_limit.burst, "rate-limit.burst"),
    SEXTANT_RESTART_ONLY(rate_limit.slip, "rate-limit.slip"),
    SEXTANT_RESTART_ONLY(rate_limit.ipv4_prefix, "rate-limit.ipv4-prefix"),
    SEXTANT_RESTART_ONLY(rate_limit.ipv6_prefix, "rate-limit.ipv6-prefix"),
    SEXTANT_RESTART_ONLY(rate_limit.table_bytes, "rate-limit.table-size"),
    SEXTANT_RESTART_ONLY(rate_limit.exempt, "rate-limit.exempt"),
    SEXTANT_RESTART_ONLY(cookies.server, "cookies.server"),
    SEXTANT_RESTART_ONLY(cookies.client, "cookies.client"),
    SEXTANT_RESTART_ONLY(cookies.secret, "cookies.secret"),
    SEXTANT_RESTART_ONLY(cookies.accept_secrets, "cookies.accept-secrets"),
    SEXTANT_RESTART_ONLY(cookies.rotation_s, "cookies.rotation"),
    SEXTANT_RESTART_ONLY(rebinding.enabled, "rebinding.enabled"),
    SEXTANT_RESTART_ONLY(rebinding.private_zones, "rebinding.private-zones"),
    SEXTANT_RESTART_ONLY(ecs.enabled, "ecs.enabled"),
    SEXTANT_RESTART_ONLY(ecs.zones, "ecs.zones"),
    SEXTANT_RESTART_ONLY(ecs.servers, "ecs.servers"),
    SEXTANT_RESTART_ONLY(ecs.ipv4_prefix, "ecs.ipv4-prefix"),
    SEXTANT_RESTART_ONLY(ecs.ipv6_prefix, "ecs.ipv6-prefix"),
    SEXTANT_RESTART_ONLY(ecs.add_for, "ecs.add-for"),
    SEXTANT_RESTART_ONLY(ecs.trusted_clients, "ecs.trusted-clients"),
    SEXTANT_RESTART_ONLY(ecs.cache_share_percent, "ecs.cache-share"),
    SEXTANT_RESTART_ONLY(event_log.file, "event-log.file"),
    SEXTANT_RESTART_ONLY(event_log.sample, "event-log.sample"),
    SEXTANT_RESTART_ONLY(event_log.max_per_second, "event-log.max-per-second"),
    SEXTANT_RESTART_ONLY(event_log.queue_size, "event-log.queue-size"),
};
#undef SEXTANT_RESTART_ONLY

}  // namespace

ReloadPlan plan_reload(const Config& running, const Config& next) {
  ReloadPlan plan;
  plan.access_control_changed = !(running.access_control == next.access_control);
  plan.log_level_changed = running.log_level != next.log_level;
  plan.negative_trust_anchors_changed = running.negative_trust_anchors != next.negative_trust_anchors;
  plan.forward_zones_changed = running.forward_zones != next.forward_zones || running.stub_zones != next.stub_zones;
  plan.policy_settings_changed = !(running.policy.top == next.policy.top) || running.policy.views != next.policy.views;
  plan.policy_rebuild = plan.policy_settings_changed || has_policy(running.policy) || has_policy(next.policy);
  for (const RestartOnly& r : kRestartOnly)
    if (!r.same(running, next)) plan.need_restart.emplace_back(r.key);
  return plan;
}

bool has_policy(const PolicyConfig& p) {
  auto set_has = [&](const PolicySetConfig& s) {
    return !s.local_zones.empty() || !s.local_data.empty() || !s.local_zone_files.empty() || !s.hosts_files.empty() ||
           s.allowlist.enabled || !s.blocklists.empty() || !s.rpz.empty() || s.dns64.enabled;
  };
  if (set_has(p.top)) return true;
  return !p.views.empty();
}

std::vector<std::string> live_settings() {
  return {"access-control", "server.log-level", "dnssec.negative-trust-anchors", "forward-zones", "stub-zones",
          "policy.local-zones",
          "policy.local-data", "policy.local-data-ptr", "policy.local-zone-files", "policy.hosts-files",
          "policy.allowlist", "policy.blocklists", "policy.rpz", "policy.dns64", "policy.cname-inspection",
          "policy.views"};
}

std::vector<std::string> restart_only_settings() {
  std::vector<std::string> keys;
  for (const RestartOnly& r : kRestartOnly) keys.emplace_back(r.key);
  return keys;
}

}  // namespace sextant::resolver
