"""Upstream resolvers for the forwarding tests (forward_test.py), all on
127.0.0.1 with free ports:

  UnboundUpstream   Debian's Unbound resolving the lab (validating, like a
                    real upstream), on UDP/TCP and on DoT with the test
                    certificate (tls-service-key / tls-service-pem), its own
                    config, log and process: never the lab's shared Unbound.
  LyingForwarder    a forwarder that relays to an upstream with CD=1 and
                    sets AD on every answer: a validating resolver must not
                    believe it.
"""
import os
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time

import dns.flags
import dns.message
import dns.query

import sextant_common as common

UNBOUND_CONF = """server:
    interface: 127.0.0.1@{port}
    interface: 127.0.0.1@{tls_port}
    tls-port: {tls_port}
    tls-service-key: "{key}"
    tls-service-pem: "{cert}"
    port: {port}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    logfile: "{dir}/unbound.log"
    use-syslog: no
    verbosity: 1
    log-queries: {log_queries}
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    do-ip6: no
    root-hints: "{hints}"
    trust-anchor-file: "{anchor}"
    module-config: "validator iterator"
    local-zone: "test." nodefault
    local-zone: "2.0.192.in-addr.arpa." nodefault
    prefetch: no
    serve-expired: no
    aggressive-nsec: no
    qname-minimisation: yes
    infra-host-ttl: 60
    incoming-num-tcp: 100
remote-control:
    control-enable: no
"""


def make_cert(directory):
    subprocess.run([os.path.join(common.SOURCE_DIR, "scripts", "make-test-cert.sh"), directory],
                   check=True, capture_output=True)
    return os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")


def spki_pin(cert_path):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate (RFC 7858 pin)."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_path, "-noout", "-pubkey"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, check=True,
                         capture_output=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der, check=True,
                            capture_output=True).stdout
    import base64
    return base64.b64encode(digest).decode()


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UnboundUpstream:
    def __init__(self, log_queries=False):
        self.dir = tempfile.mkdtemp(prefix="sextant-fwd-unbound-")
        self.cert, self.key = make_cert(self.dir)
        self.port = common.free_port()
        self.tls_port = free_tcp_port()
        self.conf = os.path.join(self.dir, "unbound.conf")
        with open(self.conf, "w") as f:
            f.write(UNBOUND_CONF.format(port=self.port, tls_port=self.tls_port, key=self.key, cert=self.cert,
                                        dir=self.dir, hints=common.ROOT_HINTS, anchor=common.ROOT_ANCHOR,
                                        log_queries="yes" if log_queries else "no"))
        self.process = None

    def start(self, wait_s=20):
        self.process = subprocess.Popen(["unbound", "-d", "-c", self.conf], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + wait_s
        query = dns.message.make_query(".", "SOA")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise common.TestFailure("unbound exited; see %s" % self.dir)
            try:
                dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
                with socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.5):
                    return self
            except (dns.exception.Timeout, OSError):
                time.sleep(0.1)
        self.stop()
        raise common.TestFailure("unbound did not answer on 127.0.0.1:%d within %d s" % (self.port, wait_s))

    def freeze(self):
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.process.send_signal(signal.SIGCONT)

    def kill(self):
        self.process.kill()
        self.process.wait(5)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "unbound.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class LyingForwarder:
    """UDP and TCP on one port: every query is relayed to `upstream_port` with
    CD=1 and the answer returned with AD=1, whatever the data."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.port = common.free_port()
        self.relayed = 0
        forwarder = self

        def relay(wire):
            query = dns.message.from_wire(wire)
            query.flags |= dns.flags.CD
            try:
                reply = dns.query.udp(query, "127.0.0.1", port=forwarder.upstream_port, timeout=2.0)
                if reply.flags & dns.flags.TC:
                    reply = dns.query.tcp(query, "127.0.0.1", port=forwarder.upstream_port, timeout=2.0)
            except Exception:  # noqa: BLE001 - no answer: the resolver times out
                return None
            reply.flags |= dns.flags.AD
            forwarder.relayed += 1
            return reply.to_wire(max_size=65535)

        class Udp(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                answer = relay(data)
                if answer is not None:
                    sock.sendto(answer, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(5)
                try:
                    while True:
                        head = self.request.recv(2)
                        if len(head) < 2:
                            return
                        length = int.from_bytes(head, "big")
                        data = b""
                        while len(data) < length:
                            chunk = self.request.recv(length - len(data))
                            if not chunk:
                                return
                            data += chunk
                        answer = relay(data)
                        if answer is not None:
                            self.request.sendall(len(answer).to_bytes(2, "big") + answer)
                except OSError:
                    return

        socketserver.ThreadingUDPServer.allow_reuse_address = True
        self.udp = socketserver.ThreadingUDPServer(("127.0.0.1", self.port), Udp)
        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Tcp)
        for server in (self.udp, self.tcp):
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self):
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()
