#!/usr/bin/python3
"""Transports (issue 7): cached-answer QPS over UDP, TCP, DoT and DoH with
dnsperf, Sextant beside Unbound with the same listeners; DoQ with kdig.

Both resolvers get one worker thread, the same certificate, the same query
file (N names of the lab's signed big zone), and are warmed over UDP first.
Then, per transport, each server gets R rounds of S seconds of dnsperf
(servers alternating), with the server's CPU time read around every round.
Stream transports use -c connections that stay open for the whole round
(connection setup is a small share of the figure).

DoQ: the only DoQ client on Debian 12 is `kdig +quic`, one query per process
(PLATFORM.md, gotcha 9), so the DoQ figure is bounded by starting kdig and
doing a full QUIC handshake per query. To show that, the same kdig loop is
also run over UDP and DoT against the same server: compare the three kdig
figures with each other, not with dnsperf's.

    bench/transports.py [--sextant CMD] [--rounds 2] [--seconds 5] ...
"""

import argparse
import concurrent.futures
import subprocess
import time

import benchlib as B

MODES = ["udp", "tcp", "dot", "doh"]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--names", type=int, default=1000, help="cached names in the query file")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per transport and server")
    parser.add_argument("--seconds", type=int, default=5, help="length of one round (dnsperf -l)")
    parser.add_argument("--clients", type=int, default=8, help="dnsperf -c (connections for streams)")
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q")
    parser.add_argument("--transports", default=",".join(MODES),
                        help="comma list of dnsperf transports (default: %(default)s)")
    parser.add_argument("--doh-method", default="POST", choices=["GET", "POST"])
    parser.add_argument("--kdig-queries", type=int, default=100,
                        help="queries per kdig loop (DoQ, and UDP/DoT for comparison)")
    parser.add_argument("--kdig-parallel", type=int, default=2, help="kdig processes at a time")
    parser.add_argument("--kdig-seconds", type=float, default=20.0, help="time bound per kdig loop")
    return parser.parse_args()


def dnsperf_extra(mode, port, method):
    if mode == "doh":
        return ["-O", "doh-uri=https://127.0.0.1:%d/dns-query" % port, "-O", "doh-method=%s" % method]
    return []


def kdig_loop(port, names, transport, args):
    """Runs up to --kdig-queries single-query kdig processes (--kdig-parallel at a
    time) within --kdig-seconds; returns (answered, attempted, seconds)."""
    suffix = {"udp": [], "dot": ["+tls"], "doq": ["+quic"]}[transport]   # +quic must come last
    deadline = time.monotonic() + args.kdig_seconds

    def one(index):
        if time.monotonic() > deadline:
            return None
        argv = B.pin(["kdig", "@127.0.0.1", "-p", str(port), "+timeout=2", "+retry=0",
                      names[index % len(names)], "A"] + suffix, B.CLIENT_CPU, not args.no_pin)
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
        except subprocess.TimeoutExpired:
            return False
        return "status: NOERROR" in out

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.kdig_parallel) as pool:
        results = list(pool.map(one, range(args.kdig_queries)))
    elapsed = time.monotonic() - started
    attempted = [r for r in results if r is not None]
    return sum(1 for r in attempted if r), len(attempted), elapsed


def main():
    args = B.apply_common_arguments(parse_arguments())
    pin_cpu = not args.no_pin
    modes = [m for m in args.transports.split(",") if m]
    if any(m not in MODES for m in modes):
        raise B.BenchError("--transports takes a subset of %s" % ",".join(MODES))
    B.require_tools("dnsperf", "kdig", "unbound", "openssl")
    tmp = B.private_dir("transports")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()
    names_file = tmp / "names.txt"
    B.head_lines(B.Lab.query_file("big-signed.test."), args.names, names_file)
    names = [l.split()[0] for l in names_file.read_text().splitlines()]
    cert, key = B.make_certificate(tmp)

    servers = []   # (server, listeners)
    notes = []
    if not args.no_unbound:
        d = tmp / "unbound"
        d.mkdir()
        listeners = B.Listeners.pick(dot=True, doh=True)
        servers.append((B.unbound_server(d, listeners, cert, key, pin_cpu), listeners))
    available, why = B.sextant_available(args.sextant)
    if available:
        d = tmp / "sextant"
        d.mkdir()
        listeners = B.Listeners.pick(dot=True, doh=True, doq=True)
        servers.append((B.sextant_server(args.sextant, d, listeners, cert, key, pin_cpu), listeners))
    else:
        notes.append("Sextant not measured: %s" % why)
    if not servers:
        raise B.BenchError("nothing to measure")
    for server, _ in servers:
        server.start()
    for server, listeners in servers:
        warm = B.dnsperf(listeners.udp_tcp, names_file, runs=1, max_qps=2000, pin_cpu=pin_cpu,
                         wall_limit=120)
        B.log("%s warm-up over UDP: %d/%d NOERROR" % (server.name, warm.noerror, args.names))
        if warm.noerror < args.names * 0.99:
            raise B.BenchError("%s: warm-up incomplete (rcodes %s)" % (server.name, warm.rcodes))
    lab.check_still_up()

    port_of = {"udp": lambda l: l.udp_tcp, "tcp": lambda l: l.udp_tcp,
               "dot": lambda l: l.dot, "doh": lambda l: l.doh}
    figures = {}   # (server, mode) -> list of rounds
    for mode in modes:
        for r in range(args.rounds):
            order = servers if r % 2 == 0 else list(reversed(servers))
            for server, listeners in order:
                server.check_alive()
                port = port_of[mode](listeners)
                if not server.listening(port):
                    continue
                before = B.cpu_seconds(server.pid)
                result = B.dnsperf(port, names_file, mode=mode, seconds=args.seconds,
                                   clients=args.clients, outstanding=args.outstanding,
                                   pin_cpu=pin_cpu, extra=dnsperf_extra(mode, port, args.doh_method))
                used = B.cpu_seconds(server.pid) - before
                figures.setdefault((server.name, mode), []).append(dict(result=result, cpu=used))
                B.log("%-4s round %d %-8s %s qps, %d completed, %d lost, NOERROR %d, server CPU %.2f s"
                      % (mode, r + 1, server.name, B.fmt_number(result.qps), result.completed,
                         result.lost, result.noerror, used))
    for server, listeners in servers:
        absent = [m.upper() for m in modes if not server.listening(port_of[m](listeners))]
        if listeners.doq and not server.listening(listeners.doq):
            absent.append("DOQ")
        if absent:
            notes.append("%s did not listen for %s: not measured" % (server.name, ", ".join(absent)))

    kdig = {}      # (server, transport) -> (answered, attempted, seconds, cpu)
    for server, listeners in servers:
        loops = [("udp", listeners.udp_tcp), ("dot", listeners.dot), ("doq", listeners.doq)]
        for transport, port in loops:
            if not server.listening(port):
                continue
            server.check_alive()
            before = B.cpu_seconds(server.pid)
            answered, attempted, seconds = kdig_loop(port, names, transport, args)
            kdig[(server.name, transport)] = (answered, attempted, seconds,
                                              B.cpu_seconds(server.pid) - before)
            B.log("kdig %-3s %-8s %d/%d answered in %.1f s" % (transport, server.name, answered,
                                                               attempted, seconds))
    for server, _ in servers:
        server.check_alive()

    # ---- report
    print()
    print("Transports, cached answers: %d names, %d rounds x %d s, dnsperf -c %d -q %d, DoH %s"
          % (args.names, args.rounds, args.seconds, args.clients, args.outstanding, args.doh_method))
    print(B.environment_note(pin_cpu))
    rows = []
    medians = {}
    for mode in modes:
        for server, _ in servers:
            rs = figures.get((server.name, mode))
            if not rs:
                rows.append([mode.upper(), server.name, "not listening", "", "", "", ""])
                continue
            qps = B.median([x["result"].qps for x in rs])
            cpu = sum(x["cpu"] for x in rs)
            completed = sum(x["result"].completed for x in rs)
            per_cpu = completed / cpu if cpu > 0 else None
            util = cpu / max(sum(x["result"].run_time for x in rs), 1e-9)
            lost = sum(x["result"].lost for x in rs)
            sent = sum(x["result"].sent for x in rs)
            bad = sum(x["result"].completed - x["result"].noerror for x in rs)
            medians[(server.name, mode)] = (qps, per_cpu)
            rows.append([mode.upper(), server.name, B.fmt_number(qps), "%d/%d" % (lost, sent), bad,
                         "%.0f%%" % (100 * util), B.fmt_number(per_cpu)])
    print(B.table(["transport", "server", "QPS (median)", "lost/sent", "not NOERROR", "server CPU",
                   "queries/CPU-s"], rows,
                  title="\ndnsperf (queries/CPU-s = answers / server CPU-seconds over all rounds)"))

    both = [m for m in modes if ("sextant", m) in medians and ("unbound", m) in medians]
    if both:
        rows = []
        for mode in both:
            s, u = medians[("sextant", mode)], medians[("unbound", mode)]
            rows.append([mode.upper(), B.ratio(s[0], u[0]), B.ratio(s[1], u[1])])
        print(B.table(["transport", "QPS Sextant/Unbound", "queries/CPU-s Sextant/Unbound"], rows,
                      title="\nRatios"))

    rows = []
    for (name, transport), (answered, attempted, seconds, cpu) in kdig.items():
        rows.append([transport.upper(), name, "%d/%d" % (answered, attempted), "%.1f s" % seconds,
                     "%.1f" % (answered / seconds if seconds else 0), "%.2f s" % cpu])
    print(B.table(["transport", "server", "answered", "time", "queries/s", "server CPU"], rows,
                  title="\nkdig loops, one query per kdig process, %d at a time: CLIENT-BOUND (process "
                        "start + handshake per query); Unbound 1.17 has no DoQ" % args.kdig_parallel))
    for note in notes:
        print("NOTE: " + note)
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
