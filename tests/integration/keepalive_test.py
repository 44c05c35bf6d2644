#!/usr/bin/python3
"""RFC 7828 edns-tcp-keepalive: a TCP client that sends the option gets the
server's idle timeout back (in 100 ms units); UDP clients never get it.

  keepalive_test.py HOST PORT [EXPECTED_100MS]   (default 100: the 10 s default idle timeout)
"""
import os
import sys

import dns.edns
import dns.message

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

KEEPALIVE = 11


def keepalive_values(reply):
    return [o.data if hasattr(o, "data") else o.to_wire()
            for o in reply.options if o.otype == KEEPALIVE]


def main(argv):
    host, port = argv[0], common.labnet.port(argv[1])
    expected = int(argv[2]) if len(argv) > 2 else 100
    passed = failed = 0

    def check(ok, what, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok   " + what)
        else:
            failed += 1
            print("FAIL %s %s" % (what, detail))

    query = dns.message.make_query("www.example.com.", "A", use_edns=0, payload=1232,
                                   options=[dns.edns.GenericOption(KEEPALIVE, b"")])
    reply = common.tcp_query(query, host, port)
    values = keepalive_values(reply)
    check(len(values) == 1 and len(values[0]) == 2 and int.from_bytes(values[0], "big") == expected,
          "TCP: keepalive option with timeout %d (x100 ms)" % expected, "got %r" % values)
    check(reply.rcode() == 0 and len(reply.answer) == 1, "TCP: the answer is there too", reply.to_text())

    reply = common.udp_query(query, host, port)
    check(not keepalive_values(reply), "UDP: no keepalive option", reply.to_text())

    plain = dns.message.make_query("www.example.com.", "A", use_edns=0, payload=1232)
    reply = common.tcp_query(plain, host, port)
    check(not keepalive_values(reply), "TCP without the option: none in the answer", reply.to_text())
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
