"""Helpers shared by the Sextant integration tests (tests/integration/).

Everything here talks to 127.0.0.0/8 only: the daemon under test, the lab's
servers (127.53.x.x, or the /16 that SEXTANT_LAB_NET names) and the fake
authoritative's control port.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
LAB_DIR = os.path.join(SOURCE_DIR, "tests", "lab")
LAB_RUN = os.environ.get("SEXTANT_LAB_RUN", os.path.join(LAB_DIR, "run"))
ROOT_HINTS = os.path.join(LAB_RUN, "root.hints")
ROOT_ANCHOR = os.path.join(LAB_RUN, "root-anchor.ds")

sys.path.insert(0, LAB_DIR)
import labnet  # noqa: E402  (tests/lab/labnet.py: the lab's prefix and its ports)

# What a sanitizer prints when it finds something (ASan, LSan, UBSan).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")


class TestFailure(Exception):
    pass


# ---- results ---------------------------------------------------------------------
class Results:
    """Collects named checks; prints one line each and a summary."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.passed = 0

    def check(self, condition, what, detail=""):
        if condition:
            self.passed += 1
            print("ok   %s" % what, flush=True)
        else:
            self.failures.append(what)
            print("FAIL %s%s" % (what, (": " + detail) if detail else ""), flush=True)
        return condition

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, len(self.failures)), flush=True)
        return 0 if not self.failures else 1


# ---- the fake authoritative --------------------------------------------------------
def fakectl(command):
    import lab  # tests/lab/lab.py
    reply = lab.fakectl(command)
    if not reply.get("ok"):
        raise TestFailure("fakectl %s: %s" % (command, reply))
    return reply


def upstream_count(qname, qtype=None):
    """Queries the fake authoritative received for qname (all types, or qtype)."""
    stats = fakectl("stats")
    qname = qname.lower().rstrip(".") + "."
    total = 0
    for key, n in stats["queries"].items():
        name, rdtype = key.rsplit("/", 1)
        if name == qname and (qtype is None or rdtype == qtype.upper()):
            total += n
    return total


# ---- the control socket ------------------------------------------------------------
def control(binary, args, socket_path=None, config=None):
    """Runs `sextant control` (the real CLI); returns (exit code, stdout, stderr)."""
    where = ["-s", socket_path] if socket_path else ["-c", config]
    p = subprocess.run([binary, "control"] + where + args, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def control_stats(binary, socket_path):
    """`control stats` as {sample: value}; raises TestFailure if it fails."""
    code, out, err = control(binary, ["stats"], socket_path)
    if code != 0:
        raise TestFailure("control stats failed: %s" % (out + err))
    values = {}
    for line in out.splitlines():
        name, _, value = line.rpartition(" ")
        try:
            values[name] = float(value)
        except ValueError:
            pass
    return values


# ---- queries -----------------------------------------------------------------------
def make_query(qname, qtype, dnssec=False, edns=True):
    return dns.message.make_query(qname, qtype, use_edns=0 if edns else False,
                                  want_dnssec=dnssec, payload=1232)


def udp_query(message, host, port, timeout=3.0, source=None):
    return dns.query.udp(message, host, port=port, timeout=timeout, source=source)


def tcp_query(message, host, port, timeout=3.0, source=None):
    return dns.query.tcp(message, host, port=port, timeout=timeout, source=source)


def ede_codes(reply):
    codes = []
    for option in reply.options if reply.edns >= 0 else []:
        if option.otype == dns.edns.EDE:
            codes.append(int(option.code))
    return codes


def answer_addresses(reply, rdtype=dns.rdatatype.A):
    return sorted(r.to_text() for rrset in reply.answer if rrset.rdtype == rdtype for r in rrset)


def raw_udp(wire, host, port, timeout=1.0, source=None):
    """Sends raw octets over UDP; returns the reply octets or None (no reply)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(wire, (host, port))
        try:
            data, _ = s.recvfrom(65535)
            return data
        except socket.timeout:
            return None


def raw_tcp(wire, host, port, timeout=1.0, frame=True):
    """Sends raw octets over TCP (with the 2-octet length unless frame=False);
    returns the reply octets, or None when the server sent none (timeout or
    the connection closed without a reply)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall((len(wire).to_bytes(2, "big") if frame else b"") + wire)
        data = b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                chunk = s.recv(65535)
                if not chunk:
                    break
                data += chunk
                if len(data) >= 2 and len(data) >= 2 + int.from_bytes(data[:2], "big"):
                    break
        except (socket.timeout, ConnectionResetError):
            pass
    if len(data) < 2:
        return None
    return data[2:2 + int.from_bytes(data[:2], "big")]


# ---- a short-lived daemon of our own ------------------------------------------------
def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise TestFailure("no free port found")


def with_cache_settings(extra, lines):
    """`extra` (YAML) with `lines` (indented two spaces) added to its cache:
    section, which is created if it has none."""
    out = extra.splitlines(keepends=True)
    for i, line in enumerate(out):
        if line.rstrip() == "cache:":
            return "".join(out[:i + 1]) + lines + "".join(out[i + 1:])
    if extra and not extra.endswith("\n"):
        extra += "\n"
    return extra + "cache:\n" + lines


def write_config(path, port, threads=2, extra=""):
    # Warm restart stays off unless a test asks for it: every test starts
    # cold, and no two daemons share the default snapshot file.
    if "warm-restart" not in extra:
        extra = with_cache_settings(extra, "  warm-restart:\n    enabled: false\n")
    with open(path, "w") as f:
        f.write("server:\n"
                "  listen: [\"127.0.0.1@%d\"]\n"
                "  threads: %d\n"
                "resolver:\n"
                "  root-hints: %s\n"
                "  query-private-addresses: true\n"
                "dnssec:\n"
                "  trust-anchor-file: %s\n" % (port, threads, ROOT_HINTS, ROOT_ANCHOR))
        f.write(extra)


def wait_until_answering(host, port, deadline_s, process=None):
    """Waits until the resolver sends any DNS reply; False on timeout or exit."""
    deadline = time.monotonic() + deadline_s
    query = make_query("a.root-servers.net.", "A")
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            udp_query(query, host, port, timeout=0.5)
            return True
        except (dns.exception.Timeout, OSError):
            time.sleep(0.2)
    return False


class Daemon:
    """A sextant process started by the test itself (its child), stopped with
    SIGTERM by pid, with stderr kept for the sanitizer check."""

    def __init__(self, binary, port=None, extra_config="", threads=2, workdir=None):
        self.binary = binary
        self.port = port or free_port()
        self.dir = workdir or tempfile.mkdtemp(prefix="sextant-it-")
        self.config = os.path.join(self.dir, "sextant-%d.yaml" % self.port)
        self.log_path = os.path.join(self.dir, "sextant-%d.log" % self.port)
        write_config(self.config, self.port, threads, extra_config)
        self.process = None
        self.log = None

    def start(self, wait_s=20):
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([self.binary, "-c", self.config], stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not wait_until_answering("127.0.0.1", self.port, wait_s, self.process):
            self.stop()
            raise TestFailure("sextant on port %d did not answer within %d s; log:\n%s"
                              % (self.port, wait_s, self.log_text()))
        return self

    def stop(self, timeout=5.0):
        """SIGTERM; returns (exit code or None if it had to be killed, seconds)."""
        if self.process is None:
            return None, 0.0
        started = time.monotonic()
        code = self.process.poll()
        if code is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                code = None
        elapsed = time.monotonic() - started
        self.log.close()
        self.process = None
        return code, elapsed

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sanitizer_reports(self):
        return [line for line in self.log_text().splitlines()
                if any(m in line for m in SANITIZER_MARKERS)]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
