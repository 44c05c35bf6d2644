// What the configuration turns into: the cache's settings, the walker's
// options and trust anchors, the warm-restart store, the listeners and their
// TLS contexts, dnstap. Pure construction; daemon.cpp runs it.
#include "resolver/daemon/daemon_internal.h"

namespace sextant::resolver {

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

// The root anchors (embedded or the configured file); the forward and stub
// zones' own anchors are added to a copy of these (anchors_with()).
dnssec::TrustAnchors base_anchors_from(const Config& c) {
  if (!c.dnssec) return {};
  return c.trust_anchor_file.empty() ? dnssec::TrustAnchors::builtin_root()
                                     : dnssec::TrustAnchors::from_file(c.trust_anchor_file);
}

std::shared_ptr<const dnssec::TrustAnchors> anchors_with(const dnssec::TrustAnchors& base, const ForwardTable& table) {
  auto anchors = std::make_shared<dnssec::TrustAnchors>(base);
  table.add_trust_anchors(*anchors);
  return anchors;
}

// dnssec.negative-trust-anchors and the zones configured with one.
std::shared_ptr<dnssec::NegativeTrustAnchors> negative_anchors_from(const std::vector<std::string>& names,
                                                                    const ForwardTable& table) {
  auto ntas = std::make_shared<dnssec::NegativeTrustAnchors>();
  for (const auto& name : names) ntas->add(wire::Name::from_text(name));
  for (const auto& name : table.negative_anchors()) {
    if (!ntas->covering(name) || !(*ntas->covering(name) == name)) ntas->add(name);
  }
  return ntas;
}

WalkerOptions walker_options_from(const Config& c, const dnssec::TrustAnchors& base_anchors,
                                  const std::shared_ptr<const ForwardTable>& forward) {
  WalkerOptions o;
  o.limits.max_upstream_queries = c.max_upstream_queries;
  o.limits.max_subquery_depth = c.max_subquery_depth;
  o.limits.max_cname_hops = c.max_cname_hops;
  o.limits.resolution_deadline = std::chrono::milliseconds(c.resolution_timeout_ms);
  o.timeouts.initial_rto = std::chrono::milliseconds(c.upstream_initial_timeout_ms);
  o.limits.max_outstanding_per_zone = c.max_queries_per_zone;
  o.limits.max_outstanding_per_server = c.max_queries_per_server;
  o.limits.drop_over_limit = c.drop_over_limit;
  // 0 (or below the table's minimum) only in a Config not filled by the
  // settings table: keep the walker's defaults then.
  if (c.server_hold_down_ms > 0) {
    o.timeouts.dead_hold_down = std::chrono::milliseconds(c.server_hold_down_ms);
    o.timeouts.dead_hold_down_initial = std::min(o.timeouts.dead_hold_down_initial, o.timeouts.dead_hold_down);
  }
  if (c.max_glueless_per_delegation > 0) o.limits.max_glueless_per_cut = c.max_glueless_per_delegation;
  if (c.max_glueless_per_question > 0) o.limits.max_glueless_per_question = c.max_glueless_per_question;
  o.qname_minimisation = c.qname_minimisation;
  o.allow_private_servers = c.query_private_addresses;
  o.edns_udp_size = c.edns_buffer_size;
  o.max_ttl = c.cache_max_ttl;
  o.min_ttl = c.cache_min_ttl;
  // Every resolution's steps go to the log while server.log-level is debug.
  o.trace = std::make_shared<LogWalkTrace>();
  o.max_negative_ttl = c.cache_negative_max_ttl;
  // DNSSEC: on by default (dnssec.validation), chained from the embedded
  // root KSKs or the configured anchor file. The config table always fills
  // the knobs (0 is meaningful for skew, iterations and bogus TTL); the two
  // budgets start at 1, so 0 can only be an unfilled Config: keep the
  // library's default then.
  o.dnssec.enabled = c.dnssec;
  if (c.dnssec) {
    o.dnssec.anchors = anchors_with(base_anchors, *forward);
    o.dnssec.negative_anchors = negative_anchors_from(c.negative_trust_anchors, *forward);
  }
  o.configured = forward;
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

// Warm restart (cache.warm-restart.*): the file, and the DNSSEC settings a
// snapshot must have been written under.
std::unique_ptr<CachePersistence> make_persistence(const Config& c, cache::Cache& cache,
                                                   const WalkerOptions& o) {
  std::vector<wire::Name> ntas;
  for (const auto& name : c.negative_trust_anchors) ntas.push_back(wire::Name::from_text(name));
  SnapshotContext context = SnapshotContext::of(c.dnssec, o.dnssec.anchors.get(),
                                                c.nsec3_max_iterations, ntas);
  context.zones = SnapshotContext::zones_of(c);
  // A snapshot is smaller than the cache it holds; twice the cache's bound
  // (at least 64 MiB) refuses only what cannot be ours.
  uint64_t max_file = std::max<uint64_t>(c.cache_memory_bytes * 2, uint64_t{64} << 20);
  return std::make_unique<CachePersistence>(c.warm_restart ? c.warm_restart_file : std::string(),
                                            c.warm_restart_save_interval_ms, max_file, cache,
                                            std::move(context));
}

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
                             const std::shared_ptr<const transports::TrustedProxies>& proxy_protocol_from,
                             const std::shared_ptr<transports::ClientConnectionTable>& client_limits) {
  transports::TlsFiles files{c.tls_certificate, c.tls_key};
  auto stream_options = [&c, &client_limits](const Endpoint& ep) {
    transports::StreamServerOptions o;
    o.address = ep.address;
    o.port = ep.port;
    o.idle_timeout_ms = c.tcp_idle_timeout_ms;
    o.handshake_timeout_ms = c.handshake_timeout_ms;
    o.max_connections = c.tcp_connections_per_worker;
    o.client_limits = client_limits;
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
      hc.handshake_timeout_ms = c.handshake_timeout_ms;
      hc.client_limits = client_limits;
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
      qc.handshake_timeout_ms = c.handshake_timeout_ms;
      qc.max_streams_per_connection = c.doq_max_streams;
      qc.client_limits = client_limits;
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
  o.log_forwarder_queries = c.dnstap_log_forwarder_queries;
  o.log_forwarder_responses = c.dnstap_log_forwarder_responses;
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

}  // namespace sextant::resolver
