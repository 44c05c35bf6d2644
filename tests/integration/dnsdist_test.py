#!/usr/bin/python3
"""The dnsdist recipe of docs/deploy/ run on loopback: dnsdist (Debian's 1.7)
with docs/deploy/dnsdist.conf unchanged in front of two Sextant instances
(the settings of docs/deploy/sextant-backend.yaml: PROXY v2 from dnsdist's
source address, a 3-s drain), the lab upstream, real clients.

  dnsdist_test.py BINARY

1. dig (UDP, TCP, DoH) and kdig (DoT) through dnsdist get the lab's answer.
2. chashed: 40 names asked through dnsdist land on both instances, each name
   on exactly one (so each name is cached once).
3. Drain: dnsperf at 300 q/s for 7 s; one instance gets SIGTERM after 2 s:
   dnsdist marks it down from its health checks while it still answers,
   it exits 0, and dnsperf loses nothing and sees only NOERROR.
4. Crash: the instance is started again and marked up; then the other one
   is killed (SIGKILL) during dnsperf load and a probe that asks a name
   every 20 ms. Failures are allowed only until dnsdist has had its
   health-check interval (checkInterval x maxCheckFailures + checkTimeout,
   2.8 s) to notice; after that no probe fails, and a second dnsperf run
   loses nothing.
5. Each instance's dnstap log shows the clients' own addresses (each client
   binds a 127.0.0.x of its own), and dnsdist's address only for its health
   checks.

Exit 77 (skipped) when dnsdist is not installed.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sextant_common as common  # noqa: E402
from dnstap_reader import read_frames  # noqa: E402
import dns.exception  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

RECIPE = os.path.join(common.SOURCE_DIR, "docs", "deploy", "dnsdist.conf")
MAKE_CERT = os.path.join(common.SOURCE_DIR, "scripts", "make-test-cert.sh")
DNSDIST_SOURCE = "127.0.0.62"   # dnsdist's backend_source: the only trusted proxy
# The recipe's health checks: checkInterval 1 s x maxCheckFailures 2 + checkTimeout 0.8 s.
DETECTION_S = 2.8
ANSWER = "192.0.2.10"           # www.example.com. A in the lab
CLIENTS = {"dig-udp": "127.0.0.7", "dig-tcp": "127.0.0.8", "kdig-dot": "127.0.0.9", "dig-doh": "127.0.0.10",
           "chashed": "127.0.0.11", "dnsperf-drain": "127.0.0.12", "probe": "127.0.0.13",
           "dnsperf-crash": "127.0.0.14", "dnsperf-after": "127.0.0.15"}


def big_name(i):
    return "n%06d.big.test." % i


def big_address(i):
    return "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


class Backend:
    """One Sextant instance as docs/deploy/sextant-backend.yaml sets it up."""

    def __init__(self, binary, workdir, name):
        self.binary, self.workdir, self.name = binary, workdir, name
        self.port = common.free_port()
        self.runs = 0
        self.process = None
        self.taps = []

    def start(self):
        self.runs += 1
        tap = os.path.join(self.workdir, "%s-%d.tap" % (self.name, self.runs))
        self.taps.append(tap)
        config = os.path.join(self.workdir, "%s.yaml" % self.name)
        with open(config, "w") as f:
            f.write("server:\n"
                    "  listen: [\"127.0.0.1@%d\"]\n"
                    "  threads: 1\n"
                    "  proxy-protocol-from: [%s/32]\n"
                    "  drain-time: 3s\n"
                    "access-control:\n"
                    "  - {subnet: 127.0.0.0/8, action: allow}\n"
                    "resolver:\n"
                    "  root-hints: %s\n"
                    "  query-private-addresses: true\n"
                    "dnssec:\n"
                    "  trust-anchor-file: %s\n"
                    "dnstap:\n"
                    "  file: %s\n" % (self.port, DNSDIST_SOURCE, common.ROOT_HINTS, common.ROOT_ANCHOR, tap))
        self.log_path = os.path.join(self.workdir, "%s-%d.log" % (self.name, self.runs))
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([self.binary, "-c", config], stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        # 127.0.0.1 is not the trusted proxy: a direct query is answered.
        if not common.wait_until_answering("127.0.0.1", self.port, 20, self.process):
            raise common.TestFailure("%s did not start:\n%s" % (self.name, self.log_text()))

    def signal(self, sig):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)   # a second signal: no drain wait
            self.process.send_signal(signal.SIGINT)
            if self.wait(10) is None:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
        self.process = None

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class Dnsdist:
    def __init__(self, workdir, backends, cert, key):
        self.ports = {"dns": common.free_port(), "dot": common.free_port(), "doh": common.free_port()}
        self.config = os.path.join(workdir, "dnsdist.conf")
        with open(self.config, "w") as f:
            # The recipe's variables, then the recipe itself, unchanged.
            f.write('frontend_address = "127.0.0.1"\n'
                    "frontend_ports = { dns = %d, dot = %d, doh = %d }\n"
                    'tls_certificate = "%s"\ntls_key = "%s"\n'
                    "backends = { %s }\n"
                    'backend_source = "%s"\n'
                    'client_acl = { "127.0.0.0/8" }\n'
                    'dofile("%s")\n'
                    % (self.ports["dns"], self.ports["dot"], self.ports["doh"], cert, key,
                       ", ".join('"127.0.0.1:%d"' % b.port for b in backends), DNSDIST_SOURCE, RECIPE))
        self.log_path = os.path.join(workdir, "dnsdist.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(["dnsdist", "--supervised", "--disable-syslog", "-C", self.config],
                                        stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def states(self):
        """The latest up/down mark of each backend (by its name in the recipe)."""
        marks = {}
        for name, state in re.findall(r"Marking downstream (\S+) \(\S+\) as '(up|down)'", self.log_text()):
            marks[name] = state
        return marks

    def wait_state(self, name, state, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.states().get(name) == state:
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


def run(argv, timeout=20):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def dnsperf(port, qfile, source, seconds, qps):
    """Runs dnsperf through dnsdist; returns (sent, completed, lost, rcodes, raw output)."""
    code, out, err = run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-a", source, "-d", qfile,
                          "-l", str(seconds), "-Q", str(qps), "-c", "4", "-t", "2"], timeout=seconds + 30)
    def number(label):
        m = re.search(r"%s:\s+(\d+)" % label, out)
        return int(m.group(1)) if m else -1
    line = next((l for l in out.splitlines() if "Response codes:" in l), "")
    rcodes = {k: int(v) for k, v in re.findall(r"([A-Z]+) (\d+) \(", line)}
    return number("Queries sent"), number("Queries completed"), number("Queries lost"), rcodes, out + err


def warm(backend, numbers):
    """Asks `backend` directly (from 127.0.0.1, no proxy) for these big.test
    names, so that names moving to it when the other instance goes away are
    cache hits: what is tested here is dnsdist's switch, not how fast a cold
    instance absorbs a burst of new names under CPU load."""
    numbers = list(numbers)

    def worker(part):
        for i in part:
            for _ in range(3):
                try:
                    dns.query.udp(common.make_query(big_name(i), "A"), "127.0.0.1", port=backend.port, timeout=2)
                    break
                except dns.exception.Timeout:
                    continue
    threads = [threading.Thread(target=worker, args=(numbers[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


class Probe(threading.Thread):
    """Asks big.test names through dnsdist every 20 ms, one at a time, with a
    0.5-s timeout; records (time sent, ok) for each."""

    def __init__(self, port, source, seconds):
        super().__init__(daemon=True)
        self.port, self.source, self.seconds = port, source, seconds
        self.events = []

    def run(self):
        end = time.monotonic() + self.seconds
        i = 0
        while time.monotonic() < end:
            sent = time.monotonic()
            n = 1000 + i % 200
            ok = False
            try:
                reply = dns.query.udp(common.make_query(big_name(n), "A"), "127.0.0.1", port=self.port,
                                      timeout=0.5, source=self.source)
                ok = reply.rcode() == dns.rcode.NOERROR and common.answer_addresses(reply) == [big_address(n)]
            except (dns.exception.Timeout, OSError):
                ok = False
            self.events.append((sent, ok))
            i += 1
            time.sleep(max(0.0, 0.02 - (time.monotonic() - sent)))


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if shutil.which("dnsdist") is None or shutil.which("dnsperf") is None:
        print("dnsdist or dnsperf is not installed (scripts/install-deps.sh): skipped")
        return 77
    binary = argv[0]
    results = common.Results("dnsdist in front of two Sextant instances")
    workdir = tempfile.mkdtemp(prefix="sextant-dnsdist-")
    run(["sh", MAKE_CERT, workdir], timeout=60)
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    qfile = os.path.join(workdir, "qfile")
    with open(qfile, "w") as f:
        f.writelines("%s A\n" % big_name(i) for i in range(200))
    backends = [Backend(binary, workdir, "sextant1"), Backend(binary, workdir, "sextant2")]
    dnsdist = None
    try:
        for b in backends:
            b.start()
        dnsdist = Dnsdist(workdir, backends, cert, key)
        up = all(dnsdist.wait_state(b.name, "up", 15) for b in backends)
        results.check(up, "dnsdist marks both instances up from their health checks", dnsdist.log_text()[-2000:])
        if not up:
            return results.finish()
        port = dnsdist.ports["dns"]

        # 1. Every client transport through dnsdist.
        for label, argv_ in [
                ("dig-udp", ["dig", "@127.0.0.1", "-p", str(port), "-b", CLIENTS["dig-udp"]]),
                ("dig-tcp", ["dig", "@127.0.0.1", "-p", str(port), "+tcp", "-b", CLIENTS["dig-tcp"]]),
                ("kdig-dot", ["kdig", "@127.0.0.1", "-p", str(dnsdist.ports["dot"]), "-b", CLIENTS["kdig-dot"],
                              "+tls-ca=" + cert, "+tls-hostname=localhost"]),
                ("dig-doh", ["dig", "@127.0.0.1", "-p", str(dnsdist.ports["doh"]), "-b", CLIENTS["dig-doh"],
                             "+https", "+tls-ca=" + cert, "+tls-hostname=localhost"])]:
            retries = ["+retry=1"] if argv_[0] == "kdig" else ["+tries=2"]
            code, out, err = run(argv_ + retries + ["+short", "+time=2", "www.example.com.", "A"])
            results.check(code == 0 and out.split() == [ANSWER], "%s through dnsdist gets %s" % (label, ANSWER),
                          "exit %d: %s %s" % (code, out, err))

        # 2. chashed: 40 names, each asked twice, from one client.
        for i in range(40):
            for _ in range(2):
                reply = dns.query.udp(common.make_query(big_name(500 + i), "A"), "127.0.0.1", port=port,
                                      timeout=2, source=CLIENTS["chashed"])
                if common.answer_addresses(reply) != [big_address(500 + i)]:
                    results.check(False, "chashed: %s answered" % big_name(500 + i), reply.to_text())

        # 3. SIGTERM during load: the drain keeps every query answered.
        warm(backends[1], range(200))
        victim = backends[0]
        timer = threading.Timer(2.0, victim.signal, args=(signal.SIGTERM,))
        timer.start()
        sent, completed, lost, rcodes, output = dnsperf(port, qfile, CLIENTS["dnsperf-drain"], 7, 300)
        timer.join()
        results.check(sent > 1500 and completed == sent and lost == 0 and set(rcodes) == {"NOERROR"},
                      "drain: dnsperf through a SIGTERM: every query answered NOERROR",
                      "sent %d completed %d lost %d rcodes %s\n%s" % (sent, completed, lost, rcodes, output))
        results.check(dnsdist.states().get(victim.name) == "down",
                      "drain: dnsdist marked the draining instance down", str(dnsdist.states()))
        code = victim.wait(10)
        results.check(code == 0, "drain: the instance exits 0", "exit %s" % code)
        results.check("draining for 3000 ms" in victim.log_text() and
                      "0 health check(s) failed" not in victim.log_text(),
                      "drain: it failed dnsdist's health checks while draining", victim.log_text()[-1500:])
        victim.stop()

        # 4. The instance comes back; then the other one crashes under load.
        victim.start()
        results.check(dnsdist.wait_state(victim.name, "up", 15), "crash: the restarted instance is marked up again",
                      dnsdist.log_text()[-1500:])
        warm(victim, list(range(200)) + list(range(1000, 1200)))
        crashed = backends[1]
        probe = Probe(port, CLIENTS["probe"], 8)
        load = threading.Thread(target=lambda: dnsperf(port, qfile, CLIENTS["dnsperf-crash"], 8, 300), daemon=True)
        probe.start()
        load.start()
        time.sleep(2.0)
        killed_at = time.monotonic()
        crashed.signal(signal.SIGKILL)
        noticed = dnsdist.wait_state(crashed.name, "down", 10)
        noticed_after = time.monotonic() - killed_at
        probe.join(15)
        load.join(40)
        results.check(noticed and noticed_after <= DETECTION_S + 1.0,
                      "crash: dnsdist marks the killed instance down within the health-check interval",
                      "after %.1f s" % noticed_after)
        window_end = killed_at + DETECTION_S
        before = [ok for t, ok in probe.events if t < killed_at - 0.6]
        inside = [ok for t, ok in probe.events if killed_at - 0.6 <= t <= window_end]
        after = [ok for t, ok in probe.events if t > window_end]
        print("probe: %d asked before the kill (%d failed), %d in the %.1f-s detection window (%d failed), "
              "%d after it (%d failed); dnsdist noticed after %.2f s"
              % (len(before), before.count(False), len(inside), DETECTION_S, inside.count(False), len(after),
                 after.count(False), noticed_after), flush=True)
        results.check(before and all(before), "crash: no probe failed before the kill")
        results.check(len(after) >= 50 and all(after), "crash: after the health-check interval no probe fails",
                      "%d of %d failed" % (after.count(False), len(after)))
        sent, completed, lost, rcodes, output = dnsperf(port, qfile, CLIENTS["dnsperf-after"], 3, 300)
        results.check(sent > 600 and lost == 0 and set(rcodes) == {"NOERROR"},
                      "crash: dnsperf afterwards loses nothing",
                      "sent %d completed %d lost %d rcodes %s" % (sent, completed, lost, rcodes))
    finally:
        if dnsdist is not None:
            dnsdist.stop()
        for b in backends:
            b.stop()

    # 5. The query logs: the clients, not dnsdist.
    frames = {b.name: [f for tap in b.taps if os.path.exists(tap) for f in read_frames(tap)
                       if f.get("message_type") == "CLIENT_QUERY"] for b in backends}
    everything = frames["sextant1"] + frames["sextant2"]
    for label in ("dig-udp", "dig-tcp", "kdig-dot", "dig-doh", "dnsperf-drain", "dnsperf-crash"):
        results.check(any(f.get("query_address") == CLIENTS[label] for f in everything),
                      "dnstap: %s's queries are logged with its address %s" % (label, CLIENTS[label]))
    from_dnsdist = [f for f in everything if f.get("query_address") == DNSDIST_SOURCE]
    results.check(from_dnsdist and all(f.get("question") == "a.root-servers.net." for f in from_dnsdist),
                  "dnstap: dnsdist's own address appears only for its health checks",
                  str([f for f in from_dnsdist if f.get("question") != "a.root-servers.net."][:3]))
    # chashed: which instance(s) saw each of the 40 names (first run of sextant1 only).
    where = {}
    for name, fs in frames.items():
        for f in fs:
            if f.get("query_address") == CLIENTS["chashed"]:
                where.setdefault(f.get("question"), set()).add(name)
    results.check(len(where) == 40 and all(len(v) == 1 for v in where.values()),
                  "chashed: each of 40 names went to exactly one instance",
                  str({k: v for k, v in where.items() if len(v) != 1}))
    per_instance = {name: sum(1 for v in where.values() if name in v) for name in frames}
    results.check(all(n >= 5 for n in per_instance.values()), "chashed: both instances got a share of the names",
                  str(per_instance))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
