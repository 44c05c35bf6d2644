#!/usr/bin/python3
"""Policy at scale (issue 15): a generated 1,000,000-entry hosts blocklist and
a 1,000,000-record RPZ.

  1. Load: each resolver alone, started with nothing, then with the hosts
     list (Sextant), then with the RPZ (Sextant and Unbound): time until it
     answers, resident memory growth, bytes per entry.
  2. Cache hits with the policy loaded vs none: Sextant with both lists
     beside Sextant with none (and Unbound with the RPZ), the same query file
     of cached names that no list matches, servers alternating: queries per
     server CPU-second. The hit path must not lose more than 10 %.
  3. A burst of 10,000 blocked names (policy answers, every one an RPZ
     trigger), asked --burst-passes times per round: queries per server
     CPU-second, Sextant beside Unbound with the same RPZ.

    bench/policy.py [--sextant CMD] [--entries 1000000] [--rounds 3] ...
See bench/README.md ("policy.py") for how to read the figures.
"""

import argparse
import random
import re
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode

import benchlib as B

TARGET_HIT_PATH = 0.90  # cache hits with the lists loaded >= 90% of none


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--entries", type=int, default=1_000_000, help="names in each generated list")
    parser.add_argument("--names", type=int, default=1000, help="cached names asked in phase 2")
    parser.add_argument("--burst", type=int, default=10_000, help="blocked names asked in phase 3")
    parser.add_argument("--burst-passes", type=int, default=5,
                        help="passes over the burst's names per round (dnsperf -n), so that each round "
                             "uses enough CPU to be measured in clock ticks")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server in phases 2 and 3")
    parser.add_argument("--seconds", type=int, default=6, help="length of a phase-2 round (dnsperf -l)")
    parser.add_argument("--seed", type=int, default=15, help="seed of the generated names")
    parser.add_argument("--no-cname-inspection", action="store_true",
                        help="policy.cname-inspection: false for Sextant (its answers are then shared, "
                             "not kept per view: shows what the per-view answer cache costs)")
    parser.add_argument("--skip-load", action="store_true", help="skip phase 1")
    return parser.parse_args()


TLDS = ["com", "net", "org", "info", "io", "xyz", "top", "biz", "online", "site"]
WORDS = ["ads", "track", "pixel", "stat", "metric", "beacon", "cdn", "click", "promo", "tag", "sync",
         "collect", "count", "log", "event", "banner", "popup", "affiliate", "telemetry", "adserv"]


def blocked_name(rng, i, kind):
    """Names shaped like real blocklists': a few labels, a word, a number."""
    word = WORDS[rng.randrange(len(WORDS))]
    depth = rng.randrange(3)
    labels = ["%s%d" % (word, i)] + [WORDS[rng.randrange(len(WORDS))] + str(rng.randrange(100))
                                     for _ in range(depth)]
    return "%s-%s.%s.%s" % (kind, labels[0], ".".join(labels[1:] + ["bench"]), TLDS[i % len(TLDS)])


def generate(tmp, entries, burst, seed):
    """The hosts list, the RPZ zone, and the burst's query file (names the RPZ
    blocks, each once, in random order)."""
    rng = random.Random(seed)
    hosts = tmp / "blocklist.hosts"
    with open(hosts, "w") as f:
        f.write("# generated for bench/policy.py: %d names\n127.0.0.1 localhost\n" % entries)
        for i in range(entries):
            last_host = blocked_name(rng, i, "h")
            f.write("0.0.0.0 %s\n" % last_host)
    rpz = tmp / "bench.rpz"
    triggered = []
    with open(rpz, "w") as f:
        f.write("$ORIGIN rpz.bench.\n$TTL 300\n@ SOA ns.rpz.bench. admin.rpz.bench. 1 3600 600 86400 300\n"
                "@ NS ns.rpz.bench.\n")
        for i in range(entries):
            name = blocked_name(rng, i, "r")
            # Mostly NXDOMAIN, as threat feeds are; some NODATA and wildcards.
            if i % 20 == 0:
                f.write("*.%s CNAME .\n" % name)
                triggered.append("x." + name)
            elif i % 50 == 1:
                f.write("%s CNAME *.\n" % name)
                triggered.append(name)
            else:
                f.write("%s CNAME .\n" % name)
                triggered.append(name)
    burst_file = tmp / "burst.txt"
    last_trigger = triggered[-1]  # the zone's last record: loaded once this one is
    rng.shuffle(triggered)
    with open(burst_file, "w") as f:
        for name in triggered[:burst]:
            f.write("%s. A\n" % name)
    return hosts, rpz, burst_file, last_trigger, last_host


def fresh_dir(tmp, name):
    n = 1
    while (tmp / ("%s-%d" % (name, n))).exists():
        n += 1
    d = tmp / ("%s-%d" % (name, n))
    d.mkdir()
    return d


def sextant_with(tmp, name, policy_yaml):
    d = fresh_dir(tmp, name)
    listeners = B.Listeners.pick()
    server = B.sextant_server(ARGS.sextant, d, listeners, pin_cpu=not ARGS.no_pin, name=name)
    config = d / "sextant.yaml"
    # info: the policy's load time is logged at that level (nothing else is
    # logged per query).
    text = config.read_text().replace("log-level: warning", "log-level: info")
    config.write_text(text + policy_yaml)
    return server, listeners.udp_tcp


def unbound_with(tmp, name, rpz):
    d = fresh_dir(tmp, name)
    listeners = B.Listeners.pick()
    server = B.unbound_server(d, listeners, pin_cpu=not ARGS.no_pin, name=name)
    if rpz:
        config = d / "unbound.conf"
        text = config.read_text().replace('module-config: "validator iterator"',
                                          'module-config: "respip validator iterator"')
        text += "\nrpz:\n    name: rpz.bench.\n    zonefile: \"%s\"\n    rpz-log: no\n" % rpz
        # (unbound-checkconf takes a minute over a 1M-record zone: the base
        # configuration was checked by unbound_server().)
        config.write_text(text)
    return server, listeners.udp_tcp


def blocked(port, name):
    """True once `name` (a listed name) is answered as blocked: NXDOMAIN or NODATA."""
    try:
        reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=1.0)
    except (dns.exception.Timeout, OSError):
        return False
    return reply.rcode() == dns.rcode.NXDOMAIN or (reply.rcode() == dns.rcode.NOERROR and not reply.answer)


def start_measured(server, port, probe, timeout=600):
    """Starts a server; returns (seconds until it answers `probe` as blocked,
    or only until it listens without a probe; RSS in bytes once settled).
    Unbound listens first and loads its RPZ afterwards, so listening is not
    enough."""
    started = time.monotonic()
    server.start(timeout=timeout)
    if probe:
        deadline = started + timeout
        while not blocked(port, probe):
            server.check_alive()
            if time.monotonic() > deadline:
                raise B.BenchError("%s does not block %s after %d s" % (server.name, probe, timeout))
            time.sleep(0.2)
    ready = time.monotonic() - started
    time.sleep(1.0)
    return ready, B.rss_bytes(server.pid)


def logged_load_seconds(server):
    m = re.search(r"policy: (\d+) entries loaded in ([\d.]+) s", server.tail(200))
    return (int(m.group(1)), float(m.group(2))) if m else (None, None)


def phase_load(tmp, hosts, rpz, rpz_probe, hosts_probe):
    rows = []
    figures = {}
    runs = []
    available, why = B.sextant_available(ARGS.sextant)
    if available:
        runs += [("sextant", "none", "", None),
                 ("sextant", "hosts list", "policy:\n  blocklists: [{name: bench, file: \"%s\"}]\n" % hosts,
                  hosts_probe),
                 ("sextant", "RPZ", "policy:\n  rpz: [{file: \"%s\"}]\n" % rpz, rpz_probe)]
    if not ARGS.no_unbound:
        runs += [("unbound", "none", None, None), ("unbound", "RPZ", rpz, rpz_probe)]
    for resolver, what, extra, probe in runs:
        name = "%s-%s" % (resolver, what.replace(" ", "-").lower())
        server, port = sextant_with(tmp, name, extra) if resolver == "sextant" else unbound_with(tmp, name, extra)
        ready, rss = start_measured(server, port, probe)
        entries, logged = logged_load_seconds(server) if resolver == "sextant" else (None, None)
        server.stop()
        figures[(resolver, what)] = dict(ready=ready, rss=rss, logged=logged, entries=entries)
        base = figures.get((resolver, "none"))
        growth = rss - base["rss"] if base and what != "none" else None
        per_entry = growth / ARGS.entries if growth is not None else None
        rows.append([resolver, what, B.fmt_number(ready, 2), B.fmt_number(logged, 2) if logged else "",
                     B.fmt_number(rss / 2**20, 1), B.fmt_number(growth / 2**20, 1) if growth is not None else "",
                     B.fmt_number(per_entry, 0) if per_entry is not None else ""])
        if per_entry is not None:
            figures[(resolver, what)]["per_entry"] = per_entry
        B.log("%s with %s: listening after %.2f s, RSS %.1f MiB" % (resolver, what, ready, rss / 2**20))
    print(B.table(["resolver", "policy", "blocking after (s)", "load logged (s)", "RSS MiB", "growth MiB",
                   "B/entry"],
                  rows, title="\n1. Load: %s entries per list, each resolver alone" % B.fmt_number(ARGS.entries)))
    return figures


def measure_rounds(servers, query_file, runs=None, seconds=None):
    """servers: [(server, port)]; alternating rounds; returns {name: (completed, cpu, [per round])}."""
    totals = {s.name: [0, 0.0, []] for s, _ in servers}
    for r in range(ARGS.rounds):
        order = servers[r % len(servers):] + servers[:r % len(servers)]
        for server, port in order:
            server.check_alive()
            before = B.cpu_seconds(server.pid)
            result = B.dnsperf(port, query_file, runs=runs, seconds=seconds, clients=4, outstanding=200,
                               pin_cpu=not ARGS.no_pin)
            used = B.cpu_seconds(server.pid) - before
            t = totals[server.name]
            t[0] += result.completed
            t[1] += used
            t[2].append(result.completed / used if used > 0 else 0)
            B.log("round %d %-16s %s answers (%s), server CPU %.2f s, %s queries/CPU-s"
                  % (r + 1, server.name, result.completed, result.rcodes, used,
                     B.fmt_number(result.completed / used if used > 0 else None)))
    return totals


def main():
    global ARGS
    ARGS = B.apply_common_arguments(parse_arguments())
    B.require_tools("dnsperf", "kdig", "unbound")
    tmp = B.private_dir("policy")
    lab = B.Lab(keep=ARGS.keep_lab)
    lab.ensure_up()
    B.log("generating %d-entry hosts list and RPZ" % ARGS.entries)
    hosts, rpz, burst, rpz_probe, hosts_probe = generate(tmp, ARGS.entries, ARGS.burst, ARGS.seed)
    names_file = tmp / "names.txt"
    B.head_lines(B.Lab.query_file("big-signed.test."), ARGS.names, names_file)

    print("Policy at scale: %s-entry hosts blocklist and RPZ (generated, seed %d)"
          % (B.fmt_number(ARGS.entries), ARGS.seed))
    print(B.environment_note(not ARGS.no_pin))
    load = {} if ARGS.skip_load else phase_load(tmp, hosts, rpz, rpz_probe + ".", hosts_probe + ".")

    available, why = B.sextant_available(ARGS.sextant)
    servers = []
    if available:
        servers.append(sextant_with(tmp, "sextant-none", ""))
        servers.append(sextant_with(tmp, "sextant-lists", "policy:\n  blocklists: [{name: bench, file: \"%s\"}]\n"
                                                          "  rpz: [{file: \"%s\"}]\n%s" % (
                                                              hosts, rpz, "  cname-inspection: false\n"
                                                              if ARGS.no_cname_inspection else "")))
    if not ARGS.no_unbound:
        servers.append(unbound_with(tmp, "unbound-rpz", rpz))
    for server, port in servers:
        start_measured(server, port, None if server.name == "sextant-none" else rpz_probe + ".")
    for server, port in servers:
        B.dnsperf(port, names_file, runs=1, max_qps=2000, clients=4, outstanding=100,
                  pin_cpu=not ARGS.no_pin, wall_limit=120)
        check = B.dnsperf(port, names_file, runs=1, clients=4, outstanding=100, pin_cpu=not ARGS.no_pin)
        if check.noerror < ARGS.names * 0.99:
            raise B.BenchError("%s answers %d of %d warm names NOERROR" % (server.name, check.noerror, ARGS.names))
    lab.check_still_up()

    hits = measure_rounds(servers, names_file, seconds=ARGS.seconds)
    rows = [[n, B.fmt_number(c / cpu if cpu else None), "%s-%s" % (B.fmt_number(min(p)), B.fmt_number(max(p)))]
            for n, (c, cpu, p) in hits.items()]
    print(B.table(["server", "queries/CPU-s", "per round"], rows,
                  title="\n2. Cache hits (%d cached names no list matches), %d rounds of %d s, alternating"
                        % (ARGS.names, ARGS.rounds, ARGS.seconds)))

    blocked = [(s, p) for s, p in servers if s.name != "sextant-none"]
    burst_totals = measure_rounds(blocked, burst, runs=ARGS.burst_passes)
    rows = [[n, B.fmt_number(c), B.fmt_number(c / cpu if cpu else None),
             "%s-%s" % (B.fmt_number(min(p)), B.fmt_number(max(p)))]
            for n, (c, cpu, p) in burst_totals.items()]
    print(B.table(["server", "answers", "queries/CPU-s", "per round"], rows,
                  title="\n3. A burst of %s blocked names (RPZ triggers), %d passes per round, %d rounds"
                        % (B.fmt_number(ARGS.burst), ARGS.burst_passes, ARGS.rounds)))
    for server, _port in servers:
        server.check_alive()

    def per_cpu(table, name):
        c, cpu, _ = table.get(name, (0, 0, []))
        return c / cpu if cpu else None

    print("\nRatios")
    s_none, s_lists = per_cpu(hits, "sextant-none"), per_cpu(hits, "sextant-lists")
    if s_none and s_lists:
        r = s_lists / s_none
        print("cache hits, Sextant with both lists / with none: %s  (target >= %.2f: %s)"
              % (B.ratio(s_lists, s_none), TARGET_HIT_PATH, "met" if r >= TARGET_HIT_PATH else "NOT met"))
    u_rpz = per_cpu(hits, "unbound-rpz")
    if s_lists and u_rpz:
        print("cache hits, Sextant with both lists / Unbound with the RPZ: %s" % B.ratio(s_lists, u_rpz))
    sb, ub = per_cpu(burst_totals, "sextant-lists"), per_cpu(burst_totals, "unbound-rpz")
    if sb and ub:
        print("blocked-name burst, Sextant / Unbound queries per CPU-second: %s" % B.ratio(sb, ub))
    for resolver in ("sextant", "unbound"):
        f = load.get((resolver, "RPZ"))
        if f and "per_entry" in f:
            print("RPZ memory per entry, %s: %s B" % (resolver, B.fmt_number(f["per_entry"])))
    sr, ur = load.get(("sextant", "RPZ")), load.get(("unbound", "RPZ"))
    if sr and ur and "per_entry" in sr and "per_entry" in ur:
        print("RPZ memory per entry, Sextant / Unbound: %s; time to answer, Sextant / Unbound: %s"
              % (B.ratio(sr["per_entry"], ur["per_entry"]), B.ratio(sr["ready"], ur["ready"])))
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
