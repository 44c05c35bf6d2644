#!/usr/bin/python3
"""Cache-hit throughput (issue 5): Sextant beside Unbound beside a trivial responder.

All three servers run with one worker thread on the same core; dnsperf runs
on the other core. The query file is N names of the lab's signed big zone
(default 1,000 of big-signed.test.). Both resolvers are warmed with one pass
over the file. Then two phases, each of R rounds per server, the servers
alternating (the order rotates every round):
  A. full speed: dnsperf as fast as it goes for S seconds: QPS;
  B. fixed rate: dnsperf -Q at the same offered rate for every server, with
     -v, which gives every answer's latency (percentiles).
Around every round the server's CPU time (utime+stime from /proc/PID/stat,
all threads) is read, which gives the main figure: answered queries per
CPU-second of the server process, in both phases.

    bench/cache_hit.py [--sextant CMD] [--rounds 3] [--seconds 6] [--fixed-qps 20000] ...
See bench/README.md for how to read the figures.
"""

import argparse

import benchlib as B

TARGET_VS_UNBOUND = 1.5   # Sextant queries per CPU-second >= 1.5x Unbound's (issue 5)
TARGET_VS_TRIVIAL = 0.95  # ... and >= 95% of the trivial responder's (issue 17)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--trivial", default="auto",
                        help="trivial responder binary (default: build/release/bench/"
                             "trivial_responder, else built from source); 'none' skips it")
    parser.add_argument("--zone", default="big-signed.test.", choices=["big-signed.test.", "big.test."],
                        help="lab zone the names come from (default: %(default)s)")
    parser.add_argument("--names", type=int, default=1000, help="cached names in the query file")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per server")
    parser.add_argument("--seconds", type=int, default=6, help="length of a full-speed round (dnsperf -l)")
    parser.add_argument("--clients", type=int, default=4, help="dnsperf -c (sockets)")
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q")
    parser.add_argument("--dnssec-ok", action="store_true",
                        help="set DO in the queries (dnsperf -D): answers carry RRSIGs")
    parser.add_argument("--fixed-qps", type=int, default=20000,
                        help="offered rate of the fixed-rate rounds (dnsperf -Q)")
    parser.add_argument("--fixed-seconds", type=int, default=5, help="length of a fixed-rate round")
    parser.add_argument("--two-threads", default=None, metavar="CPUS",
                        help="also measure Sextant with server.threads 2, pinned to CPUS (e.g. 0: both "
                             "workers on the servers' core, dnsperf apart; 0,1: both cores, dnsperf "
                             "sharing); shown as sextant-2t")
    return parser.parse_args()


def warm(server, port, names_file, names, dnssec_flag):
    """One pass over the names at a bounded rate, then a check pass from cache."""
    extra = ["-D"] if dnssec_flag else []
    # Bounded by the file at the warm-up rate, twice, plus slack (a loaded
    # machine resolves slower).
    limit = max(120, int(names / 2000 * 2) + 60)
    first = B.dnsperf(port, names_file, runs=1, max_qps=2000, clients=4, outstanding=100,
                      pin_cpu=not ARGS.no_pin, extra=extra, wall_limit=limit)
    check = B.dnsperf(port, names_file, runs=1, clients=4, outstanding=100,
                      pin_cpu=not ARGS.no_pin, extra=extra, wall_limit=limit)
    B.log("%s warm-up: %d/%d NOERROR in %.2f s; check pass %d/%d NOERROR, avg latency %s ms"
          % (server.name, first.noerror, names, first.run_time, check.noerror, names,
             B.fmt_number((check.avg_latency or 0) * 1000, 3)))
    if check.noerror < names * 0.99:
        raise B.BenchError("%s answers only %d of %d names with NOERROR after warm-up (rcodes %s)"
                           % (server.name, check.noerror, names, check.rcodes))


def main():
    global ARGS
    ARGS = B.apply_common_arguments(parse_arguments())
    pin_cpu = not ARGS.no_pin
    B.require_tools("dnsperf", "kdig", "unbound")
    tmp = B.private_dir("cache-hit")
    lab = B.Lab(keep=ARGS.keep_lab)
    lab.ensure_up()
    names_file = tmp / "names.txt"
    B.head_lines(B.Lab.query_file(ARGS.zone), ARGS.names, names_file)
    first_name = names_file.read_text().split()[0]

    servers = []   # (server, port, is_resolver)
    notes = []
    if not ARGS.no_unbound:
        d = tmp / "unbound"
        d.mkdir()
        listeners = B.Listeners.pick()
        servers.append((B.unbound_server(d, listeners, pin_cpu=pin_cpu), listeners.udp_tcp, True))
    available, why = B.sextant_available(ARGS.sextant)
    if available:
        d = tmp / "sextant"
        d.mkdir()
        listeners = B.Listeners.pick()
        servers.append((B.sextant_server(ARGS.sextant, d, listeners, pin_cpu=pin_cpu),
                        listeners.udp_tcp, True))
        if ARGS.two_threads:
            d = tmp / "sextant-2t"
            d.mkdir()
            listeners = B.Listeners.pick()
            two = B.sextant_server(ARGS.sextant, d, listeners, pin_cpu=pin_cpu, name="sextant-2t", threads=2)
            if two.argv[0] == "taskset":
                two.argv[2] = ARGS.two_threads
            servers.append((two, listeners.udp_tcp, True))
    else:
        notes.append("Sextant not measured: %s" % why)
    if ARGS.trivial != "none":
        d = tmp / "trivial"
        d.mkdir()
        port = B.free_port()
        servers.append((B.trivial_server(B.trivial_command(ARGS.trivial), d, port, pin_cpu),
                        port, False))
    if not servers:
        raise B.BenchError("nothing to measure")

    for server, _port, _resolver in servers:
        server.start()
    for server, port, resolver in servers:
        if resolver:
            warm(server, port, names_file, ARGS.names, ARGS.dnssec_ok)
            if not B.validates(port, first_name):
                notes.append("%s did NOT set AD for %s: not validating?" % (server.name, first_name))
    lab.check_still_up()

    extra = ["-D"] if ARGS.dnssec_ok else []
    phases = [("full", dict(seconds=ARGS.seconds)),
              ("fixed", dict(seconds=ARGS.fixed_seconds, max_qps=ARGS.fixed_qps, verbose=True))]
    rounds = {(phase, s.name): [] for phase, _ in phases for s, _, _ in servers}
    for phase, options in phases:
        for r in range(ARGS.rounds):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for server, port, _resolver in order:
                server.check_alive()
                before = B.cpu_seconds(server.pid)
                result = B.dnsperf(port, names_file, clients=ARGS.clients, outstanding=ARGS.outstanding,
                                   pin_cpu=pin_cpu, extra=extra, **options)
                used = B.cpu_seconds(server.pid) - before
                rounds[(phase, server.name)].append(dict(result=result, cpu=used))
                B.log("%-5s round %d %-8s %s qps, %d completed, %d lost, server CPU %.2f s (%.0f%% of "
                      "the round), %s queries/CPU-s, load %s"
                      % (phase, r + 1, server.name, B.fmt_number(result.qps), result.completed,
                         result.lost, used, 100 * used / max(result.run_time, 1e-9),
                         B.fmt_number(result.completed / used if used > 0 else None), B.loadavg()))
                # The per-query lines are only needed for the percentiles.
                result.text = ""
    for server, _port, _resolver in servers:
        server.check_alive()

    # ---- report
    print()
    print("Cache-hit throughput: %d names of %s, dnsperf -c %d -q %d%s; %d rounds per phase and server, "
          "servers alternating" % (ARGS.names, ARGS.zone, ARGS.clients, ARGS.outstanding,
                                   " -D" if ARGS.dnssec_ok else "", ARGS.rounds))
    print(B.environment_note(pin_cpu))
    print("server CPU = the server's utime+stime / wall time; queries/CPU-s = answers of all rounds / "
          "CPU-seconds of all rounds (range: per round)")
    summary = {}
    for phase, options in phases:
        rows = []
        for server, _port, _resolver in servers:
            rs = rounds[(phase, server.name)]
            qps = [x["result"].qps for x in rs]
            per_round = [x["result"].completed / x["cpu"] if x["cpu"] > 0 else 0 for x in rs]
            cpu = sum(x["cpu"] for x in rs)
            completed = sum(x["result"].completed for x in rs)
            util = sum(x["cpu"] for x in rs) / max(sum(x["result"].run_time for x in rs), 1e-9)
            lost = sum(x["result"].lost for x in rs)
            per_cpu = completed / cpu if cpu > 0 else None
            summary[(phase, server.name)] = dict(qps=B.median(qps), per_cpu=per_cpu)
            rows.append([server.name, B.fmt_number(B.median(qps)),
                         "%s-%s" % (B.fmt_number(min(qps)), B.fmt_number(max(qps))),
                         "%d/%d" % (lost, completed + lost), "%.0f%%" % (100 * util),
                         B.fmt_number(per_cpu),
                         "%s-%s" % (B.fmt_number(min(per_round)), B.fmt_number(max(per_round))),
                         B.thread_count(server.pid)])
        title = ("\nA. Full speed: %d s rounds (QPS = what dnsperf got; below ~90%% server CPU the "
                 "client, not the server, was the limit)" % ARGS.seconds if phase == "full" else
                 "\nB. Fixed rate: %d qps offered for %d s per round (same load for every server)"
                 % (ARGS.fixed_qps, ARGS.fixed_seconds))
        print(B.table(["server", "QPS (median)", "QPS range", "lost/sent", "server CPU",
                       "queries/CPU-s", "per round", "threads"], rows, title=title))

    rows = []
    for server, _port, _resolver in servers:
        rs = rounds[("fixed", server.name)]
        ms = [x * 1000 for r in rs for x in r["result"].latencies]
        lost = sum(r["result"].lost for r in rs)
        mean = sum(ms) / len(ms) if ms else None
        rows.append([server.name, len(ms), lost,
                     *(B.fmt_number(B.percentile(ms, f), 3) for f in (0.5, 0.9, 0.99, 0.999)),
                     B.fmt_number(max(ms) if ms else None, 3), B.fmt_number(mean, 3)])
    print(B.table(["server", "answers", "lost", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
                   "mean ms"], rows,
                  title="\nLatency during B (dnsperf -v: every answer's time as dnsperf saw it; client "
                        "side, loopback, includes dnsperf's and the VM's scheduling delays)"))
    plot = B.plot_latencies("cache-hit-latency",
                            {server.name: [x * 1000 for r in rounds[("fixed", server.name)]
                                           for x in r["result"].latencies] for server, _p, _r in servers},
                            "Cache hits at %d qps offered, %d names of %s (dnsperf -v, %d rounds per server)"
                            % (ARGS.fixed_qps, ARGS.names, ARGS.zone, ARGS.rounds))
    if plot:
        print("latency distributions plotted in %s" % plot)

    def mark(value, target):
        return "" if value is None else ("  (target >= %.2f: %s)" % (target, "met" if value >= target
                                                                    else "NOT met"))
    print("\nRatios")
    lines = []
    names = {s.name for s, _, _ in servers}
    for phase, label in (("full", "A full speed"), ("fixed", "B fixed rate")):
        s, u, t = (summary.get((phase, n)) for n in ("sextant", "unbound", "trivial"))
        if s and u:
            r = s["per_cpu"] / u["per_cpu"] if s["per_cpu"] and u["per_cpu"] else None
            lines.append("%s  Sextant / Unbound  queries per CPU-second: %s%s"
                         % (label, B.ratio(s["per_cpu"], u["per_cpu"]), mark(r, TARGET_VS_UNBOUND)))
        if s and t:
            r = s["per_cpu"] / t["per_cpu"] if s["per_cpu"] and t["per_cpu"] else None
            lines.append("%s  Sextant / trivial  queries per CPU-second: %s%s"
                         % (label, B.ratio(s["per_cpu"], t["per_cpu"]), mark(r, TARGET_VS_TRIVIAL)))
        if u and t:
            lines.append("%s  Unbound / trivial  queries per CPU-second: %s"
                         % (label, B.ratio(u["per_cpu"], t["per_cpu"])))
            # The trivial responder does no DNS work at all: no resolver can
            # beat it by much, so this is the highest Sextant / Unbound ratio
            # this machine's kernel allows.
            ceiling = t["per_cpu"] / u["per_cpu"] if t["per_cpu"] and u["per_cpu"] else None
            lines.append("%s  ceiling: trivial / Unbound = %s%s"
                         % (label, B.ratio(t["per_cpu"], u["per_cpu"]),
                            "" if ceiling is None else
                            "  (the %.2fx target %s below the ceiling here)"
                            % (TARGET_VS_UNBOUND, "is" if ceiling > TARGET_VS_UNBOUND else "is NOT")))
        two = summary.get((phase, "sextant-2t"))
        if s and two:
            lines.append("%s  Sextant threads 2 / threads 1  queries per CPU-second: %s  (QPS %s)"
                         % (label, B.ratio(two["per_cpu"], s["per_cpu"]), B.ratio(two["qps"], s["qps"])))
    s, u, t = (summary.get(("full", n)) for n in ("sextant", "unbound", "trivial"))
    if s and u:
        lines.append("A full speed  Sextant / Unbound  QPS: %s" % B.ratio(s["qps"], u["qps"]))
    if u and t:
        lines.append("A full speed  Unbound / trivial  QPS: %s" % B.ratio(u["qps"], t["qps"]))
    print("\n".join(lines) if len(names) > 1 else "n/a (one server measured)")
    for note in notes:
        print("NOTE: " + note)
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
