#!/usr/bin/python3
"""The cold path with real round trips (issue 17 section 1): Sextant beside
Unbound 1.17, Knot Resolver 5.6 and PowerDNS Recursor 4.8, one worker each,
on the lab brought up with delays (`tests/lab/up --delays`: root servers
answer 10 ms late, TLD servers 20 ms, the others 30 ms).

Per resolver and round, two fresh server processes (empty caches):
  1. first answer: `www.example.com. A` with DO set, asked once the server
     listens; the time to a validated answer (AD) and the upstream queries
     from the server's start until the lab is quiet again;
  2. cold names: COUNT names (bench/configs/cold-names.txt, then names of
     big-signed.test. and big.test. to make up the count) asked with
     CONCURRENCY questions in flight; the time from the first question to
     the last answer, and the upstream queries from the server's start
     until the lab is quiet, counted by type (a packet capture on lo,
     bench/upstream_capture.py: the same count for every resolver).
For Sextant, its own counters of upstream queries by reason are printed too
(/metrics: sextant_walker_upstream_queries_by_reason_total), and the walk
steps that sent nothing because another request's identical query was in
flight (sextant_walker_shared_queries_total, "(shared, not sent)").

Printed: the medians over the rounds (and every round's value), ratios
against each peer, and the issue's goals (first validated answer <= 75 ms,
COUNT=200 cold names <= 0.85 s, <= 300 upstream queries) met or not.
The capture sees every process on the machine: run it on a quiet lab (a
window with far more queries than expected is reported).

    bench/cold_path.py [--sextant CMD] [--rounds 3] [--count 200] [--concurrency 20]
"""
import argparse
import collections
import os
import re
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
import flood  # noqa: E402  (the peers' configurations on the lab)
import upstream_capture as C  # noqa: E402

FIRST_QUESTION = ("www.example.com.", "A")
GOALS = {"first": 0.075, "total": 0.85, "queries": 300}
LABELS = {"sextant": "Sextant", "unbound": "Unbound 1.17", "kresd": "Knot Resolver 5.6",
          "pdns": "PowerDNS Recursor 4.8"}


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=200, help="cold names per run")
    parser.add_argument("--concurrency", type=int, default=20, help="questions in flight")
    parser.add_argument("--timeout", type=float, default=5.0, help="client timeout per question")
    parser.add_argument("--quiet", type=float, default=0.5,
                        help="the lab must be quiet this long after the last answer (seconds)")
    parser.add_argument("--no-kresd", action="store_true")
    parser.add_argument("--no-pdns", action="store_true")
    return parser.parse_args()


def cold_names(count):
    names = []
    for line in open(B.CONFIGS / "cold-names.txt"):
        fields = line.split("#", 1)[0].split()
        if fields:
            names.append((fields[0], fields[1] if len(fields) > 1 else "A"))
    # The rest: the two big zones, alternately (one signed, one not).
    i = 0
    while len(names) < count:
        zone = "big-signed.test." if i % 2 == 0 else "big.test."
        names.append(("n%06d.%s" % (1000 + i * 37, zone), "A"))
        i += 1
    return names[:count]


def ask(port, qname, qtype, timeout):
    """(rcode text, AD, seconds) for one question with DO set."""
    query = dns.message.make_query(qname, qtype, want_dnssec=True)
    started = time.monotonic()
    try:
        response, _ = dns.query.udp_with_fallback(query, "127.0.0.1", port=port, timeout=timeout)
    except dns.exception.Timeout:
        return "timeout", False, time.monotonic() - started
    except OSError as error:
        return "error %s" % error.__class__.__name__, False, time.monotonic() - started
    return (dns.rcode.to_text(response.rcode()), bool(response.flags & dns.flags.AD),
            time.monotonic() - started)


def sextant_reasons(metrics_port):
    """Sextant's upstream queries by reason, from /metrics ({} if absent)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    reasons = {m.group(1): int(float(m.group(2))) for m in re.finditer(
        r'^sextant_walker_upstream_queries_by_reason_total\{reason="([^"]+)"\} (\S+)$', text, re.M)}
    # Not sent: steps that took the reply of another request's identical query.
    shared = re.search(r'^sextant_walker_shared_queries_total (\S+)$', text, re.M)
    if shared:
        reasons["(shared, not sent)"] = int(float(shared.group(1)))
    return reasons


class Runner:
    def __init__(self, args, tmp, capture):
        self.args, self.tmp, self.capture = args, tmp, capture
        self.serial = 0

    def server(self, kind):
        self.serial += 1
        directory = Path(self.tmp) / ("%s-%d" % (kind, self.serial))
        directory.mkdir()
        port = B.free_port()
        metrics = None
        if kind == "unbound":
            server = B.unbound_server(directory, B.Listeners(port), pin_cpu=not self.args.no_pin)
        elif kind == "kresd":
            server = flood.kresd_server(directory, port)
        elif kind == "pdns":
            server = flood.pdns_server(directory, port)
        else:
            metrics = B.free_port()
            server = flood.sextant_server(self.args.sextant, directory, port, metrics)
        return server, port, metrics

    def run(self, kind, names):
        """One fresh server: asks names (a list of (qname, qtype)); returns a dict."""
        server, port, metrics = self.server(kind)
        started = time.time()
        server.start()
        time.sleep(0.2)     # let start-up traffic (priming, anchor fetches) begin, as a user would
        asked = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.args.concurrency) as pool:
            answers = list(pool.map(lambda n: ask(port, n[0], n[1], self.args.timeout), names))
        elapsed = time.monotonic() - asked
        end = self.capture.wait_quiet(self.args.quiet, 4.0)
        reasons = sextant_reasons(metrics) if metrics else {}
        server.check_alive()
        server.stop()
        queries = self.capture.between(started, end)
        return dict(elapsed=elapsed, answers=answers, queries=queries, reasons=reasons)


def by_type(queries):
    counts = collections.Counter(q.qtype for q in queries if not q.syn)
    return ", ".join("%s %d" % (t, n) for t, n in counts.most_common())


def main():
    args = B.apply_common_arguments(parse_arguments())
    B.require_tools("unbound")
    if os.geteuid() != 0:
        raise B.BenchError("the packet capture needs root (CAP_NET_RAW)")
    kinds = []
    available, why = B.sextant_available(args.sextant)
    notes = [] if available else ["Sextant not measured: %s" % why]
    if available:
        kinds.append("sextant")
    if not args.no_unbound:
        kinds.append("unbound")
    if not args.no_kresd:
        B.require_tools("kresd")
        kinds.append("kresd")
    if not args.no_pdns:
        B.require_tools("pdns_recursor")
        kinds.append("pdns")
    names = cold_names(args.count)
    tmp = B.private_dir("coldpath")
    lab = B.Lab(keep=args.keep_lab, delays=True)
    lab.ensure_up()
    capture = C.UpstreamCapture()
    B.on_exit(capture.close)
    runner = Runner(args, tmp, capture)
    first = collections.defaultdict(list)   # kind -> [(seconds, ad, queries)]
    cold = collections.defaultdict(list)    # kind -> [(seconds, queries, failures, by type, reasons)]
    for round_number in range(args.rounds):
        order = kinds if round_number % 2 == 0 else list(reversed(kinds))
        for kind in order:
            result = runner.run(kind, [FIRST_QUESTION])
            rcode, ad, seconds = result["answers"][0]
            first[kind].append((seconds, ad and rcode == "NOERROR", len(result["queries"])))
            B.log("round %d %-8s first answer %s AD=%d in %.1f ms, %d upstream queries (%s)%s"
                  % (round_number + 1, kind, rcode, ad, seconds * 1000, len(result["queries"]),
                     by_type(result["queries"]),
                     "; reasons " + str(result["reasons"]) if result["reasons"] else ""))
            result = runner.run(kind, names)
            failures = [(n, a[0]) for n, a in zip(names, result["answers"])
                        if a[0] not in ("NOERROR", "NXDOMAIN")]
            cold[kind].append((result["elapsed"], len(result["queries"]), failures,
                               by_type(result["queries"]), result["reasons"]))
            B.log("round %d %-8s %d cold names in %.3f s, %d upstream queries (%s), %d failed%s"
                  % (round_number + 1, kind, len(names), result["elapsed"], len(result["queries"]),
                     by_type(result["queries"]), len(failures),
                     "; reasons " + str(result["reasons"]) if result["reasons"] else ""))
            for name, rcode in failures[:5]:
                B.log("    failed: %s %s -> %s" % (name[0], name[1], rcode))
        lab.check_still_up()

    rows = []
    medians = {}
    for kind in kinds:
        f = statistics.median(s for s, _, _ in first[kind])
        fq = statistics.median(q for _, _, q in first[kind])
        t = statistics.median(s for s, _, _, _, _ in cold[kind])
        q = statistics.median(n for _, n, _, _, _ in cold[kind])
        medians[kind] = (f, t, q)
        rows.append([LABELS[kind],
                     "%.0f ms (%s)%s" % (f * 1000, "/".join("%.0f" % (s * 1000) for s, _, _ in first[kind]),
                                         "" if all(ad for _, ad, _ in first[kind]) else " NOT VALIDATED"),
                     "%d" % fq,
                     "%.3f s (%s)" % (t, "/".join("%.3f" % s for s, _, _, _, _ in cold[kind])),
                     "%d (%s)" % (q, "/".join(str(n) for _, n, _, _, _ in cold[kind])),
                     str(max(len(fl) for _, _, fl, _, _ in cold[kind]))])
    print()
    print(B.table(["resolver", "first validated answer", "its queries", "%d cold names" % len(names),
                   "upstream queries", "failed"], rows,
                  title="Cold path, lab with delays 10/20/30 ms, medians of %d rounds (each round)"
                  % args.rounds))
    print()
    for kind in kinds:
        print("%-22s last round's upstream queries by type: %s" % (LABELS[kind], cold[kind][-1][3]))
    if "sextant" in kinds and cold["sextant"][-1][4]:
        print("%-22s by reason (its own counters): %s" % ("Sextant", ", ".join(
            "%s %d" % (k, v) for k, v in sorted(cold["sextant"][-1][4].items(), key=lambda kv: -kv[1]) if v)))
    if "sextant" in kinds:
        s = medians["sextant"]
        print()
        for kind in kinds[1:]:
            p = medians[kind]
            print("Sextant / %-22s first answer %s, cold names time %s, upstream queries %s"
                  % (LABELS[kind], B.ratio(s[0], p[0]), B.ratio(s[1], p[1]), B.ratio(s[2], p[2])))
        print()
        print("Goals (issue 17): first validated answer %.0f ms <= 75 ms: %s; %d cold names %.3f s "
              "<= 0.85 s: %s; %d upstream queries <= 300: %s"
              % (s[0] * 1000, "met" if s[0] <= GOALS["first"] else "NOT met", len(names), s[1],
                 "met" if s[1] <= GOALS["total"] else "NOT met", s[2],
                 "met" if s[2] <= GOALS["queries"] else "NOT met"))
    for note in notes:
        print("NOTE: " + note)
    print(B.environment_note(not args.no_pin))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except B.BenchError as error:
        B.log("error: %s" % error)
        sys.exit(1)
