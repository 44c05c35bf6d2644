#!/usr/bin/python3
"""Writes docs/grafana/sextant.json, the Grafana dashboard over Sextant's
Prometheus metrics (docs/grafana/README.md). Edit the panels here and run

    /usr/bin/python3 docs/grafana/build_dashboard.py

tests/integration/grafana_test.py checks that the committed JSON is what this
script writes, and that every metric (and label value) its queries name
exists in a running Sextant's /metrics.
"""
import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sextant.json")
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = '{instance=~"$instance"}'          # every query is limited to the chosen instances
RATE = "[$__rate_interval]"


def sel(extra=""):
    return '{instance=~"$instance"%s}' % ("," + extra if extra else "")


def rate(metric, by=None, extra=""):
    inner = "rate(%s%s%s)" % (metric, sel(extra), RATE)
    return "sum by (%s) (%s)" % (by, inner) if by else "sum(%s)" % inner


def target(expr, legend, ref):
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


class Layout:
    """Panels two to a row, 12 columns wide, 8 high; rows as separators."""

    def __init__(self):
        self.panels, self.y, self.x, self.next_id = [], 0, 0, 1

    def _id(self):
        self.next_id += 1
        return self.next_id - 1

    def row(self, title):
        if self.x:
            self.y, self.x = self.y + 8, 0
        self.panels.append({"type": "row", "title": title, "id": self._id(), "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}})
        self.y += 1

    def panel(self, kind, title, description, targets, unit="short", width=12, extra=None):
        if self.x + width > 24:
            self.y, self.x = self.y + 8, 0
        p = {"type": kind, "title": title, "description": description, "id": self._id(), "datasource": DS,
             "gridPos": {"h": 8, "w": width, "x": self.x, "y": self.y},
             "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(targets)],
             "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
             "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                         "tooltip": {"mode": "multi", "sort": "desc"}}}
        if extra:
            p.update(extra)
        self.panels.append(p)
        self.x += width
        if self.x >= 24:
            self.y, self.x = self.y + 8, 0


def build():
    L = Layout()
    L.row("Traffic")
    L.panel("timeseries", "Queries by transport",
            "Client queries received per second: UDP and TCP listeners, and the encrypted ones by transport.",
            [(rate("sextant_udp_queries_total"), "udp"), (rate("sextant_tcp_queries_total"), "tcp"),
             (rate("sextant_encrypted_queries_total", "transport"), "{{transport}}")], "reqps")
    L.panel("timeseries", "Answers by transport",
            "Answers sent per second, by transport.",
            [(rate("sextant_udp_answers_total"), "udp"), (rate("sextant_tcp_answers_total"), "tcp"),
             (rate("sextant_encrypted_answers_total", "transport"), "{{transport}}")], "reqps")
    L.panel("timeseries", "Answers by rcode",
            "Client queries per second, and the answers with an error rcode by rcode (NOERROR and NXDOMAIN "
            "are not counted apart: their sum is queries minus errors minus drops).",
            [(rate("sextant_queries_total"), "queries"),
             (rate("sextant_error_answers_total", "rcode"), "{{rcode}}"),
             (rate("sextant_queries_dropped_total"), "dropped (access-control deny)")], "reqps")
    L.panel("timeseries", "Truncated, oversize and lost answers",
            "UDP answers sent with TC=1, too large for a datagram, or lost because the table of pending "
            "answers was full; answers the kernel refused.",
            [(rate("sextant_truncated_answers_total"), "truncated (TC)"),
             (rate("sextant_udp_oversize_answers_total"), "oversize"),
             (rate("sextant_udp_answers_lost_total"), "lost (pending table full)"),
             (rate("sextant_udp_send_errors_total"), "send errors")], "reqps")

    L.row("Cache")
    L.panel("timeseries", "Cache hit ratio",
            "Share of client queries answered from the cache (the rest needed the walker).",
            [("%s / %s" % (rate("sextant_answers_from_cache_total"), rate("sextant_queries_total")), "hit ratio")],
            "percentunit", extra={"fieldConfig": {"defaults": {"unit": "percentunit", "min": 0, "max": 1},
                                                  "overrides": []}})
    L.panel("timeseries", "Cache memory by store",
            "Bytes held by each cache store (bounded by cache.memory).",
            [("sum by (store) (sextant_cache_bytes%s)" % SEL, "{{store}}")], "bytes")
    L.panel("timeseries", "Stale answers and prefetches",
            "Answers served from expired data (RFC 8767) and refreshes started before expiry.",
            [(rate("sextant_stale_answers_total"), "stale answers"), (rate("sextant_prefetches_total"), "prefetches")],
            "reqps")
    L.panel("timeseries", "Cache evictions by store",
            "Entries pushed out by the memory bound: sustained evictions mean cache.memory is small for the load.",
            [(rate("sextant_cache_evictions_total", "store"), "{{store}}")], "ops")

    L.row("Resolution")
    hist = "sum by (le) (rate(sextant_resolution_duration_seconds_bucket%s%s))" % (SEL, RATE)
    L.panel("timeseries", "Resolution time of cache misses",
            "Quantiles of the time from a cache miss to its answer (walker, or stale data after the client timer).",
            [("histogram_quantile(%s, %s)" % (q, hist), "p%s" % int(float(q) * 100)) for q in ("0.5", "0.9", "0.99")],
            "s")
    L.panel("heatmap", "Resolution time distribution",
            "The histogram sextant_resolution_duration_seconds, per bucket.",
            [("sum by (le) (increase(sextant_resolution_duration_seconds_bucket%s%s))" % (SEL, RATE), "{{le}}")],
            "s", extra={"options": {"calculate": False, "yAxis": {"unit": "s"}, "color": {"scheme": "Oranges"},
                                    "cellGap": 1, "tooltip": {"show": True}},
                        "targets": [dict(target("sum by (le) (increase(sextant_resolution_duration_seconds_bucket%s%s))"
                                                % (SEL, RATE), "{{le}}", "A"), format="heatmap")]})
    L.panel("timeseries", "Upstream failures",
            "Queries to authoritative servers that timed out, failed at the socket or came back unreadable; "
            "resolutions that ended in SERVFAIL or hit the resolution-timeout budget.",
            [(rate("sextant_upstream_timeouts_total"), "upstream timeouts"),
             (rate("sextant_upstream_network_errors_total"), "network errors"),
             (rate("sextant_upstream_bad_responses_total"), "bad responses"),
             (rate("sextant_walker_failures_total"), "resolutions SERVFAIL"),
             (rate("sextant_walker_deadlines_expired_total"), "deadlines expired")], "ops")
    L.panel("timeseries", "Upstream queries",
            "Queries sent to authoritative servers, by transport, and resolutions started.",
            [(rate("sextant_upstream_queries_total", "transport"), "{{transport}}"),
             (rate("sextant_resolutions_total"), "resolutions")], "ops")

    L.row("DNSSEC")
    L.panel("timeseries", "DNSSEC outcomes",
            "Client questions validated per second, by outcome (bogus ones are answered SERVFAIL + EDE).",
            [(rate("sextant_dnssec_validations_total", "result"), "{{result}}")], "ops")
    L.panel("timeseries", "DNSSEC work",
            "DS and DNSKEY sub-queries, and negative answers synthesised from validated NSEC/NSEC3 (RFC 8198).",
            [(rate("sextant_dnssec_key_queries_total"), "DS/DNSKEY queries"),
             (rate("sextant_dnssec_aggressive_answers_total"), "aggressive NSEC answers")], "ops")

    L.row("Connections")
    L.panel("timeseries", "Open connections by transport",
            "Open TCP connections and open DoT/DoH/DoQ connections.",
            [("sum(sextant_tcp_connections%s)" % SEL, "tcp"),
             ("sum by (transport) (sextant_encrypted_connections%s)" % SEL, "{{transport}}")])
    L.panel("timeseries", "New, refused and failed connections",
            "Connections accepted per second, refused over server.tcp-connections-per-worker, and failed TLS "
            "handshakes.",
            [(rate("sextant_tcp_connections_accepted_total"), "tcp accepted"),
             (rate("sextant_encrypted_connections_total", "transport"), "{{transport}} accepted"),
             (rate("sextant_tcp_connections_refused_total"), "tcp refused"),
             (rate("sextant_encrypted_connections_refused_total", "transport"), "{{transport}} refused"),
             (rate("sextant_encrypted_handshake_failures_total", "transport"), "{{transport}} handshake failures")],
            "ops")

    L.row("DNS over HTTPS")
    L.panel("timeseries", "DoH requests by HTTP version",
            "Requests read over HTTP/1.1, HTTP/2 and HTTP/3 (the same port: ALPN or the HTTP/2 preface picks the "
            "version; HTTP/3 on server.doh.http3-listen), and those for the JSON API.",
            [(rate("sextant_doh_requests_total", "http"), "HTTP/{{http}}"),
             (rate("sextant_doh_json_requests_total"), "JSON API")], "reqps")
    L.panel("timeseries", "DoH responses by status",
            "200 carries an answer; 400 a bad dns= parameter or body, 404 another path, 405 another method, 413 a "
            "message over 65535 octets, 415 a wrong content type.",
            [(rate("sextant_doh_responses_total", "status"), "{{status}}")], "reqps")

    L.row("Behind a load balancer")
    L.panel("timeseries", "PROXY v2 headers by outcome",
            "Headers from dnsdist (server.proxy-protocol-from), per datagram on UDP and per connection on "
            "streams. missing, untrusted and invalid ones are dropped: anything but zero there is a "
            "misconfigured balancer or someone spoofing.",
            [(rate("sextant_proxy_protocol_total", "transport, outcome"), "{{transport}} {{outcome}}")], "ops")
    L.panel("timeseries", "Draining",
            "1 while an instance drains after SIGTERM (server.drain-time); health checks failed meanwhile.",
            [("max by (instance) (sextant_draining%s)" % SEL, "{{instance}} draining"),
             ("sum by (instance) (increase(sextant_health_checks_failed_total%s%s))" % (SEL, RATE),
              "{{instance}} health checks failed")])

    L.row("Policy and defences")
    L.panel("timeseries", "Policy",
            "Queries answered, refused or dropped by local data, lists and RPZ before the cache; resolved answers "
            "rewritten (CNAME targets, RPZ response IP); AAAA synthesised by DNS64. Per list and zone: "
            "sextant_policy_hits_total.",
            [(rate("sextant_policy_answers_total"), "answered by policy"),
             (rate("sextant_policy_rewrites_total"), "rewritten"),
             (rate("sextant_policy_dropped_total"), "dropped"),
             (rate("sextant_dns64_synthesised_total"), "DNS64")], "ops")
    L.panel("timeseries", "Rate limiting, cookies and rebinding",
            "UDP queries over rate-limit.rate by what they got (dropped, truncated or BADCOOKIE slip, exempt); "
            "client cookies by verdict; rebinding protection's removed addresses and refused answers.",
            [(rate("sextant_rate_limited_total", "action"), "rate limit {{action}}"),
             (rate("sextant_cookie_queries_total", "verdict"), "cookie {{verdict}}"),
             (rate("sextant_rebinding_total", "action"), "rebinding {{action}}")], "ops")
    L.panel("timeseries", "EDNS Client Subnet",
            "ECS (ecs.*, off by default): queries sent upstream with a client subnet, replies scoped to it "
            "(kept out of the shared caches), replies that did not echo our option (dropped); clients' own "
            "options by what they got (used: trusted or /0; ignored: untrusted; formerr).",
            [(rate("sextant_walker_ecs_queries_total"), "sent with a subnet"),
             (rate("sextant_walker_ecs_scoped_answers_total"), "scoped replies"),
             (rate("sextant_walker_ecs_mismatches_total"), "mismatched replies"),
             (rate("sextant_ecs_client_options_total", "action"), "client option {{action}}")], "ops")
    L.panel("timeseries", "ECS-scoped cache",
            "The store of answers for one client subnet: hits (fresh and stale), stale hits (RFC 8767), "
            "prefetches (refreshed with the entry's subnet) and misses; its bytes are on the cache memory panel.",
            [(rate("sextant_cache_hits_total", extra='store="ecs_answers"'), "hits"),
             (rate("sextant_cache_stale_hits_total", extra='store="ecs_answers"'), "stale hits"),
             (rate("sextant_cache_prefetches_total", extra='store="ecs_answers"'), "prefetches"),
             (rate("sextant_cache_misses_total", extra='store="ecs_answers"'), "misses")], "ops")

    L.row("Process")
    L.panel("stat", "Uptime", "Seconds since each instance started.",
            [("sextant_uptime_seconds%s" % SEL, "{{instance}}")], "s", width=8)
    L.panel("stat", "Workers reporting", "Worker threads whose counters made it into the last scrape, of all.",
            [("sum(sextant_workers_reporting%s) / sum(sextant_workers%s)" % (SEL, SEL), "reporting")],
            "percentunit", width=8)
    L.panel("table", "Versions", "sextant_build_info of each instance.",
            [("sextant_build_info%s" % SEL, "{{instance}} {{version}}")], width=8,
            extra={"options": {"showHeader": True}})

    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "title": "Sextant",
        "uid": "sextant-resolver",
        "description": "Sextant's Prometheus metrics (GET /metrics): traffic, cache, resolution, DNSSEC, "
                       "connections, PROXY v2 and draining behind dnsdist.",
        "tags": ["dns", "sextant"],
        "editable": True,
        "schemaVersion": 38,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0},
            {"name": "instance", "label": "Instance", "type": "query", "datasource": DS,
             "query": {"query": "label_values(sextant_build_info, instance)", "refId": "instances"},
             "definition": "label_values(sextant_build_info, instance)", "refresh": 2, "multi": True,
             "includeAll": True, "current": {"text": "All", "value": "$__all"}, "sort": 1, "hide": 0},
        ]},
        "annotations": {"list": []},
        "panels": L.panels,
    }


def render():
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    with open(OUT, "w") as f:
        f.write(render())
    print("wrote %s" % OUT, file=sys.stderr)
