#!/usr/bin/python3
"""The answer cache seen from outside, through real sockets, with the lab's
fake authoritative counting what reaches it (`fakectl stats`).

  cache_test.py positive HOST PORT    a repeated question is answered from the
                                      cache (no upstream query) with its TTL
                                      decremented
  cache_test.py negative HOST PORT    NXDOMAIN and NODATA are cached (authority
                                      SOA TTL decreases, no upstream query), for
                                      no longer than the SOA minimum
  cache_test.py stale HOST PORT       serve-stale (RFC 8767): the fake server goes
                                      silent, the expired answer comes back within
                                      the client deadline with TTL 30 and EDE 3
  cache_test.py prefetch BINARY       prefetch, on a daemon of its own (see below)
  cache_test.py holddown BINARY       a zone's only server, silent for a moment and
                                      then answering again, is asked again (own
                                      daemon, one thread)

Each prints one line per check and `N passed, M failed`; exit 1 on failure.
These tests read or change the fake authoritative's state: ctest runs them
under RESOURCE_LOCK lab_fakeauth.
"""
import os
import random
import sys
import time

import dns.exception
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402
from sextant_common import Results, make_query, udp_query, upstream_count  # noqa: E402

STALE_ZONE = "stale.faults.test."
STALE_NAME = "www.stale.faults.test."
STALE_ADDRESS = "192.0.2.158"
STALE_TTL = 2                 # the zone's TTL and SOA minimum (topology.FAKE_STALE_TTL)
STALE_ANSWER_TTL = 30         # RFC 8767 suggests 30 s; Sextant's stale_answer_ttl
EDE_STALE_ANSWER = 3
CLIENT_DEADLINE_S = 2.5       # stale-client-timeout is 1.8 s; room for a loaded machine
FAULTS_SOA_MINIMUM = 300      # faults.test.: SOA TTL and minimum


def soa_ttl(reply):
    ttls = [r.ttl for r in reply.authority if r.rdtype == dns.rdatatype.SOA]
    return ttls[0] if ttls else None


def positive(host, port):
    results = Results("cache positive")
    qname, qtype = "txt.faults.test.", "TXT"
    query = make_query(qname, qtype)
    first = udp_query(query, host, port)
    after_first = upstream_count(qname)
    results.check(first.rcode() == dns.rcode.NOERROR and first.answer,
                  "first %s %s answered" % (qname, qtype), first.to_text())
    time.sleep(2.2)        # at least two wall-clock seconds: the TTL must show it
    second = udp_query(make_query(qname, qtype), host, port)
    after_second = upstream_count(qname)
    results.check(after_second == after_first,
                  "second %s %s sent no upstream query" % (qname, qtype),
                  "fake authoritative saw %d queries before it, %d after"
                  % (after_first, after_second))
    t1 = first.answer[0].ttl if first.answer else None
    t2 = second.answer[0].ttl if second.answer else None
    results.check(t1 is not None and t2 is not None and t1 - 5 <= t2 < t1 <= 300,
                  "cached TTL decremented (%s -> %s after 2.2 s)" % (t1, t2))
    results.check(second.answer and first.answer and
                  second.answer[0].to_text().split()[4:] == first.answer[0].to_text().split()[4:],
                  "cached answer has the same data", "%s / %s" % (first.answer, second.answer))
    return results.finish()


def negative(host, port):
    results = Results("cache negative")
    tag = "nx-%08x" % random.getrandbits(32)
    # NXDOMAIN, from faults.test. (SOA TTL = minimum = 300): a fresh name, so
    # the first query must go upstream.
    for qname, qtype, rcode, what in (
            ("%s.faults.test." % tag, "A", dns.rcode.NXDOMAIN, "NXDOMAIN"),
            ("www.faults.test.", "MX", dns.rcode.NOERROR, "NODATA")):
        before = upstream_count(qname)
        first = udp_query(make_query(qname, qtype), host, port)
        after_first = upstream_count(qname)
        t1 = soa_ttl(first)
        results.check(first.rcode() == rcode and not first.answer and t1 is not None,
                      "%s %s %s with SOA in the authority section" % (what, qname, qtype),
                      first.to_text())
        if what == "NXDOMAIN":
            results.check(after_first > before, "%s first query went upstream" % what,
                          "count %d -> %d" % (before, after_first))
        results.check(t1 is not None and t1 <= FAULTS_SOA_MINIMUM,
                      "%s TTL %s <= SOA minimum %d" % (what, t1, FAULTS_SOA_MINIMUM))
        time.sleep(2.2)
        second = udp_query(make_query(qname, qtype), host, port)
        after_second = upstream_count(qname)
        t2 = soa_ttl(second)
        results.check(second.rcode() == rcode and not second.answer,
                      "%s second answer is the same" % what, second.to_text())
        results.check(after_second == after_first, "%s second query sent no upstream query" % what,
                      "count %d -> %d" % (after_first, after_second))
        results.check(t1 is not None and t2 is not None and t1 - 5 <= t2 < t1,
                      "%s authority SOA TTL decremented (%s -> %s after 2.2 s)" % (what, t1, t2))

    # For no longer than the SOA minimum: stale.faults.test. has minimum 2.
    qname = "%s.%s" % (tag, STALE_ZONE)
    common.fakectl("resume %s" % STALE_ZONE)
    first = udp_query(make_query(qname, "A"), host, port)
    c1 = upstream_count(qname)
    second = udp_query(make_query(qname, "A"), host, port)
    c2 = upstream_count(qname)
    results.check(first.rcode() == dns.rcode.NXDOMAIN and soa_ttl(first) is not None
                  and soa_ttl(first) <= STALE_TTL,
                  "NXDOMAIN %s with SOA TTL <= %d" % (qname, STALE_TTL), first.to_text())
    results.check(second.rcode() == dns.rcode.NXDOMAIN and c2 == c1,
                  "NXDOMAIN repeated at once: from the cache", "count %d -> %d" % (c1, c2))
    time.sleep(STALE_TTL + 1.2)
    third = udp_query(make_query(qname, "A"), host, port)
    c3 = upstream_count(qname)
    results.check(c3 > c2, "NXDOMAIN asked again after the SOA minimum (%d s) expired" % STALE_TTL,
                  "count %d -> %d" % (c2, c3))
    results.check(third.rcode() == dns.rcode.NXDOMAIN, "NXDOMAIN after expiry", third.to_text())
    return results.finish()


def stale(host, port):
    results = Results("serve-stale")
    common.fakectl("resume %s" % STALE_ZONE)
    try:
        first = udp_query(make_query(STALE_NAME, "A"), host, port)
        results.check(common.answer_addresses(first) == [STALE_ADDRESS]
                      and first.answer[0].ttl <= STALE_TTL,
                      "fresh %s A %s TTL <= %d" % (STALE_NAME, STALE_ADDRESS, STALE_TTL),
                      first.to_text())
        common.fakectl("silent %s" % STALE_ZONE)
        before = upstream_count(STALE_NAME)
        time.sleep(STALE_TTL + 1.5)          # expired now
        started = time.monotonic()
        try:
            reply = udp_query(make_query(STALE_NAME, "A"), host, port, timeout=5.0)
        except dns.exception.Timeout:
            reply = None
        elapsed = time.monotonic() - started
        after = upstream_count(STALE_NAME)
        results.check(reply is not None, "an answer while the authoritative is silent",
                      "no reply within 5 s")
        if reply is not None:
            results.check(elapsed <= CLIENT_DEADLINE_S,
                          "answered within the client deadline (%.2f s <= %.1f s)"
                          % (elapsed, CLIENT_DEADLINE_S))
            results.check(reply.rcode() == dns.rcode.NOERROR
                          and common.answer_addresses(reply) == [STALE_ADDRESS],
                          "stale data %s" % STALE_ADDRESS, reply.to_text())
            ttls = [rrset.ttl for rrset in reply.answer]
            results.check(ttls and all(t == STALE_ANSWER_TTL for t in ttls),
                          "stale answer TTL %d" % STALE_ANSWER_TTL, "TTLs %s" % ttls)
            results.check(EDE_STALE_ANSWER in common.ede_codes(reply),
                          "EDE %d (Stale Answer)" % EDE_STALE_ANSWER,
                          "EDE codes %s" % common.ede_codes(reply))
        results.check(after > before, "the resolver tried to refresh upstream",
                      "count %d -> %d" % (before, after))
    finally:
        common.fakectl("resume %s" % STALE_ZONE)
    # Once the server answers again, fresh data without EDE. The refresh
    # started above may still be running for a moment: a few tries.
    fresh = None
    for _ in range(10):
        time.sleep(0.5)
        reply = udp_query(make_query(STALE_NAME, "A"), host, port)
        if reply.answer and reply.answer[0].ttl <= STALE_TTL:
            fresh = reply
            break
    results.check(fresh is not None and not common.ede_codes(fresh)
                  and common.answer_addresses(fresh) == [STALE_ADDRESS],
                  "after resume: fresh answer (TTL <= %d, no EDE)" % STALE_TTL,
                  reply.to_text())
    return results.finish()


# A client-visible miss must be observable, so the name comes from the delay
# zone (answers after 800 ms): a miss is a slow answer, a prefetched entry
# keeps every answer fast. The refresh must fit inside the prefetch window,
# so this runs its own daemon with cache.max-ttl 20 (www.delay.faults.test.'s
# TTL 300 is clamped to 20) and prefetch-threshold 25 (the last 5 s). Short
# TTLs down to 2 s are prefetched in their last second (tests/cache); with an
# 800-ms upstream that window would be too tight to test from outside.
PREFETCH_NAME = "www.delay.faults.test."
PREFETCH_ADDRESS = "192.0.2.152"
PREFETCH_MAX_TTL = 20
PREFETCH_RUN_S = 46          # two refresh cycles and then some
PREFETCH_INTERVAL_S = 0.5
MISS_LATENCY_S = 0.5         # a miss costs >= 0.8 s (the delay zone)


def prefetch(binary):
    results = Results("prefetch")
    extra = ("cache:\n  max-ttl: %d\n  prefetch: true\n  prefetch-threshold: 25\n"
             % PREFETCH_MAX_TTL)
    with common.Daemon(binary, extra_config=extra) as daemon:
        host, port = "127.0.0.1", daemon.port
        first = udp_query(make_query(PREFETCH_NAME, "A"), host, port, timeout=5.0)
        # (the first miss may cost several upstream queries: the 800-ms delay
        # is longer than the first retransmission timeout)
        after_first = upstream_count(PREFETCH_NAME)
        results.check(common.answer_addresses(first) == [PREFETCH_ADDRESS],
                      "first answer %s" % PREFETCH_ADDRESS, first.to_text())
        slow, wrong, ttls, asked = [], [], [], 0
        deadline = time.monotonic() + PREFETCH_RUN_S
        while time.monotonic() < deadline and asked < 200:
            time.sleep(PREFETCH_INTERVAL_S)
            started = time.monotonic()
            try:
                reply = udp_query(make_query(PREFETCH_NAME, "A"), host, port, timeout=5.0)
            except dns.exception.Timeout:
                slow.append((asked, "timeout"))
                asked += 1
                continue
            latency = time.monotonic() - started
            asked += 1
            if common.answer_addresses(reply) != [PREFETCH_ADDRESS]:
                wrong.append(reply.to_text())
            if latency > MISS_LATENCY_S:
                slow.append((asked, "%.0f ms" % (latency * 1000)))
            if reply.answer:
                ttls.append(reply.answer[0].ttl)
        refreshes = upstream_count(PREFETCH_NAME) - after_first
        results.check(not wrong, "every answer %s" % PREFETCH_ADDRESS, "; ".join(wrong[:3]))
        results.check(not slow, "%d queries over %d s: no client-visible miss (all < %.0f ms)"
                      % (asked, PREFETCH_RUN_S, MISS_LATENCY_S * 1000),
                      "slow answers (query number, latency): %s" % slow[:10])
        results.check(refreshes >= 2, "background refreshes reached upstream (%d)" % refreshes,
                      "upstream saw %d queries besides the first miss" % refreshes)
        results.check(ttls and max(ttls) <= PREFETCH_MAX_TTL and min(ttls) > 0,
                      "TTLs stayed within (0, %d]: %s..%s" % (PREFETCH_MAX_TTL,
                                                              min(ttls or [0]), max(ttls or [0])))
        code, _ = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(not reports and code == 0, "daemon stopped cleanly",
                      "exit %s, %s" % (code, reports[:5]))
    return results.finish()


# A server that timed out is held down for a while (resolver_limits.h:
# dead_after_timeouts, dead_hold_down), but when it is the zone's only server
# (every candidate held down) it must still be tried: otherwise a moment of
# packet loss makes the zone fail for the whole hold-down even though its
# server answers again (cache_config.h: "skipped ..., unless every candidate
# is dead"). stale.faults.test. has one server; its nonexistent names give
# NXDOMAIN, which is never served from the answer cache for a new name.
HOLDDOWN_QUERIES = 4


def holddown(binary):
    results = Results("hold-down recovery")
    tag = "%08x" % random.getrandbits(32)
    with common.Daemon(binary, threads=1) as daemon:
        host, port = "127.0.0.1", daemon.port
        warm = udp_query(make_query(STALE_NAME, "A"), host, port, timeout=5.0)
        results.check(common.answer_addresses(warm) == [STALE_ADDRESS], "zone answers at first",
                      warm.to_text())
        common.fakectl("silent %s" % STALE_ZONE)
        try:
            lost_name = "lost-%s.%s" % (tag, STALE_ZONE)
            try:
                lost = udp_query(make_query(lost_name, "A"), host, port, timeout=5.0)
                lost_text = "%s %s" % (dns.rcode.to_text(lost.rcode()),
                                       ["%d %s" % (o.code, o.text) for o in lost.options])
            except dns.exception.Timeout:
                lost_text = "no reply"
            print("     while silent: %s -> %s (%d upstream queries)"
                  % (lost_name, lost_text, upstream_count(lost_name)))
        finally:
            common.fakectl("resume %s" % STALE_ZONE)
        time.sleep(1.0)
        for i in range(HOLDDOWN_QUERIES):
            qname = "back%d-%s.%s" % (i, tag, STALE_ZONE)
            started = time.monotonic()
            reply = udp_query(make_query(qname, "A"), host, port, timeout=5.0)
            elapsed = time.monotonic() - started
            results.check(reply.rcode() == dns.rcode.NXDOMAIN,
                          "%.1f s after resume: %s NXDOMAIN from the server again"
                          % (1.0 + i * 0.5, qname),
                          "got %s in %.0f ms, %d upstream queries, EDE %s"
                          % (dns.rcode.to_text(reply.rcode()), elapsed * 1000,
                             upstream_count(qname),
                             ["%d %s" % (o.code, o.text) for o in reply.options]))
            time.sleep(0.5)
        code, _ = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(not reports and code == 0, "daemon stopped cleanly",
                      "exit %s, %s" % (code, reports[:5]))
    return results.finish()


def main(argv):
    try:
        if len(argv) == 3 and argv[0] in ("positive", "negative", "stale"):
            return {"positive": positive, "negative": negative, "stale": stale}[argv[0]](
                argv[1], common.labnet.port(argv[2]))
        if len(argv) == 2 and argv[0] == "prefetch":
            return prefetch(argv[1])
        if len(argv) == 2 and argv[0] == "holddown":
            return holddown(argv[1])
    except (common.TestFailure, dns.exception.DNSException, OSError) as e:
        print("FAIL %s: %s" % (argv[0], e))
        print("0 passed, 1 failed")
        return 1
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
