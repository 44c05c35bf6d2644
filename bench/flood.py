#!/usr/bin/python3
"""Random-subdomain ("water torture") flood: Sextant beside Knot Resolver 5.6
and PowerDNS Recursor 4.8, one worker each, on the lab (issue 16, section 1).

Per resolver, per zone, per round, a fresh server process:
  1. warm: 1,000 names of big.test. resolved twice (so they are cached);
  2. a cached client (dnsperf -Q CACHED_QPS, -v) asks those names for
     SECONDS + 1 s, while
  3. flood_sender (bench/flood_sender.cpp: open loop, never slows down when
     answers are missing) sends QPS queries per second for random names
     under the zone for SECONDS, from 0.5 s into the cached client's run.
Zones: `dead` = all-dead.test. (two servers: a closed port and a black hole),
`slow` = slow.faults.test. (fakeauth, every answer 300 ms late).

Printed per zone: the issue's table (cached client: average / p99 / max
latency and queries lost; resolver CPU-seconds over the flood, and CPU per
flood query), what the flood got back, fakeauth's count of queries to the
slow zone, Sextant's flood counters from /metrics, and ratios against Knot
Resolver. Servers run on CPU 0, the two clients on CPU 1 (benchlib.pin).
Bounded: every run is limited in count and time; nothing leaves 127/8.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

ZONES = {"dead": "all-dead.test.", "slow": "slow.faults.test."}
DEFAULT_FLOOD = str(bl.REPO / "build" / "release" / "bench" / "flood_sender")
SEXTANT_COUNTERS = [
    "sextant_walker_upstream_queries_total", "sextant_walker_upstream_timeouts_total",
    "sextant_walker_held_down_failures_total", "sextant_walker_over_zone_limit_total",
    "sextant_walker_over_server_limit_total", "sextant_walker_deadlines_expired_total",
    "sextant_resolutions_total", "sextant_walker_failures_total"]


def flood_command(requested):
    """The flood generator: the one given, the release build, or a private
    -O2 build of bench/flood_sender.cpp (a few seconds)."""
    if requested and requested != "auto":
        return requested
    if os.access(DEFAULT_FLOOD, os.X_OK):
        return DEFAULT_FLOOD
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sextant-bench"
    cache.mkdir(parents=True, exist_ok=True)
    binary = cache / "flood_sender"
    source = bl.BENCH_DIR / "flood_sender.cpp"
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        bl.log("building %s with g++ -O2" % binary)
        bl.run(["g++", "-std=c++20", "-O2", "-Wall", "-Wextra", "-o", str(binary), str(source)],
               timeout=180)
    return str(binary)


# --------------------------------------------------------------------------
# The peers' configurations on the lab

def kresd_server(workdir, port):
    workdir = Path(workdir)
    config = workdir / "kresd.conf"
    config.write_text("""-- Knot Resolver 5.6 on the lab for bench/flood.py: one process (one
-- worker), the lab's hints and anchor, a cache large enough for the run.
net.listen('127.0.0.1', %(port)d, { kind = 'dns' })
net.ipv6 = false
modules.load('hints > iterate')
hints.root_file('%(run)s/root.hints')
trust_anchors.remove('.')
trust_anchors.add_file('%(run)s/root-anchor.ds', true)
cache.size = 256 * MB
-- The lab lives under test., which Knot Resolver answers locally by
-- default (RFC 6761): like Unbound's "local-zone: test. nodefault".
-- (the second rule of policy.special_names in 5.6: test., onion., invalid., local.)
table.remove(policy.special_names, 2)
-- The lab's glue is on 127.x.x.x, which Knot Resolver ignores by default
-- ("ignoring invalid glue"): every name below a TLD would fail.
policy.add(policy.all(policy.FLAGS({'ALLOW_LOCAL'})))
""" % {"port": port, "run": bl.LAB_RUN})
    return bl.ServerProcess("kresd", ["kresd", "-n", "-q", "-c", str(config), str(workdir)], workdir,
                            [port], [port], True)


def pdns_server(workdir, port):
    workdir = Path(workdir)
    with open(bl.LAB_RUN / "root-anchor.ds") as f:
        anchors = [" ".join(line.split()[line.split().index("DS") + 1:])
                   for line in f if "DS" in line.split()]
    (workdir / "rec.lua").write_text("".join('addTA(".", "%s")\n' % a for a in anchors))
    (workdir / "recursor.conf").write_text("""# PowerDNS Recursor 4.8 on the lab for bench/flood.py: one worker thread.
local-address=127.0.0.1
local-port=%(port)d
allow-from=127.0.0.0/8
threads=1
pdns-distributes-queries=no
hint-file=%(run)s/root.hints
dont-query=
dnssec=validate
lua-config-file=%(dir)s/rec.lua
socket-dir=%(dir)s
daemon=no
write-pid=no
disable-syslog=yes
loglevel=3
max-cache-entries=1000000
# No security poll (it would go through the lab's root anyway; nothing leaves loopback).
security-poll-suffix=
""" % {"port": port, "run": bl.LAB_RUN, "dir": workdir})
    return bl.ServerProcess("pdns", ["pdns_recursor", "--config-dir=%s" % workdir], workdir,
                            [port], [port], True)


def sextant_server(command, workdir, port, metrics_port):
    listeners = bl.Listeners(port)
    server = bl.sextant_server(command, workdir, listeners, optional_encrypted=False,
                               cache_memory="256M")
    config = Path(workdir) / "sextant.yaml"
    text = config.read_text()
    # No encrypted listeners in this benchmark.
    text = re.sub(r"\n  (dot|doh|doq):\n    listen: \[\](\n    http3-listen: \[\])?", "", text)
    text = re.sub(r"\n  tls:\n    certificate: \"\"\n    key: \"\"", "", text)
    text += "metrics:\n  listen: [\"127.0.0.1@%d\"]\n" % metrics_port
    config.write_text(text)
    return server


def sextant_counters(metrics_port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5) as r:
            text = r.read().decode()
    except OSError as error:
        return {"error": str(error)}
    out = {}
    for name in SEXTANT_COUNTERS:
        m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % name, text, re.M)
        if m:
            out[name] = int(float(m.group(1)))
    m = re.search(r'^sextant_upstream_\w*overload\w* (\S+)$', text, re.M)
    if m:
        out["upstream_overloaded"] = int(float(m.group(1)))
    return out


# --------------------------------------------------------------------------
# One measurement

def parse_flood(text):
    return {k: float(v) for k, v in re.findall(r"(\w+)=(-?[\d.]+)", text)}


def fakectl(*args):
    result = bl.run([str(bl.LAB_DIR / "fakectl")] + list(args), timeout=20, check=False)
    return result.stdout


def measure(name, make, zone, args, flood_binary, cached_file, workdir):
    port = bl.free_port()
    metrics_port = bl.free_port() if name == "sextant" else None
    server = make(workdir, port, metrics_port)
    server.start()
    try:
        time.sleep(0.5)
        # Warm: every cached name twice; the second pass must be all NOERROR.
        for attempt in range(2):
            warm = bl.dnsperf(port, cached_file, runs=1, clients=4, outstanding=100,
                              max_qps=2000, timeout_s=5)
        if warm.noerror < warm.sent:
            bl.log("%s: warm-up second pass: %d of %d NOERROR" % (name, warm.noerror, warm.sent))
        if zone.startswith("slow"):
            fakectl("reset")
        cpu_before = bl.cpu_seconds(server.pid)
        # dnsperf -v writes a line per query: into a file, not a pipe. A pipe
        # nobody reads until the flood ends fills after ~1,600 lines, and
        # dnsperf then blocks on it: it stops sending, and the queries it had
        # out count as lost (every resolver showed the same 99 lost).
        cached_log = open(workdir / ("cached-%s-%s.txt" % (name, zone.strip("."))), "w+")
        cached = subprocess.Popen(
            bl.pin(["dnsperf", "-m", "udp", "-s", "127.0.0.1", "-p", str(port), "-d",
                    str(cached_file), "-c", "1", "-q", "100", "-t", "2", "-l",
                    str(args.seconds + 1), "-Q", str(args.cached_qps), "-v"],
                   bl.CLIENT_CPU, True),
            stdout=cached_log, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        flood = bl.run(bl.pin([flood_binary, "127.0.0.1", str(port), zone, str(args.qps),
                               str(args.seconds)], bl.CLIENT_CPU, True),
                       timeout=args.seconds + 30)
        cpu_flood = bl.cpu_seconds(server.pid) - cpu_before
        cached.wait(timeout=args.seconds + 30)
        cached_log.seek(0)
        out = cached_log.read()
        cached_log.close()
        server.check_alive()
        result = {"flood": parse_flood(flood.stdout), "cached": bl.DnsperfResult(out),
                  "cpu": cpu_flood}
        if zone.startswith("slow"):
            m = re.search(r'"%s": (\d+)' % re.escape(zone), fakectl("stats"))
            result["upstream_to_zone"] = int(m.group(1)) if m else None
        if metrics_port:
            result["counters"] = sextant_counters(metrics_port)
        return result
    finally:
        server.stop()


def summarise(name, runs):
    lat = [x * 1000 for r in runs for x in r["cached"].latencies]
    sent = sum(r["cached"].sent for r in runs)
    lost = sum(r["cached"].lost for r in runs)
    cpu = [r["cpu"] for r in runs]
    flood_sent = [r["flood"].get("sent", 0) for r in runs]
    per_query = [c / s * 1e6 for c, s in zip(cpu, flood_sent) if s]
    return {
        "name": name, "avg": statistics.mean(lat) if lat else None,
        "p99": bl.percentile(lat, 0.99), "max": max(lat) if lat else None, "lost": lost,
        "sent": sent, "cpu": statistics.median(cpu), "cpu_range": (min(cpu), max(cpu)),
        "us_per_flood_query": statistics.median(per_query) if per_query else None,
        "us_range": (min(per_query), max(per_query)) if per_query else (None, None),
        "flood": runs[-1]["flood"], "upstream": [r.get("upstream_to_zone") for r in runs],
        "counters": [r.get("counters") for r in runs]}


def main():
    parser = bl.common_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--qps", type=int, default=20000, help="flood rate (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=10, help="flood length (default %(default)s)")
    parser.add_argument("--cached-qps", type=int, default=2000, help="cached client rate")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--zones", default="dead,slow", help="dead,slow or one of them")
    parser.add_argument("--no-kresd", action="store_true")
    parser.add_argument("--no-pdns", action="store_true")
    parser.add_argument("--flood-sender", default="auto", help="flood_sender binary")
    args = bl.apply_common_arguments(parser.parse_args())
    args.qps = max(1, min(args.qps, 200000))
    args.seconds = max(1.0, min(args.seconds, 60.0))
    args.rounds = max(1, min(args.rounds, 10))
    if args.no_pin:
        bl.SERVER_CPU = bl.CLIENT_CPU = "any"
    bl.require_tools("dnsperf")

    servers = []
    available, why = bl.sextant_available(args.sextant)
    if available:
        servers.append(("sextant", lambda d, p, m: sextant_server(args.sextant, d, p, m)))
    else:
        bl.log("NOTE: Sextant skipped: %s" % why)
    if not args.no_kresd:
        bl.require_tools("kresd")
        servers.append(("kresd", lambda d, p, m: kresd_server(d, p)))
    if not args.no_pdns:
        bl.require_tools("pdns_recursor")
        servers.append(("pdns", lambda d, p, m: pdns_server(d, p)))
    labels = {"sextant": "Sextant", "kresd": "Knot Resolver 5.6", "pdns": "PowerDNS Recursor 4.8"}

    lab = bl.Lab(keep=args.keep_lab)
    lab.ensure_up()
    flood_binary = flood_command(args.flood_sender)
    tmp = bl.private_dir("flood")
    cached_file = tmp / "cached.txt"
    bl.head_lines(bl.Lab.query_file("big.test."), 1000, cached_file)
    print(bl.environment_note(not args.no_pin))
    print("flood: %d qps for %.0f s of random names, open loop; cached client: %d qps of 1,000 "
          "cached names; %d round(s) per resolver and zone, a fresh process each"
          % (args.qps, args.seconds, args.cached_qps, args.rounds))

    for zone_key in [z.strip() for z in args.zones.split(",") if z.strip()]:
        zone = ZONES[zone_key]
        runs = {name: [] for name, _ in servers}
        for round_index in range(args.rounds):
            order = servers[round_index % len(servers):] + servers[:round_index % len(servers)]
            for name, make in order:
                workdir = tmp / ("%s-%s-%d" % (name, zone_key, round_index))
                workdir.mkdir()
                bl.log("%s, zone %s, round %d (load %s)" % (name, zone, round_index + 1, bl.loadavg()))
                runs[name].append(measure(name, make, zone, args, flood_binary, cached_file, workdir))
                lab.check_still_up()
        rows, summaries = [], {}
        for name, _ in servers:
            s = summarise(name, runs[name])
            summaries[name] = s
            rows.append([labels[name],
                         "avg %s ms, p99 %s ms, max %s ms, %d of %d lost"
                         % (bl.fmt_number(s["avg"], 2), bl.fmt_number(s["p99"], 2),
                            bl.fmt_number(s["max"], 1), s["lost"], s["sent"]),
                         "%.2f s (%.2f-%.2f)" % (s["cpu"], *s["cpu_range"]),
                         "%s (%s-%s)" % (bl.fmt_number(s["us_per_flood_query"], 1),
                                         bl.fmt_number(s["us_range"][0], 1),
                                         bl.fmt_number(s["us_range"][1], 1))])
        print()
        print(bl.table(["", "cached client during the flood", "resolver CPU (median, range)",
                        "CPU us per flood query"], rows,
                       title="Zone %s (%s), %d rounds" % (zone, zone_key, args.rounds)))
        flood_rows = []
        for name, _ in servers:
            f = summaries[name]["flood"]
            flood_rows.append([labels[name], "%d" % f.get("sent", 0), "%d" % f.get("answered", 0),
                               "%d" % f.get("servfail", 0), "%d" % f.get("nxdomain", 0),
                               bl.fmt_number(f.get("p50_ms"), 1), bl.fmt_number(f.get("p99_ms"), 1),
                               ",".join(str(u) for u in summaries[name]["upstream"] if u is not None)
                               or "-"])
        print()
        print(bl.table(["flood (last round)", "sent", "answered", "SERVFAIL", "NXDOMAIN",
                        "p50 ms", "p99 ms", "queries fakeauth got"], flood_rows))
        if "sextant" in summaries:
            print()
            for i, c in enumerate(summaries["sextant"]["counters"]):
                print("Sextant counters, round %d: %s" % (i + 1, ", ".join(
                    "%s=%s" % (k.replace("sextant_", ""), v) for k, v in (c or {}).items())))
            if "kresd" in summaries:
                s, k = summaries["sextant"], summaries["kresd"]
                print("Sextant / Knot Resolver: CPU per flood query %s, cached p99 %s"
                      % (bl.ratio(s["us_per_flood_query"], k["us_per_flood_query"]),
                         bl.ratio(s["p99"], k["p99"])))
            if "pdns" in summaries:
                s, p = summaries["sextant"], summaries["pdns"]
                print("Sextant / PowerDNS: CPU per flood query %s, cached p99 %s"
                      % (bl.ratio(s["us_per_flood_query"], p["us_per_flood_query"]),
                         bl.ratio(s["p99"], p["p99"])))
    print()
    print("load average at the end: %s" % bl.loadavg())
    return 0


if __name__ == "__main__":
    bl.main_wrapper(main)
