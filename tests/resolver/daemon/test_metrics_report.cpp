// One list of metrics, rendered as Prometheus text and as plain lines.
#include <catch2/catch.hpp>

#include "resolver/daemon/daemon_metrics.h"
#include "resolver/daemon/metrics_report.h"

using namespace sextant::resolver;

TEST_CASE("metrics report: Prometheus exposition with HELP, TYPE, labels and escaping", "[metrics]") {
  MetricsReport r;
  r.counter("sextant_queries_total", "Client queries.", 42);
  r.counter("sextant_cache_hits_total", "Hits by store.", 7, {{"store", "rrsets"}});
  r.counter("sextant_cache_hits_total", "Hits by store.", 3, {{"store", "answers"}});
  r.gauge("sextant_uptime_seconds", "Uptime.", 1.5);
  r.gauge("sextant_build_info", "Version as a label.\nSecond line \\ here.", 1,
          {{"version", "1.0 \"beta\"\n"}});
  CHECK(r.prometheus() ==
        "# HELP sextant_queries_total Client queries.\n"
        "# TYPE sextant_queries_total counter\n"
        "sextant_queries_total 42\n"
        "# HELP sextant_cache_hits_total Hits by store.\n"
        "# TYPE sextant_cache_hits_total counter\n"
        "sextant_cache_hits_total{store=\"rrsets\"} 7\n"
        "sextant_cache_hits_total{store=\"answers\"} 3\n"
        "# HELP sextant_uptime_seconds Uptime.\n"
        "# TYPE sextant_uptime_seconds gauge\n"
        "sextant_uptime_seconds 1.5\n"
        "# HELP sextant_build_info Version as a label.\\nSecond line \\\\ here.\n"
        "# TYPE sextant_build_info gauge\n"
        "sextant_build_info{version=\"1.0 \\\"beta\\\"\\n\"} 1\n");
  CHECK(r.plain() ==
        "sextant_queries_total 42\n"
        "sextant_cache_hits_total{store=\"rrsets\"} 7\n"
        "sextant_cache_hits_total{store=\"answers\"} 3\n"
        "sextant_uptime_seconds 1.5\n"
        "sextant_build_info{version=\"1.0 \\\"beta\\\"\\n\"} 1\n");
  CHECK(r.value("sextant_cache_hits_total", {{"store", "answers"}}) == 3);
  CHECK(r.value("sextant_cache_hits_total") == -1);
}

TEST_CASE("metrics report: bad names and split families are programming errors", "[metrics]") {
  MetricsReport r;
  CHECK_THROWS_AS(r.counter("9starts_with_digit", "x", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("has-dash", "x", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_name", "x", 1, {{"bad:label", "v"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_name", "x", 1, {{"__reserved", "v"}}), std::invalid_argument);
  r.counter("a_total", "a", 1);
  r.counter("b_total", "b", 1);
  CHECK_THROWS_AS(r.counter("a_total", "a", 2), std::invalid_argument);
  CHECK(is_valid_metric_name("sextant:rule_1"));
}

TEST_CASE("daemon metrics: sums over workers and listeners land under one name each", "[metrics]") {
  DaemonSnapshot snap;
  snap.version = "test";
  WalkerStats w1, w2;
  w1.resolutions = 5;
  w2.resolutions = 7;
  w1.validated_bogus = 1;
  w2.validated_secure = 4;
  add_walker(snap, w1);
  add_walker(snap, w2);
  sextant::transports::UpstreamCounters up1, up2;
  up1.sent_udp.add(10);
  up2.sent_udp.add(5);
  up2.sent_tcp.add(2);
  up1.timeouts.add(3);
  add_upstream(snap, up1);
  add_upstream(snap, up2);
  sextant::transports::UdpCounters udp1, udp2;
  udp1.received.add(100);
  udp2.received.add(50);
  add_udp(snap, udp1);
  add_udp(snap, udp2);
  PipelineStats pipeline;
  pipeline.queries = 150;
  pipeline.servfail = 2;
  add_pipeline(snap, pipeline);
  add_pipeline(snap, pipeline);  // a second worker with the same counts
  snap.cache.rrsets.entries = 9;

  MetricsReport r = build_metrics_report(snap);
  CHECK(r.value("sextant_resolutions_total") == 12);
  CHECK(r.value("sextant_dnssec_validations_total", {{"result", "bogus"}}) == 1);
  CHECK(r.value("sextant_dnssec_validations_total", {{"result", "secure"}}) == 4);
  CHECK(r.value("sextant_upstream_queries_total", {{"transport", "udp"}}) == 15);
  CHECK(r.value("sextant_upstream_queries_total", {{"transport", "tcp"}}) == 2);
  CHECK(r.value("sextant_upstream_timeouts_total") == 3);
  CHECK(r.value("sextant_udp_queries_total") == 150);
  CHECK(r.value("sextant_tcp_queries_total") == 0);  // no TCP listener: present, zero
  CHECK(r.value("sextant_queries_total") == 300);  // both workers' pipelines
  CHECK(r.value("sextant_error_answers_total", {{"rcode", "SERVFAIL"}}) == 4);
  CHECK(r.value("sextant_cache_entries", {{"store", "rrsets"}}) == 9);
  CHECK(r.value("sextant_build_info", {{"version", "test"}}) == 1);
  // Every family renders (no duplicate or split family throws) and the
  // plain form has one line per sample.
  std::string text = r.prometheus();
  CHECK(text.find("# TYPE sextant_upstream_sockets gauge\n") != std::string::npos);
  CHECK(text.find("# TYPE sextant_resolutions_total counter\n") != std::string::npos);
}

TEST_CASE("metrics report: histograms are cumulative with +Inf, _sum and _count", "[metrics]") {
  MetricsReport r;
  r.histogram("sextant_resolution_duration_seconds", "Miss to answer.", {0.001, 0.1}, {2, 3, 1}, 0.75);
  CHECK(r.prometheus() ==
        "# HELP sextant_resolution_duration_seconds Miss to answer.\n"
        "# TYPE sextant_resolution_duration_seconds histogram\n"
        "sextant_resolution_duration_seconds_bucket{le=\"0.001\"} 2\n"
        "sextant_resolution_duration_seconds_bucket{le=\"0.1\"} 5\n"
        "sextant_resolution_duration_seconds_bucket{le=\"+Inf\"} 6\n"
        "sextant_resolution_duration_seconds_sum 0.75\n"
        "sextant_resolution_duration_seconds_count 6\n");
  CHECK(r.value("sextant_resolution_duration_seconds_count") == 6);
  CHECK(r.value("sextant_resolution_duration_seconds_bucket", {{"le", "0.1"}}) == 5);
  CHECK_THROWS_AS(r.histogram("h", "x", {1.0}, {1}, 0), std::invalid_argument);
}

TEST_CASE("resolution times: each duration lands in the first bucket that holds it", "[metrics]") {
  ResolutionTimes t;
  t.record(std::chrono::microseconds(0));
  t.record(std::chrono::microseconds(1000));     // exactly 1 ms: the 1 ms bucket
  t.record(std::chrono::microseconds(1001));     // the 5 ms bucket
  t.record(std::chrono::milliseconds(4999));     // the 5 s bucket
  t.record(std::chrono::milliseconds(6000));     // beyond the last bound
  CHECK(t.buckets[0].get() == 2);
  CHECK(t.buckets[1].get() == 1);
  CHECK(t.buckets[ResolutionTimes::kBoundsMs.size() - 1].get() == 1);
  CHECK(t.buckets[ResolutionTimes::kBoundsMs.size()].get() == 1);
  CHECK(t.total_us.get() == 0 + 1000 + 1001 + 4999000 + 6000000);
  DaemonSnapshot snap;
  add_resolution_times(snap, t);
  add_resolution_times(snap, t);
  MetricsReport r = build_metrics_report(snap);
  CHECK(r.value("sextant_resolution_duration_seconds_count") == 10);
  CHECK(r.value("sextant_resolution_duration_seconds_bucket", {{"le", "0.001"}}) == 4);
}

TEST_CASE("daemon metrics: policy entries, hits, zones and the event log", "[metrics][policy]") {
  DaemonSnapshot snap;
  PipelineStats pipeline;
  pipeline.policy_answers = 3;
  pipeline.dns64_synthesised = 2;
  add_pipeline(snap, pipeline);
  // Two lists and two zones: each family's samples must stay together
  // (an interleaved loop once made /metrics answer 500).
  snap.policy.components = {{"blocklist", "ads", 10, 400}, {"rpz", "rpz.test.", 5, 300}, {"blocklist", "more", 1, 40}};
  snap.policy.zones = {{"rpz.test.", 42u, 1700000000}, {"second", std::nullopt, 1700000001}};
  snap.policy.hits = {{sextant::resolver::policy::PolicyKind::blocked, "ads", sextant::resolver::policy::RpzAction::nxdomain, 7},
                      {sextant::resolver::policy::PolicyKind::rpz, "rpz.test.", sextant::resolver::policy::RpzAction::drop, 1}};
  snap.event_log_enabled = true;
  snap.event_log_written = 9;
  snap.event_log_dropped_rate = 4;
  MetricsReport r = build_metrics_report(snap);
  CHECK_NOTHROW(r.prometheus());
  CHECK(r.value("sextant_policy_entries", {{"kind", "blocklist"}, {"name", "ads"}}) == 10);
  CHECK(r.value("sextant_policy_bytes", {{"kind", "rpz"}, {"name", "rpz.test."}}) == 300);
  CHECK(r.value("sextant_policy_hits_total", {{"kind", "blocked"}, {"name", "ads"}, {"action", "nxdomain"}}) == 7);
  CHECK(r.value("sextant_rpz_serial", {{"zone", "rpz.test."}}) == 42);
  CHECK(r.value("sextant_rpz_serial", {{"zone", "second"}}) == -1);
  CHECK(r.value("sextant_rpz_loaded_timestamp_seconds", {{"zone", "second"}}) == 1700000001);
  CHECK(r.value("sextant_policy_answers_total") == 3);
  CHECK(r.value("sextant_dns64_synthesised_total") == 2);
  CHECK(r.value("sextant_event_log_events_total") == 9);
  CHECK(r.value("sextant_event_log_dropped_total", {{"reason", "rate-limit"}}) == 4);
}

TEST_CASE("daemon metrics: PROXY v2 outcomes by transport, and the drain", "[metrics]") {
  using sextant::transports::ProxyOutcome;
  DaemonSnapshot snap;
  snap.version = "test";
  sextant::transports::UdpCounters udp1, udp2;
  udp1.proxy[static_cast<size_t>(ProxyOutcome::proxied)].add(7);
  udp2.proxy[static_cast<size_t>(ProxyOutcome::proxied)].add(3);
  udp2.proxy[static_cast<size_t>(ProxyOutcome::untrusted)].add(2);
  add_udp(snap, udp1);
  add_udp(snap, udp2);
  sextant::transports::TcpCounters tcp;
  tcp.proxy[static_cast<size_t>(ProxyOutcome::missing)].add(1);
  add_tcp(snap, tcp);
  snap.dot.proxy[static_cast<size_t>(ProxyOutcome::local)] = 4;
  snap.draining = true;
  snap.health_checks_failed = 5;

  MetricsReport r = build_metrics_report(snap);
  auto proxy = [&](const char* transport, const char* outcome) {
    return r.value("sextant_proxy_protocol_total", {{"transport", transport}, {"outcome", outcome}});
  };
  CHECK(proxy("udp", "proxied") == 10);
  CHECK(proxy("udp", "untrusted") == 2);
  CHECK(proxy("tcp", "missing") == 1);
  CHECK(proxy("dot", "local") == 4);
  CHECK(proxy("doh", "invalid") == 0);
  CHECK(r.value("sextant_draining") == 1);
  CHECK(r.value("sextant_health_checks_failed_total") == 5);
  CHECK(r.prometheus().find("# TYPE sextant_proxy_protocol_total counter\n") != std::string::npos);
}
