#!/usr/bin/python3
"""Upstream queries per cold resolution (issue 4): Sextant beside Unbound.

For every name of a list (bench/configs/upstream-names.txt by default) a
resolver is started fresh (empty cache), asked the name once (DO set, like a
validating stub; TCP if the answer is truncated), and every query it sends
to the lab (its /16, 127.53.0.0/16 by default, port 53, UDP and TCP) is
counted by a packet capture on lo (bench/upstream_capture.py) from the
moment it starts until the lab has been quiet for a moment. Start-up traffic (root priming, trust
anchor fetches) therefore counts towards each cold resolution, for both.

The capture sees every process on the machine, so each measurement is
repeated (--repeats) and the smallest count is kept; counts that differ
between repeats are shown (retries, random server choice, or someone else
using the lab at the same moment). A window with more than --flood queries
(far above any resolver's per-question budget) is someone else's load test
on the lab: that measurement is taken again.

A second table resolves the whole list in order in one process (shared
cache), which is what a resolver pays once its infrastructure is cached.

    bench/upstream_queries.py [--sextant CMD] [--names FILE] [--repeats 2] [--show-queries]
"""

import argparse
import os
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

import benchlib as B
import upstream_capture as C


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--names", default=str(B.CONFIGS / "upstream-names.txt"),
                        help="file of 'QNAME QTYPE' lines (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=2, help="cold measurements per name and server")
    parser.add_argument("--quiet", type=float, default=0.5,
                        help="the lab must be quiet this long after the answer (seconds)")
    parser.add_argument("--tail-limit", type=float, default=4.0,
                        help="longest wait for quiet after the answer (seconds)")
    parser.add_argument("--startup-wait", type=float, default=0.3,
                        help="pause between the server listening and the question (seconds)")
    parser.add_argument("--timeout", type=float, default=10.0, help="client timeout per question")
    parser.add_argument("--no-shared", action="store_true", help="skip the shared-cache pass")
    parser.add_argument("--flood", type=int, default=150,
                        help="a window with more queries than this is someone else's load on the lab: "
                             "measure again (at most --retries times)")
    parser.add_argument("--retries", type=int, default=3)
    parser.add_argument("--show-queries", action="store_true",
                        help="list every upstream query of the first cold run and shared pass")
    return parser.parse_args()


def read_names(path):
    names = []
    for line in open(path):
        line = line.split("#", 1)[0].split()
        if line:
            names.append((line[0], line[1] if len(line) > 1 else "A"))
    if not names:
        raise B.BenchError("no names in %s" % path)
    return names


def ask(port, qname, qtype, timeout):
    """(rcode text, AD set) for one question; ('timeout', False) on no answer."""
    query = dns.message.make_query(qname, qtype, want_dnssec=True)
    try:
        response, _tcp = dns.query.udp_with_fallback(query, "127.0.0.1", port=port, timeout=timeout)
    except dns.exception.Timeout:
        return "timeout", False
    except OSError as error:
        return "error %s" % error.__class__.__name__, False
    return dns.rcode.to_text(response.rcode()), bool(response.flags & dns.flags.AD)


class Runner:
    def __init__(self, args, tmp, capture):
        self.args, self.tmp, self.capture = args, tmp, capture
        self.serial = 0

    def server(self, kind):
        self.serial += 1
        directory = self.tmp / ("%s-%d" % (kind, self.serial))
        directory.mkdir()
        listeners = B.Listeners.pick()
        pin_cpu = not self.args.no_pin
        if kind == "unbound":
            return B.unbound_server(directory, listeners, pin_cpu=pin_cpu), listeners.udp_tcp
        return B.sextant_server(self.args.sextant, directory, listeners, pin_cpu=pin_cpu), \
            listeners.udp_tcp

    def resolve(self, port, qname, qtype):
        """Asks one question, waits for the lab to go quiet; returns (rcode, ad, end time)."""
        rcode, ad = ask(port, qname, qtype, self.args.timeout)
        end = self.capture.wait_quiet(self.args.quiet, self.args.tail_limit)
        return rcode, ad, end

    def cold(self, kind, qname, qtype):
        server, port = self.server(kind)
        started = time.time()
        server.start()
        time.sleep(self.args.startup_wait)
        rcode, ad, end = self.resolve(port, qname, qtype)
        server.check_alive()
        server.stop()
        return dict(queries=self.capture.between(started, end), rcode=rcode, ad=ad,
                    seconds=end - started)

    def shared(self, kind, names):
        server, port = self.server(kind)
        started = time.time()
        server.start()
        time.sleep(self.args.startup_wait)
        results = []
        for qname, qtype in names:
            rcode, ad, end = self.resolve(port, qname, qtype)
            results.append(dict(queries=self.capture.between(started, end), rcode=rcode, ad=ad))
            started = end
        server.check_alive()
        server.stop()
        return results


def describe(counts_list):
    """Min total over repeats, with the per-repeat totals when they differ."""
    totals = [u + t for u, t, _ in counts_list]
    best = min(range(len(totals)), key=lambda i: totals[i])
    udp, tcp, conns = counts_list[best]
    text = str(totals[best]) + (" (%d tcp)" % tcp if tcp else "")
    if len(set(totals)) > 1:
        text += " [%s]" % ",".join(str(t) for t in totals)
    return totals[best], text


def main():
    args = B.apply_common_arguments(parse_arguments())
    B.require_tools("unbound")
    if os.geteuid() != 0:
        raise B.BenchError("the packet capture needs root (CAP_NET_RAW)")
    names = read_names(args.names)
    tmp = B.private_dir("upstream")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()
    kinds = [] if args.no_unbound else ["unbound"]
    notes = []
    available, why = B.sextant_available(args.sextant)
    if available:
        kinds.append("sextant")
    else:
        notes.append("Sextant not measured: %s" % why)
    if not kinds:
        raise B.BenchError("nothing to measure")

    capture = C.UpstreamCapture()
    B.on_exit(capture.close)
    runner = Runner(args, tmp, capture)
    started = time.time()
    cold = {}   # (kind, name) -> list of results
    flooded = []
    for repeat in range(args.repeats):
        for qname, qtype in names:
            for kind in (kinds if repeat % 2 == 0 else list(reversed(kinds))):
                for attempt in range(args.retries + 1):
                    result = runner.cold(kind, qname, qtype)
                    if len(result["queries"]) <= args.flood:
                        break
                    flooded.append("%s %s cold: %d queries" % (kind, qname, len(result["queries"])))
                    B.log("%s %s: %d queries in the window: someone else is loading the lab; again"
                          % (kind, qname, len(result["queries"])))
                cold.setdefault((kind, qname, qtype), []).append(result)
                udp, tcp, conns = C.count(result["queries"])
                B.log("cold %-8s %-28s %-5s %-8s AD=%d  %3d UDP + %d TCP queries (%d TCP connections) "
                      "in %.2f s" % (kind, qname, qtype, result["rcode"], result["ad"], udp, tcp, conns,
                                     result["seconds"]))
                if args.show_queries and repeat == 0:
                    for q in result["queries"]:
                        print("    %s" % q.describe(), flush=True)
    lab.check_still_up()
    shared = {}   # kind -> list (per repeat) of per-name results
    if not args.no_shared:
        for repeat in range(args.repeats):
            for kind in kinds:
                for attempt in range(args.retries + 1):
                    results = runner.shared(kind, names)
                    worst = max(len(r["queries"]) for r in results)
                    if worst <= args.flood:
                        break
                    flooded.append("%s shared pass: %d queries for one name" % (kind, worst))
                    B.log("%s shared pass: %d queries for one name: someone else is loading the lab; "
                          "again" % (kind, worst))
                shared.setdefault(kind, []).append(results)
                if args.show_queries and repeat == 0:
                    for (qname, qtype), r in zip(names, results):
                        print("  shared %s %s %s: %d queries" % (kind, qname, qtype, len(r["queries"])))
                        for q in r["queries"]:
                            print("    %s" % q.describe(), flush=True)
    elapsed = time.time() - started

    # ---- report
    print()
    print("Upstream queries per cold resolution (fresh process per name, DO set; min of %d repeats; "
          "[..] = totals of the repeats when they differ)" % args.repeats)
    print(B.environment_note(not args.no_pin) + "; %.0f s" % elapsed)
    headers = ["name", "type"]
    for kind in kinds:
        headers += [kind, "rcode/AD"]
    if len(kinds) == 2:
        headers.append("Sextant/Unbound")
    rows, totals = [], {k: 0 for k in kinds}
    for qname, qtype in names:
        row = [qname, qtype]
        best = {}
        for kind in kinds:
            results = cold[(kind, qname, qtype)]
            best[kind], text = describe([C.count(r["queries"]) for r in results])
            totals[kind] += best[kind]
            outcomes = sorted({"%s%s" % (r["rcode"], "/ad" if r["ad"] else "") for r in results})
            row += [text, ",".join(outcomes)]
        if len(kinds) == 2:
            row.append(B.ratio(best["sextant"], best["unbound"]))
        rows.append(row)
    total_row = ["TOTAL", ""]
    for kind in kinds:
        total_row += [str(totals[kind]), ""]
    if len(kinds) == 2:
        total_row.append(B.ratio(totals["sextant"], totals["unbound"]))
    rows.append(total_row)
    print(B.table(headers, rows, title=""))

    if shared:
        print("\nSame list in one process, in order (shared cache): queries per name (min of %d passes)"
              % args.repeats)
        headers = ["name", "type"] + kinds + (["Sextant/Unbound"] if len(kinds) == 2 else [])
        rows, totals = [], {k: 0 for k in kinds}
        for i, (qname, qtype) in enumerate(names):
            row = [qname, qtype]
            count = {}
            for kind in kinds:
                count[kind], text = describe([C.count(p[i]["queries"]) for p in shared[kind]])
                totals[kind] += count[kind]
                row.append("%s %s" % (text, shared[kind][0][i]["rcode"]))
            if len(kinds) == 2:
                row.append(B.ratio(count["sextant"], count["unbound"]))
            rows.append(row)
        rows.append(["TOTAL", ""] + [str(totals[k]) for k in kinds] +
                    ([B.ratio(totals["sextant"], totals["unbound"])] if len(kinds) == 2 else []))
        print(B.table(headers, rows))
    if flooded:
        notes.append("measured again because of other traffic to the lab: " + "; ".join(flooded))
    for note in notes:
        print("NOTE: " + note)
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
