#!/usr/bin/python3
"""Writes the seed corpus for fuzz_zone_transfer into tests/fuzz/corpus-xfr/.

Each seed: one octet (bit 0: IXFR; the rest: the client serial), then TCP-
framed answer messages with ID 0x1234 for rpz.test.: an AXFR in two messages,
an IXFR with two difference sequences, an IXFR up to date, an IXFR answered
in full, and a few broken ones (truncated, record outside the zone).

Run with Debian's python (it has dnspython): /usr/bin/python3 make_xfr_corpus.py
"""
import os
import struct

import dns.message
import dns.rdatatype
import dns.rrset

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-xfr")
ZONE = "rpz.test."


def soa(serial):
    return dns.rrset.from_text(ZONE, 300, "IN", "SOA", "ns.rpz.test. admin.rpz.test. %d 3600 600 86400 60" % serial)


def rr(owner, rdtype, text):
    return dns.rrset.from_text(owner + "." + ZONE if owner != "@" else ZONE, 300, "IN", rdtype, text)


def message(qtype, records, question=True):
    q = dns.message.make_query(ZONE, qtype)
    q.id = 0x1234
    m = dns.message.make_response(q)
    if not question:
        m.question = []
    for r in records:
        m.answer.append(r)
    wire = m.to_wire()
    return struct.pack("!H", len(wire)) + wire


def seed(name, head, *messages):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([head]) + b"".join(messages))


def main():
    os.makedirs(OUT, exist_ok=True)
    axfr = [soa(5), rr("a.example", "CNAME", "."), rr("*.b.example", "CNAME", "*."),
            rr("32.1.2.0.192.rpz-ip", "CNAME", "."), rr("local.example", "A", "192.0.2.1")]
    seed("axfr", 0, message("AXFR", axfr[:3]), message("AXFR", axfr[3:] + [soa(5)], False))
    seed("ixfr_diffs", 1 | (5 << 1),
         message("IXFR", [soa(7), soa(5), rr("a.example", "CNAME", "."), soa(6), rr("c.example", "CNAME", ".")]),
         message("IXFR", [soa(6), soa(7), rr("d.example", "A", "10.0.0.1"), soa(7)], False))
    seed("ixfr_up_to_date", 1 | (5 << 1), message("IXFR", [soa(5)]))
    seed("ixfr_full", 1 | (5 << 1), message("IXFR", [soa(9), rr("a.example", "CNAME", "."), soa(9)]))
    seed("axfr_truncated", 0, message("AXFR", [soa(5), rr("a.example", "CNAME", ".")]))
    seed("axfr_outside", 0, message("AXFR", [soa(5), dns.rrset.from_text("evil.", 300, "IN", "CNAME", "."), soa(5)]))
    seed("axfr_refused_zone", 0, message("AXFR", [soa(5), rr("x", "CNAME", "."), rr("x", "A", "10.0.0.1"), soa(5)]))


if __name__ == "__main__":
    main()
