#!/usr/bin/python3
"""The operator's interfaces, on a short-lived daemon of its own:

  control.socket: DIR/control.sock     metrics.listen: [127.0.0.1@FREE_PORT]

  operations_test.py SEXTANT_BINARY

- `sextant control` (the real CLI): status, stats, dump-cache, flush, flush-tree,
  flush-all, a bad command (exit 1), a bad name (exit 1), -c CONFIG instead of -s.
- A flushed name is asked upstream again (counted by the fake authoritative);
  a name not flushed is still answered from the cache.
- GET /metrics with curl; the body parses with prometheus_client's parser;
  the counters move with the queries sent; a wrong path is 404.
"""
import os
import subprocess
import sys
import time

import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from sextant_common import control  # noqa: E402


def scrape(port, path="/metrics"):
    p = subprocess.run(["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}",
                        "http://127.0.0.1:%d%s" % (port, path)], capture_output=True, text=True, timeout=20)
    body, _, code = p.stdout.rpartition("\n")
    return int(code or 0), body


def samples(text):
    """{(name, frozenset(labels)): value} from the exposition text."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def ask(port, qname, qtype="A"):
    reply = common.udp_query(common.make_query(qname, qtype), "127.0.0.1", port, timeout=3.0)
    return reply


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = argv[0]
    results = common.Results("operations (control socket, metrics)")
    metrics_port = common.free_port()
    workdir = __import__("tempfile").mkdtemp(prefix="sextant-ops-")
    socket_path = os.path.join(workdir, "control.sock")
    extra = ("control:\n  socket: %s\nmetrics:\n  listen: [\"127.0.0.1@%d\"]\n"
             % (socket_path, metrics_port))
    with common.Daemon(binary, extra_config=extra, workdir=workdir) as daemon:
        port = daemon.port

        code, out, err = control(binary, ["status"], socket_path)
        results.check(code == 0 and "version " in out and "workers 2" in out
                      and ("listening udp+tcp 127.0.0.1:%d" % port) in out,
                      "control status", "exit %d: %s%s" % (code, out, err))
        code, out, err = control(binary, ["status"], config=daemon.config)
        results.check(code == 0 and "version " in out, "control -c CONFIG finds the socket",
                      "exit %d: %s%s" % (code, out, err))

        # Two names of faults.test. (the fake authoritative counts what it is asked).
        kept, flushed = "www.faults.test.", "txt.faults.test."
        for qname, qtype in ((kept, "A"), (flushed, "TXT")):
            reply = ask(port, qname, qtype)
            results.check(reply.rcode() == dns.rcode.NOERROR and reply.answer,
                          "%s %s answered" % (qname, qtype), reply.to_text())
        before = {q: common.upstream_count(q) for q in (kept, flushed)}

        code, out, err = control(binary, ["dump-cache"], socket_path)
        results.check(code == 0 and "txt.faults.test." in out.lower(), "dump-cache lists the cached names",
                      "exit %d: %s" % (code, (out + err)[:2000]))
        results.check(";; servers (worker 0)\n" in out and "\n; server %s." % common.labnet.NET in out
                      and "srtt=" in out,
                      "dump-cache lists the servers asked, with their RTT", out[-1500:])

        code, out, err = control(binary, ["flush", flushed.rstrip(".")], socket_path)
        results.check(code == 0 and out.startswith("ok: removed ") and "entr" in out,
                      "flush NAME", "exit %d: %s%s" % (code, out, err))
        ask(port, flushed, "TXT")
        ask(port, kept, "A")
        after = {q: common.upstream_count(q) for q in (kept, flushed)}
        results.check(after[flushed] > before[flushed], "a flushed name is asked upstream again",
                      "upstream queries for %s: %d -> %d" % (flushed, before[flushed], after[flushed]))
        results.check(after[kept] == before[kept], "a name not flushed stays cached",
                      "upstream queries for %s: %d -> %d" % (kept, before[kept], after[kept]))

        code, out, err = control(binary, ["flush-tree", "faults.test"], socket_path)
        results.check(code == 0 and out.startswith("ok: removed "), "flush-tree NAME",
                      "exit %d: %s%s" % (code, out, err))
        ask(port, kept, "A")
        results.check(common.upstream_count(kept) > after[kept], "flush-tree reaches names below it",
                      "upstream queries for %s: %d -> %d" % (kept, after[kept], common.upstream_count(kept)))

        code, out, err = control(binary, ["flush-all"], socket_path)
        results.check(code == 0 and out == "ok: cache emptied\n", "flush-all", "exit %d: %s%s" % (code, out, err))

        code, out, err = control(binary, ["frobnicate"], socket_path)
        results.check(code == 1 and "unknown command" in err, "an unknown command exits 1",
                      "exit %d: %s%s" % (code, out, err))
        code, out, err = control(binary, ["flush", "a..b"], socket_path)
        results.check(code == 1 and "bad name" in err, "a bad name exits 1", "exit %d: %s%s" % (code, out, err))
        code, out, err = control(binary, ["status"], os.path.join(workdir, "nothing.sock"))
        results.check(code == 1 and "cannot use the control socket" in err,
                      "a missing socket is a clear error", "exit %d: %s%s" % (code, out, err))

        # Metrics: parse, then watch the counters move (the name is cached
        # again first: flush-all emptied the cache).
        ask(port, kept, "A")
        status, body = scrape(metrics_port)
        results.check(status == 200, "GET /metrics is 200", "status %d" % status)
        first = samples(body) if status == 200 else {}
        queries_before = first.get(("sextant_queries_total", frozenset()), -1)
        results.check(queries_before >= 6, "sextant_queries_total counts the queries so far",
                      "value %s" % queries_before)
        results.check(first.get(("sextant_workers_reporting", frozenset()), 0) == 2,
                      "both workers report", "value %s" % first.get(("sextant_workers_reporting", frozenset())))
        for _ in range(3):
            ask(port, kept, "A")
        second = samples(scrape(metrics_port)[1])
        results.check(second.get(("sextant_queries_total", frozenset()), 0) == queries_before + 3,
                      "three more queries, three more in sextant_queries_total",
                      "%s -> %s" % (queries_before, second.get(("sextant_queries_total", frozenset()))))
        hits = ("sextant_answers_from_cache_total", frozenset())
        results.check(second.get(hits, 0) >= first.get(hits, 0) + 3, "cache hits counted",
                      "%s -> %s" % (first.get(hits), second.get(hits)))
        udp = ("sextant_udp_queries_total", frozenset())
        results.check(second.get(udp, 0) >= queries_before + 3, "UDP listener counters summed over workers",
                      "value %s" % second.get(udp))
        sent = ("sextant_upstream_queries_total", frozenset({("transport", "udp")}))
        results.check(second.get(sent, 0) > 0, "upstream queries counted", "value %s" % second.get(sent))
        count = ("sextant_resolution_duration_seconds_count", frozenset())
        inf = ("sextant_resolution_duration_seconds_bucket", frozenset({("le", "+Inf")}))
        resolved = ("sextant_answers_resolved_total", frozenset())
        results.check(second.get(count, 0) >= 1 and second.get(count) == second.get(inf)
                      and second.get(count) <= second.get(resolved, 0),
                      "the resolution-time histogram counts the cache misses answered",
                      "count %s, +Inf %s, misses %s" % (second.get(count), second.get(inf), second.get(resolved)))
        known = second.get(("sextant_servers_known", frozenset()), 0)
        results.check(known >= 2, "the server tables hold the lab servers asked", "value %s" % known)
        code, out, err = control(binary, ["stats"], socket_path)
        results.check(code == 0 and "\nsextant_queries_total " in "\n" + out,
                      "control stats uses the metric names", "exit %d: %s" % (code, (out + err)[:500]))
        status, _ = scrape(metrics_port, "/")
        results.check(status == 404, "GET / is 404", "status %d" % status)

        code, elapsed = daemon.stop()
        results.check(code == 0, "clean stop", "exit %s" % code)
        results.check(not os.path.exists(socket_path), "the control socket is removed at stop", socket_path)
        log = daemon.log_text()
        results.check(not any(m in log for m in common.SANITIZER_MARKERS), "no sanitizer report", log[-3000:])
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
