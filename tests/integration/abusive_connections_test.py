#!/usr/bin/python3
"""Abusive connections on the encrypted front-ends (issue 16 §6), through
real sockets against short-lived daemons of the test's own (local data, no
upstream needed), with the attack clients of tests/tools/connection_attacks.py:

  abusive_connections_test.py SEXTANT_BINARY [attacks|idle|doq DOQ_ATTACK_BINARY]

attacks  a daemon with DoT and DoH, handshake-timeout 1 s, tcp-idle-timeout
         1.5 s: HTTP/2 rapid reset (CVE-2023-44487), a PING flood and a
         SETTINGS flood are ended (GOAWAY ENHANCE_YOUR_CALM where it gets
         through) and counted; HTTP/1.1 slow headers are closed at the idle
         timeout and a ClientHello sent one octet per 200 ms at the handshake
         timeout, both counted.
idle     a daemon with max-connections-per-client 20 and 300 connections per
         worker (2 workers): 30 connections from one address leave 20 open
         (the rest refused, counted); 500 idle TLS connections from 25
         addresses raise the RSS by a measured amount per connection (printed,
         bounded); 500 more make the server evict the oldest idle ones
         (counted) instead of refusing newcomers.
doq      a daemon with DoQ (max-streams 8), 60 connections per worker (2
         workers), with the ngtcp2 attack client tests/tools/doq_attack.cpp:
         streams that never finish fill the stream limit and no more, the
         connection stays open, another client is answered, and once they
         are reset the same connection is answered; 2,000 streams reset as
         soon as sent leave the connection usable; 50 idle DoQ connections
         (after 10) raise the RSS by a measured amount per connection
         (printed, bounded), and 100 more make the server evict the oldest
         idle ones (counted), every newcomer's handshake succeeding. Then
         (tcp-idle-timeout 1.5 s) half a query without FIN on a connection
         kept busy by complete queries is closed at the idle timeout.
While each attack runs, a client over UDP and one over DoT (127.0.0.1) ask
a local-data name every 50 ms: every question must be answered.

Bounded: at most ~1,100 connections, a few thousand frames, seconds per part.
"""
import os
import resource
import struct
import subprocess
import sys
import threading
import time

import dns.message
import dns.rcode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import sextant_common as common  # noqa: E402
import connection_attacks as attacks  # noqa: E402

NAME = "www.attack.test."
ADDRESS = "192.0.2.80"
MAKE_CERT = os.path.join(common.SOURCE_DIR, "scripts", "make-test-cert.sh")


def counter(s, name, transport):
    return s.get('%s{transport="%s"}' % (name, transport), 0)


class Target:
    """A daemon with DoT and DoH on free ports, a certificate, local data."""

    def __init__(self, binary, server_extra, doq_extra=None):
        self.binary = binary
        self.daemon = common.Daemon(binary)
        self.dir = self.daemon.dir
        p = subprocess.run(["sh", MAKE_CERT, self.dir], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise common.TestFailure("make-test-cert.sh failed: %s" % (p.stdout + p.stderr))
        self.cafile = os.path.join(self.dir, "cert.pem")
        self.socket_path = os.path.join(self.dir, "control.sock")
        self.dot_port = common.free_port()
        self.doh_port = common.free_port()
        self.doq_port = common.free_port()
        if doq_extra is not None:
            server_extra += "  doq:\n    listen: [\"127.0.0.1@%d\"]\n%s" % (self.doq_port, doq_extra)
        # No lab needed: the only name asked is local data, and the root
        # "server" is a loopback address where nothing listens.
        hints = os.path.join(self.dir, "root.hints")
        with open(hints, "w") as f:
            f.write(". 3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A 127.255.255.254\n")
        with open(self.daemon.config, "w") as f:
            f.write("server:\n"
                    "  listen: [\"127.0.0.1@%d\"]\n"
                    "  threads: 2\n"
                    "  dot:\n    listen: [\"127.0.0.1@%d\"]\n"
                    "  doh:\n    listen: [\"127.0.0.1@%d\"]\n"
                    "  tls:\n    certificate: %s\n    key: %s\n"
                    "%s"
                    "resolver:\n  root-hints: %s\n  query-private-addresses: true\n"
                    "dnssec:\n  validation: false\n"
                    "policy:\n  local-data: [\"%s A %s\"]\n"
                    "control:\n  socket: %s\n"
                    "cache:\n  warm-restart:\n    enabled: false\n"
                    % (self.daemon.port, self.dot_port, self.doh_port, self.cafile,
                       os.path.join(self.dir, "key.pem"), server_extra, hints,
                       NAME, ADDRESS, self.socket_path))

    def __enter__(self):
        self.daemon.start()
        return self

    def __exit__(self, *exc):
        if self.daemon.process is not None:
            self.daemon.stop()

    def stats(self):
        return common.control_stats(self.binary, self.socket_path)

    def rss_kib(self):
        with open("/proc/%d/status" % self.daemon.process.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class Watcher:
    """A UDP client and a DoT client (one connection, reopened if closed)
    asking the local-data name every 50 ms from 127.0.0.1."""

    def __init__(self, target):
        self.target = target
        self.stop_event = threading.Event()
        self.udp_ok = self.udp_failed = self.dot_ok = self.dot_failed = 0
        self.failures = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        self.wait_for_round(5.0)  # both clients answered once before the attack starts
        return self

    def __exit__(self, *exc):
        self.wait_for_round(5.0)  # and once more after it (a fast attack may fit in between)
        self.stop_event.set()
        self.thread.join(10)

    def wait_for_round(self, seconds):
        target = (self.udp_ok + self.udp_failed + 1, self.dot_ok + self.dot_failed + 1)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.thread.is_alive():
            if self.udp_ok + self.udp_failed >= target[0] and self.dot_ok + self.dot_failed >= target[1]:
                return
            time.sleep(0.01)

    def dot_connection(self):
        return attacks.tls_connect(self.target.dot_port, self.target.cafile, ["dot"], "127.0.0.1", timeout=2.0)

    def run(self):
        query = dns.message.make_query(NAME, "A")
        dot = None
        while not self.stop_event.is_set():
            try:
                reply = common.udp_query(query, "127.0.0.1", self.target.daemon.port, timeout=1.0)
                ok = reply.rcode() == dns.rcode.NOERROR and ADDRESS in reply.to_text()
                self.udp_ok += ok
                self.udp_failed += not ok
            except Exception as e:  # noqa: BLE001 (any failure is counted)
                self.udp_failed += 1
                self.failures.append("udp: %r" % e)
            for attempt in range(2):  # a connection closed as idle is reopened once
                try:
                    if dot is None:
                        dot = self.dot_connection()
                    wire = query.to_wire()
                    dot.sendall(struct.pack("!H", len(wire)) + wire)
                    data = b""
                    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                        chunk = dot.recv(65535)
                        if not chunk:
                            raise EOFError("closed")
                        data += chunk
                    reply = dns.message.from_wire(data[2:])
                    ok = reply.rcode() == dns.rcode.NOERROR and ADDRESS in reply.to_text()
                    self.dot_ok += ok
                    self.dot_failed += not ok
                    break
                except Exception as e:  # noqa: BLE001
                    if dot is not None:
                        dot.close()
                    dot = None
                    if attempt == 1:
                        self.dot_failed += 1
                        self.failures.append("dot: %r" % e)
            self.stop_event.wait(0.05)
        if dot is not None:
            dot.close()

    def check(self, results, what):
        results.check(self.udp_ok > 0 and self.udp_failed == 0 and self.dot_ok > 0 and self.dot_failed == 0,
                      "during %s: UDP and DoT clients answered" % what,
                      "udp %d ok / %d failed, dot %d ok / %d failed; %s"
                      % (self.udp_ok, self.udp_failed, self.dot_ok, self.dot_failed, self.failures[:3]))


def finish(results, target):
    code, elapsed = target.daemon.stop()
    reports = target.daemon.sanitizer_reports()
    results.check(code == 0 and not reports, "daemon stopped cleanly",
                  "exit %s after %.1f s; %s" % (code, elapsed, reports[:5]))


def attacks_test(binary, results):
    server = ("  handshake-timeout: 1s\n"
              "  tcp-idle-timeout: 1500ms\n")
    with Target(binary, server) as t:
        before = t.stats()
        with Watcher(t) as w:
            r = attacks.rapid_reset(t.doh_port, t.cafile, streams=1000, source="127.0.0.2")
            w.check(results, "HTTP/2 rapid reset")
        print("rapid reset:", r)
        results.check(r["closed"] and r["goaway"] in (None, attacks.GOAWAY_ENHANCE_YOUR_CALM),
                      "rapid reset: the connection is ended (GOAWAY ENHANCE_YOUR_CALM when seen)", str(r))
        for kind in ("ping", "settings"):
            with Watcher(t) as w:
                r = attacks.control_flood(t.doh_port, t.cafile, kind, frames=1000, source="127.0.0.3")
                w.check(results, "a %s flood" % kind)
            print("%s flood:" % kind, r)
            results.check(r["closed"] and r["goaway"] in (None, attacks.GOAWAY_ENHANCE_YOUR_CALM),
                          "%s flood: the connection is ended" % kind, str(r))
        after = t.stats()
        floods = counter(after, "sextant_encrypted_flood_closes_total", "doh") - \
            counter(before, "sextant_encrypted_flood_closes_total", "doh")
        results.check(floods >= 3, "flood closes counted (rapid reset, PING, SETTINGS)", str(floods))

        with Watcher(t) as w:
            r = attacks.slow_headers(t.doh_port, t.cafile, interval=0.2, source="127.0.0.4")
            w.check(results, "slow headers")
        print("slow headers:", r)
        results.check(r["closed_after"] is not None and r["closed_after"] < 4.0,
                      "slow headers (1 octet / 200 ms): closed at the 1.5 s idle timeout", str(r))
        with Watcher(t) as w:
            r = attacks.tls_slowloris(t.dot_port, interval=0.2, source="127.0.0.5")
            w.check(results, "a TLS slowloris")
        print("TLS slowloris:", r)
        results.check(r["closed_after"] is not None and r["closed_after"] < 3.0,
                      "TLS slowloris (ClientHello 1 octet / 200 ms): closed at the 1 s handshake timeout", str(r))
        after = t.stats()
        for name, transport, what in (("sextant_encrypted_request_timeouts_total", "doh", "slow headers"),
                                      ("sextant_encrypted_handshake_timeouts_total", "dot", "slowloris")):
            moved = counter(after, name, transport) - counter(before, name, transport)
            results.check(moved >= 1, "%s counted (%s)" % (what, name), str(moved))
        finish(results, t)


def idle_test(binary, results):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))  # the daemon inherits it too
    # ASan keeps freed memory in quarantine (256 MB by default): the TLS
    # handshakes' garbage would then count as the connections' RSS.
    options = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (options + ":" if options else "") + "quarantine_size_mb=0"
    server = ("  max-connections-per-client: 20\n"
              "  tcp-connections-per-worker: 300\n"
              "  tcp-idle-timeout: 60s\n")
    with Target(binary, server) as t:
        before = t.stats()
        with Watcher(t) as w:
            r = attacks.over_cap(t.dot_port, t.cafile, 30, "127.0.0.6")
            w.check(results, "30 connections from one address")
        results.check(r["alive"] == 20, "per-client cap 20: 20 of 30 connections from one address stay", str(r))
        s = t.stats()
        refused = counter(s, "sextant_encrypted_connections_refused_per_client_total", "dot") - \
            counter(before, "sextant_encrypted_connections_refused_per_client_total", "dot")
        results.check(refused >= 10, "refused per client: counted", str(refused))

        sources = ["127.0.1.%d" % i for i in range(1, 26)]  # 25 addresses x 20 = the cap
        rss_before = t.rss_kib()
        with Watcher(t) as w:
            held, failures = attacks.idle_tls(t.dot_port, t.cafile, 500, sources)
            time.sleep(0.5)
            alive = attacks.still_open(held)
            w.check(results, "500 idle TLS connections")
        rss_after = t.rss_kib()
        per_connection = (rss_after - rss_before) * 1024.0 / max(1, alive)
        print("RSS: %d KiB before, %d KiB with %d idle TLS connections: %.0f octets per connection "
              "(sanitizer build)" % (rss_before, rss_after, alive, per_connection))
        results.check(alive == 500 and failures == 0, "500 idle TLS connections held",
                      "alive %d, failures %d" % (alive, failures))
        # ASan's redzones and quarantine inflate this several times over the
        # release build's figure (bench/idle_connections.py measures that).
        results.check(per_connection < 64 * 1024, "RSS per idle TLS connection under 64 KiB (sanitizer build)",
                      "%.0f" % per_connection)
        more_sources = ["127.0.2.%d" % i for i in range(1, 26)]
        with Watcher(t) as w:
            more, more_failures = attacks.idle_tls(t.dot_port, t.cafile, 500, more_sources)
            time.sleep(0.5)
            w.check(results, "500 more idle TLS connections over the 600 the server holds")
        s = t.stats()
        evicted = counter(s, "sextant_encrypted_connections_evicted_total", "dot") - \
            counter(before, "sextant_encrypted_connections_evicted_total", "dot")
        results.check(evicted >= 300 and more_failures == 0,
                      "full server: the oldest idle connections are evicted, newcomers served",
                      "evicted %d, handshake failures %d" % (evicted, more_failures))
        fresh = attacks.tls_connect(t.dot_port, t.cafile, ["dot"], "127.0.3.1")
        wire = dns.message.make_query(NAME, "A").to_wire()
        fresh.sendall(struct.pack("!H", len(wire)) + wire)
        fresh.settimeout(3)
        data = fresh.recv(65535)
        results.check(len(data) > 2 and ADDRESS in dns.message.from_wire(data[2:]).to_text(),
                      "a new client is answered while the server is full of idle connections", repr(data[:20]))
        fresh.close()
        for sock in held + more:
            sock.close()
        finish(results, t)


def doq_attack(tool, t, *args, stdin=None):
    """Runs tests/tools/doq_attack against the target's DoQ port; its
    "key value" lines as a dict of ints."""
    p = subprocess.run([tool, str(t.doq_port), t.cafile, NAME.rstrip(".")] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=60, input=stdin)
    if p.returncode != 0:
        raise common.TestFailure("doq_attack %s: exit %d: %s" % (args[0], p.returncode, p.stderr[-500:]))
    return parse_attack_output(p.stdout)


def parse_attack_output(text):
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


class IdleDoq:
    """doq_attack idle in the background: holds `count` DoQ connections
    from `sources` until release() (then counts those still open)."""

    def __init__(self, tool, t, count, sources):
        self.process = subprocess.Popen([tool, str(t.doq_port), t.cafile, NAME.rstrip("."), "idle", str(count)]
                                        + sources, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line or line.strip() == "ready":
                break
            self.lines.append(line)
        self.result = parse_attack_output("".join(self.lines))

    def release(self):
        try:
            rest, _ = self.process.communicate("\n", timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
        self.result.update(parse_attack_output(rest))
        return self.result


def doq_test(binary, tool, results):
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0").lstrip(":")
    server = ("  max-connections-per-client: 20\n"
              "  tcp-connections-per-worker: 60\n"
              "  tcp-idle-timeout: 60s\n")
    with Target(binary, server, "    max-streams: 8\n") as t:
        before = t.stats()
        with Watcher(t) as w:
            r = doq_attack(tool, t, "unfinished", "127.0.4.1", "127.0.4.2")
            w.check(results, "DoQ streams that never finish")
        print("unfinished streams:", r)
        results.check(r.get("stream_limit") == 8 and r.get("opened") == 8 and r.get("streams_left_after") == 0,
                      "unfinished DoQ streams: the server's limit (max-streams 8) holds, no more credit", str(r))
        results.check(r.get("alive_while_held") == 1 and r.get("other_client_answered") == 1,
                      "unfinished DoQ streams: the connection stays open, another DoQ client is answered", str(r))
        results.check(r.get("credit_back") == 1 and r.get("same_connection_answered") == 1,
                      "reset unfinished DoQ streams: their credit comes back, the connection answers", str(r))

        with Watcher(t) as w:
            r = doq_attack(tool, t, "flood", "127.0.4.3", 2000)
            w.check(results, "2,000 DoQ streams reset as soon as sent")
        print("DoQ reset flood:", r)
        results.check(r.get("reset_streams") == 2000 and r.get("after_flood_answered") == 1 and r.get("closed") == 0,
                      "2,000 DoQ streams reset at once: all taken within the limit, the connection still answers",
                      str(r))

        # Ten first, so that one-time allocations (the workers' first QUIC
        # handshakes) do not count as the connections' RSS.
        warm = IdleDoq(tool, t, 10, ["127.0.5.1", "127.0.5.2"])
        time.sleep(0.3)
        rss_before = t.rss_kib()
        # Accepted, not the open-connections gauge: the earlier parts'
        # connections leave at their idle timeout meanwhile.
        accepted_before = counter(t.stats(), "sextant_encrypted_connections_total", "doq")
        active_before = counter(t.stats(), "sextant_encrypted_connections", "doq")
        first = IdleDoq(tool, t, 50, ["127.0.5.%d" % i for i in range(3, 8)])
        time.sleep(0.3)
        rss_after = t.rss_kib()
        active = counter(t.stats(), "sextant_encrypted_connections_total", "doq") - accepted_before
        per_connection = (rss_after - rss_before) * 1024.0 / max(1, active)
        print("RSS: %d KiB with %d idle DoQ connections, %d KiB with %d more: %.0f octets per connection "
              "(sanitizer build)" % (rss_before, active_before, rss_after, active, per_connection))
        results.check(first.result.get("handshakes") == 50 and active == 50, "50 more idle DoQ connections held",
                      "%s, active %d" % (first.result, active))
        # ASan's redzones inflate this several times over a release build's.
        results.check(per_connection < 256 * 1024, "RSS per idle DoQ connection under 256 KiB (sanitizer build)",
                      "%.0f" % per_connection)
        with Watcher(t) as w:
            second = IdleDoq(tool, t, 100, ["127.0.6.%d" % i for i in range(1, 11)])
            w.check(results, "100 more idle DoQ connections over the 120 the server holds")
        held = [c.release() for c in (warm, first, second)]
        s = t.stats()
        evicted = counter(s, "sextant_encrypted_connections_evicted_total", "doq") - \
            counter(before, "sextant_encrypted_connections_evicted_total", "doq")
        still_open = sum(h.get("still_open", 999) for h in held)
        print("idle DoQ: %s, evicted %d" % (held, evicted))
        results.check(held[2].get("handshakes") == 100 and held[2].get("handshake_failures") == 0,
                      "full DoQ server: every newcomer's handshake succeeds", str(held[2]))
        results.check(evicted >= 40 and still_open <= 120,
                      "full DoQ server: the oldest idle connections are evicted (counted), at most 120 held",
                      "evicted %d, still open %d" % (evicted, still_open))
        finish(results, t)

    # Half a query that never ends, on a connection kept busy by complete
    # ones: closed at the idle timeout (ngtcp2's own idle timer would never
    # fire), counted as a request timeout.
    with Target(binary, "  tcp-idle-timeout: 1500ms\n", "") as t:
        before = t.stats()
        with Watcher(t) as w:
            r = doq_attack(tool, t, "trickle", "127.0.4.4", 8)
            w.check(results, "a DoQ stream that never finishes on a busy connection")
        print("unfinished stream on a busy connection:", r)
        results.check(r.get("closed_after_ms", -1) > 0 and r.get("closed_after_ms") < 4000 and
                      r.get("answered", 0) >= 3 and r.get("close_code") == 0,
                      "a DoQ stream without its FIN: the connection is closed (DOQ_NO_ERROR) at the 1.5 s idle "
                      "timeout, its complete queries answered meanwhile", str(r))
        moved = counter(t.stats(), "sextant_encrypted_request_timeouts_total", "doq") - \
            counter(before, "sextant_encrypted_request_timeouts_total", "doq")
        results.check(moved >= 1, "DoQ request timeout counted", str(moved))
        finish(results, t)


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    binary = argv[1]
    part = argv[2] if len(argv) > 2 else "attacks"
    results = common.Results("abusive connections (%s)" % part)
    try:
        if part == "attacks":
            attacks_test(binary, results)
        elif part == "idle":
            idle_test(binary, results)
        elif part == "doq" and len(argv) > 3:
            doq_test(binary, argv[3], results)
        else:
            print("unknown part %s" % part)
            return 2
    except common.TestFailure as e:
        results.check(False, "test ran", str(e))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
