#!/usr/bin/python3
"""Cache-miss throughput (issue 17 section 2): resolutions per server
CPU-second while a fresh resolver fills its cache with new names, Sextant
beside Unbound 1.17, one worker each, on the lab without delays.

Per resolver and round, a fresh process is asked NAMES names of
big-signed.test. (each once, validated) by dnsperf at a fixed rate
(`-Q QPS`, so that both get the same offered load); its CPU time
(utime + stime) over the fill is read from /proc. Printed: names answered
NOERROR, wall time, server CPU-seconds, names per CPU-second, the ratio
Sextant / Unbound; with --perf, a `perf record -g` of Sextant during its
last fill and the top of `perf report` (where the CPU goes).

    bench/fill_rate.py [--sextant CMD] [--names 20000] [--qps 3000] [--rounds 2] [--perf]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--names", type=int, default=20000, help="new names per fill (at most 100,000)")
    parser.add_argument("--qps", type=int, default=3000, help="dnsperf -Q")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--perf", action="store_true", help="perf record Sextant's last fill")
    return parser.parse_args()


def fill(kind, args, tmp, names_file, serial, perf_data=None):
    directory = Path(tmp) / ("%s-%d" % (kind, serial))
    directory.mkdir()
    listeners = B.Listeners.pick()
    if kind == "unbound":
        server = B.unbound_server(directory, listeners, pin_cpu=not args.no_pin)
    else:
        server = B.sextant_server(args.sextant, directory, listeners, pin_cpu=not args.no_pin,
                                  optional_encrypted=True)
    server.start()
    perf = None
    if perf_data:
        perf = subprocess.Popen(["perf", "record", "-g", "-o", str(perf_data), "-p", str(server.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    cpu_before = B.cpu_seconds(server.pid)
    started = time.monotonic()
    limit = int(args.names / args.qps * 2) + 30
    result = B.dnsperf(listeners.udp_tcp, names_file, runs=1, max_qps=args.qps, clients=8, outstanding=1000,
                       timeout_s=10, seconds=limit, pin_cpu=not args.no_pin)
    wall = time.monotonic() - started
    cpu = B.cpu_seconds(server.pid) - cpu_before
    if perf:
        perf.send_signal(2)
        perf.wait(60)
    server.check_alive()
    server.stop()
    B.log("%s fill %d: %d/%d NOERROR in %.1f s, %.2f CPU-s, %.0f names per CPU-second (rcodes %s)"
          % (kind, serial, result.noerror, args.names, wall, cpu, result.noerror / cpu if cpu else 0,
             result.rcodes))
    return result.noerror, wall, cpu


def main():
    args = B.apply_common_arguments(parse_arguments())
    B.require_tools("unbound", "dnsperf")
    tmp = B.private_dir("fillrate")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()
    names_file = Path(tmp) / "names.txt"
    B.head_lines(lab.query_file("big-signed.test."), args.names, names_file)
    kinds = ["unbound"]
    available, why = B.sextant_available(args.sextant)
    if available:
        kinds.insert(0, "sextant")
    runs = {k: [] for k in kinds}
    perf_data = Path(tmp) / "perf.data"
    for round_number in range(args.rounds):
        for kind in (kinds if round_number % 2 == 0 else list(reversed(kinds))):
            last = round_number == args.rounds - 1
            runs[kind].append(fill(kind, args, tmp, names_file, round_number + 1,
                                   perf_data if args.perf and kind == "sextant" and last else None))
        lab.check_still_up()
    rows = []
    rates = {}
    for kind in kinds:
        rates[kind] = statistics.median(n / c for n, _, c in runs[kind] if c)
        rows.append([kind, "/".join(str(n) for n, _, _ in runs[kind]),
                     "/".join("%.1f" % w for _, w, _ in runs[kind]),
                     "/".join("%.2f" % c for _, _, c in runs[kind]), "%.0f" % rates[kind]])
    print()
    print(B.table(["resolver", "NOERROR", "wall s", "CPU s", "names / CPU-s (median)"], rows,
                  title="Filling %d new signed names at %d qps, %d rounds" % (args.names, args.qps,
                                                                            args.rounds)))
    if "sextant" in rates:
        print("\nSextant / Unbound, names per CPU-second: %s (goal 1.5x)"
              % B.ratio(rates["sextant"], rates["unbound"]))
    else:
        print("NOTE: Sextant not measured: %s" % why)
    if args.perf and perf_data.exists():
        by_dso = subprocess.run(["perf", "report", "-i", str(perf_data), "--stdio", "--no-children", "-g", "none",
                                 "--sort", "dso", "--percent-limit", "1"],
                                capture_output=True, text=True, timeout=300)
        print("\nperf report (Sextant's last fill, self time by library: libcrypto = signature checks):")
        for line in by_dso.stdout.splitlines():
            if line.strip() and not line.startswith("#") and "%" in line.split()[0]:
                print("  " + " ".join(line.split()))
        report = subprocess.run(["perf", "report", "-i", str(perf_data), "--stdio", "--no-children",
                                 "-g", "none", "--sort", "dso,symbol", "--percent-limit", "1.5"],
                                capture_output=True, text=True, timeout=300)
        print("\nperf report (Sextant's last fill, self time, >= 1.5 %):")
        for line in report.stdout.splitlines():
            if line.strip() and not line.startswith("#") and "%" in line.split()[0]:
                print("  " + " ".join(line.split()))
    print(B.environment_note(not args.no_pin))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except B.BenchError as error:
        B.log("error: %s" % error)
        sys.exit(1)
