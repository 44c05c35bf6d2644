#!/usr/bin/python3
"""Forwarding (issue 14): queries per server CPU-second at a cache miss when
everything is forwarded to an upstream resolver, for each upstream transport
Sextant has (UDP, TCP, DoT, DoH, DoQ), beside Unbound's forward-zone over UDP
and DoT in the same run; and connection reuse: TLS/QUIC handshakes (and TCP
connections) per 10,000 forwarded queries.

The upstream is one Sextant (the same binary) with UDP/TCP, DoT, DoH and DoQ
listeners and the test certificate, warmed with every name first, so that it
answers from its cache in microseconds and the same way for every front. Each
front (the server measured: one worker thread, pinned to the server CPU) is
started fresh for its run, forwards `.` to the upstream over one transport,
validates (DNSSEC on, the lab's anchor: DS/DNSKEY go through the upstream
too), and is sent its own slice of names of the signed big zone, each name
once: every query is a cache miss that the front forwards and validates.
Server CPU is read from /proc around the run; handshakes and connections from
the upstream's own counters (so Unbound's are counted the same way).

    bench/forwarding.py [--sextant CMD] [--names 2000] [--rounds 1] ...
"""

import argparse
import re
import subprocess
import time

import benchlib as B

SEXTANT_TRANSPORTS = ["udp", "tcp", "tls", "https", "quic"]
UNBOUND_TRANSPORTS = ["udp", "tls"]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--names", type=int, default=4000, help="names per run (each a cache miss)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per front and transport")
    parser.add_argument("--outstanding", type=int, default=100, help="dnsperf -q")
    parser.add_argument("--clients", type=int, default=4, help="dnsperf -c")
    parser.add_argument("--upstream", default=None,
                        help="command line of the upstream Sextant (default: the --sextant binary)")
    return parser.parse_args()


def control_stats(binary, socket_path):
    out = B.run([binary, "control", "-s", str(socket_path), "stats"], timeout=30).stdout
    values = {}
    for line in out.splitlines():
        name, _, value = line.rpartition(" ")
        try:
            values[name] = float(value)
        except ValueError:
            pass
    return values


def upstream_counters(binary, socket_path):
    """What the upstream saw: queries, TLS/QUIC handshakes and TCP connections."""
    v = control_stats(binary, socket_path)
    get = lambda k: v.get(k, 0.0)  # noqa: E731
    return {
        "queries": get("sextant_queries_total"),
        "tcp_connections": get("sextant_tcp_connections_accepted_total"),
        "dot_handshakes": get('sextant_encrypted_handshakes_total{transport="dot"}'),
        "doh_handshakes": get('sextant_encrypted_handshakes_total{transport="doh"}'),
        "doq_handshakes": get('sextant_encrypted_handshakes_total{transport="doq"}'),
    }


def sextant_front(command, workdir, port, upstream, transport, cert):
    upstreams = {
        "udp": "['127.0.0.1@%d']" % upstream.udp_tcp,
        "tcp": "[{address: '127.0.0.1@%d', transport: tcp}]" % upstream.udp_tcp,
        "tls": "[{address: '127.0.0.1@%d', transport: tls, tls-name: localhost, ca-file: '%s'}]"
               % (upstream.dot, cert),
        "https": "[{url: 'https://127.0.0.1:%d/dns-query', tls-name: localhost, ca-file: '%s'}]"
                 % (upstream.doh, cert),
        "quic": "[{address: '127.0.0.1@%d', transport: quic, tls-name: localhost, ca-file: '%s'}]"
                % (upstream.doq, cert),
    }[transport]
    server = B.sextant_server(command, workdir, B.Listeners(port), name="sextant-%s" % transport,
                              optional_encrypted=False)
    config = workdir / "sextant.yaml"
    config.write_text(config.read_text() + "forward-zones:\n  - {zone: '.', upstreams: %s}\n" % upstreams)
    return server


def unbound_front(workdir, port, upstream, transport, cert):
    server = B.unbound_server(workdir, B.Listeners(port), name="unbound-%s" % transport)
    config = workdir / "unbound.conf"
    text = config.read_text()
    if transport == "udp":
        forward = "forward-zone:\n    name: \".\"\n    forward-addr: 127.0.0.1@%d\n" % upstream.udp_tcp
    else:
        # forward-tls-upstream with the name after '#', checked against the bundle.
        text = text.replace("server:\n", "server:\n    tls-cert-bundle: \"%s\"\n" % cert, 1)
        forward = ("forward-zone:\n    name: \".\"\n    forward-tls-upstream: yes\n"
                   "    forward-addr: 127.0.0.1@%d#localhost\n" % upstream.dot)
    text = text.replace("remote-control:", forward + "remote-control:", 1)
    config.write_text(text)
    B.run(["unbound-checkconf", str(config)], timeout=30)
    return server


def main():
    args = B.apply_common_arguments(parse_arguments())
    pin_cpu = not args.no_pin
    B.require_tools("dnsperf", "unbound", "openssl")
    available, why = B.sextant_available(args.sextant)
    if not available:
        raise B.BenchError("the upstream is a Sextant: %s" % why)
    binary = args.sextant.split()[0]
    tmp = B.private_dir("forwarding")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()
    cert, key = B.make_certificate(tmp)

    plan = [("sextant", t) for t in SEXTANT_TRANSPORTS]
    if not args.no_unbound:
        plan += [("unbound", t) for t in UNBOUND_TRANSPORTS]
    runs = len(plan) * args.rounds
    all_names = tmp / "names.txt"
    B.head_lines(B.Lab.query_file("big-signed.test."), args.names * runs, all_names)
    lines = all_names.read_text().splitlines()

    # The upstream: every name cached before anything is measured.
    d = tmp / "upstream"
    d.mkdir()
    listeners = B.Listeners.pick(dot=True, doh=True, doq=True)
    upstream = B.sextant_server(args.upstream or args.sextant, d, listeners, cert, key, pin_cpu=False,
                                name="upstream", cache_memory="1G", optional_encrypted=False)
    control_socket = d / "control.sock"
    config = d / "sextant.yaml"
    config.write_text(config.read_text() + "control:\n  socket: %s\n" % control_socket)
    upstream.argv = B.pin(upstream.argv, B.CLIENT_CPU, pin_cpu)   # beside dnsperf, not the front
    upstream.start()
    warm = B.dnsperf(listeners.udp_tcp, all_names, runs=1, max_qps=3000, pin_cpu=pin_cpu, wall_limit=300)
    B.log("upstream warm-up: %d/%d NOERROR" % (warm.noerror, len(lines)))
    if warm.noerror < len(lines) * 0.99:
        raise B.BenchError("upstream warm-up incomplete (rcodes %s)" % warm.rcodes)
    lab.check_still_up()

    results = {}   # (front, transport) -> list of dicts
    slice_index = 0
    for r in range(args.rounds):
        order = plan if r % 2 == 0 else list(reversed(plan))
        for front, transport in order:
            names = tmp / ("names-%d.txt" % slice_index)
            names.write_text("\n".join(lines[slice_index * args.names:(slice_index + 1) * args.names]) + "\n")
            slice_index += 1
            wd = tmp / ("%s-%s-%d" % (front, transport, r))
            wd.mkdir()
            port = B.free_port()
            # Counted from before the front starts: its first connection and
            # handshake belong to the figure.
            before = upstream_counters(binary, control_socket)
            server = (sextant_front(args.sextant, wd, port, listeners, transport, cert) if front == "sextant"
                      else unbound_front(wd, port, listeners, transport, cert))
            server.start()
            # The chain of trust once (root, test., big-signed.test. keys), outside the count.
            if not B.validates(port, "www.example.com."):
                raise B.BenchError("%s over %s does not validate" % (front, transport))
            cpu_before = B.cpu_seconds(server.pid)
            result = B.dnsperf(port, names, runs=1, clients=args.clients, outstanding=args.outstanding,
                               pin_cpu=pin_cpu, wall_limit=300)
            cpu = B.cpu_seconds(server.pid) - cpu_before
            after = upstream_counters(binary, control_socket)
            delta = {k: after[k] - before[k] for k in after}
            server.check_alive()
            server.stop()
            results.setdefault((front, transport), []).append(dict(result=result, cpu=cpu, upstream=delta))
            B.log("%-7s %-5s %s qps, %d/%d NOERROR, front CPU %.2f s, upstream: %s"
                  % (front, transport, B.fmt_number(result.qps), result.noerror, result.sent, cpu,
                     ", ".join("%s %d" % (k, v) for k, v in delta.items() if v)))
    upstream.check_alive()
    lab.check_still_up()

    # ---- report
    print()
    print("Forwarding at a cache miss: %d names per run (big-signed.test., each once), %d round(s), "
          "dnsperf -c %d -q %d; fronts validate" % (args.names, args.rounds, args.clients, args.outstanding))
    print(B.environment_note(pin_cpu) + "; the upstream Sextant runs beside dnsperf")
    rows = []
    per_cpu = {}
    for front, transport in plan:
        rs = results.get((front, transport), [])
        if not rs:
            continue
        completed = sum(x["result"].completed for x in rs)
        noerror = sum(x["result"].noerror for x in rs)
        cpu = sum(x["cpu"] for x in rs)
        qps = B.median([x["result"].qps for x in rs])
        upstream_queries = sum(x["upstream"]["queries"] for x in rs)
        key = {"tls": "dot_handshakes", "https": "doh_handshakes", "quic": "doq_handshakes",
               "tcp": "tcp_connections"}.get(transport)
        setups = sum(x["upstream"][key] for x in rs) if key else None
        per_10k = "%.1f" % (setups * 10000 / upstream_queries) if key and upstream_queries else "-"
        per_cpu[(front, transport)] = completed / cpu if cpu > 0 else None
        rows.append([transport.upper(), front, B.fmt_number(qps), "%d/%d" % (noerror, completed),
                     "%.2f" % cpu, B.fmt_number(per_cpu[(front, transport)]), "%d" % upstream_queries, per_10k])
    print(B.table(["upstream", "front", "QPS", "NOERROR", "front CPU-s", "queries/CPU-s", "upstream queries",
                   "setups per 10k"], rows,
                  title="\nqueries/CPU-s = answers / front CPU-seconds; setups = TLS/QUIC handshakes "
                        "(TCP: connections) the upstream counted, per 10,000 queries it received"))
    ratios = []
    for transport in SEXTANT_TRANSPORTS:
        peer = "tls" if transport in ("tcp", "tls", "https", "quic") else "udp"
        s, u = per_cpu.get(("sextant", transport)), per_cpu.get(("unbound", peer))
        if s and u:
            ratios.append(["Sextant %s / Unbound %s" % (transport.upper(), peer.upper()), B.ratio(s, u)])
    if ratios:
        print(B.table(["queries/CPU-s", "ratio"], ratios, title="\nRatios (same run)"))
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
