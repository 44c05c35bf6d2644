#!/usr/bin/python3
"""Access control, on a short-lived daemon of its own (own port and config):

  access-control:
    - {subnet: 127.0.0.2/32, action: allow}
    - {subnet: 127.0.0.3/32, action: deny}

  acl_test.py SEXTANT_BINARY

A client on 127.0.0.1 matches no rule: REFUSED with EDE 18 (Prohibited),
over UDP and TCP. A client bound to 127.0.0.2 is answered. A client bound to
127.0.0.3 (deny) gets nothing at all.
"""
import os
import sys

import dns.exception
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

EDE_PROHIBITED = 18
CONFIG = ("access-control:\n"
          "  - {subnet: 127.0.0.2/32, action: allow}\n"
          "  - {subnet: 127.0.0.3/32, action: deny}\n")


def ask(transport, host, port, source):
    query = common.make_query("www.example.com.", "A")
    send = common.udp_query if transport == "udp" else common.tcp_query
    try:
        return send(query, host, port, timeout=2.0, source=source), None
    except dns.exception.Timeout:
        return None, "timeout"
    except (EOFError, ConnectionError) as e:
        return None, "connection closed without a reply (%s)" % type(e).__name__


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = common.Results("access control")
    with common.Daemon(argv[0], extra_config=CONFIG) as daemon:
        host, port = "127.0.0.1", daemon.port
        for transport in ("udp", "tcp"):
            reply, error = ask(transport, host, port, "127.0.0.1")
            results.check(reply is not None and reply.rcode() == dns.rcode.REFUSED
                          and not reply.answer,
                          "%s from 127.0.0.1 (no rule): REFUSED" % transport,
                          error or reply.to_text())
            results.check(reply is not None and EDE_PROHIBITED in common.ede_codes(reply),
                          "%s from 127.0.0.1: EDE %d (Prohibited)" % (transport, EDE_PROHIBITED),
                          error or "EDE codes %s" % common.ede_codes(reply))
            reply, error = ask(transport, host, port, "127.0.0.2")
            results.check(reply is not None and reply.rcode() == dns.rcode.NOERROR
                          and common.answer_addresses(reply) == ["192.0.2.10"],
                          "%s from 127.0.0.2 (allow): answered" % transport,
                          error or reply.to_text())
            reply, error = ask(transport, host, port, "127.0.0.3")
            results.check(reply is None, "%s from 127.0.0.3 (deny): no answer" % transport,
                          reply.to_text() if reply is not None else "")
        code, elapsed = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(code == 0 and not reports, "daemon stopped cleanly",
                      "exit %s after %.1f s; %s" % (code, elapsed, reports[:5]))
    return results.finish()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except common.TestFailure as e:
        print("FAIL %s" % e)
        print("access control: 0 passed, 1 failed")
        sys.exit(1)
