#!/usr/bin/python3
"""Writes the seed corpus for fuzz_cache_snapshot into tests/fuzz/corpus-snapshot/.

Each seed is in the fuzzer's "body" mode (first octet odd): records of the
format in cache/cache_snapshot.h, which the fuzzer wraps in a valid, sealed
header. One seed per record kind, and one with all of them: signed RRsets of
several types, NXDOMAIN and NODATA with SOA and NSEC proofs, a delegation
with IPv4 and IPv6 addresses, a CNAME-chain answer, server-table records.

Run with Debian's python (it has dnspython): /usr/bin/python3 make_snapshot_corpus.py
"""
import os
import struct

import dns.inet
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-snapshot")
NOW = 1_700_000_000


def name(text):
    w = dns.name.from_text(text).to_wire()
    return bytes([len(w)]) + w


def rdata(rdtype, text):
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text).to_digestable()


def rrsig(covered, signer="example."):
    return rdata("RRSIG", "%s 13 2 3600 20991231000000 20200101000000 12345 %s %s" % (
        covered, signer, "AAAA" * 22))


def times(ttl, rank=4, status=2, age=0):
    return struct.pack(">IIBB", NOW - age + ttl, ttl, rank, status)


def record(kind, payload):
    return struct.pack(">BI", kind, len(payload)) + payload


def rdata_list(items):
    return b"".join(struct.pack(">H", len(i)) + i for i in items)


def rrset_record(owner, rdtype, rdatas, sigs=(), ttl=3600, rank=4, status=2, age=0):
    t = dns.rdatatype.from_text(rdtype)
    payload = (times(ttl, rank, status, age) + name(owner) + struct.pack(">HHHH", t, 1, len(rdatas), len(sigs)) +
               rdata_list(rdatas) + rdata_list(sigs))
    return record(2, payload)


def wire_rrset(owner, rdtype, ttl, rdatas, sigs=()):
    t = dns.rdatatype.from_text(rdtype)
    return (name(owner) + struct.pack(">HHIHH", t, 1, ttl, len(rdatas), len(sigs)) + rdata_list(rdatas) +
            rdata_list(sigs))


def negative_record(kind, qname, qtype, records, ttl=900, status=2):
    payload = (times(ttl, 2, status) + bytes([kind]) + name(qname) +
               struct.pack(">HHH", dns.rdatatype.from_text(qtype), 1, len(records)) + b"".join(records))
    return record(3, payload)


def delegation_record(zone, servers, ttl=86400):
    body = times(ttl, 2, 2) + name(zone) + struct.pack(">HH", 1, len(servers))
    for ns, rank, addresses in servers:
        body += name(ns) + bytes([rank, len(addresses)])
        for a in addresses:
            packed = dns.inet.inet_pton(dns.inet.af_for_address(a), a)
            body += bytes([4 if len(packed) == 4 else 6]) + packed
    return record(1, body)


def answer_record(qname, qtype, packet, flags=0, ede=0xFFFF, ttl=300, status=1):
    payload = (times(ttl, 3, status) + name(qname) + struct.pack(">HHBH", dns.rdatatype.from_text(qtype), 1, flags, ede) +
               packet)
    return record(4, payload)


def server_record(address, port, flags, srtt_us, rttvar_us, timeouts=0, hold_ms=0):
    packed = dns.inet.inet_pton(dns.inet.af_for_address(address), address)
    payload = (bytes([4 if len(packed) == 4 else 6]) + packed +
               struct.pack(">HBIIII", port, flags, srtt_us, rttvar_us, timeouts, hold_ms))
    return record(64, payload)


def cname_packet():
    q = dns.message.make_query("www.example.", "A", use_edns=False)
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("www.example.", 600, "IN", "CNAME", "host.example."))
    r.answer.append(dns.rrset.from_text("host.example.", 300, "IN", "A", "192.0.2.80"))
    # Uncompressed question, as the answer cache stores it.
    return r.to_wire(max_size=65535)


def main():
    soa = wire_rrset("example.", "SOA", 900, [rdata("SOA", "ns1.example. hostmaster.example. 1 7200 3600 1209600 900")])
    nsec = wire_rrset("a.example.", "NSEC", 900, [rdata("NSEC", "c.example. A RRSIG NSEC")], [rrsig("NSEC")])
    seeds = {
        "rrset_a_signed": rrset_record("n1.example.", "A", [rdata("A", "192.0.2.1")], [rrsig("A")]),
        "rrset_aaaa_stale": rrset_record("n2.example.", "AAAA", [rdata("AAAA", "2001:db8::1")], ttl=60, age=600),
        "rrset_ns_glue": rrset_record("example.", "NS", [rdata("NS", "ns1.example."), rdata("NS", "ns2.example.")],
                                      rank=2, status=0),
        "rrset_mx_txt": rrset_record("example.", "MX", [rdata("MX", "10 mail.example.")]) +
                        rrset_record("example.", "TXT", [rdata("TXT", '"v=spf1 -all"')], status=1),
        "negative_nxdomain": negative_record(0, "b.example.", "A", [soa, nsec]),
        "negative_nodata": negative_record(1, "n1.example.", "MX", [soa], status=1),
        "delegation": delegation_record("example.", [("ns1.example.", 1, ["192.0.2.53", "2001:db8::53"]),
                                                      ("ns2.example.net.", 4, [])]),
        "answer_cname": answer_record("www.example.", "A", cname_packet()),
        "servers": server_record("192.0.2.53", 53, 3, 12000, 3000) +
                   server_record("2001:db8::53", 5353, 12, 0, 0, 2, 4000),
    }
    seeds["everything"] = b"".join(seeds[k] for k in ("delegation", "rrset_a_signed", "rrset_ns_glue",
                                                     "negative_nxdomain", "answer_cname", "servers"))
    os.makedirs(OUT, exist_ok=True)
    for seed, body in seeds.items():
        with open(os.path.join(OUT, seed), "wb") as f:
            f.write(b"\x01" + body)
    print("wrote %d seeds to %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
