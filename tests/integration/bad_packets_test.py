#!/usr/bin/python3
"""Malformed and unwelcome queries over UDP and TCP, then a normal one.

  bad_packets_test.py HOST PORT

Expected (RFC 1035, 6891, 5936, 8914 and the pipeline's rules):
  truncated header (5 octets)    no answer (no ID to answer to)
  QR=1                           no answer (a response sent to a server port)
  garbage after the header       FORMERR
  valid query + trailing octets  FORMERR
  unknown opcode (3)             NOTIMP
  QDCOUNT=2                      FORMERR
  name pointing into the header  FORMERR ("www" + a compression pointer to offset 4)
  EDNS version 1                 BADVERS
  class CH                       REFUSED
  AXFR, IXFR                     REFUSED
and afterwards the daemon still answers www.example.com. A over both.
"""
import os
import struct
import sys

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

NO_ANSWER = "no answer"
WAIT_S = 1.5


def header(qid, flags, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def query_wire(qname="www.example.com.", qtype="A", rdclass="IN", edns=0, qid=0x1234):
    q = dns.message.make_query(qname, qtype, rdclass=rdclass)
    # (make_query(use_edns=1) leaves the version at 0 in dnspython 2.3)
    q.use_edns(edns, payload=1232)
    q.id = qid
    return q.to_wire()


def cases():
    normal = query_wire()
    qr = bytearray(normal)
    qr[2] |= 0x80
    opcode = bytearray(normal)
    opcode[2] = (opcode[2] & 0x87) | (3 << 3)           # opcode 3: unassigned
    two = dns.message.make_query("www.example.com.", "A", use_edns=0)
    two.id = 0x1234
    two.question.append(dns.rrset.RRset(dns.name.from_text("www.example.org."),
                                        dns.rdataclass.IN, dns.rdatatype.A))
    ixfr = dns.message.make_query("example.com.", "IXFR", use_edns=0)
    ixfr.id = 0x1234
    return [
        ("truncated header", normal[:5], NO_ANSWER),
        ("QR=1", bytes(qr), NO_ANSWER),
        ("garbage after header", header(0x1234, 0x0100) + b"\x3fgarbage\xff\xfe", "FORMERR"),
        ("trailing octets", normal + b"\x00\x01\x02\x03", "FORMERR"),
        ("unknown opcode 3", bytes(opcode), "NOTIMP"),
        ("QDCOUNT=2", two.to_wire(), "FORMERR"),
        # Read as a name, offset 4 is QDCOUNT's high octet (0): "www." would
        # be resolved (it was: NXDOMAIN). No name lives in the header.
        ("name pointing into the header",
         header(0x1234, 0x0100) + b"\x03www\xc0\x04" + struct.pack("!HH", 1, 1), "FORMERR"),
        ("EDNS version 1", query_wire(edns=1), "BADVERS"),
        ("class CH", query_wire("version.bind.", "TXT", rdclass="CH"), "REFUSED"),
        ("AXFR", query_wire("example.com.", "AXFR"), "REFUSED"),
        ("IXFR", ixfr.to_wire(), "REFUSED"),
    ]


def rcode_of(data):
    """(rcode text, id, QR) of a reply; the extended RCODE from OPT if any."""
    qid, flags = struct.unpack("!HH", data[:4])
    try:
        message = dns.message.from_wire(data)
        rcode = dns.rcode.to_text(message.rcode())
    except (dns.exception.DNSException, ValueError):   # e.g. an opcode dnspython lacks
        rcode = dns.rcode.to_text(flags & 0xF)
    return rcode, qid, bool(flags & 0x8000)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    host, port = argv[0], common.labnet.port(argv[1])
    results = common.Results("bad packets")
    for transport, send in (("udp", common.raw_udp), ("tcp", common.raw_tcp)):
        for name, wire, want in cases():
            try:
                data = send(wire, host, port, timeout=WAIT_S)
            except OSError as e:
                results.check(False, "%s %s" % (transport, name), "socket error %s" % e)
                continue
            if data is None:
                results.check(want == NO_ANSWER, "%s %s: %s" % (transport, name, want),
                              "got no answer")
                continue
            if len(data) < 12:
                results.check(False, "%s %s: %s" % (transport, name, want),
                              "got a %d-octet reply" % len(data))
                continue
            rcode, qid, qr = rcode_of(data)
            results.check(want != NO_ANSWER and rcode == want and qr and qid == 0x1234,
                          "%s %s: %s" % (transport, name, want),
                          "got %s (id %#x, QR=%d)" % (rcode, qid, qr))
    # Still alive and answering.
    for transport, ask in (("udp", common.udp_query), ("tcp", common.tcp_query)):
        try:
            reply = ask(common.make_query("www.example.com.", "A"), host, port, timeout=5.0)
            got = (dns.rcode.to_text(reply.rcode()), common.answer_addresses(reply))
        except (dns.exception.DNSException, OSError, EOFError) as e:
            got = ("no reply", str(e))
        results.check(got == ("NOERROR", ["192.0.2.10"]),
                      "%s www.example.com. A still answered afterwards" % transport, str(got))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
