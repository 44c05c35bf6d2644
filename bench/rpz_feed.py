#!/usr/bin/python3
"""RPZ from a primary (issue 15): a generated 1,000,000-record RPZ served by a
Knot DNS primary of the benchmark's own, transferred by Sextant and by Unbound
(`rpz: primary:`), one resolver at a time:

  1. AXFR: time from the resolver's start until it blocks the zone's last
     trigger (the whole zone transferred and loaded), CPU seconds it used,
     resident memory; Sextant's own figure from its log line.
  2. IXFR: --changes new triggers added on the primary in one dynamic update
     (one journal changeset); time from the update until the resolver
     blocks the last of them (NOTIFY, SOA, IXFR, apply, swap), CPU seconds;
     Sextant's own figure from its log line (it applies the differences to
     its record set and rebuilds the zone's tables: that rebuild is most of
     the figure).

    bench/rpz_feed.py [--sextant CMD] [--entries 1000000] [--changes 100] [--no-unbound]
"""

import argparse
import random
import re
import subprocess
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.update

import benchlib as B
import policy as P

ZONE = "rpz.bench."
MARK = "198.51.100.7"  # the local-data answer that shows a trigger applies


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--entries", type=int, default=1_000_000, help="records in the generated RPZ")
    parser.add_argument("--changes", type=int, default=100, help="triggers added by the update (IXFR)")
    parser.add_argument("--seed", type=int, default=15, help="seed of the generated names")
    parser.add_argument("--timeout", type=int, default=600, help="bound on each wait, seconds")
    return parser.parse_args()


def generate(tmp, entries, seed):
    rng = random.Random(seed)
    path = tmp / "rpz.bench.zone"
    last = None
    with open(path, "w") as f:
        f.write("$ORIGIN rpz.bench.\n$TTL 300\n@ SOA ns.rpz.bench. admin.rpz.bench. 1 3600 600 86400 300\n"
                "@ NS ns.rpz.bench.\n")
        for i in range(entries - 1):
            f.write("%s CNAME .\n" % P.blocked_name(rng, i, "r"))
        # The last one answers local data, which no lab server could give
        # (an NXDOMAIN could come from the lab itself).
        last = P.blocked_name(rng, entries, "r")
        f.write("%s A %s\n" % (last, MARK))
    return path, last + "."


class Knot:
    def __init__(self, tmp, zone_file, port, notify_ports):
        self.dir = tmp / "knot"
        (self.dir / "db").mkdir(parents=True, exist_ok=True)
        self.port = port
        self.config = self.dir / "knot.conf"
        remotes = []
        for i, p in enumerate(notify_ports):
            remotes += ["  - id: r%d" % i, '    address: "127.0.0.1@%d"' % p]
        self.config.write_text("\n".join([
            "server:", '    rundir: "%s"' % self.dir, '    listen: "127.0.0.1@%d"' % port,
            "    udp-workers: 1", "    tcp-workers: 1", "    background-workers: 1",
            "database:", '    storage: "%s/db"' % self.dir,
            "control:", '    listen: "%s/knot.sock"' % self.dir,
            "log:", '  - target: "%s/knotd.log"' % self.dir, "    any: info",
            "remote:"] + remotes + [
            "acl:", "  - id: xfr", '    address: "127.0.0.0/8"', "    action: [transfer, update]",
            "template:", "  - id: default", "    zonefile-sync: -1", "    journal-content: changes",
            "    semantic-checks: off",
            "zone:", '  - domain: "%s"' % ZONE, '    file: "%s"' % zone_file,
            "    notify: [%s]" % ", ".join("r%d" % i for i in range(len(notify_ports))), "    acl: xfr", ""]))
        self.server = B.ServerProcess("knotd", ["/usr/sbin/knotd", "-c", str(self.config)], self.dir,
                                      [port], [port], pin_cpu=False)

    def start(self, timeout):
        started = time.monotonic()
        self.server.start(timeout=timeout)
        while self.serial() is None:
            self.server.check_alive()
            if time.monotonic() - started > timeout:
                raise B.BenchError("knotd did not load %s in %d s" % (ZONE, timeout))
            time.sleep(0.5)
        B.log("knotd: %s loaded in %.1f s" % (ZONE, time.monotonic() - started))

    def serial(self):
        try:
            r = dns.query.tcp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=self.port, timeout=2)
            return r.answer[0][0].serial if r.answer else None
        except (dns.exception.DNSException, OSError):
            return None

    def add_triggers(self, names):
        update = dns.update.UpdateMessage(ZONE)
        for n in names:
            update.add(n, 300, "A", MARK)
        r = dns.query.tcp(update, "127.0.0.1", port=self.port, timeout=30)
        if r.rcode() != dns.rcode.NOERROR:
            raise B.BenchError("the update was answered %s" % dns.rcode.to_text(r.rcode()))


def blocked(port, name):
    """True once `name` is answered with the policy's local data."""
    try:
        reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=1.0)
    except (dns.exception.Timeout, OSError):
        return False
    return any(rd.to_text() == MARK for rrset in reply.answer for rd in rrset)


def wait_blocked(server, port, name, timeout):
    started = time.monotonic()
    while not blocked(port, name):
        server.check_alive()
        if time.monotonic() - started > timeout:
            raise B.BenchError("%s does not block %s after %d s" % (server.name, name, timeout))
        time.sleep(0.05)
    return time.monotonic() - started


def logged(server, kind):
    m = re.findall(r"serial \d+ by %s from \S+ \(.*?\) in ([\d.]+) ms" % kind, server.tail(400))
    return float(m[-1]) / 1000 if m else None


def measure(name, server, port, knot, last_name, changes, serial, timeout):
    started = time.monotonic()
    server.start(timeout=60)
    wait_blocked(server, port, last_name, timeout)
    axfr = time.monotonic() - started  # from the start: the resolver's own start-up included
    axfr_cpu = B.cpu_seconds(server.pid)
    rss = B.rss_bytes(server.pid)
    time.sleep(1.0)
    new = ["ixfr%d-%d.bench.example.%s" % (serial, i, ZONE) for i in range(changes)]
    cpu1 = B.cpu_seconds(server.pid)
    started = time.monotonic()
    knot.add_triggers(new)
    ixfr = wait_blocked(server, port, new[-1][:-len(ZONE)], timeout)
    time.sleep(0.5)  # the CPU of the swap's end
    ixfr_cpu = B.cpu_seconds(server.pid) - cpu1
    row = {"axfr": axfr, "axfr_cpu": axfr_cpu, "rss": rss, "ixfr": ixfr, "ixfr_cpu": ixfr_cpu,
           "axfr_logged": logged(server, "AXFR") if name == "sextant" else None,
           "ixfr_logged": logged(server, "IXFR") if name == "sextant" else None}
    server.stop()
    return row


def main():
    args = B.apply_common_arguments(parse_arguments())
    B.require_tools("unbound", "knotd", "knotc")
    tmp = B.private_dir("rpz-feed")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()  # the resolvers' root hints
    B.log("generating a %d-record RPZ" % args.entries)
    zone_file, last_name = generate(tmp, args.entries, args.seed)
    knot_port, s_port, u_port = B.free_port(), B.free_port(), B.free_port()
    knot = Knot(tmp, zone_file, knot_port, [s_port, u_port])
    knot.start(args.timeout)
    print("RPZ from a primary: %s-record zone from Knot DNS, %d triggers added by IXFR"
          % (B.fmt_number(args.entries), args.changes))
    print(B.environment_note(not args.no_pin))
    rows = {}
    available, why = B.sextant_available(args.sextant)
    if available:
        d = P.fresh_dir(tmp, "sextant")
        listeners = B.Listeners(udp_tcp=s_port)
        server = B.sextant_server(args.sextant, d, listeners, pin_cpu=not args.no_pin, name="sextant")
        config = d / "sextant.yaml"
        text = config.read_text().replace("log-level: warning", "log-level: info")
        config.write_text(text + "policy:\n  rpz:\n    - {zone: %s, primaries: [\"127.0.0.1@%d\"], "
                                 "transfer-timeout: %ds}\n" % (ZONE, knot_port, args.timeout))
        rows["sextant"] = measure("sextant", server, s_port, knot, last_name, args.changes, 1, args.timeout)
    else:
        B.log("sextant skipped: %s" % why)
    if not args.no_unbound:
        d = P.fresh_dir(tmp, "unbound")
        listeners = B.Listeners(udp_tcp=u_port)
        server = B.unbound_server(d, listeners, pin_cpu=not args.no_pin, name="unbound")
        config = d / "unbound.conf"
        text = config.read_text().replace('module-config: "validator iterator"',
                                          'module-config: "respip validator iterator"')
        text += ("\nrpz:\n    name: %s\n    primary: 127.0.0.1@%d\n    allow-notify: 127.0.0.1\n"
                 "    rpz-log: no\n" % (ZONE, knot_port))
        config.write_text(text)
        rows["unbound"] = measure("unbound", server, u_port, knot, last_name, args.changes, 2, args.timeout)
    knot.server.stop()

    table = []
    for name, r in rows.items():
        table.append([name, B.fmt_number(r["axfr"], 2, " s"), B.fmt_number(r["axfr_cpu"], 2, " s"),
                      B.fmt_number(r["rss"] / 2**20, 0, " MiB"), B.fmt_number(r["ixfr"], 2, " s"),
                      B.fmt_number(r["ixfr_cpu"], 2, " s"),
                      B.fmt_number(r["axfr_logged"], 2, " s") if r["axfr_logged"] else "-",
                      B.fmt_number(r["ixfr_logged"], 3, " s") if r["ixfr_logged"] else "-"])
    print(B.table(["resolver", "AXFR to blocking", "CPU", "RSS", "IXFR to blocking", "CPU",
                   "AXFR (logged)", "IXFR (logged)"], table))
    s, u = rows.get("sextant"), rows.get("unbound")
    if s and u:
        print("AXFR until blocking, Sextant / Unbound: %s; CPU %s" % (B.ratio(s["axfr"], u["axfr"]),
                                                                   B.ratio(s["axfr_cpu"], u["axfr_cpu"])))
        print("IXFR of %d changes until blocking, Sextant / Unbound: %s; CPU %s"
              % (args.changes, B.ratio(s["ixfr"], u["ixfr"]), B.ratio(s["ixfr_cpu"], u["ixfr_cpu"])))
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
