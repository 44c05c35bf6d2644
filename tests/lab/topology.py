"""The lab's address plan and zone plan: the one place that says which server
answers for which zone, and how each zone is signed or deliberately broken.

Everything else (lab.py, fakeauth.py, README.md, cases.tsv) follows from this
file; change the plan here and bring the lab up again.

Addresses are host parts of the lab's /16 (labnet.py: 127.53 unless
SEXTANT_LAB_NET names another), so that several labs can run side by side.
"""
from labnet import address as lab

# Servers run by Knot DNS, one knotd process per address, so that one server
# of a zone can be stopped on its own (failover tests) and a server that does
# not serve a zone answers REFUSED (a lame delegation).
KNOT_SERVERS = {
    # name    address     zones it is authoritative for
    "root1": (lab("0.1"), [".", "root-servers.net."]),
    "root2": (lab("0.2"), [".", "root-servers.net."]),
    "tld1": (lab("1.1"), ["com.", "net.", "org.", "arpa.", "in-addr.arpa."]),
    "tld2": (lab("1.2"), ["com.", "net.", "org.", "arpa.", "in-addr.arpa."]),
    "tld3": (lab("1.3"), ["test."]),
    "tld4": (lab("1.4"), ["test."]),
    "sld1": (lab("2.1"), ["example.com.", "example.net.", "insecure.com.",
                         "2.0.192.in-addr.arpa."]),
    "sld2": (lab("2.2"), ["example.com.", "example.net.", "insecure.com.",
                         "2.0.192.in-addr.arpa."]),
    "sld3": (lab("2.3"), ["example.org.", "insecure.org."]),
    "sld4": (lab("2.4"), ["example.org.", "insecure.org."]),
    "sld5": (lab("2.5"), ["bogus-sig.test.", "expired.test.", "bad-ds.test.",
                         "unsigned.test.", "unsupported-alg.test.",
                         "nsec3-iter.test.", "lame.test.", "dead.test.",
                         "keytrap.test.", "rsasha1.test.", "rsasha1-nsec3.test.",
                         "rsasha1-optout.test.", "child.rsasha1-optout.test.",
                         "bogus-rsasha1.test.", "bogus-rsasha1-nsec3.test.",
                         "dsa.test.", "gost.test.", "rollover.test.", "halfbogus.test.",
                         "hidden.test."]),
    "sld6": (lab("2.6"), ["big.test.", "big-signed.test.", "halfbogus.test."]),
    # Up, but serves none of the zones delegated to it: answers REFUSED.
    "lame": (lab("2.9"), []),
}

# Addresses where nothing listens (ICMP port unreachable / TCP RST at once).
DEAD_ADDRESSES = [lab("2.98"), lab("2.99")]

# The scriptable fake authoritative (fakeauth.py). Each behaviour has its own
# address and its own zone, so that a resolver's per-server state (timeouts,
# EDNS fallback) learnt from one fault never leaks into another case.
FAKE_PARENT = (lab("9.1"), "faults.test.")
FAKE_SPOOF_SOURCE = lab("9.2")     # where "wrongsrc" replies come from
FAKE_BLACKHOLE = lab("9.99")       # swallows every packet (timeouts)
FAKE_CONTROL = (lab("9.1"), 8053)  # fakectl talks to this TCP port
FAKE_ZONES = {
    # zone label  address      behaviour
    "drop":      (lab("9.10"), "drop"),
    "delay":     (lab("9.11"), "delay"),
    "tc":        (lab("9.12"), "tc"),
    "badid":     (lab("9.13"), "badid"),
    "wrongq":    (lab("9.14"), "wrongq"),
    "wrongsrc":  (lab("9.15"), "wrongsrc"),
    "noedns":    (lab("9.16"), "formerr-edns"),
    "case":      (lab("9.17"), "mangle-case"),
    "malformed": (lab("9.18"), "malformed"),
    "stale":     (lab("9.19"), "normal"),
    "referral":  (lab("9.20"), "upward-referral"),
    "servfail":  (lab("9.21"), "servfail"),
    # Answers everything after FAKE_SLOW_MS: the "slow zone" of the flood
    # benchmark (random names under it are NXDOMAIN, 300 ms late).
    "slow":      (lab("9.22"), "slow"),
}
# Conformance zones (issue 13): servers that misbehave the way real ones
# do, some zones with several servers. Kept apart from FAKE_ZONES so that
# the addresses and records of those stay put. Per zone: its servers
# (address, behaviour) in order, named ns1, ns2... in the zone and given
# with glue by faults.test.; or, for the glueless cycles, explicit NS names
# without glue ("ns"), with the address that serves the zone ("serve").
#   aa-upward-referral    every reply AA=1, no answer, no SOA, the root's NS set
#   aaaa-upward-referral  the same for AAAA questions only, the rest correct
#   no-soa                NXDOMAIN and NODATA without the SOA
#   extra-records         answers padded with RRsets nobody asked for, in and
#                         out of the zone, in every section
#   badopcode             over UDP first a forged reply with opcode NOTIFY,
#                         the real one 50 ms later
#   normal                correct (names.: MX, SRV, CNAME, NS targets under
#                         the zone's name, which dnspython compresses against
#                         the 0x20 question)
FAKE_CONFORMANCE_ZONES = {
    "lameaa":    dict(servers=[(lab("9.30"), "aa-upward-referral"), (lab("9.31"), "normal")]),
    "lametype":  dict(servers=[(lab("9.32"), "aaaa-upward-referral"), (lab("9.33"), "normal")]),
    "nosoa":     dict(servers=[(lab("9.34"), "no-soa")]),
    "extra":     dict(servers=[(lab("9.35"), "extra-records")]),
    "names":     dict(servers=[(lab("9.36"), "normal")]),
    "badopcode": dict(servers=[(lab("9.37"), "badopcode")]),
    # ns.cycb needs cycb., whose server ns.cyca needs cyca.: a glueless
    # cycle, with a way out through a name in names.faults.test.
    "cyca":      dict(ns=["ns.cycb.faults.test.", "cyca-ns.names.faults.test."],
                      serve=lab("9.40")),
    "cycb":      dict(ns=["ns.cyca.faults.test."], serve=lab("9.41")),
    # The same cycle without the way out.
    "cycc":      dict(ns=["ns.cycd.faults.test."], serve=lab("9.42")),
    "cycd":      dict(ns=["ns.cycc.faults.test."], serve=lab("9.43")),
}

FAKE_DELAY_MS = 800
FAKE_SLOW_MS = 300
FAKE_STALE_TTL = 2

# How each zone is signed. Keys: alg (DNSSEC algorithm number, None =
# unsigned), split (separate KSK and ZSK; otherwise one combined key),
# denial ("nsec" or "nsec3"), optout, iterations, salt, breakage.
ZONES = {
    ".":                    dict(alg=8, split=True, denial="nsec"),
    "root-servers.net.":    dict(alg=None),
    "com.":                 dict(alg=8, split=True, denial="nsec3", optout=True),
    "net.":                 dict(alg=13, denial="nsec3"),
    "org.":                 dict(alg=15, denial="nsec"),
    "test.":                dict(alg=13, denial="nsec"),
    "arpa.":                dict(alg=8, denial="nsec"),
    "in-addr.arpa.":        dict(alg=13, denial="nsec"),
    "example.com.":         dict(alg=8, split=True, denial="nsec"),
    "example.net.":         dict(alg=13, denial="nsec3", salt="cafe"),
    "example.org.":         dict(alg=15, denial="nsec"),
    "insecure.com.":        dict(alg=None),   # no DS; com. is opt-out
    "insecure.org.":        dict(alg=None),   # no DS; org. proves it by NSEC
    "2.0.192.in-addr.arpa.": dict(alg=15, denial="nsec"),
    # Deliberately broken zones, one fault each.
    "bogus-sig.test.":      dict(alg=13, denial="nsec", breakage="bogus-sig"),
    "expired.test.":        dict(alg=13, denial="nsec", breakage="expired"),
    "bad-ds.test.":         dict(alg=13, denial="nsec", breakage="bad-ds"),
    "unsigned.test.":       dict(alg=None),
    # Served by sld5 but delegated by no parent: only a stub zone reaches it.
    "hidden.test.":         dict(alg=None),
    "unsupported-alg.test.": dict(alg=253, breakage="unsupported-alg"),
    "nsec3-iter.test.":     dict(alg=13, denial="nsec3", iterations=200),
    # KeyTrap (CVE-2023-50387): KEYTRAP_KEYS keys with one key tag, and
    # KEYTRAP_SIGS invalid RRSIGs by that tag over www and the wildcard.
    "keytrap.test.":        dict(alg=15, split=True, denial="nsec", breakage="keytrap"),
    # RSA/SHA-1 (5) and RSASHA1-NSEC3-SHA1 (7), which RFC 8624 says a
    # validator MUST validate: NSEC and NSEC3 (opt-out too), wildcards and
    # negative answers, a bogus twin of each; rsasha1.test.'s DS is SHA-1 only.
    "rsasha1.test.":        dict(alg=5, split=True, denial="nsec", ds_digest="SHA1"),
    "rsasha1-nsec3.test.":  dict(alg=7, denial="nsec3", salt="beef", iterations=1),
    "rsasha1-optout.test.": dict(alg=7, denial="nsec3", optout=True),
    "child.rsasha1-optout.test.": dict(alg=None),  # unsigned, inside the opt-out span
    "bogus-rsasha1.test.":  dict(alg=5, denial="nsec", breakage="bogus-sig"),
    "bogus-rsasha1-nsec3.test.": dict(alg=7, denial="nsec3", breakage="bogus-sig"),
    # Algorithms a validator does not validate (RFC 8624: DSA MUST NOT, GOST
    # MAY): insecure with EDE 1. dsa.test. is really signed (ldns, DSA);
    # gost.test.'s key and signatures are random bytes (no GOST signer here).
    "dsa.test.":            dict(alg=3, denial="nsec"),
    "gost.test.":           dict(alg=12, breakage="unsupported-alg"),
    # Two servers, one of which (sld6) serves www A with a broken signature:
    # a validator asks the other before giving up (issue 13, section 3).
    "halfbogus.test.":      dict(alg=13, denial="nsec", variants={"sld6": "bogus-sig"}),
    # RFC 5011 rollover (tests/integration/rfc5011_test.py): an island of
    # security (no DS in test.) re-signed by `lab.py rollover STAGE` with a
    # second key published, then the first one revoked (rollover.py).
    "rollover.test.":       dict(alg=13, island=True, breakage="rollover"),
    # Delegation faults (the zones themselves are fine and signed).
    "lame.test.":           dict(alg=13, denial="nsec"),
    "dead.test.":           dict(alg=13, denial="nsec"),
    # Benchmarks: generated, 100,000 names each.
    "big.test.":            dict(alg=None, generated=100000),
    # Signing 100,000 names takes ~10 s of CPU: done in the background
    # after `up` returns (`up --wait` waits for it).
    "big-signed.test.":     dict(alg=13, denial="nsec", generated=100000, background=True),
}

# KeyTrap zone: keys sharing the ZSK's key tag (the ZSK included) and the
# invalid signatures by that tag per trapped RRset. A validator that tries
# every key on every signature does KEYTRAP_KEYS * KEYTRAP_SIGS Ed25519
# verifications per RRset.
KEYTRAP_KEYS = 48
KEYTRAP_SIGS = 48

# Signature validity: zones are re-signed when older than RESIGN_AFTER_DAYS.
SIG_VALIDITY_DAYS = 30
RESIGN_AFTER_DAYS = 7

# Fake zones for the defences of issue 16 (fakeauth.py, tests/integration/
# defences_test.py), beside FAKE_ZONES so that the addresses of those zones'
# www records (which cases.tsv expects) do not move:
#   cookies       answers with DNS cookies (RFC 7873): the client cookie sent
#                 and a server cookie of its own; counts what it received
#   cookie-forge  the same, but over UDP a forged reply (www A 192.0.2.66,
#                 another client cookie) comes first, the real one 50 ms later
#   ecs           EDNS Client Subnet (RFC 7871): www A 198.51.100.<third
#                 octet of the client subnet>, scope /24; without ECS
#                 198.51.100.254 and no option
#   rebind        public data pointing at private, loopback and link-local
#                 addresses (rebinding protection), beside public ones
FAKE_DEFENCE_ZONES = {
    "cookies":      (lab("9.23"), "cookies"),
    "cookie-forge": (lab("9.24"), "cookie-forge"),
    "ecs":          (lab("9.25"), "ecs"),
    "rebind":       (lab("9.26"), "normal"),
}
# Extra records of the rebind zone: (owner label, type, rdata).
FAKE_REBIND_RECORDS = [
    ("private", "A", "10.1.2.3"),
    ("mixed", "A", "192.168.1.1"), ("mixed", "A", "192.0.2.44"),
    ("loopback", "A", "127.0.0.1"),
    ("cgnat", "A", "100.64.0.1"),
    ("linklocal", "A", "169.254.169.254"),
    ("zero", "A", "0.0.0.0"),
    ("v6loop", "AAAA", "::1"),
    ("ula", "AAAA", "fd00::1"),
    ("v6ll", "AAAA", "fe80::1"),
    ("mapped", "AAAA", "::ffff:10.0.0.1"),
    ("public", "A", "192.0.2.45"), ("public", "AAAA", "2001:db8::45"),
    ("alias", "CNAME", "private.rebind.faults.test."),
    ("inside", "A", "10.9.9.9"),
]
