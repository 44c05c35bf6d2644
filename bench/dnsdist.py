#!/usr/bin/python3
"""Throughput through dnsdist (issue 18): Debian's dnsdist 1.7 running
docs/deploy/dnsdist.conf in front of two Sextant instances, against one
Sextant answering the same load directly.

Every Sextant has one worker thread; dnsdist runs the recipe unchanged
(PROXY v2 to the instances, chashed, no packet cache). All servers, dnsdist
included, share CPU 0 and dnsperf runs on CPU 1, so the one figure that
compares the two set-ups fairly on two cores is CPU per query: around every
round the CPU time (utime+stime) of every server process is read, and the
dnsdist set-up is charged dnsdist's and both instances' CPU. The query file
is N cached names of big-signed.test. (each warmed once through dnsdist, so
each is cached on the instance chashed picks, and once directly).

Two phases, R rounds each, the set-ups alternating:
  A. fixed rate: the same offered rate for both (dnsperf -Q, -v): CPU per
     query and every answer's latency (table and PNG plot);
  B. full speed: what dnsperf gets through each set-up on the shared core.

    bench/dnsdist.py [--sextant CMD] [--rounds 3] [--fixed-qps 10000] ...
See bench/README.md.
"""

import argparse
import shutil

import benchlib as B

RECIPE = B.REPO / "docs" / "deploy" / "dnsdist.conf"
DNSDIST_SOURCE = "127.0.0.62"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--names", type=int, default=1000, help="cached names in the query file")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per phase and set-up")
    parser.add_argument("--seconds", type=int, default=6, help="length of a full-speed round")
    parser.add_argument("--fixed-qps", type=int, default=10000, help="offered rate of the fixed-rate rounds")
    parser.add_argument("--fixed-seconds", type=int, default=5, help="length of a fixed-rate round")
    parser.add_argument("--clients", type=int, default=4, help="dnsperf -c (sockets)")
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q")
    args = parser.parse_args()
    if args.no_unbound is False:
        args.no_unbound = True   # no Unbound here: the peer is Sextant answering directly
    return args


def dnsdist_server(workdir, port, backends, cert, key, pin_cpu):
    """dnsdist with the recipe: its variables set, then the file itself."""
    config = workdir / "dnsdist.conf"
    config.write_text('frontend_address = "127.0.0.1"\n'
                      "frontend_ports = { dns = %d, dot = %d, doh = %d }\n"
                      'tls_certificate = "%s"\ntls_key = "%s"\n'
                      "backends = { %s }\n"
                      'backend_source = "%s"\n'
                      'client_acl = { "127.0.0.0/8" }\n'
                      'dofile("%s")\n'
                      % (port, B.free_port(), B.free_port(), cert, key,
                         ", ".join('"127.0.0.1:%d"' % p for p in backends), DNSDIST_SOURCE, RECIPE))
    B.run(["dnsdist", "--check-config", "-C", str(config)], timeout=30)
    return B.ServerProcess("dnsdist", ["dnsdist", "--supervised", "--disable-syslog", "-C", str(config)],
                           workdir, [port], [port], pin_cpu)


def main():
    global ARGS
    ARGS = B.apply_common_arguments(parse_arguments())
    B.require_tools("dnsperf", "dnsdist")
    available, why = B.sextant_available(ARGS.sextant)
    if not available:
        raise B.BenchError("no Sextant to measure: %s" % why)
    pin_cpu = not ARGS.no_pin
    lab = B.Lab(keep=ARGS.keep_lab)
    lab.ensure_up()
    tmp = B.private_dir("dnsdist")
    cert, key = B.make_certificate(tmp)
    names_file = tmp / "names"
    B.head_lines(B.Lab.query_file("big-signed.test."), ARGS.names, names_file)

    def sextant(name, extra=""):
        workdir = tmp / name
        workdir.mkdir()
        listeners = B.Listeners.pick()
        server = B.sextant_server(ARGS.sextant, workdir, listeners, pin_cpu=pin_cpu, name=name,
                                  server_extra=extra)
        return server, listeners.udp_tcp

    direct, direct_port = sextant("direct")
    behind = [sextant("sextant%d" % i, "  proxy-protocol-from: [%s/32]\n" % DNSDIST_SOURCE) for i in (1, 2)]
    dd_dir = tmp / "dnsdist"
    dd_dir.mkdir()
    dd_port = B.free_port()
    balancer = dnsdist_server(dd_dir, dd_port, [p for _, p in behind], cert, key, pin_cpu)
    for server, _ in [(direct, direct_port)] + behind:
        server.start()
    balancer.start()
    # dnsdist marks the instances up after its first health checks.
    for _ in range(100):
        if B.run(["dig", "@127.0.0.1", "-p", str(dd_port), "+short", "+tries=1", "+time=1",
                  "www.example.com.", "A"], timeout=10, check=False).stdout.strip():
            break
    for port, label in ((direct_port, "direct"), (dd_port, "through dnsdist")):
        warm = B.dnsperf(port, names_file, runs=1, max_qps=2000, clients=4, outstanding=100, pin_cpu=pin_cpu,
                         wall_limit=120)
        check = B.dnsperf(port, names_file, runs=1, clients=4, outstanding=100, pin_cpu=pin_cpu, wall_limit=60)
        B.log("warm-up %s: %d/%d NOERROR, then %d/%d from cache" % (label, warm.noerror, ARGS.names,
                                                                   check.noerror, ARGS.names))
        if check.noerror < ARGS.names * 0.99:
            raise B.BenchError("%s: only %d of %d names answered NOERROR after warm-up"
                               % (label, check.noerror, ARGS.names))
    lab.check_still_up()

    setups = [("direct", direct_port, [direct]),
              ("dnsdist + 2", dd_port, [balancer] + [s for s, _ in behind])]
    phases = [("fixed", dict(seconds=ARGS.fixed_seconds, max_qps=ARGS.fixed_qps, verbose=True)),
              ("full", dict(seconds=ARGS.seconds))]
    rounds = {(phase, name): [] for phase, _ in phases for name, _, _ in setups}
    for phase, options in phases:
        for r in range(ARGS.rounds):
            for name, port, processes in (setups if r % 2 == 0 else setups[::-1]):
                for p in processes:
                    p.check_alive()
                before = [B.cpu_seconds(p.pid) for p in processes]
                result = B.dnsperf(port, names_file, clients=ARGS.clients, outstanding=ARGS.outstanding,
                                   pin_cpu=pin_cpu, **options)
                used = [B.cpu_seconds(p.pid) - b for p, b in zip(processes, before)]
                rounds[(phase, name)].append(dict(result=result, cpu=used))
                B.log("%-5s round %d %-11s %s qps, %d completed, %d lost, CPU %s s"
                      % (phase, r + 1, name, B.fmt_number(result.qps), result.completed, result.lost,
                         " + ".join("%.2f" % u for u in used)))
                result.text = ""
    lab.check_still_up()

    # ---- report
    print()
    print("dnsdist 1.7 (docs/deploy/dnsdist.conf: PROXY v2, chashed, no packet cache) in front of two "
          "Sextant instances, against one Sextant answering directly; %d cached names of "
          "big-signed.test., dnsperf -c %d -q %d, %d rounds per phase and set-up, alternating"
          % (ARGS.names, ARGS.clients, ARGS.outstanding, ARGS.rounds))
    print(B.environment_note(pin_cpu))
    print("CPU per query = utime+stime of every server process of the set-up / answers (dnsdist's share in "
          "brackets); one worker thread per Sextant")
    summary = {}
    for phase, _ in phases:
        rows = []
        for name, _, processes in setups:
            rs = rounds[(phase, name)]
            answers = sum(x["result"].completed for x in rs)
            lost = sum(x["result"].lost for x in rs)
            cpu = sum(sum(x["cpu"]) for x in rs)
            balancer_cpu = sum(x["cpu"][0] for x in rs) if len(processes) > 1 else 0.0
            qps = [x["result"].qps for x in rs]
            us = 1e6 * cpu / answers if answers else None
            summary[(phase, name)] = dict(us=us, qps=B.median(qps),
                                          balancer_us=1e6 * balancer_cpu / answers if answers else None)
            rows.append([name, B.fmt_number(B.median(qps)), "%d/%d" % (lost, answers + lost),
                         "%.1f" % cpu, B.fmt_number(us, 1) + ("" if len(processes) == 1 else
                                                               " (%s)" % B.fmt_number(
                                                                   summary[(phase, name)]["balancer_us"], 1)),
                         B.fmt_number(answers / cpu if cpu > 0 else None)])
        title = ("\nA. Fixed rate: %d qps offered for %d s per round" % (ARGS.fixed_qps, ARGS.fixed_seconds)
                 if phase == "fixed" else
                 "\nB. Full speed: %d s rounds (all servers share one core)" % ARGS.seconds)
        print(B.table(["set-up", "QPS (median)", "lost/sent", "CPU s", "CPU us/query", "queries/CPU-s"],
                      rows, title=title))

    rows, series = [], {}
    for name, _, _ in setups:
        ms = [x * 1000 for r in rounds[("fixed", name)] for x in r["result"].latencies]
        series[name] = ms
        rows.append([name, len(ms), *(B.fmt_number(B.percentile(ms, f), 3) for f in (0.5, 0.9, 0.99, 0.999)),
                     B.fmt_number(max(ms) if ms else None, 3)])
    print(B.table(["set-up", "answers", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"], rows,
                  title="\nLatency during A (dnsperf -v, client side, loopback)"))
    plot = B.plot_latencies("dnsdist-latency", series,
                            "Cached answers at %d qps offered: direct vs through dnsdist (2 instances)"
                            % ARGS.fixed_qps)
    if plot:
        print("latency distributions plotted in %s" % plot)

    print("\nRatios (dnsdist + 2 instances / direct)")
    for phase, label in (("fixed", "A fixed rate"), ("full", "B full speed")):
        d, b = summary[(phase, "direct")], summary[(phase, "dnsdist + 2")]
        print("%s  CPU per query: %s (dnsdist alone: %s of the direct cost)   QPS: %s"
              % (label, B.ratio(b["us"], d["us"]), B.ratio(b["balancer_us"], d["us"]),
                 B.ratio(b["qps"], d["qps"])))
    return 0


if __name__ == "__main__":
    if shutil.which("dnsdist") is None:
        print("dnsdist is not installed (scripts/install-deps.sh installs it)")
    B.main_wrapper(main)
