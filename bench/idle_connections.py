#!/usr/bin/python3
"""Abusive connections (issue 16 §6): what idle TLS connections cost, and what
the connection limits cost the queries, Sextant beside Unbound in the same run.

1. RSS per idle DoT connection: each server (one thread) is given N (10,000)
   TLS connections that finish their handshake and never ask anything, from
   N/50 loopback addresses (under Sextant's default cap of 100 per client);
   its RSS is read before and after. Both servers are configured to hold
   them all (Sextant: tcp-connections-per-worker 20000, idle timeout 120 s;
   Unbound: incoming-num-tcp N + 500, tcp-idle-timeout 120 s). A fresh DoT
   query must still be answered while they are held.
2. Cached-answer DoT and DoH queries per server CPU-second (dnsperf, -c
   connections kept open), Sextant with the limits at their defaults, Sextant
   with the per-client cap off (max-connections-per-client: 0), and Unbound.
3. RSS per idle DoQ connection (Sextant only: no DoQ server in Debian 12 to
   compare with; set beside its own DoT figure and Unbound's): --doq N
   connections that finish their QUIC handshake and stay silent, held by
   tests/tools/doq_attack (built with the project, `make doq_attack`).

    bench/idle_connections.py [--sextant CMD] [--connections 10000] [--doq 2000] [--seconds 5] [--rounds 2]
"""

import argparse
import os
import resource
import socket
import ssl
import struct
import subprocess
import sys
import time
from pathlib import Path

import benchlib as B

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "tools"))
import connection_attacks as attacks  # noqa: E402


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--connections", type=int, default=10000, help="idle TLS connections per server")
    parser.add_argument("--per-address", type=int, default=50, help="connections per source address")
    parser.add_argument("--names", type=int, default=1000, help="cached names in the query file")
    parser.add_argument("--seconds", type=int, default=5, help="length of one dnsperf round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per transport and server")
    parser.add_argument("--clients", type=int, default=8, help="dnsperf -c")
    parser.add_argument("--doq", type=int, default=2000, help="idle DoQ connections (0: skip)")
    parser.add_argument("--doq-attack", default=str(B.REPO / "build" / "release" / "tests" / "integration" /
                                                    "doq_attack"), help="tests/tools/doq_attack's binary")
    return parser.parse_args()


def sources(count, per_address, first=100):
    addresses = []
    for i in range((count + per_address - 1) // per_address):
        addresses.append("127.0.%d.%d" % (first + i // 250, 1 + i % 250))
    return addresses


def dot_answers(port, cafile, qname):
    query = bytes.fromhex("abcd01000001000000000000")
    for label in qname.rstrip(".").split("."):
        query += bytes([len(label)]) + label.encode()
    query += b"\x00\x00\x01\x00\x01"
    try:
        s = attacks.tls_connect(port, cafile, ["dot"], "127.0.0.1", timeout=5)
        s.sendall(struct.pack("!H", len(query)) + query)
        data = s.recv(65535)
        s.close()
        return len(data) > 14 and data[2:4] == b"\xab\xcd"
    except (OSError, ssl.SSLError):
        return False


def idle_rss(server, port, cafile, args, qname, count):
    """(RSS growth per held connection in octets, connections held, fresh query answered)."""
    time.sleep(1.0)
    before = B.rss_bytes(server.pid)
    held, failures = attacks.idle_tls(port, cafile, count, sources(count, args.per_address), deadline_s=300)
    time.sleep(2.0)
    alive = attacks.still_open(held)
    after = B.rss_bytes(server.pid)
    fresh = dot_answers(port, cafile, qname)
    for s in held:
        s.close()
    B.log("%s: %d idle TLS connections held (%d failed), RSS %d -> %d KiB, fresh query %s"
          % (server.name, alive, failures, before // 1024, after // 1024, "answered" if fresh else "NOT answered"))
    return (after - before) / max(1, alive), alive, fresh


def idle_doq_rss(server, port, cafile, args, qname):
    """(RSS growth per held DoQ connection in octets, connections held)."""
    time.sleep(1.0)
    before = B.rss_bytes(server.pid)
    tool = subprocess.Popen([args.doq_attack, str(port), cafile, qname.rstrip("."), "idle", str(args.doq)]
                            + sources(args.doq, args.per_address, first=110),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    report = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = tool.stdout.readline()
        if not line or line.strip() == "ready":
            break
        key, _, value = line.partition(" ")
        report[key] = int(value)
    time.sleep(2.0)
    after = B.rss_bytes(server.pid)
    rest, _ = tool.communicate("\n", timeout=120)
    for line in rest.splitlines():
        key, _, value = line.partition(" ")
        report[key] = int(value)
    held = report.get("still_open", 0)
    B.log("%s: %d idle DoQ connections held (%d handshakes failed), RSS %d -> %d KiB"
          % (server.name, held, report.get("handshake_failures", -1), before // 1024, after // 1024))
    return (after - before) / max(1, held), held


def main():
    args = B.apply_common_arguments(parse_arguments())
    pin_cpu = not args.no_pin
    B.require_tools("dnsperf", "unbound", "openssl")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < args.connections + 1000:
        raise B.BenchError("the fd limit (%d) is too low for %d connections" % (hard, args.connections))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    tmp = B.private_dir("idle-connections")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()
    names_file = tmp / "names.txt"
    B.head_lines(B.Lab.query_file("big-signed.test."), args.names, names_file)
    qname = names_file.read_text().split()[0]
    cert, key = B.make_certificate(tmp)

    available, why = B.sextant_available(args.sextant)
    if not available:
        raise B.BenchError("Sextant not available: %s" % why)
    variants = []   # (label, server, listeners)
    hold = "  tcp-connections-per-worker: 20000\n  tcp-idle-timeout: 120s\n"
    for label, extra in (("sextant", hold), ("sextant, per-client cap off",
                                              hold + "  max-connections-per-client: 0\n")):
        d = tmp / label.replace(" ", "_").replace(",", "")
        d.mkdir()
        listeners = B.Listeners.pick(dot=True, doh=True, doq=args.doq > 0 and not label.endswith("cap off"))
        variants.append((label, B.sextant_server(args.sextant, d, listeners, cert, key, pin_cpu,
                                                 name=d.name, server_extra=extra, optional_encrypted=False),
                         listeners))
    idle_servers = [(label, server, listeners) for label, server, listeners in variants
                    if not label.endswith("cap off")]
    if not args.no_unbound:
        d = tmp / "unbound"
        d.mkdir()
        listeners = B.Listeners.pick(dot=True, doh=True)
        variants.append(("unbound", B.unbound_server(d, listeners, cert, key, pin_cpu), listeners))
        # For the idle connections, an Unbound with UDP/TCP and DoT only and
        # as many TCP slots as fit the fd limit: it allocates every slot's
        # buffer at start, and needs a descriptor per slot per interface.
        d = tmp / "unbound-idle"
        d.mkdir()
        idle_listeners = B.Listeners.pick(dot=True)
        slots = min(args.connections + 100, (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 2048) // 2)
        server = B.unbound_server(d, idle_listeners, cert, key, pin_cpu, name="unbound-idle")
        config = d / "unbound.conf"
        config.write_text(config.read_text()
                          .replace("    incoming-num-tcp: 256\n",
                                   "    incoming-num-tcp: %d\n    tcp-idle-timeout: 120000\n" % slots)
                          .replace("    outgoing-range: 4096\n", "    outgoing-range: 512\n"))
        idle_servers.append(("unbound", server, idle_listeners, slots - 100))

    rows_rss = []
    per_connection = {}
    for entry in idle_servers:
        label, server, listeners = entry[:3]
        count = entry[3] if len(entry) > 3 else args.connections
        server.start()
        warm = B.dnsperf(listeners.udp_tcp, names_file, runs=1, max_qps=2000, pin_cpu=pin_cpu, wall_limit=120)
        B.log("%s warm-up: %d/%d NOERROR" % (label, warm.noerror, args.names))
        # DoQ first: after the TLS connections close, their freed heap would
        # absorb the QUIC connections without any RSS growth.
        doq_row = None
        if listeners.doq and os.path.exists(args.doq_attack):
            octets, held = idle_doq_rss(server, listeners.doq, str(cert), args, qname)
            per_connection[label + " DoQ"] = octets
            doq_row = [label + " (DoQ)", "%d" % held, B.fmt_number(octets / 1024.0, 1, " KiB"),
                       B.fmt_number(octets * held / 1024.0 / 1024.0, 1, " MiB"), "-"]
        elif listeners.doq:
            B.log("no %s: skipping the idle DoQ connections (make doq_attack)" % args.doq_attack)
        octets, alive, fresh = idle_rss(server, listeners.dot, str(cert), args, qname, count)
        per_connection[label] = octets
        rows_rss.append([label, "%d" % alive, B.fmt_number(octets / 1024.0, 1, " KiB"),
                         B.fmt_number(octets * alive / 1024.0 / 1024.0, 1, " MiB"),
                         "yes" if fresh else "NO"])
        if doq_row:
            rows_rss.append(doq_row)
        server.stop()
    lab.check_still_up()

    rows_qps = []
    cps = {}
    for label, server, listeners in variants:
        server.start()
        B.dnsperf(listeners.udp_tcp, names_file, runs=1, max_qps=2000, pin_cpu=pin_cpu, wall_limit=120)
        for mode, port, extra in (("dot", listeners.dot, []),
                                  ("doh", listeners.doh, ["-O", "doh-uri=https://127.0.0.1:%d/dns-query"
                                                          % listeners.doh])):
            figures = []
            for _ in range(args.rounds):
                cpu0 = B.cpu_seconds(server.pid)
                r = B.dnsperf(port, names_file, mode=mode, seconds=args.seconds, clients=args.clients,
                              pin_cpu=pin_cpu, extra=extra)
                cpu = B.cpu_seconds(server.pid) - cpu0
                figures.append(r.completed / cpu if cpu > 0 else 0.0)
            cps[(label, mode)] = B.median(figures)
        server.stop()
    for mode in ("dot", "doh"):
        base = cps.get(("sextant", mode))
        rows_qps.append([mode] + [B.fmt_number(cps.get((label, mode), 0)) for label, _, _ in variants] +
                        [B.ratio(base, cps.get(("sextant, per-client cap off", mode))),
                         B.ratio(base, cps.get(("unbound", mode))) if ("unbound", mode) in cps else "-"])

    print()
    print(B.environment_note(pin_cpu))
    print(B.table(["server", "idle TLS connections held", "RSS per connection", "RSS for all", "fresh query answered"],
                  rows_rss, title="RSS growth per idle DoT connection (up to %d connections; Unbound: as many as its "
                  "TCP slots fit the fd limit)" % args.connections))
    if "unbound" in per_connection and per_connection["unbound"] > 0:
        print("Sextant / Unbound RSS per idle connection: %s"
              % B.ratio(per_connection["sextant"], per_connection["unbound"]))
    if "sextant DoQ" in per_connection:
        print("Sextant DoQ / Sextant DoT RSS per idle connection: %s"
              % B.ratio(per_connection["sextant DoQ"], per_connection["sextant"]))
        if per_connection.get("unbound", 0) > 0:
            print("Sextant DoQ / Unbound DoT RSS per idle connection: %s"
                  % B.ratio(per_connection["sextant DoQ"], per_connection["unbound"]))
    print()
    print(B.table(["transport"] + [label for label, _, _ in variants] +
                  ["limits on / cap off", "Sextant / Unbound"],
                  rows_qps, title="cached queries per server CPU-second (dnsperf -c %d, %d s x %d rounds, median)"
                  % (args.clients, args.seconds, args.rounds)))
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
