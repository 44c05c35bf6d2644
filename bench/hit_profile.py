#!/usr/bin/python3
"""Where a cache hit's CPU goes (issue 17, section 5): Sextant and the trivial
responder under the same dnsperf load, profiled with perf.

Both servers run one worker pinned to the servers' core, dnsperf on the
other (bench/README.md). Sextant is warmed with the query file (N names of
the lab's signed big zone). Then, per server, R rounds of S seconds at full
speed, alternating; during the last round of each, `perf record -e cpu-clock`
samples the server (this VM has no hardware counters: samples are of CPU
time, kernel included). Printed:

- queries per server CPU-second per server, and the ratio;
- the CPU per query of each, split by where the samples fell: kernel receive
  (recvmmsg and what it calls), kernel send (sendmmsg: loopback delivery into
  dnsperf included), other kernel, then Sextant's own code by concern:
  parsing, key and hashing, cache look-up and locking, answer assembly,
  the listener's batching, libuv, libc/other;
- the top symbols of each.

    bench/hit_profile.py [--sextant CMD] [--names 1000] [--rounds 3] [--seconds 5]
"""

import argparse
import collections
import re
import subprocess
import time

import benchlib as B

# Sextant's own code by concern: (category, regex on the symbol), first match wins.
CATEGORIES = [
    ("parse query", r"parse_query|Name::parse|scan_packet|Header::parse|parse_edns|read_opt|EdnsOptions"),
    ("cache key, hashing", r"make_answer_key|set_key_name|hash_bytes|finish_key|ascii_lower"),
    ("cache look-up, locks", r"visit_counted|find_link|ShardedStore|AnswerCache::lookup|lookup_rrset|"
                             r"classify|pthread_mutex|__lll_lock|mutex"),
    ("answer assembly", r"render_rrset_answer|copy_short|opt|Opt|patch|add_edns|finish_answer|deliver|"
                        r"Responder|memcpy|memmove"),
    ("pipeline, access control", r"QueryPipeline|AccessControl|handle|acl|PipelineStats"),
    ("UDP listener, batching", r"UdpListener|UdpSendBatch|udp_|on_readable|flush|Batch"),
    ("libuv", r"uv__|uv_"),
]
OTHER = "other user space (libc, unresolved)"
# Kernel entry points whose inclusive time splits the kernel's share.
KERNEL_ENTRIES = [("kernel: recvmmsg", "__x64_sys_recvmmsg"),
                  ("kernel: sendmmsg (loopback delivery into dnsperf included)", "__x64_sys_sendmmsg")]
KERNEL_OTHER = "kernel: other (syscall entry, epoll, scheduling, interrupts)"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--trivial", default="auto", help="trivial responder binary")
    parser.add_argument("--names", type=int, default=1000, help="cached names in the query file")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server")
    parser.add_argument("--seconds", type=int, default=5, help="length of a round")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--outstanding", type=int, default=200)
    parser.add_argument("--top", type=int, default=25, help="symbols listed per server")
    return parser.parse_args()


def perf_report(data, children=False):
    """[(percent, dso, symbol)] from `perf report`: self time, or with
    `children` the time under each symbol too (from the call chains)."""
    argv = ["perf", "report", "-i", str(data), "--stdio", "--sort", "dso,sym", "-g", "none",
            "--percent-limit", "0.05", "--children" if children else "--no-children"]
    out = B.run(argv, timeout=300).stdout
    rows = []
    for line in out.splitlines():
        if children:
            m = re.match(r"\s*([\d.]+)%\s+[\d.]+%\s+(\S+)\s+\[[.kKu]\]\s+(.*)$", line)
        else:
            m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.kKu]\]\s+(.*)$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3).strip()))
    return rows


def is_kernel(dso):
    return dso.startswith("[kernel") or dso == "vmlinux"


def categorise(self_rows, inclusive_rows):
    totals = collections.OrderedDict()
    kernel = sum(p for p, dso, _ in self_rows if is_kernel(dso))
    rest = kernel
    for name, entry in KERNEL_ENTRIES:
        share = max((p for p, _, sym in inclusive_rows if sym == entry), default=0.0)
        share = min(share, rest)
        totals[name] = share
        rest -= share
    totals[KERNEL_OTHER] = max(rest, 0.0)
    for name, _ in CATEGORIES:
        totals[name] = 0.0
    totals[OTHER] = 0.0
    for percent, dso, symbol in self_rows:
        if is_kernel(dso):
            continue
        for name, pattern in CATEGORIES:
            if re.search(pattern, symbol):
                totals[name] += percent
                break
        else:
            totals[OTHER] += percent
    return totals


def main():
    args = B.apply_common_arguments(parse_arguments())
    pin_cpu = not args.no_pin
    B.require_tools("dnsperf", "perf")
    tmp = B.private_dir("hit-profile")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()
    names_file = tmp / "names.txt"
    B.head_lines(B.Lab.query_file("big-signed.test."), args.names, names_file)

    available, why = B.sextant_available(args.sextant)
    if not available:
        raise B.BenchError("Sextant not available: %s" % why)
    d = tmp / "sextant"
    d.mkdir()
    listeners = B.Listeners.pick()
    servers = [(B.sextant_server(args.sextant, d, listeners, pin_cpu=pin_cpu), listeners.udp_tcp)]
    d = tmp / "trivial"
    d.mkdir()
    port = B.free_port()
    servers.append((B.trivial_server(B.trivial_command(args.trivial), d, port, pin_cpu), port))
    for server, _ in servers:
        server.start()
    warm = B.dnsperf(servers[0][1], names_file, runs=1, max_qps=2000, pin_cpu=pin_cpu,
                     wall_limit=max(200, int(args.names / 2000 * 2) + 60))
    B.log("sextant warm-up: %d/%d NOERROR" % (warm.noerror, args.names))
    lab.check_still_up()

    figures = collections.defaultdict(list)
    profiles = {}
    for r in range(args.rounds):
        for server, port in (servers if r % 2 == 0 else list(reversed(servers))):
            record = r == args.rounds - 1
            data = tmp / ("%s.perf" % server.name)
            perf = None
            if record:
                perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "4000", "-g",
                                         "-o", str(data), "-p", str(server.pid)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.3)
            before = B.cpu_seconds(server.pid)
            result = B.dnsperf(port, names_file, seconds=args.seconds, clients=args.clients,
                               outstanding=args.outstanding, pin_cpu=pin_cpu)
            used = B.cpu_seconds(server.pid) - before
            if perf:
                perf.send_signal(2)
                perf.wait(timeout=60)
                profiles[server.name] = (perf_report(data), perf_report(data, children=True))
            figures[server.name].append((result.completed, used, record))
            B.log("round %d %-8s %s qps, server CPU %.2f s, %s queries/CPU-s%s"
                  % (r + 1, server.name, B.fmt_number(result.qps), used,
                     B.fmt_number(result.completed / used if used else None), " (perf)" if record else ""))
    for server, _ in servers:
        server.check_alive()

    print()
    print("Cache-hit profile: %d names of big-signed.test., dnsperf -c %d -q %d, %d rounds x %d s per server "
          "(perf in the last round)" % (args.names, args.clients, args.outstanding, args.rounds, args.seconds))
    print(B.environment_note(pin_cpu))
    per_query_ns = {}
    rows = []
    for server, _ in servers:
        # Without the perf round (perf's own overhead is charged to the server).
        clean = [(q, c) for q, c, rec in figures[server.name] if not rec] or \
                [(q, c) for q, c, _ in figures[server.name]]
        q = sum(x for x, _ in clean)
        c = sum(y for _, y in clean)
        per_query_ns[server.name] = 1e9 * c / q if q else None
        rows.append([server.name, q, "%.2f" % c, B.fmt_number(q / c if c else None),
                     B.fmt_number(per_query_ns[server.name])])
    print(B.table(["server", "answers", "CPU s", "queries/CPU-s", "ns of CPU per query"], rows, title=""))
    s, t = per_query_ns.get("sextant"), per_query_ns.get("trivial")
    if s and t:
        print("\nSextant / trivial queries per CPU-second: %.2fx; Sextant spends %.0f ns more per query"
              % (t / s, s - t))

    cats = {name: categorise(*p) for name, p in profiles.items()}
    names = list(cats)
    keys = list(dict.fromkeys(k for c in cats.values() for k in c))
    rows = []
    for k in keys:
        row = [k]
        for n in names:
            share = cats[n].get(k, 0.0)
            ns = per_query_ns.get(n)
            row.append("%.1f%%  %s ns" % (share, B.fmt_number(ns * share / 100 if ns else None)))
        if s and t:
            row.append(B.fmt_number(s * cats["sextant"].get(k, 0) / 100 - t * cats["trivial"].get(k, 0) / 100))
        rows.append(row)
    print(B.table(["where (perf samples, self time)"] + ["%s: share, per query" % n for n in names] +
                  (["Sextant - trivial, ns"] if s and t else []), rows,
                  title="\nCPU per query by where it went (categories: bench/hit_profile.py CATEGORIES)"))
    for n, (rows, _) in profiles.items():
        print(B.table(["%", "dso", "symbol"], [["%.2f" % p, dso, sym[:90]] for p, dso, sym in rows[:args.top]],
                      title="\nTop symbols: %s" % n))
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
