#!/usr/bin/python3
"""Transports (issues 7 and 17): cached-answer queries per server CPU-second
over UDP, TCP, DoT, DoH (dnsperf) and DoQ (bench/doq_load), Sextant beside
Unbound with the same listeners (Unbound 1.17 has no DoQ).

Both resolvers get one worker thread, the same certificate, the same query
file (N names of the lab's signed big zone), and are warmed over UDP first.
Then, per transport, each server gets R rounds of S seconds of load (servers
alternating), with the server's CPU time read around every round. Stream
transports use -c connections that stay open for the whole round
(connection setup is a small share of the figure); DoQ gets as many
connections, each with -q/-c streams in flight, as dnsperf gives DoT/DoH.

Handshakes: a second DoQ table closes every connection after
--per-connection queries and opens a new one (full handshakes, then TLS
session resumption, then 0-RTT), to show what a handshake costs the server.

Optionally (--kdig-queries N) the old loop of single-query kdig processes over
UDP, DoT and DoQ: client-bound (process start and handshake per query).

    bench/transports.py [--sextant CMD] [--rounds 2] [--seconds 5] ...
"""

import argparse
import concurrent.futures
import subprocess
import time

import benchlib as B

MODES = ["udp", "tcp", "dot", "doh", "doq"]


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
    parser.add_argument("--doq-load", default="auto",
                        help="doq_load binary (default: build/release/bench/doq_load or a private build)")
    parser.add_argument("--per-connection", type=int, default=20,
                        help="queries per DoQ connection in the handshake table (0: skip it)")
    parser.add_argument("--fixed-qps", type=int, default=0,
                        help="also load every transport at this fixed rate (dnsperf -Q / doq_load -Q), "
                             "where clients batch little; 0: skip")
    parser.add_argument("--kdig-queries", type=int, default=0,
                        help="queries per kdig loop (UDP, DoT, DoQ); 0: no kdig loops")
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
               "dot": lambda l: l.dot, "doh": lambda l: l.doh, "doq": lambda l: l.doq}
    doq_binary = B.doq_load_command(args.doq_load) if "doq" in modes else None
    streams = max(1, args.outstanding // args.clients)

    def load(mode, server, port, qps=None):
        if mode == "doq":
            return B.doq_load(doq_binary, port, names_file, seconds=args.seconds, qps=qps,
                              connections=args.clients, streams=streams, pin_cpu=pin_cpu)
        return B.dnsperf(port, names_file, mode=mode, seconds=args.seconds, clients=args.clients,
                         outstanding=args.outstanding, pin_cpu=pin_cpu, max_qps=qps,
                         extra=dnsperf_extra(mode, port, args.doh_method))
    figures = {}   # (server, mode) -> list of rounds
    for mode in modes:
        for r in range(args.rounds):
            order = servers if r % 2 == 0 else list(reversed(servers))
            for server, listeners in order:
                server.check_alive()
                port = port_of[mode](listeners)
                if not port or not server.listening(port):
                    continue
                before = B.cpu_seconds(server.pid)
                result = load(mode, server, port)
                used = B.cpu_seconds(server.pid) - before
                figures.setdefault((server.name, mode), []).append(dict(result=result, cpu=used))
                B.log("%-4s round %d %-8s %s qps, %d completed, %d lost, NOERROR %d, server CPU %.2f s"
                      % (mode, r + 1, server.name, B.fmt_number(result.qps), result.completed,
                         result.lost, result.noerror, used))
    fixed = {}   # (server, mode) -> (answers, cpu)
    for mode in (modes if args.fixed_qps > 0 else []):
        for server, listeners in servers:
            port = port_of[mode](listeners)
            if not port or not server.listening(port):
                continue
            server.check_alive()
            before = B.cpu_seconds(server.pid)
            result = load(mode, server, port, qps=args.fixed_qps)
            used = B.cpu_seconds(server.pid) - before
            fixed[(server.name, mode)] = (result.completed, used)
            B.log("%-4s fixed %d qps %-8s %d completed, server CPU %.2f s"
                  % (mode, args.fixed_qps, server.name, result.completed, used))

    handshakes = {}   # (server, variant) -> (result, cpu)
    variants = [("full handshakes", {}), ("resumed (tickets)", {"resume": True}),
                ("0-RTT", {"early_data": True})]
    if "doq" in modes and args.per_connection > 0:
        for server, listeners in servers:
            if not listeners.doq or not server.listening(listeners.doq):
                continue
            for label, extra in variants:
                server.check_alive()
                before = B.cpu_seconds(server.pid)
                result = B.doq_load(doq_binary, listeners.doq, names_file, seconds=args.seconds,
                                    connections=args.clients, streams=streams,
                                    per_connection=args.per_connection, pin_cpu=pin_cpu, **extra)
                used = B.cpu_seconds(server.pid) - before
                handshakes[(server.name, label)] = (result, used)
                B.log("doq  %-18s %-8s %s qps, %d handshakes (%d resumed, %d 0-RTT), server CPU %.2f s"
                      % (label, server.name, B.fmt_number(result.qps), result.handshakes,
                         result.resumed, result.early_accepted, used))
    for server, listeners in servers:
        absent = [m.upper() for m in modes
                  if port_of[m](listeners) and not server.listening(port_of[m](listeners))]
        if absent:
            notes.append("%s did not listen for %s: not measured" % (server.name, ", ".join(absent)))

    kdig = {}      # (server, transport) -> (answered, attempted, seconds, cpu)
    for server, listeners in (servers if args.kdig_queries > 0 else []):
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
                rows.append([mode.upper(), server.name,
                             "no DoQ" if mode == "doq" else "not listening", "", "", "", ""])
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
                  title="\ndnsperf, and doq_load for DoQ (%d connections x %d streams); queries/CPU-s = "
                        "answers / server CPU-seconds over all rounds" % (args.clients, streams)))
    # CPU per query of each transport against DoT, per server (issue 17:
    # DoQ <= 1.3x DoT for Sextant).
    rows = []
    for server, _ in servers:
        dot = medians.get((server.name, "dot"))
        if not dot or not dot[1]:
            continue
        for mode in modes:
            m = medians.get((server.name, mode))
            if m and m[1]:
                rows.append([server.name, mode.upper(), B.ratio(dot[1], m[1])])
    if rows:
        print(B.table(["server", "transport", "CPU per query / DoT's"], rows,
                      title="\nCPU per query relative to DoT (target for Sextant's DoQ: <= 1.30)"))

    both = [m for m in modes if ("sextant", m) in medians and ("unbound", m) in medians]
    if both:
        rows = []
        for mode in both:
            s, u = medians[("sextant", mode)], medians[("unbound", mode)]
            rows.append([mode.upper(), B.ratio(s[0], u[0]), B.ratio(s[1], u[1])])
        print(B.table(["transport", "QPS Sextant/Unbound", "queries/CPU-s Sextant/Unbound"], rows,
                      title="\nRatios"))

    if fixed:
        rows = []
        for server, _ in servers:
            dot = fixed.get((server.name, "dot"))
            for mode in modes:
                f = fixed.get((server.name, mode))
                if not f:
                    continue
                per_cpu = f[0] / f[1] if f[1] > 0 else None
                dot_per_cpu = dot[0] / dot[1] if dot and dot[1] > 0 else None
                rows.append([mode.upper(), server.name, f[0], "%.2f s" % f[1], B.fmt_number(per_cpu),
                             B.ratio(dot_per_cpu, per_cpu) if dot_per_cpu and per_cpu else ""])
        print(B.table(["transport", "server", "answers", "server CPU", "queries/CPU-s", "CPU per query / DoT's"],
                      rows, title="\nAt a fixed %d qps for %d s (little batching: each query tends to be its "
                                  "own packet or record)" % (args.fixed_qps, args.seconds)))

    if handshakes:
        rows = []
        for (name, label), (r, cpu) in handshakes.items():
            rows.append([name, label, B.fmt_number(r.qps), r.handshakes, r.resumed, r.early_accepted,
                         "%d/%d" % (r.sent - r.answered, r.sent), "%.2f s" % cpu,
                         B.fmt_number(r.answered / cpu if cpu > 0 else None),
                         B.fmt_number(r.handshakes / cpu if cpu > 0 else None)])
        print(B.table(["server", "DoQ connections", "QPS", "handshakes", "resumed", "0-RTT",
                       "unanswered/sent", "server CPU", "queries/CPU-s", "handshakes/CPU-s"], rows,
                      title="\nDoQ with a new connection every %d queries" % args.per_connection))

    rows = []
    for (name, transport), (answered, attempted, seconds, cpu) in kdig.items():
        rows.append([transport.upper(), name, "%d/%d" % (answered, attempted), "%.1f s" % seconds,
                     "%.1f" % (answered / seconds if seconds else 0), "%.2f s" % cpu])
    if rows:
        print(B.table(["transport", "server", "answered", "time", "queries/s", "server CPU"], rows,
                  title="\nkdig loops, one query per kdig process, %d at a time: CLIENT-BOUND (process "
                        "start + handshake per query); Unbound 1.17 has no DoQ" % args.kdig_parallel))
    for note in notes:
        print("NOTE: " + note)
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
