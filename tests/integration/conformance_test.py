#!/usr/bin/python3
"""Real-world server behaviour, end to end (issue 13), through real sockets
against the lab's fake authoritative (tests/lab/topology.py,
FAKE_CONFORMANCE_ZONES). The single answers are rows of cases.tsv; this
covers what one query cannot show.

  conformance_test.py repeat HOST PORT   negative answers without SOA answered
                                         the same way each time; records a server
                                         added unasked never answer anything
  conformance_test.py ttl BINARY         cache.min-ttl / cache.max-ttl: the client
                                         sees the clamped TTL, and the data is asked
                                         for again when that TTL ends (own daemon)
  conformance_test.py trace BINARY       `sextant control trace` and the debug log
                                         (own daemon with a control socket)

Each prints one line per check and `N passed, M failed`; exit 1 on failure.
They read the fake authoritative's counters: ctest runs them under
RESOURCE_LOCK lab_fakeauth.
"""
import os
import sys
import tempfile
import time

import dns.exception
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402
from sextant_common import Results, make_query, udp_query, upstream_count  # noqa: E402

TIMEOUT = 5.0


def sections(reply):
    """Rcode and every section as sorted text, for "the same answer" checks."""
    def text(section):
        return sorted(r.to_text().lower() for r in section
                      if r.rdtype not in (dns.rdatatype.RRSIG, dns.rdatatype.OPT))
    return (dns.rcode.to_text(reply.rcode()), text(reply.answer), text(reply.authority))


def repeat(host, port):
    results = Results("repeat")
    for qname, qtype, rcode in (("nx.nosoa.faults.test.", "A", "NXDOMAIN"),
                                ("www.nosoa.faults.test.", "MX", "NOERROR")):
        replies = []
        for i in range(3):
            replies.append(sections(udp_query(make_query(qname, qtype), host, port, timeout=TIMEOUT)))
            time.sleep(0.3)
        results.check(replies[0] == (rcode, [], []),
                      "%s %s: %s, empty answer and authority (the server sent no SOA)"
                      % (qname, qtype, rcode), str(replies[0]))
        results.check(replies[1] == replies[0] and replies[2] == replies[0],
                      "%s %s: the same answer three times" % (qname, qtype), str(replies))
    # www.extra. comes padded with other types, other names and a name of
    # another zone: only the A set is the answer, and none of the rest is
    # believed later.
    reply = udp_query(make_query("www.extra.faults.test.", "A"), host, port, timeout=TIMEOUT)
    results.check(sections(reply)[1] == ["www.extra.faults.test. 300 in a 192.0.2.205"]
                  or (reply.answer and common.answer_addresses(reply) == ["192.0.2.205"]
                      and len(reply.answer) == 1),
                  "www.extra.faults.test. A: the A set only", reply.to_text())
    other = udp_query(make_query("other.extra.faults.test.", "A"), host, port, timeout=TIMEOUT)
    results.check(other.rcode() == dns.rcode.NXDOMAIN,
                  "other.extra.faults.test. A: NXDOMAIN from the zone, not the address slipped "
                  "into another answer", other.to_text())
    www = udp_query(make_query("www.example.com.", "A"), host, port, timeout=TIMEOUT)
    results.check(common.answer_addresses(www) == ["192.0.2.10"],
                  "www.example.com. A: the real address, not the one another zone's server "
                  "slipped in", www.to_text())
    return results.finish()


# www.stale.faults.test.: TTL 2; txt.faults.test.: TTL 300.
SHORT_NAME, SHORT_TYPE, SHORT_TTL = "www.stale.faults.test.", "A", 2
LONG_NAME, LONG_TYPE = "txt.faults.test.", "TXT"
MIN_TTL, MAX_TTL = 4, 8


def ttl(binary):
    results = Results("ttl clamps")
    extra = ("cache:\n  min-ttl: %d\n  max-ttl: %d\n  prefetch: false\n  serve-stale: false\n"
             % (MIN_TTL, MAX_TTL))
    with common.Daemon(binary, extra_config=extra) as daemon:
        host, port = "127.0.0.1", daemon.port

        def ask(qname, qtype):
            reply = udp_query(make_query(qname, qtype), host, port, timeout=TIMEOUT)
            return (reply.answer[0].ttl if reply.answer else None), upstream_count(qname, qtype)

        start = time.monotonic()
        short_ttl, short_count = ask(SHORT_NAME, SHORT_TYPE)
        long_ttl, long_count = ask(LONG_NAME, LONG_TYPE)
        results.check(short_ttl == MIN_TTL, "%s (TTL %d upstream) is answered with min-ttl %d"
                      % (SHORT_NAME, SHORT_TTL, MIN_TTL), "TTL %s" % short_ttl)
        results.check(long_ttl == MAX_TTL, "%s (TTL 300 upstream) is answered with max-ttl %d"
                      % (LONG_NAME, MAX_TTL), "TTL %s" % long_ttl)

        def at(seconds):
            time.sleep(max(0.0, start + seconds - time.monotonic()))

        at(2.0)
        t, n = ask(SHORT_NAME, SHORT_TYPE)
        results.check(n == short_count and t is not None and t <= MIN_TTL - 1,
                      "after 2 s %s comes from the cache (raised TTL, counting down)" % SHORT_NAME,
                      "TTL %s, %d upstream queries (was %d)" % (t, n, short_count))
        at(MIN_TTL + 1.5)
        t, n = ask(SHORT_NAME, SHORT_TYPE)
        results.check(n == short_count + 1 and t == MIN_TTL,
                      "after %.1f s %s is asked upstream again, and again given TTL %d"
                      % (MIN_TTL + 1.5, SHORT_NAME, MIN_TTL),
                      "TTL %s, %d upstream queries (was %d)" % (t, n, short_count))
        t, n = ask(LONG_NAME, LONG_TYPE)
        results.check(n == long_count and t is not None and t <= MAX_TTL - MIN_TTL,
                      "%s is still answered from the cache" % LONG_NAME,
                      "TTL %s, %d upstream queries (was %d)" % (t, n, long_count))
        at(MAX_TTL + 1.5)
        t, n = ask(LONG_NAME, LONG_TYPE)
        results.check(n == long_count + 1 and t == MAX_TTL,
                      "after %.1f s %s is asked upstream again (its lowered TTL ended)"
                      % (MAX_TTL + 1.5, LONG_NAME),
                      "TTL %s, %d upstream queries (was %d)" % (t, n, long_count))
        code, _ = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(not reports and code == 0, "daemon stopped cleanly",
                      "exit %s, %s" % (code, reports[:5]))
    return results.finish()


def trace(binary):
    results = Results("trace")
    workdir = tempfile.mkdtemp(prefix="sextant-it-")
    socket_path = os.path.join(workdir, "control.sock")
    daemon = common.Daemon(binary, extra_config="control:\n  socket: %s\n" % socket_path,
                           workdir=workdir)
    # server.log-level: write_config() owns the server: block, so it goes in there.
    with open(daemon.config) as f:
        text = f.read()
    with open(daemon.config, "w") as f:
        f.write(text.replace("  threads: 2\n", "  threads: 2\n  log-level: debug\n", 1))
    with daemon:
        host, port = "127.0.0.1", daemon.port
        # The name is cached first: the trace must still ask upstream.
        udp_query(make_query(LONG_NAME, LONG_TYPE), host, port, timeout=TIMEOUT)
        before = upstream_count(LONG_NAME, LONG_TYPE)
        code, out, err = common.control(binary, ["trace", LONG_NAME, LONG_TYPE], socket_path=socket_path)
        results.check(code == 0, "control trace %s %s exits 0" % (LONG_NAME, LONG_TYPE), err + out)
        for what in ("q0: question txt.faults.test. TXT", "its answer is not taken from the cache",
                     "from the closest cut in the cache",
                     "choosing ", "sent txt.faults.test. TXT to ", "reply from ",
                     "judged as answer: txt.faults.test. 300 TXT \"faults parent\"",
                     "validation: insecure", "done: NOERROR",
                     ";; rcode NOERROR, DNSSEC insecure",
                     "txt.faults.test. 300 IN TXT \"faults parent\""):
            results.check(what in out, "the trace tells %r" % what, out)
        results.check(upstream_count(LONG_NAME, LONG_TYPE) == before + 1,
                      "the traced question went upstream although its answer was cached",
                      "%d upstream queries (was %d)" % (upstream_count(LONG_NAME, LONG_TYPE), before))

        code, out, err = common.control(binary, ["trace", "www.referral.faults.test"],
                                        socket_path=socket_path)
        for what in ("judged as lame: referral to . does not lead down from referral.faults.test.",
                     "is not asked again for this question",
                     ";; rcode SERVFAIL", ";; EDE 22"):
            results.check(what in out, "the trace of a lame zone tells %r" % what, out)

        code, out, err = common.control(binary, ["trace"], socket_path=socket_path)
        results.check(code == 1 and "usage: trace NAME [TYPE]" in out + err,
                      "trace without a name: usage, exit 1", "%d %s %s" % (code, out, err))
        code, out, err = common.control(binary, ["trace", "example.com", "NOSUCH"],
                                        socket_path=socket_path)
        results.check(code == 1 and "unknown type" in out + err, "trace with a bad type: exit 1",
                      "%d %s %s" % (code, out, err))

        # At log-level debug every resolution is told in the log.
        qname = "alias.names.faults.test."
        udp_query(make_query(qname, "A"), host, port, timeout=TIMEOUT)
        time.sleep(0.2)
        log = daemon.log_text()
        results.check("walk: r" in log and "question %s A" % qname in log
                      and "judged as answer: alias.names.faults.test. 300 CNAME www.names.faults.test.;"
                      " www.names.faults.test. 300 A 192.0.2.208" in log,
                      "the debug log tells the walk of %s" % qname, log[-3000:])
        code, _ = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(not reports and code == 0, "daemon stopped cleanly",
                      "exit %s, %s" % (code, reports[:5]))
    return results.finish()


def main(argv):
    try:
        if len(argv) == 3 and argv[0] == "repeat":
            return repeat(argv[1], common.labnet.port(argv[2]))
        if len(argv) == 2 and argv[0] in ("ttl", "trace"):
            return {"ttl": ttl, "trace": trace}[argv[0]](argv[1])
    except (common.TestFailure, dns.exception.DNSException, OSError) as e:
        print("FAIL %s: %s" % (argv[0], e))
        print("0 passed, 1 failed")
        return 1
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
