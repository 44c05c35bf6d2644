#!/usr/bin/python3
"""Memory per cached name (issue 5): RSS growth of Sextant and Unbound after
resolving N signed names of the lab's big zone.

Each resolver runs alone (one after the other, one worker thread each):
start it, resolve one name of the zone so that the root, test. and the
zone's DNSKEY are cached, wait a second, read VmRSS, then resolve every name
of the query file once (dnsperf -n 1) at a fixed rate (-Q) that the lab and
the resolver keep up with, wait a second, read VmRSS again.
  bytes per name = (RSS after - RSS before) / names answered NOERROR
It is the whole process's resident growth: cache records, indexes and the
allocator's overhead and fragmentation, which is what an operator pays.

    bench/memory_per_name.py [--sextant CMD] [--names 100000] [--qps 2500]
"""

import argparse
import time

import benchlib as B

TARGET_RATIO = 0.5  # Sextant bytes per name <= 0.5x Unbound's


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--zone", default="big-signed.test.", choices=["big-signed.test.", "big.test."],
                        help="lab zone (default: %(default)s; big.test. is unsigned)")
    parser.add_argument("--names", type=int, default=100000, help="names to resolve (max 100000)")
    parser.add_argument("--qps", type=int, default=2500, help="dnsperf -Q rate limit")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds to wait before each RSS reading")
    return parser.parse_args()


def measure(server, port, names_file, names, args):
    server.start()
    first = names_file.read_text().split("\n", 1)[0]
    primer = names_file.parent / ("%s-primer.txt" % server.name)
    primer.write_text(first + "\n")
    prime = B.dnsperf(port, primer, runs=1, clients=1, outstanding=1, timeout_s=10,
                      pin_cpu=not args.no_pin, wall_limit=60)
    if prime.noerror != 1:
        raise B.BenchError("%s could not resolve %s (rcodes %s)" % (server.name, first, prime.rcodes))
    validated = B.validates(port, first.split()[0]) if "signed" in args.zone else None
    time.sleep(args.settle)
    rss_before = B.rss_bytes(server.pid)
    cpu_before = B.cpu_seconds(server.pid)
    # Bounded in time: the file at the given rate, plus slack for the tail.
    limit = int(names / args.qps * 2) + 20
    started = time.monotonic()
    result = B.dnsperf(port, names_file, runs=1, max_qps=args.qps, clients=8, outstanding=1000,
                       timeout_s=10, seconds=limit, pin_cpu=not args.no_pin)
    elapsed = time.monotonic() - started
    time.sleep(args.settle)
    server.check_alive()
    rss_after = B.rss_bytes(server.pid)
    cpu_used = B.cpu_seconds(server.pid) - cpu_before
    server.stop()
    answered = result.noerror
    B.log("%s: %d NOERROR of %d sent (%d lost, rcodes %s) in %.1f s; RSS %.1f -> %.1f MiB; CPU %.1f s"
          % (server.name, answered, result.sent, result.lost, result.rcodes, elapsed,
             rss_before / 2**20, rss_after / 2**20, cpu_used))
    if answered < names * 0.98:
        B.log("WARNING: %s answered only %d of %d names: the per-name figure is less reliable"
              % (server.name, answered, names))
    return dict(validated=validated, answered=answered, sent=result.sent, lost=result.lost, rcodes=result.rcodes,
                elapsed=elapsed, before=rss_before, after=rss_after, cpu=cpu_used,
                per_name=(rss_after - rss_before) / answered if answered else None)


def main():
    args = B.apply_common_arguments(parse_arguments())
    B.require_tools("dnsperf", "unbound")
    if not 1 <= args.names <= 100000:
        raise B.BenchError("--names must be 1..100000")
    tmp = B.private_dir("memory")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()
    names_file = tmp / "names.txt"
    B.head_lines(B.Lab.query_file(args.zone), args.names, names_file)

    candidates = []
    notes = []
    if not args.no_unbound:
        d = tmp / "unbound"
        d.mkdir()
        listeners = B.Listeners.pick()
        # Caches far larger than the data: nothing may be evicted.
        candidates.append((B.unbound_server(d, listeners, pin_cpu=not args.no_pin,
                                            cache_mib=(256, 512)), listeners.udp_tcp))
    available, why = B.sextant_available(args.sextant)
    if available:
        d = tmp / "sextant"
        d.mkdir()
        listeners = B.Listeners.pick()
        candidates.append((B.sextant_server(args.sextant, d, listeners, pin_cpu=not args.no_pin,
                                            cache_memory="1G"), listeners.udp_tcp))
    else:
        notes.append("Sextant not measured: %s" % why)
    if not candidates:
        raise B.BenchError("nothing to measure")

    figures = {}
    for server, port in candidates:
        figures[server.name] = measure(server, port, names_file, args.names, args)
        lab.check_still_up()

    print()
    print("Memory per cached name: %d names of %s (%s), dnsperf -n 1 -Q %d, one resolver at a time"
          % (args.names, args.zone, "signed: A + RRSIG per name" if "signed" in args.zone
             else "UNSIGNED", args.qps))
    print(B.environment_note(not args.no_pin))
    rows = []
    for name, f in figures.items():
        rows.append([name, "%d/%d" % (f["answered"], args.names), "%.1f s" % f["elapsed"],
                     "%.1f" % (f["before"] / 2**20), "%.1f" % (f["after"] / 2**20),
                     "%.1f" % ((f["after"] - f["before"]) / 2**20), B.fmt_number(f["per_name"]),
                     "%.1f s" % f["cpu"],
                     B.fmt_number(f["answered"] / f["cpu"] if f["cpu"] else None),
                     {True: "yes", False: "NO", None: "-"}[f["validated"]]])
    print(B.table(["server", "NOERROR", "time", "RSS before MiB", "RSS after MiB", "growth MiB",
                   "bytes/name", "CPU", "cold res./CPU-s", "AD"], rows, title=""))
    for name, f in figures.items():
        if f["validated"] is False:
            notes.append("%s did not set AD on a signed name: it did not validate, so it may not "
                         "have fetched or kept RRSIGs, and its figure is not comparable" % name)
    s, u = figures.get("sextant"), figures.get("unbound")
    if s and u and s["per_name"] and u["per_name"]:
        r = s["per_name"] / u["per_name"]
        comparable = s["validated"] is not False and u["validated"] is not False
        print("\nSextant / Unbound bytes per name: %.2fx  (target <= %.2f: %s)"
              % (r, TARGET_RATIO, ("met" if r <= TARGET_RATIO else "NOT met") if comparable
                 else "not comparable, see the NOTE"))
    for note in notes:
        print("NOTE: " + note)
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
