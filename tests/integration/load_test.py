#!/usr/bin/python3
"""1,000 concurrent client queries for 1,000 different names of the lab's
big.test. zone over UDP; every one must be answered with the address the
zone generator gives that name.

  load_test.py HOST PORT [--count N] [--deadline S]
  (PORT: a number, or `sextant` for the lab's port, see tests/lab/labnet.py)

The rule (tests/lab/zonebuild.py): n%06d.big.test. A 10.(i>>16&255).(i>>8&255).(i&255).
Every query gets its own socket and is sent at once; like a stub, a query
without a reply after --try-timeout is sent again (at most --tries times in
all) until --deadline. Not a timing assertion: the figures are printed.
"""
import argparse
import os
import random
import re
import resource
import selectors
import socket
import sys
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

ZONE = "big.test."
ZONE_SIZE = 100000


def expected_address(i):
    return "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=common.labnet.port_argument)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--deadline", type=float, default=40.0)
    parser.add_argument("--try-timeout", type=float, default=4.0)
    parser.add_argument("--tries", type=int, default=3)
    args = parser.parse_args(argv)
    count = max(1, min(args.count, 5000))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))

    # A block of names this process is unlikely to find cached already, so
    # that the queries really make the resolver walk.
    first = random.randrange(1000, ZONE_SIZE - count)
    indexes = list(range(first, first + count))
    selector = selectors.DefaultSelector()
    pending = {}     # socket -> state
    for i in indexes:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.bind(("127.0.0.1", 0))
        query = dns.message.make_query("n%06d.%s" % (i, ZONE), "A", use_edns=0, payload=1232)
        pending[s] = {"index": i, "query": query, "wire": query.to_wire(), "sent": 0,
                      "last": 0.0, "first": 0.0}
        selector.register(s, selectors.EVENT_READ)

    started = time.monotonic()
    deadline = started + args.deadline
    latencies, wrong, retried = [], [], 0

    def send(s, state, now):
        try:
            s.sendto(state["wire"], (args.host, args.port))
        except (BlockingIOError, InterruptedError):
            pass       # counts as lost: sent again after the try timeout
        state["sent"] += 1
        state["last"] = now
        if not state["first"]:
            state["first"] = now

    now = time.monotonic()
    for s, state in pending.items():
        send(s, state, now)
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.1):
            s = key.fileobj
            state = pending.get(s)
            if state is None:
                continue
            try:
                data, _ = s.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                continue
            try:
                reply = dns.message.from_wire(data)
            except dns.exception.DNSException as e:
                wrong.append("n%06d: unparsable reply: %s" % (state["index"], e))
            else:
                if not state["query"].is_response(reply):
                    continue          # not the reply to this query: keep waiting
                i = state["index"]
                addresses = sorted(r.to_text() for rrset in reply.answer
                                   if rrset.rdtype == dns.rdatatype.A for r in rrset)
                if reply.rcode() != dns.rcode.NOERROR or addresses != [expected_address(i)]:
                    ede = ["EDE %d %s" % (o.code, o.text) for o in reply.options
                           if o.otype == dns.edns.EDE]
                    wrong.append("n%06d: rcode %s, A %s, want NOERROR A %s%s"
                                 % (i, dns.rcode.to_text(reply.rcode()), addresses,
                                    expected_address(i), (" (%s)" % "; ".join(ede)) if ede else ""))
                latencies.append(time.monotonic() - state["first"])
            selector.unregister(s)
            s.close()
            del pending[s]
        now = time.monotonic()
        for s, state in pending.items():
            if now - state["last"] >= args.try_timeout and state["sent"] < args.tries:
                retried += 1
                send(s, state, now)
    elapsed = time.monotonic() - started
    for s in list(pending):
        selector.unregister(s)
        s.close()

    answered = len(latencies)
    latencies.sort()
    print("%d queries (n%06d..n%06d.%s) over UDP, all sent at once: %d answered in %.2f s, "
          "%d re-sent after %.0f s without a reply, %d unanswered"
          % (count, first, first + count - 1, ZONE, answered, elapsed, retried,
             args.try_timeout, len(pending)))
    if latencies:
        print("latency: median %.0f ms, 90%% %.0f ms, max %.0f ms"
              % (latencies[len(latencies) // 2] * 1000,
                 latencies[int(len(latencies) * 0.9)] * 1000, latencies[-1] * 1000))
    # The failures grouped by what came back (digits dropped), most common first.
    kinds = {}
    for line in wrong:
        kind = re.sub(r"\d+", "#", line.split(": ", 1)[1])
        kinds[kind] = kinds.get(kind, 0) + 1
    for kind, n in sorted(kinds.items(), key=lambda item: -item[1])[:10]:
        print("%5d x %s" % (n, kind))
    for line in wrong[:20]:
        print("FAIL %s" % line)
    for state in list(pending.values())[:20]:
        print("FAIL n%06d: no reply after %d tries" % (state["index"], state["sent"]))
    failed = len(wrong) + len(pending)
    print("%d passed, %d failed" % (count - failed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
