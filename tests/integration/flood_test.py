#!/usr/bin/python3
"""A short random-subdomain flood against a dead lab zone, through real
sockets, while cached names keep being asked (issue 16, section 1).

  flood_test.py SEXTANT_BINARY [--qps N] [--seconds S]

A daemon of its own (one worker, metrics on). Open loop from one socket:
--qps (1500) random names under all-dead.test. (a closed port and a black
hole) for --seconds (3.5), and 100 qps of three cached names from another
socket. Checks: no cached question is lost or slowed into a timeout; the
flood gets SERVFAIL, and from LEARNT_AFTER (2 s) on, EDE 22: the zone's
servers are held down by then (two retransmission timeouts); the
walker sent a small fraction of the flood upstream (the held-down zone fails
at once, and the per-zone cap bounds the packets in flight while it is
learnt); the daemon stops cleanly. Bounded: at most 10 s of sending, 3 s
more of listening; only 127.0.0.0/8.
"""
import argparse
import os
import random
import re
import selectors
import socket
import sys
import time
import urllib.request

import dns.edns
import dns.message
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

ZONE = "all-dead.test."
CACHED = ["www.example.com.", "www.example.net.", "www.example.org."]
CACHED_QPS = 100
LEARNT_AFTER = 2.0


class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print("ok   %s" % what)
        else:
            self.failed += 1
            print("FAIL %s%s" % (what, (": " + detail) if detail else ""))

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    m = re.search(r"^%s (\S+)$" % name, text, re.M)
    return int(float(m.group(1))) if m else None


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--qps", type=int, default=1500)
    parser.add_argument("--seconds", type=float, default=3.5)
    args = parser.parse_args(argv)
    qps = max(100, min(args.qps, 5000))
    seconds = max(1.0, min(args.seconds, 10.0))
    results = Results()
    metrics_port = common.free_port()
    extra = "metrics:\n  listen: [\"127.0.0.1@%d\"]\n" % metrics_port
    with common.Daemon(args.binary, threads=1, extra_config=extra) as daemon:
        server = ("127.0.0.1", daemon.port)
        for name in CACHED:
            reply = common.udp_query(common.make_query(name, "A"), *server, timeout=5.0)
            results.check(reply.rcode() == dns.rcode.NOERROR, "warm-up: %s answered" % name)
        upstream_before = metric(metrics_port, "sextant_walker_upstream_queries_total")

        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cached = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for s in (flood, cached):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            s.connect(server)
            s.setblocking(False)
        selector = selectors.DefaultSelector()
        selector.register(flood, selectors.EVENT_READ, "flood")
        selector.register(cached, selectors.EVENT_READ, "cached")

        flood_sent = flood_answers = flood_servfail = 0
        flood_sent_at = {}  # id -> seconds into the flood
        late_answers = late_ede22 = 0
        cached_pending = {}  # id -> (name, sent at)
        cached_sent = cached_ok = 0
        cached_worst = 0.0
        started = time.monotonic()
        stop_sending = started + seconds
        stop_listening = stop_sending + 3.0
        while True:
            now = time.monotonic()
            if now >= stop_listening or (now >= stop_sending and not cached_pending
                                          and flood_answers >= flood_sent):
                break
            if now < stop_sending:
                # The absolute schedule: a late turn sends what it owes.
                while flood_sent < int((now - started) * qps):
                    label = "%012x" % random.getrandbits(48)
                    query = common.make_query("%s.%s" % (label, ZONE), "A")
                    flood_sent_at[query.id] = now - started
                    try:
                        flood.send(query.to_wire())
                    except BlockingIOError:
                        pass
                    flood_sent += 1
                while cached_sent < int((now - started) * CACHED_QPS):
                    query = common.make_query(CACHED[cached_sent % len(CACHED)], "A")
                    while query.id in cached_pending:
                        query.id = random.getrandbits(16)
                    cached.send(query.to_wire())
                    cached_pending[query.id] = (query, now)
                    cached_sent += 1
            for key, _ in selector.select(timeout=0.001):
                while True:
                    try:
                        data = key.fileobj.recv(65535)
                    except BlockingIOError:
                        break
                    reply = dns.message.from_wire(data)
                    if key.data == "flood":
                        flood_answers += 1
                        if reply.rcode() == dns.rcode.SERVFAIL:
                            flood_servfail += 1
                        if flood_sent_at.get(reply.id, 0) >= LEARNT_AFTER:
                            late_answers += 1
                            if 22 in common.ede_codes(reply):
                                late_ede22 += 1
                        continue
                    entry = cached_pending.pop(reply.id, None)
                    if entry is None:
                        continue
                    query, sent_at = entry
                    cached_worst = max(cached_worst, time.monotonic() - sent_at)
                    if reply.rcode() == dns.rcode.NOERROR and query.is_response(reply):
                        cached_ok += 1
        flood.close()
        cached.close()

        print("     flood: %d sent in %.1f s, %d answered (%d SERVFAIL; sent after %.0f s: %d "
              "answered, %d with EDE 22); cached: %d sent, %d NOERROR, slowest %.0f ms"
              % (flood_sent, seconds, flood_answers, flood_servfail, LEARNT_AFTER, late_answers,
                 late_ede22, cached_sent, cached_ok, cached_worst * 1000))
        results.check(cached_ok == cached_sent and not cached_pending,
                      "every cached question answered NOERROR during the flood",
                      "%d of %d, %d unanswered" % (cached_ok, cached_sent, len(cached_pending)))
        results.check(flood_answers >= flood_sent * 0.9,
                      "the flood is answered, not left to time out",
                      "%d of %d answered" % (flood_answers, flood_sent))
        results.check(flood_servfail == flood_answers, "the flood gets SERVFAIL",
                      "%d of %d" % (flood_servfail, flood_answers))
        results.check(late_answers > 0 and late_ede22 >= late_answers * 0.95,
                      "after %.0f s, EDE 22: every server of the zone is held down" % LEARNT_AFTER,
                      "%d of %d" % (late_ede22, late_answers))
        upstream = metric(metrics_port, "sextant_walker_upstream_queries_total") - upstream_before
        held = metric(metrics_port, "sextant_walker_held_down_failures_total")
        print("     upstream queries during the flood: %d; held-down failures: %d; over the zone "
              "cap: %s" % (upstream, held,
                           metric(metrics_port, "sextant_walker_over_zone_limit_total")))
        results.check(upstream <= flood_sent * 0.2,
                      "a small fraction of the flood went upstream",
                      "%d upstream queries for %d flood queries" % (upstream, flood_sent))
        results.check(held >= late_ede22, "held-down failures counted in /metrics",
                      "%d, but %d answers with EDE 22" % (held, late_ede22))
        after = common.udp_query(common.make_query(CACHED[0], "A"), *server, timeout=5.0)
        results.check(after.rcode() == dns.rcode.NOERROR, "cached names still answered after it")
        code, _ = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(not reports and code == 0, "daemon stopped cleanly",
                      "exit %s, %s" % (code, reports[:5]))
    return results.finish()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (common.TestFailure, dns.exception.DNSException, OSError) as e:
        print("FAIL flood: %s" % e)
        print("0 passed, 1 failed")
        sys.exit(1)
