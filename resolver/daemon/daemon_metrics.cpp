#include "resolver/daemon/daemon_metrics.h"

#include <algorithm>
#include <iterator>

#include "resolver/daemon/defence_wiring.h"

namespace sextant::resolver {

namespace {

using transports::RelaxedCounter;

template <typename Owner, typename Field>
struct Row {
  Field Owner::*field;
  const char* name;
  const char* help;
  bool gauge = false;
};

using WalkerRow = Row<WalkerStats, uint64_t>;
const WalkerRow kWalkerRows[] = {
    {&WalkerStats::resolutions, "sextant_resolutions_total", "Resolutions started by the walker."},
    {&WalkerStats::deduplicated, "sextant_resolutions_joined_total",
     "Client questions that joined an identical resolution already in flight."},
    {&WalkerStats::upstream_queries, "sextant_walker_upstream_queries_total",
     "Queries the walker sent to authoritative servers."},
    {&WalkerStats::shared_questions, "sextant_walker_shared_queries_total",
     "Walk steps that took the reply of another request's identical query in flight instead of sending."},
    {&WalkerStats::shared_question_retries, "sextant_walker_shared_query_retries_total",
     "Walk steps whose shared query timed out or failed: asked again themselves."},
    {&WalkerStats::upstream_timeouts, "sextant_walker_upstream_timeouts_total",
     "Retransmission timers that fired."},
    {&WalkerStats::spoofed_dropped, "sextant_walker_mismatched_replies_total",
     "Replies dropped for a wrong ID, question or source (possible spoofing)."},
    {&WalkerStats::case_mismatches, "sextant_walker_case_mismatches_total",
     "Replies that did not echo the 0x20 case pattern (retried over TCP)."},
    {&WalkerStats::tcp_fallbacks, "sextant_walker_tcp_fallbacks_total", "Queries retried over TCP."},
    {&WalkerStats::edns_fallbacks, "sextant_walker_edns_fallbacks_total",
     "Servers that needed a query without EDNS."},
    {&WalkerStats::qmin_fallbacks, "sextant_walker_qname_minimisation_fallbacks_total",
     "Names for which relaxed QNAME minimisation gave up."},
    {&WalkerStats::primings, "sextant_walker_primings_total", "Root priming queries."},
    {&WalkerStats::servfails, "sextant_walker_failures_total", "Resolutions that ended in SERVFAIL."},
    {&WalkerStats::deadline_expired, "sextant_walker_deadlines_expired_total",
     "Resolutions stopped by the resolution-timeout budget."},
    {&WalkerStats::key_queries, "sextant_dnssec_key_queries_total", "DS and DNSKEY sub-queries."},
    {&WalkerStats::held_down_failures, "sextant_walker_held_down_failures_total",
     "Questions failed at once (SERVFAIL, EDE 22) because every server of their zone is held down."},
    {&WalkerStats::over_limit_zone, "sextant_walker_over_zone_limit_total",
     "Questions refused because their zone had resolver.max-queries-per-zone queries in flight."},
    {&WalkerStats::over_limit_server, "sextant_walker_over_server_limit_total",
     "Questions refused because every server left to ask had resolver.max-queries-per-server in flight."},
    {&WalkerStats::glueless_limited, "sextant_walker_glueless_limited_total",
     "NS names without glue left unresolved by the per-delegation / per-question caps (NXNSAttack)."},
    {&WalkerStats::aggressive_answers, "sextant_dnssec_aggressive_answers_total",
     "Negative answers synthesised from validated NSEC/NSEC3 (RFC 8198) without asking."},
    {&WalkerStats::cookie_mismatches, "sextant_walker_cookie_mismatches_total",
     "Replies whose DNS cookie was not ours (dropped as spoofed; also in mismatched_replies)."},
    {&WalkerStats::cookie_tcp_fallbacks, "sextant_walker_cookie_tcp_fallbacks_total",
     "UDP replies without a cookie from a server that sends cookies: asked again over TCP."},
    {&WalkerStats::badcookie_retries, "sextant_walker_badcookie_retries_total",
     "BADCOOKIE replies: asked again with the server's new cookie."},
    {&WalkerStats::ecs_queries, "sextant_walker_ecs_queries_total",
     "Queries sent with the client's subnet (EDNS Client Subnet)."},
    {&WalkerStats::ecs_scoped_answers, "sextant_walker_ecs_scoped_answers_total",
     "Replies scoped to the client's subnet (kept out of the shared caches)."},
    {&WalkerStats::ecs_mismatches, "sextant_walker_ecs_mismatches_total",
     "Replies whose client subnet option did not echo ours (dropped)."},
    {&WalkerStats::bogus_retries, "sextant_dnssec_bogus_retries_total",
     "Questions and DNSKEY sets asked again of another server after a server's data failed validation."},
    {&WalkerStats::forwarded_queries, "sextant_walker_forwarded_queries_total",
     "Queries the walker sent to forward zones' upstream resolvers."},
    {&WalkerStats::forward_fallbacks, "sextant_forward_first_fallbacks_total",
     "forward-first questions walked after every upstream of their zone failed."},
    {&WalkerStats::zone_cut_probes, "sextant_dnssec_zone_cut_probes_total",
     "DS queries made to find the zone of unsigned forwarded data."},
};

using UpstreamRow = Row<transports::UpstreamCounters, RelaxedCounter>;
const UpstreamRow kUpstreamRows[] = {
    {&transports::UpstreamCounters::answered, "sextant_upstream_answered_total",
     "Upstream queries that got a matching reply."},
    {&transports::UpstreamCounters::timeouts, "sextant_upstream_timeouts_total", "Upstream queries that timed out."},
    {&transports::UpstreamCounters::network_errors, "sextant_upstream_network_errors_total",
     "Upstream queries that failed at the socket (unreachable, reset)."},
    {&transports::UpstreamCounters::bad_responses, "sextant_upstream_bad_responses_total",
     "Upstream replies that could not be parsed."},
    {&transports::UpstreamCounters::ignored_datagrams, "sextant_upstream_ignored_datagrams_total",
     "Datagrams with a wrong ID, question or source (possible spoofing)."},
    {&transports::UpstreamCounters::refused_destinations, "sextant_upstream_refused_destinations_total",
     "Queries not sent because the destination address is not allowed."},
    {&transports::UpstreamCounters::overloaded, "sextant_upstream_overloaded_total",
     "Queries not sent because every upstream socket of the worker was in use."},
    {&transports::UpstreamCounters::cancelled, "sextant_upstream_cancelled_total",
     "Upstream queries cancelled before their reply (resolution finished or stopped)."},
    {&transports::UpstreamCounters::sockets, "sextant_upstream_sockets", "Upstream sockets open.", true},
};

using UdpRow = Row<transports::UdpCounters, RelaxedCounter>;
const UdpRow kUdpRows[] = {
    {&transports::UdpCounters::received, "sextant_udp_queries_total", "Datagrams received from clients."},
    {&transports::UdpCounters::too_short, "sextant_udp_too_short_total", "Datagrams under 12 octets, dropped."},
    {&transports::UdpCounters::receive_errors, "sextant_udp_receive_errors_total", "recvmmsg errors."},
    {&transports::UdpCounters::answered, "sextant_udp_answers_total", "Answers sent over UDP."},
    {&transports::UdpCounters::answers_queued, "sextant_udp_answers_queued_total",
     "Answers that waited for a full send buffer."},
    {&transports::UdpCounters::send_errors, "sextant_udp_send_errors_total", "Answers the kernel refused."},
    {&transports::UdpCounters::oversize_answers, "sextant_udp_oversize_answers_total",
     "Answers too large for a datagram, dropped."},
    {&transports::UdpCounters::no_pending_slot, "sextant_udp_answers_lost_total",
     "Answers lost because the table of pending answers was full."},
    {&transports::UdpCounters::pending, "sextant_udp_pending_answers", "Answers owed to UDP clients.", true},
};

using TcpRow = Row<transports::TcpCounters, RelaxedCounter>;
const TcpRow kTcpRows[] = {
    {&transports::TcpCounters::accepted, "sextant_tcp_connections_accepted_total", "TCP connections accepted."},
    {&transports::TcpCounters::refused, "sextant_tcp_connections_refused_total",
     "TCP connections closed at once: over server.tcp-connections-per-worker with none idle."},
    {&transports::TcpCounters::refused_per_client, "sextant_tcp_connections_refused_per_client_total",
     "TCP connections closed at once: over server.max-connections-per-client."},
    {&transports::TcpCounters::evicted_idle, "sextant_tcp_connections_evicted_total",
     "Idle TCP connections closed to make room for a new one."},
    {&transports::TcpCounters::request_timeouts, "sextant_tcp_request_timeouts_total",
     "TCP connections closed at the idle timeout with a query partly received."},
    {&transports::TcpCounters::closed_idle, "sextant_tcp_idle_timeouts_total", "TCP connections closed idle."},
    {&transports::TcpCounters::queries, "sextant_tcp_queries_total", "Queries received over TCP."},
    {&transports::TcpCounters::answered, "sextant_tcp_answers_total", "Answers sent over TCP."},
    {&transports::TcpCounters::zero_length_frames, "sextant_tcp_protocol_errors_total",
     "TCP connections closed for a zero-length frame."},
    {&transports::TcpCounters::write_errors, "sextant_tcp_write_errors_total", "TCP writes that failed."},
    {&transports::TcpCounters::connections, "sextant_tcp_connections", "Open TCP connections.", true},
};

template <typename Rows, typename Owner>
void add_rows(std::vector<uint64_t>& sums, const Rows& rows, const Owner& owner) {
  if (sums.size() < std::size(rows)) sums.resize(std::size(rows), 0);
  for (size_t i = 0; i < std::size(rows); ++i) sums[i] += (owner.*(rows[i].field)).get();
}

template <typename Rows>
void report_rows(MetricsReport& r, const Rows& rows, const std::vector<uint64_t>& sums) {
  for (size_t i = 0; i < std::size(rows); ++i) {
    uint64_t v = i < sums.size() ? sums[i] : 0;
    if (rows[i].gauge) r.gauge(rows[i].name, rows[i].help, static_cast<double>(v));
    else r.counter(rows[i].name, rows[i].help, v);
  }
}

// One sample of `name` per item, labelled `label`="item's name".
template <typename T, size_t N, typename Get>
void report_each(MetricsReport& r, const char* label, const std::pair<const char*, const T*> (&items)[N],
                 const char* name, const char* help, bool gauge, Get get) {
  for (const auto& [item, value] : items) {
    if (gauge) r.gauge(name, help, static_cast<double>(get(*value)), {{label, item}});
    else r.counter(name, help, get(*value), {{label, item}});
  }
}

void report_store(MetricsReport& r, const cache::CacheStats& c) {
  const std::pair<const char*, const cache::StoreStats*> stores[] = {
      {"answers", &c.answers}, {"rrsets", &c.rrsets}, {"negative", &c.negatives}, {"delegations", &c.delegations},
      {"ecs_answers", &c.scoped_answers}};
  auto each = [&](const char* name, const char* help, bool gauge, auto get) {
    report_each(r, "store", stores, name, help, gauge, get);
  };
  each("sextant_cache_entries", "Entries in each cache store.", true, [](const auto& s) { return s.entries; });
  each("sextant_cache_bytes", "Bytes held by each cache store.", true, [](const auto& s) { return s.bytes; });
  each("sextant_cache_hits_total", "Lookups that found data (fresh or stale).", false,
       [](const auto& s) { return s.hits; });
  each("sextant_cache_misses_total", "Lookups that found nothing.", false, [](const auto& s) { return s.misses; });
  each("sextant_cache_stale_hits_total", "Lookups answered from expired data (RFC 8767).", false,
       [](const auto& s) { return s.stale_served; });
  each("sextant_cache_prefetches_total", "Hits that started a refresh before expiry.", false,
       [](const auto& s) { return s.prefetches; });
  each("sextant_cache_inserts_total", "Entries stored.", false, [](const auto& s) { return s.inserts; });
  each("sextant_cache_rejected_total", "Entries too large for their store.", false,
       [](const auto& s) { return s.rejected; });
  each("sextant_cache_evictions_total", "Entries pushed out by the memory bound.", false,
       [](const auto& s) { return s.evictions; });
}

void report_encrypted(MetricsReport& r, const DaemonSnapshot& s) {
  const std::pair<const char*, const transports::TransportCountersSnapshot*> ts[] = {
      {"dot", &s.dot}, {"doh", &s.doh}, {"doq", &s.doq}};
  auto each = [&](const char* name, const char* help, bool gauge, auto get) {
    report_each(r, "transport", ts, name, help, gauge, get);
  };
  using Snap = transports::TransportCountersSnapshot;
  each("sextant_encrypted_connections_total", "Connections accepted (QUIC: created).", false,
       [](const Snap& c) { return c.connections_accepted; });
  each("sextant_encrypted_connections_refused_total", "Connections over the per-worker limit, none idle.", false,
       [](const Snap& c) { return c.connections_refused; });
  each("sextant_encrypted_connections_refused_per_client_total",
       "Connections over server.max-connections-per-client, closed at once.", false,
       [](const Snap& c) { return c.refused_per_client; });
  each("sextant_encrypted_connections_evicted_total", "Idle connections closed to make room for a new one.", false,
       [](const Snap& c) { return c.evicted_idle; });
  each("sextant_encrypted_handshake_timeouts_total", "Connections closed at server.handshake-timeout.", false,
       [](const Snap& c) { return c.handshake_timeouts; });
  each("sextant_encrypted_request_timeouts_total",
       "Connections closed at the idle timeout with a request begun but not complete (slow headers, a "
       "DoQ stream without its end).",
       false,
       [](const Snap& c) { return c.request_timeouts; });
  each("sextant_encrypted_flood_closes_total",
       "HTTP/2 connections ended (GOAWAY ENHANCE_YOUR_CALM) for PING/SETTINGS/PRIORITY frames or stream "
       "resets over their budget.",
       false, [](const Snap& c) { return c.flood_closes; });
  each("sextant_encrypted_buffered_bytes",
       "Memory held for connections: output not yet on the socket, HTTP/2 request bodies and HPACK "
       "tables, unfinished TLS records.",
       true,
       [](const Snap& c) { return c.buffered_bytes; });
  each("sextant_encrypted_connections", "Open connections.", true, [](const Snap& c) { return c.connections_active; });
  each("sextant_encrypted_handshakes_total", "Completed TLS handshakes.", false,
       [](const Snap& c) { return c.handshakes_completed; });
  each("sextant_encrypted_handshake_failures_total", "TLS errors, wrong ALPN, handshake timeouts.", false,
       [](const Snap& c) { return c.handshakes_failed; });
  each("sextant_encrypted_sessions_resumed_total", "Handshakes that resumed a TLS session (ticket).", false,
       [](const Snap& c) { return c.sessions_resumed; });
  each("sextant_encrypted_early_data_total", "Handshakes whose 0-RTT data was accepted.", false,
       [](const Snap& c) { return c.early_data_accepted; });
  each("sextant_encrypted_queries_total", "Queries received.", false, [](const Snap& c) { return c.queries; });
  each("sextant_encrypted_answers_total", "Answers sent.", false, [](const Snap& c) { return c.responses; });
  each("sextant_encrypted_errors_total", "Malformed input, protocol errors, HTTP 4xx.", false,
       [](const Snap& c) { return c.errors; });
}

void report_policy(MetricsReport& r, const PolicySnapshot& p) {
  // (A family's samples must be added together: one loop per family.)
  for (const auto& c : p.components)
    r.gauge("sextant_policy_entries", "Names, records or triggers loaded, per list, zone and local data.",
            static_cast<double>(c.entries), {{"kind", c.kind}, {"name", c.name}});
  for (const auto& c : p.components)
    r.gauge("sextant_policy_bytes", "Memory held by each list, zone and local data.", static_cast<double>(c.bytes),
            {{"kind", c.kind}, {"name", c.name}});
  for (const auto& h : p.hits)
    r.counter("sextant_policy_hits_total", "Queries a list, zone or local data decided, by action.", h.hits,
              {{"kind", policy::to_string(h.kind)}, {"name", h.name}, {"action", policy::to_string(h.action)}});
  for (const auto& z : p.zones)
    if (z.serial)
      r.gauge("sextant_rpz_serial", "SOA serial of each response policy zone loaded.", static_cast<double>(*z.serial),
              {{"zone", z.name}});
  for (const auto& z : p.zones)
    r.gauge("sextant_rpz_loaded_timestamp_seconds", "When each response policy zone was loaded (file or transfer).",
            static_cast<double>(z.loaded_at), {{"zone", z.name}});
  r.counter("sextant_policy_swaps_total", "Policies swapped in (reloads, zone transfers).", p.swaps);
  r.counter("sextant_policy_flushed_answers_total", "Cached answers flushed because the policy they depended on changed.",
            p.flushed_answers);
}

void report_rpz_feed(MetricsReport& r, const std::vector<RpzFeedZoneStats>& zones) {
  const char* transfers = "Zone transfers of RPZ zones from their primaries, by kind (axfr, ixfr) and result.";
  for (const auto& z : zones) {
    r.counter("sextant_rpz_transfers_total", transfers, z.axfr_ok, {{"zone", z.name}, {"kind", "axfr"}, {"result", "ok"}});
    r.counter("sextant_rpz_transfers_total", transfers, z.axfr_failed,
              {{"zone", z.name}, {"kind", "axfr"}, {"result", "failed"}});
    r.counter("sextant_rpz_transfers_total", transfers, z.ixfr_ok, {{"zone", z.name}, {"kind", "ixfr"}, {"result", "ok"}});
    r.counter("sextant_rpz_transfers_total", transfers, z.ixfr_failed,
              {{"zone", z.name}, {"kind", "ixfr"}, {"result", "failed"}});
  }
  for (const auto& z : zones)
    r.gauge("sextant_rpz_transfer_timestamp_seconds", "When each RPZ zone from a primary last changed (transfer or cache).",
            static_cast<double>(z.last_transfer), {{"zone", z.name}});
  for (const auto& z : zones)
    r.gauge("sextant_rpz_check_timestamp_seconds", "When each RPZ zone's primary last answered a SOA check.",
            static_cast<double>(z.last_check), {{"zone", z.name}});
  for (const auto& z : zones)
    r.counter("sextant_rpz_refresh_failures_total", "SOA checks of RPZ zones that no primary answered (or whose transfer failed).",
              z.checks_failed, {{"zone", z.name}});
  const char* notifies = "NOTIFY messages for RPZ zones, by result (refused: a sender not in allow-notify).";
  for (const auto& z : zones) {
    r.counter("sextant_rpz_notify_total", notifies, z.notify_accepted, {{"zone", z.name}, {"result", "accepted"}});
    r.counter("sextant_rpz_notify_total", notifies, z.notify_refused, {{"zone", z.name}, {"result", "refused"}});
  }
  for (const auto& z : zones)
    r.gauge("sextant_rpz_expired", "1 while an RPZ zone is past its SOA expire without contact (the last copy still serves).",
            z.expired ? 1 : 0, {{"zone", z.name}});
  for (const auto& z : zones)
    r.counter("sextant_rpz_expired_total", "Times an RPZ zone passed its SOA expire without contact with a primary.",
              z.expired_events, {{"zone", z.name}});
}

void report_trust_anchors(MetricsReport& r, const DaemonSnapshot& s) {
  const TrustAnchorKeeper::Counters& c = s.trust_anchor_counters;
  const char* probes = "RFC 5011 probes of managed trust anchors' DNSKEY RRsets, by result.";
  r.counter("sextant_trust_anchor_probes_total", probes, c.probes_ok, {{"result", "ok"}});
  r.counter("sextant_trust_anchor_probes_total", probes, c.probes_failed, {{"result", "failed"}});
  r.counter("sextant_trust_anchor_write_errors_total",
            "Failed rewrites of the trust anchor state file (dnssec.auto-trust-anchor-file).", c.write_errors);
  using dnssec::ManagedKeyState;
  const std::pair<const char*, ManagedKeyState> states[] = {
      {"add_pending", ManagedKeyState::add_pending}, {"valid", ManagedKeyState::valid},
      {"missing", ManagedKeyState::missing}, {"revoked", ManagedKeyState::revoked}};
  for (const auto& a : s.trust_anchors) {
    for (const auto& [label, state] : states) {
      const auto n = std::count_if(a.keys.begin(), a.keys.end(), [&](const auto& k) { return k.state == state; });
      r.gauge("sextant_trust_anchor_keys", "Keys of each managed trust anchor, by RFC 5011 state.",
              static_cast<double>(n), {{"zone", a.zone.to_text()}, {"state", label}});
    }
  }
}

void report_doh_http(MetricsReport& r, const transports::DohHttpSnapshot& d) {
  for (size_t i = 0; i < d.requests.size(); ++i) {
    r.counter("sextant_doh_requests_total", "DoH requests read, by HTTP version (1.1, 2, 3).", d.requests[i],
              {{"http", transports::kHttpVersionNames[i]}});
  }
  r.counter("sextant_doh_json_requests_total", "DoH requests for the JSON API (application/dns-json).",
            d.json_requests);
  for (size_t i = 0; i < d.statuses.size(); ++i) {
    unsigned status = transports::kDohStatuses[i];
    r.counter("sextant_doh_responses_total", "DoH responses by HTTP status.", d.statuses[i],
              {{"status", status ? std::to_string(status) : std::string("other")}});
  }
}

void report_forward_upstreams(MetricsReport& r, const std::vector<transports::UpstreamEndpointStats>& ups) {
  using Stats = transports::UpstreamEndpointStats;
  auto each = [&](const char* name, const char* help, bool gauge, auto get, const MetricLabels& extra = {}) {
    for (const Stats& u : ups) {
      MetricLabels labels{{"upstream", u.label}, {"transport", transports::to_string(u.channel)}};
      labels.insert(labels.end(), extra.begin(), extra.end());
      if (gauge) r.gauge(name, help, static_cast<double>(get(u)), labels);
      else r.counter(name, help, get(u), labels);
    }
  };
  each("sextant_forward_queries_total", "Queries sent to each forward upstream.", false,
       [](const Stats& u) { return u.queries; });
  each("sextant_forward_answers_total", "Answers received from each forward upstream.", false,
       [](const Stats& u) { return u.answers; });
  for (const Stats& u : ups) {
    r.gauge("sextant_forward_rtt_seconds_sum",
            "Sum of the round-trip times of the answers, in seconds (divided by the answers: the mean RTT).",
            static_cast<double>(u.rtt_sum_us) / 1e6, {{"upstream", u.label}, {"transport", transports::to_string(u.channel)}});
  }
  const char* failures = "Failures by kind: timeout, connect (refused, unreachable), handshake, auth (certificate "
                         "or pin), protocol (bad frame, HTTP status, reset), closed (with queries in flight).";
  const std::pair<const char*, uint64_t Stats::*> kinds[] = {
      {"timeout", &Stats::timeouts},          {"connect", &Stats::connect_failures},
      {"handshake", &Stats::handshake_failures}, {"auth", &Stats::auth_failures},
      {"protocol", &Stats::protocol_errors},  {"closed", &Stats::closed_in_flight}};
  for (const auto& [kind, field] : kinds) {
    each("sextant_forward_failures_total", failures, false, [field = field](const Stats& u) { return u.*field; },
         {{"kind", kind}});
  }
  each("sextant_forward_connections", "Open connections to each forward upstream.", true,
       [](const Stats& u) { return u.open_connections; });
  each("sextant_forward_connections_opened_total", "Connections opened to each forward upstream.", false,
       [](const Stats& u) { return u.connections_opened; });
  each("sextant_forward_handshakes_total", "TLS/QUIC handshakes with each forward upstream, full or resumed.", false,
       [](const Stats& u) { return u.handshakes; }, {{"resumed", "false"}});
  each("sextant_forward_handshakes_total", "TLS/QUIC handshakes with each forward upstream, full or resumed.", false,
       [](const Stats& u) { return u.resumed_handshakes; }, {{"resumed", "true"}});
  each("sextant_forward_reused_queries_total", "Queries sent on a connection that had carried one before.", false,
       [](const Stats& u) { return u.reused_queries; });
}

// PROXY v2 headers by transport and outcome: per datagram on UDP, per
// connection on TCP, DoT and DoH.
void report_proxy(MetricsReport& r, const DaemonSnapshot& s) {
  using transports::ProxyOutcome;
  const std::pair<const char*, const std::array<uint64_t, transports::kProxyOutcomeCount>*> ts[] = {
      {"udp", &s.udp_proxy}, {"tcp", &s.tcp_proxy}, {"dot", &s.dot.proxy}, {"doh", &s.doh.proxy}};
  const ProxyOutcome outcomes[] = {ProxyOutcome::proxied, ProxyOutcome::local, ProxyOutcome::untrusted,
                                   ProxyOutcome::missing, ProxyOutcome::invalid};
  const char* help =
      "PROXY v2 headers by outcome (per datagram on UDP, per connection on streams): proxied and local are "
      "accepted; untrusted (a header from a peer not in server.proxy-protocol-from), missing (none from a "
      "trusted proxy) and invalid are dropped.";
  for (const auto& [transport, counts] : ts)
    for (ProxyOutcome o : outcomes)
      r.counter("sextant_proxy_protocol_total", help, (*counts)[static_cast<size_t>(o)],
                {{"transport", transport}, {"outcome", transports::to_string(o)}});
}

}  // namespace

void add_pipeline(DaemonSnapshot& s, const PipelineStats& p) {
  PipelineTotals& t = s.pipeline;
  s.have_pipeline = true;
  t.queries += p.queries.load(std::memory_order_relaxed);
  t.cache_hits += p.cache_hits.load(std::memory_order_relaxed);
  t.cache_misses += p.cache_misses.load(std::memory_order_relaxed);
  t.stale_served += p.stale_served.load(std::memory_order_relaxed);
  t.prefetches += p.prefetches.load(std::memory_order_relaxed);
  t.dropped += p.dropped.load(std::memory_order_relaxed);
  t.formerr += p.formerr.load(std::memory_order_relaxed);
  t.refused += p.refused.load(std::memory_order_relaxed);
  t.notimp += p.notimp.load(std::memory_order_relaxed);
  t.servfail += p.servfail.load(std::memory_order_relaxed);
  t.truncated += p.truncated.load(std::memory_order_relaxed);
  t.policy_answers += p.policy_answers.load(std::memory_order_relaxed);
  t.policy_rewrites += p.policy_rewrites.load(std::memory_order_relaxed);
  t.policy_dropped += p.policy_dropped.load(std::memory_order_relaxed);
  t.dns64_synthesised += p.dns64_synthesised.load(std::memory_order_relaxed);
}

void add_forward_upstreams(DaemonSnapshot& s, const std::vector<transports::UpstreamEndpointStats>& upstreams) {
  for (const auto& u : upstreams) {
    auto it = std::find_if(s.forward_upstreams.begin(), s.forward_upstreams.end(), [&](const auto& known) {
      return known.label == u.label && known.channel == u.channel;
    });
    if (it == s.forward_upstreams.end()) {
      s.forward_upstreams.push_back(u);
      continue;
    }
    it->queries += u.queries;
    it->answers += u.answers;
    it->timeouts += u.timeouts;
    it->connect_failures += u.connect_failures;
    it->handshake_failures += u.handshake_failures;
    it->auth_failures += u.auth_failures;
    it->protocol_errors += u.protocol_errors;
    it->closed_in_flight += u.closed_in_flight;
    it->connections_opened += u.connections_opened;
    it->handshakes += u.handshakes;
    it->resumed_handshakes += u.resumed_handshakes;
    it->reused_queries += u.reused_queries;
    it->rtt_sum_us += u.rtt_sum_us;
    it->open_connections += u.open_connections;
  }
}

void add_walker(DaemonSnapshot& s, const WalkerStats& w) {
  for (const WalkerRow& row : kWalkerRows) s.walker.*(row.field) += w.*(row.field);
  s.walker.validated_secure += w.validated_secure;
  s.walker.validated_insecure += w.validated_insecure;
  s.walker.validated_bogus += w.validated_bogus;
  s.walker.validated_indeterminate += w.validated_indeterminate;
  for (size_t i = 0; i < kUpstreamReasons; ++i) s.walker.upstream_by_reason[i] += w.upstream_by_reason[i];
}

void add_upstream(DaemonSnapshot& s, const transports::UpstreamCounters& u) {
  add_rows(s.upstream, kUpstreamRows, u);
  if (s.upstream.size() < std::size(kUpstreamRows) + 2) s.upstream.resize(std::size(kUpstreamRows) + 2, 0);
  s.upstream[std::size(kUpstreamRows)] += u.sent_udp.get();
  s.upstream[std::size(kUpstreamRows) + 1] += u.sent_tcp.get();
}

void add_udp(DaemonSnapshot& s, const transports::UdpCounters& u) {
  add_rows(s.udp, kUdpRows, u);
  for (size_t i = 0; i < s.udp_proxy.size(); ++i) s.udp_proxy[i] += u.proxy[i].get();
}

void add_tcp(DaemonSnapshot& s, const transports::TcpCounters& t) {
  add_rows(s.tcp, kTcpRows, t);
  for (size_t i = 0; i < s.tcp_proxy.size(); ++i) s.tcp_proxy[i] += t.proxy[i].get();
}

void add_resolution_times(DaemonSnapshot& s, const ResolutionTimes& t) {
  s.resolution_buckets.resize(t.buckets.size(), 0);
  for (size_t i = 0; i < t.buckets.size(); ++i) s.resolution_buckets[i] += t.buckets[i].get();
  s.resolution_total_us += t.total_us.get();
}

MetricsReport build_metrics_report(const DaemonSnapshot& s) {
  MetricsReport r;
  r.gauge("sextant_build_info", "Always 1; the version is a label.", 1, {{"version", s.version}});
  r.gauge("sextant_uptime_seconds", "Seconds since the daemon started.", s.uptime_seconds);
  r.gauge("sextant_workers", "Worker threads.", s.workers);
  r.gauge("sextant_workers_reporting", "Workers whose per-thread counters are in this report.",
          s.workers_reporting);

  if (s.have_pipeline) {
    const PipelineTotals& p = s.pipeline;
    r.counter("sextant_queries_total", "Client queries received (every transport).", p.queries);
    r.counter("sextant_answers_from_cache_total", "Client queries answered from the cache.", p.cache_hits);
    r.counter("sextant_answers_resolved_total", "Client queries that needed the walker.", p.cache_misses);
    r.counter("sextant_stale_answers_total", "Answers served from expired data (RFC 8767, EDE 3/19).",
              p.stale_served);
    r.counter("sextant_prefetches_total", "Refreshes started before expiry by a cache hit.", p.prefetches);
    r.counter("sextant_queries_dropped_total", "Queries dropped unanswered (access-control deny).", p.dropped);
    r.counter("sextant_truncated_answers_total", "UDP answers sent with TC=1.", p.truncated);
    const char* help = "Answers with an error rcode, by rcode.";
    r.counter("sextant_error_answers_total", help, p.formerr, {{"rcode", "FORMERR"}});
    r.counter("sextant_error_answers_total", help, p.refused, {{"rcode", "REFUSED"}});
    r.counter("sextant_error_answers_total", help, p.notimp, {{"rcode", "NOTIMP"}});
    r.counter("sextant_error_answers_total", help, p.servfail, {{"rcode", "SERVFAIL"}});
    r.counter("sextant_policy_answers_total", "Queries answered, refused or dropped by policy before the cache.",
              p.policy_answers);
    r.counter("sextant_policy_rewrites_total", "Resolved answers rewritten by policy (CNAME targets, RPZ response IP).",
              p.policy_rewrites);
    r.counter("sextant_policy_dropped_total", "Queries dropped by policy (deny zones, RPZ DROP).",
              p.policy_dropped);
    r.counter("sextant_dns64_synthesised_total", "AAAA answers synthesised from A records (RFC 6147).",
              p.dns64_synthesised);
  }
  report_policy(r, s.policy);
  report_rpz_feed(r, s.rpz_feed);

  if (s.defences) report_defences(r, *s.defences);

  {
    std::vector<double> bounds;
    for (uint32_t ms : ResolutionTimes::kBoundsMs) bounds.push_back(ms / 1000.0);
    std::vector<uint64_t> counts = s.resolution_buckets;
    counts.resize(bounds.size() + 1, 0);
    r.histogram("sextant_resolution_duration_seconds",
                "Time from a cache miss to its answer (from the walker, or stale data after the client timer).",
                bounds, counts, static_cast<double>(s.resolution_total_us) / 1e6);
  }

  report_store(r, s.cache);
  r.gauge("sextant_cache_restored_entries",
          "Cache entries and servers restored from the warm-restart snapshot at start.",
          static_cast<double>(s.warm_restart.restored_entries));
  r.gauge("sextant_cache_restore_in_progress", "1 while the warm-restart snapshot is being loaded.",
          s.warm_restart.loading ? 1 : 0);
  const char* saves = "Warm-restart snapshots written to cache.warm-restart.file, by result.";
  r.counter("sextant_cache_snapshot_saves_total", saves, s.warm_restart.saves_ok, {{"result", "ok"}});
  r.counter("sextant_cache_snapshot_saves_total", saves, s.warm_restart.saves_failed,
            {{"result", "failed"}});
  r.gauge("sextant_cache_snapshot_entries", "Entries in the last warm-restart snapshot written.",
          static_cast<double>(s.warm_restart.last_save_entries));
  r.gauge("sextant_servers_known", "Authoritative server addresses with remembered RTT, hold-down or quirks.",
          static_cast<double>(s.servers_known));

  for (const WalkerRow& row : kWalkerRows) r.counter(row.name, row.help, s.walker.*(row.field));
  const char* validated = "Client questions validated, by DNSSEC outcome.";
  r.counter("sextant_dnssec_validations_total", validated, s.walker.validated_secure, {{"result", "secure"}});
  r.counter("sextant_dnssec_validations_total", validated, s.walker.validated_insecure, {{"result", "insecure"}});
  r.counter("sextant_dnssec_validations_total", validated, s.walker.validated_bogus, {{"result", "bogus"}});
  r.counter("sextant_dnssec_validations_total", validated, s.walker.validated_indeterminate,
            {{"result", "indeterminate"}});
  const char* reasons = "Queries the walker sent to authoritative servers, by why each was sent.";
  for (size_t i = 0; i < kUpstreamReasons; ++i) {
    r.counter("sextant_walker_upstream_queries_by_reason_total", reasons, s.walker.upstream_by_reason[i],
              {{"reason", to_string(static_cast<UpstreamReason>(i))}});
  }

  std::vector<uint64_t> upstream = s.upstream;
  upstream.resize(std::size(kUpstreamRows) + 2, 0);
  const char* sent = "Queries sent to authoritative servers, by transport.";
  r.counter("sextant_upstream_queries_total", sent, upstream[std::size(kUpstreamRows)], {{"transport", "udp"}});
  r.counter("sextant_upstream_queries_total", sent, upstream[std::size(kUpstreamRows) + 1], {{"transport", "tcp"}});
  report_rows(r, kUpstreamRows, upstream);
  report_forward_upstreams(r, s.forward_upstreams);

  report_rows(r, kUdpRows, s.udp);
  report_rows(r, kTcpRows, s.tcp);
  report_encrypted(r, s);
  report_doh_http(r, s.doh_http);
  report_proxy(r, s);
  r.gauge("sextant_draining", "1 while the daemon drains after SIGTERM (server.drain-time), else 0.",
          s.draining ? 1 : 0);
  r.counter("sextant_health_checks_failed_total",
            "Load-balancer health checks answered SERVFAIL (EDE 14) while draining.", s.health_checks_failed);

  if (s.event_log_enabled) {
    r.counter("sextant_event_log_events_total", "Per-query events written to the event log.", s.event_log_written);
    const char* dropped = "Per-query events dropped, by reason (the writer's queue was full, or the rate cap).";
    r.counter("sextant_event_log_dropped_total", dropped, s.event_log_dropped_full, {{"reason", "queue-full"}});
    r.counter("sextant_event_log_dropped_total", dropped, s.event_log_dropped_rate, {{"reason", "rate-limit"}});
  }
  if (s.dnstap_enabled) {
    r.counter("sextant_dnstap_frames_total", "Query-log frames handed to the dnstap writer.", s.dnstap_logged);
    r.counter("sextant_dnstap_dropped_total",
              "Query-log frames dropped: the collector was not keeping up (queue full).", s.dnstap_dropped);
  }
  if (s.trust_anchors_managed) report_trust_anchors(r, s);
  r.counter("sextant_control_commands_total", "Commands run on the control socket.", s.control_commands);
  r.counter("sextant_metrics_scrapes_total", "GET /metrics served.", s.metrics_scrapes);
  r.counter("sextant_admin_bad_requests_total", "Malformed or refused control and metrics requests.",
            s.admin_bad_requests);
  return r;
}

}  // namespace sextant::resolver
