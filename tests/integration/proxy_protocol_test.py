#!/usr/bin/python3
"""PROXY v2 from a trusted load balancer, and the drain on SIGTERM, through
real sockets (own daemon, free ports, the lab upstream).

  proxy_protocol_test.py BINARY proxy
      server.proxy-protocol-from: [127.0.0.62/32]. Headers written here, as
      dnsdist writes them, in front of UDP datagrams, TCP and DoT streams
      (before the TLS handshake): access control judges the client the header
      names (198.51.100.0/24 allowed, 203.0.113.0/24 refused, the proxy
      itself allowed), the proxy's LOCAL health check is answered, a trusted
      proxy without a header and a header from 127.0.0.1 (not trusted) get
      nothing; /metrics counts each outcome per transport; the dnstap file
      holds the clients' addresses and ports, never a spoofed one.

  proxy_protocol_test.py BINARY drain
      server.drain-time: 3s. Before SIGTERM a health check is answered; during
      the drain, health checks (LOCAL header, or a.root-servers.net. asked
      directly) get SERVFAIL + EDE 14 while every other query, a client's
      a.root-servers.net. through the proxy included, is answered; /metrics
      says sextant_draining 1; the daemon exits 0 once the window is over. A
      second SIGTERM ends a drain at once.
"""
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sextant_common as common  # noqa: E402
from dnstap_reader import read_frames  # noqa: E402
import dns.edns  # noqa: E402
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

PROXY = "127.0.0.62"      # the trusted load balancer's address
STRANGER = "127.0.0.1"    # not trusted: its headers must never be believed
SIGNATURE = bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])
MAKE_CERT = os.path.join(common.SOURCE_DIR, "scripts", "make-test-cert.sh")


def proxy_header(client, client_port, destination="192.0.2.53", destination_port=53, stream=False):
    """PROXY command, IPv4, DGRAM or STREAM: what dnsdist sends per query."""
    body = socket.inet_aton(client) + socket.inet_aton(destination) + struct.pack("!HH", client_port,
                                                                                  destination_port)
    return SIGNATURE + bytes([0x21, 0x11 if stream else 0x12]) + struct.pack("!H", len(body)) + body


def local_header():
    """dnsdist's health checks: LOCAL, UNSPEC, no addresses."""
    return SIGNATURE + bytes([0x20, 0x00, 0x00, 0x00])


def query_wire(qname, qtype="A", qid=None):
    q = common.make_query(qname, qtype)
    if qid is not None:
        q.id = qid
    return q, q.to_wire()


def udp_exchange(source, port, payload, timeout=1.0):
    """Sends one datagram from `source`; the parsed reply or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            data, _ = s.recvfrom(65535)
        except socket.timeout:
            return None
    return dns.message.from_wire(data)


def read_frame(sock, timeout):
    """One length-framed message, or None if the peer closed or went silent."""
    sock.settimeout(timeout)
    data = b""
    try:
        for _ in range(100):  # bounded: each recv returns data or ends the loop
            if len(data) >= 2 and len(data) >= 2 + int.from_bytes(data[:2], "big"):
                return dns.message.from_wire(data[2:2 + int.from_bytes(data[:2], "big")])
            chunk = sock.recv(65535)
            if not chunk:
                return None
            data += chunk
    except (socket.timeout, ConnectionResetError, ssl.SSLError, OSError):
        return None
    return None


def tcp_exchange(source, port, preamble, wire, timeout=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as s:
        s.sendall(preamble + len(wire).to_bytes(2, "big") + wire)
        return read_frame(s, timeout)


def dot_exchange(source, port, cafile, preamble, wire, timeout=2.0):
    """A PROXY header in clear, then TLS (ALPN dot), then one framed query."""
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["dot"])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as s:
        s.sendall(preamble)
        try:
            with context.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(len(wire).to_bytes(2, "big") + wire)
                return read_frame(t, timeout)
        except (ssl.SSLError, ConnectionResetError, OSError, socket.timeout):
            return None


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def proxy_count(values, transport, outcome):
    return values.get('sextant_proxy_protocol_total{transport="%s",outcome="%s"}' % (transport, outcome), -1)


def write_config(daemon, server_extra, tail):
    with open(daemon.config, "w") as f:
        f.write("server:\n"
                "  listen: [\"127.0.0.1@%d\"]\n"
                "  threads: 2\n"
                "  proxy-protocol-from: [%s/32]\n"
                "%s"
                "access-control:\n"
                "  - {subnet: 198.51.100.0/24, action: allow}\n"
                "  - {subnet: %s/32, action: allow}\n"
                "  - {subnet: 127.0.0.1/32, action: allow}\n"
                "  - {subnet: 203.0.113.0/24, action: refuse}\n"
                "resolver:\n"
                "  root-hints: %s\n"
                "  query-private-addresses: true\n"
                "dnssec:\n"
                "  trust-anchor-file: %s\n"
                "%s" % (daemon.port, PROXY, server_extra, PROXY, common.ROOT_HINTS, common.ROOT_ANCHOR, tail))


def answered(reply):
    return reply is not None and reply.rcode() == dns.rcode.NOERROR and len(reply.answer) > 0


def refused_as_client(reply):
    return reply is not None and reply.rcode() == dns.rcode.REFUSED and 18 in common.ede_codes(reply)


def proxy_test(binary):
    results = common.Results("PROXY v2 from a trusted load balancer")
    workdir = tempfile.mkdtemp(prefix="sextant-proxy-")
    subprocess.run(["sh", MAKE_CERT, workdir], check=True, capture_output=True, timeout=60)
    cafile = os.path.join(workdir, "cert.pem")
    dot_port, metrics_port = common.free_port(), common.free_port()
    tap = os.path.join(workdir, "queries.tap")
    daemon = common.Daemon(binary, workdir=workdir)
    write_config(daemon,
                 "  dot: {listen: [\"127.0.0.1@%d\"]}\n"
                 "  tls: {certificate: %s, key: %s}\n" % (dot_port, cafile, os.path.join(workdir, "key.pem")),
                 "dnstap:\n  file: %s\nmetrics:\n  listen: [\"127.0.0.1@%d\"]\n" % (tap, metrics_port))
    name = "www.example.com."
    with daemon:
        port = daemon.port
        # -- through the proxy: the client the header names is judged ---------------
        _, wire = query_wire(name)
        results.check(answered(udp_exchange(PROXY, port, proxy_header("198.51.100.7", 4444) + wire)),
                      "UDP: an allowed client behind the proxy is answered")
        results.check(refused_as_client(udp_exchange(PROXY, port, proxy_header("203.0.113.9", 4445) + wire)),
                      "UDP: a refused client behind the (allowed) proxy gets REFUSED + EDE 18")
        results.check(answered(tcp_exchange(PROXY, port, proxy_header("198.51.100.7", 4446, stream=True), wire)),
                      "TCP: an allowed client behind the proxy is answered")
        results.check(refused_as_client(tcp_exchange(PROXY, port, proxy_header("203.0.113.9", 4447, stream=True),
                                                     wire)),
                      "TCP: a refused client behind the proxy gets REFUSED")
        results.check(answered(dot_exchange(PROXY, dot_port, cafile,
                                            proxy_header("198.51.100.8", 4448, destination_port=853, stream=True),
                                            wire)),
                      "DoT: the header before the TLS handshake names an allowed client")
        results.check(refused_as_client(dot_exchange(PROXY, dot_port, cafile,
                                                     proxy_header("203.0.113.10", 4449, stream=True), wire)),
                      "DoT: a refused client behind the proxy gets REFUSED")
        _, check_wire = query_wire("a.root-servers.net.")
        health = udp_exchange(PROXY, port, local_header() + check_wire)
        results.check(health is not None and health.rcode() == dns.rcode.NOERROR,
                      "UDP: the proxy's LOCAL health check is answered",
                      health.to_text() if health else "no reply")
        # -- what must not get through ----------------------------------------------
        results.check(udp_exchange(PROXY, port, wire) is None, "UDP: the trusted proxy without a header: dropped")
        results.check(tcp_exchange(PROXY, port, b"", wire) is None, "TCP: the trusted proxy without a header: closed")
        spoofed = proxy_header("192.0.2.99", 5555)
        results.check(udp_exchange(STRANGER, port, spoofed + wire) is None,
                      "UDP: a header from an address that is not trusted: dropped")
        results.check(tcp_exchange(STRANGER, port, proxy_header("192.0.2.99", 5556, stream=True), wire) is None,
                      "TCP: a header from an address that is not trusted: closed")
        results.check(dot_exchange(STRANGER, dot_port, cafile, proxy_header("192.0.2.99", 5557, stream=True),
                                   wire) is None,
                      "DoT: a header from an address that is not trusted: closed")
        results.check(answered(udp_exchange(STRANGER, port, wire)), "UDP: that address's own queries are answered")
        # -- counted --------------------------------------------------------------------
        m = metrics(metrics_port)
        for transport, outcome, want in [("udp", "proxied", 2), ("udp", "local", 1), ("udp", "missing", 1),
                                         ("udp", "untrusted", 1), ("tcp", "proxied", 2), ("tcp", "missing", 1),
                                         ("tcp", "untrusted", 1), ("dot", "proxied", 2), ("dot", "untrusted", 1),
                                         ("udp", "invalid", 0)]:
            got = proxy_count(m, transport, outcome)
            results.check(got == want, "metrics: %s %s = %d" % (transport, outcome, want), "got %s" % got)
        code, _ = daemon.stop()
        results.check(code == 0, "the daemon stops cleanly", "exit %s" % code)
        results.check(not daemon.sanitizer_reports(), "no sanitizer report", "\n".join(daemon.sanitizer_reports()))
    # -- the query log sees the clients ----------------------------------------------
    all_frames = read_frames(tap)
    frames = [f for f in all_frames if f.get("message_type") == "CLIENT_QUERY"]
    seen = {(f.get("socket_protocol"), f.get("query_address"), f.get("query_port")) for f in frames}
    for protocol, address, client_port in [("UDP", "198.51.100.7", "4444"), ("UDP", "203.0.113.9", "4445"),
                                           ("TCP", "198.51.100.7", "4446"), ("TCP", "203.0.113.9", "4447"),
                                           ("DOT", "198.51.100.8", "4448"), ("DOT", "203.0.113.10", "4449")]:
        results.check((protocol, address, client_port) in seen,
                      "dnstap: %s query logged from %s port %s" % (protocol, address, client_port), str(seen))
    proxied = [f for f in frames if f.get("query_address") == "198.51.100.7"]
    results.check(proxied and all(f.get("response_address") == "192.0.2.53" for f in proxied),
                  "dnstap: the address the client asked (the header's destination) is logged too", str(proxied))
    responses = [f for f in all_frames if f.get("message_type") == "CLIENT_RESPONSE"
                 and f.get("query_address") == "198.51.100.7"]
    results.check(len(responses) == 2, "dnstap: the answers to that client are logged with its address",
                  str(responses))
    results.check(not any(f.get("query_address") == "192.0.2.99" for f in all_frames),
                  "dnstap: a spoofed header never reaches the log", "")
    results.check(any(f.get("query_address") == PROXY and f.get("question") == "a.root-servers.net."
                      for f in frames),
                  "dnstap: the proxy's own health check is logged as from the proxy", "")
    return results.finish()


def drain_test(binary):
    results = common.Results("drain on SIGTERM")
    workdir = tempfile.mkdtemp(prefix="sextant-drain-")
    metrics_port = common.free_port()
    daemon = common.Daemon(binary, workdir=workdir)
    write_config(daemon, "  drain-time: 3s\n", "metrics:\n  listen: [\"127.0.0.1@%d\"]\n" % metrics_port)
    check_query, check_wire = query_wire("a.root-servers.net.")
    name = "www.example.com."

    def health_ok(reply):
        return reply is not None and reply.rcode() == dns.rcode.NOERROR

    def health_failed(reply):
        # dnsdist's query has no EDNS; ours does, so the EDE is visible.
        return reply is not None and reply.rcode() == dns.rcode.SERVFAIL and 14 in common.ede_codes(reply)

    with daemon:
        port = daemon.port
        results.check(health_ok(udp_exchange(PROXY, port, local_header() + check_wire)),
                      "before SIGTERM: the LOCAL health check is answered")
        results.check(health_ok(udp_exchange(STRANGER, port, check_wire)),
                      "before SIGTERM: a direct a.root-servers.net. is answered")
        results.check(metrics(metrics_port).get("sextant_draining") == 0, "before SIGTERM: sextant_draining 0")
        started = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        _, wire = query_wire(name)
        results.check(health_failed(udp_exchange(PROXY, port, local_header() + check_wire)),
                      "draining: the LOCAL health check over UDP gets SERVFAIL + EDE 14")
        results.check(health_failed(tcp_exchange(PROXY, port, local_header(), check_wire)),
                      "draining: the LOCAL health check over TCP gets SERVFAIL + EDE 14")
        results.check(health_failed(udp_exchange(STRANGER, port, check_wire)),
                      "draining: a direct query for the health-check name gets SERVFAIL + EDE 14")
        results.check(answered(udp_exchange(PROXY, port, proxy_header("198.51.100.7", 4444) + wire)),
                      "draining: clients behind the proxy are still answered")
        results.check(health_ok(udp_exchange(PROXY, port, proxy_header("198.51.100.7", 4445) + check_wire)),
                      "draining: a client's own a.root-servers.net. through the proxy is answered")
        results.check(answered(udp_exchange(STRANGER, port, wire)), "draining: direct clients are still answered")
        results.check(answered(tcp_exchange(STRANGER, port, b"", wire)), "draining: TCP clients are still answered")
        m = metrics(metrics_port)
        results.check(m.get("sextant_draining") == 1 and m.get("sextant_health_checks_failed_total") == 3,
                      "draining: sextant_draining 1, 3 health checks failed",
                      "%s %s" % (m.get("sextant_draining"), m.get("sextant_health_checks_failed_total")))
        try:
            code = daemon.process.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        elapsed = time.monotonic() - started
        results.check(code == 0 and 2.9 <= elapsed <= 8, "exits 0 after the 3-s window",
                      "exit %s after %.1f s" % (code, elapsed))
        results.check("draining for 3000 ms" in daemon.log_text() and "3 health check(s) failed" in daemon.log_text(),
                      "the log says it drained and how many checks failed", daemon.log_text()[-1500:])
        results.check(not daemon.sanitizer_reports(), "no sanitizer report", "\n".join(daemon.sanitizer_reports()))

    # A second SIGTERM ends the drain at once.
    daemon = common.Daemon(binary, workdir=workdir)
    write_config(daemon, "  drain-time: 60s\n", "")
    with daemon:
        started = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        results.check(health_failed(udp_exchange(STRANGER, daemon.port, check_wire)), "a 60-s drain has begun")
        daemon.process.send_signal(signal.SIGTERM)
        try:
            code = daemon.process.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        elapsed = time.monotonic() - started
        results.check(code == 0 and elapsed < 5, "a second SIGTERM stops it at once",
                      "exit %s after %.1f s" % (code, elapsed))
    return results.finish()


def main(argv):
    if len(argv) != 2 or argv[1] not in ("proxy", "drain"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return proxy_test(argv[0]) if argv[1] == "proxy" else drain_test(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
