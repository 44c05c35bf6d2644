#!/usr/bin/python3
"""The Grafana dashboard (docs/grafana/sextant.json) against a running Sextant.

  grafana_test.py BINARY

- the committed JSON is what docs/grafana/build_dashboard.py writes (no drift);
- it is a loadable dashboard: unique panel ids, panels inside the 24-column
  grid, every panel with a data source and at least one query;
- every metric name its PromQL expressions use exists in the /metrics output
  of a daemon of our own (after a few queries), every exact label matcher
  (`transport="dot"`) names a label value some sample has, and every
  `sum by (...)` label is carried by the metric it aggregates (instance and
  job excepted: Prometheus adds them when it scrapes).
"""
import json
import os
import re
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sextant_common as common  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

GRAFANA_DIR = os.path.join(common.SOURCE_DIR, "docs", "grafana")
sys.path.insert(0, GRAFANA_DIR)
import build_dashboard  # noqa: E402

METRIC = re.compile(r"\bsextant_[a-zA-Z0-9_:]*")
SELECTOR = re.compile(r"\b(sextant_[a-zA-Z0-9_:]*)\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"]*)"')
GROUPING = re.compile(r"\bby \(([^)]*)\) \((?:rate|increase|max|min|sum)?\(?\s*(sextant_[a-zA-Z0-9_:]*)")


def expressions(dashboard):
    for panel in dashboard["panels"]:
        for t in panel.get("targets", []):
            yield panel["title"], t["expr"]


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = common.Results("Grafana dashboard")
    path = os.path.join(GRAFANA_DIR, "sextant.json")
    with open(path) as f:
        text = f.read()
    dashboard = json.loads(text)
    results.check(text == build_dashboard.render(), "sextant.json is what build_dashboard.py writes",
                  "run /usr/bin/python3 docs/grafana/build_dashboard.py")
    ids = [p["id"] for p in dashboard["panels"]]
    results.check(len(ids) == len(set(ids)), "panel ids are unique")
    graphs = [p for p in dashboard["panels"] if p["type"] != "row"]
    results.check(len(graphs) >= 15, "at least 15 panels", "%d" % len(graphs))
    bad_grid = [p["title"] for p in dashboard["panels"]
                if p["gridPos"]["x"] + p["gridPos"]["w"] > 24 or p["gridPos"]["w"] <= 0]
    results.check(not bad_grid, "every panel fits the 24-column grid", str(bad_grid))
    empty = [p["title"] for p in graphs if not p.get("targets") or not all(t.get("expr") for t in p["targets"])
             or "datasource" not in p]
    results.check(not empty, "every panel has a data source and queries", str(empty))

    metrics_port = common.free_port()
    daemon = common.Daemon(argv[0], extra_config="metrics:\n  listen: [\"127.0.0.1@%d\"]\n" % metrics_port)
    with daemon:
        for name in ("www.example.com.", "nxdomain-for-grafana.example.com.", "www.example.com."):
            common.udp_query(common.make_query(name, "A"), "127.0.0.1", daemon.port)
        common.tcp_query(common.make_query("www.example.com.", "AAAA"), "127.0.0.1", daemon.port)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5) as r:
            exposition = r.read().decode()
    samples = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            samples.setdefault(s.name, []).append(s.labels)

    used = set()
    for title, expr in expressions(dashboard):
        for name in METRIC.findall(expr):
            used.add(name)
            results.check(name in samples, "%s: %s is exported" % (title, name))
        for name, matchers in SELECTOR.findall(expr):
            for label, value in MATCHER.findall(matchers):
                if label == "instance" or name not in samples:
                    continue
                results.check(any(labels.get(label) == value for labels in samples[name]),
                              '%s: %s has a sample with %s="%s"' % (title, name, label, value))
        for labels, name in GROUPING.findall(expr):
            for label in (l.strip() for l in labels.split(",")):
                # Prometheus adds instance and job when it scrapes.
                if name in samples and label not in ("instance", "job"):
                    results.check(all(label in s for s in samples[name]),
                                  "%s: %s carries the label %s" % (title, name, label))
    print("the dashboard uses %d of the %d metric names exported" % (len(used), len(samples)))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
