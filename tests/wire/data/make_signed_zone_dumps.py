#!/usr/bin/python3
"""Writes, for each ldns-signzone output under zones/signed-*.zone, the
records as dnspython (an independent reader) sees them: one line per record,
"owner TTL TYPE wire-hex", sorted. test_zone_reader.cpp compares Sextant's
reading of the same files against these dumps.

The signed zones were made from tests/lab/zones/example.com.zone (origin
changed to signed.example.) with ldns-keygen -a ECDSAP256SHA256 keys:
    ldns-signzone -n -t 1 -s aabbccdd -p -o signed.example. -f signed-nsec3.zone ...
    ldns-signzone -o signed.example. -f signed-nsec.zone ...
Run: cd tests/wire/data && /usr/bin/python3 make_signed_zone_dumps.py
"""
import glob
import os

import dns.name
import dns.rdatatype
import dns.zone

here = os.path.dirname(os.path.abspath(__file__))
for path in sorted(glob.glob(os.path.join(here, "zones", "signed-*.zone"))):
    zone = dns.zone.from_file(path, origin="signed.example.", relativize=False, check_origin=True)
    lines = []
    for name, rdataset in zone.iterate_rdatasets():
        for rd in rdataset:
            lines.append("%s %d %s %s" % (name.to_text().lower(), rdataset.ttl,
                                          dns.rdatatype.to_text(rdataset.rdtype),
                                          rd.to_wire(origin=dns.name.root).hex()))
    lines.sort()
    with open(path[:-len(".zone")] + ".dnspython", "w") as out:
        out.write("\n".join(lines) + "\n")
