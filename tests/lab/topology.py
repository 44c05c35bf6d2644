"""The lab's address plan and zone plan: the one place that says which server
answers for which zone, and how each zone is signed or deliberately broken.

Everything else (lab.py, fakeauth.py, README.md, cases.tsv) follows from this
file; change the plan here and bring the lab up again.
"""

# Servers run by Knot DNS, one knotd process per address, so that one server
# of a zone can be stopped on its own (failover tests) and a server that does
# not serve a zone answers REFUSED (a lame delegation).
KNOT_SERVERS = {
    # name     address        zones it is authoritative for
    "root1": ("127.53.0.1", [".", "root-servers.net."]),
    "root2": ("127.53.0.2", [".", "root-servers.net."]),
    "tld1": ("127.53.1.1", ["com.", "net.", "org.", "arpa.", "in-addr.arpa."]),
    "tld2": ("127.53.1.2", ["com.", "net.", "org.", "arpa.", "in-addr.arpa."]),
    "tld3": ("127.53.1.3", ["test."]),
    "tld4": ("127.53.1.4", ["test."]),
    "sld1": ("127.53.2.1", ["example.com.", "example.net.", "insecure.com.",
                            "2.0.192.in-addr.arpa."]),
    "sld2": ("127.53.2.2", ["example.com.", "example.net.", "insecure.com.",
                            "2.0.192.in-addr.arpa."]),
    "sld3": ("127.53.2.3", ["example.org.", "insecure.org."]),
    "sld4": ("127.53.2.4", ["example.org.", "insecure.org."]),
    "sld5": ("127.53.2.5", ["bogus-sig.test.", "expired.test.", "bad-ds.test.",
                            "unsigned.test.", "unsupported-alg.test.",
                            "nsec3-iter.test.", "lame.test.", "dead.test.",
                            "keytrap.test."]),
    "sld6": ("127.53.2.6", ["big.test.", "big-signed.test."]),
    # Up, but serves none of the zones delegated to it: answers REFUSED.
    "lame": ("127.53.2.9", []),
}

# Addresses where nothing listens (ICMP port unreachable / TCP RST at once).
DEAD_ADDRESSES = ["127.53.2.98", "127.53.2.99"]

# The scriptable fake authoritative (fakeauth.py). Each behaviour has its own
# address and its own zone, so that a resolver's per-server state (timeouts,
# EDNS fallback) learnt from one fault never leaks into another case.
FAKE_PARENT = ("127.53.9.1", "faults.test.")
FAKE_SPOOF_SOURCE = "127.53.9.2"      # where "wrongsrc" replies come from
FAKE_BLACKHOLE = "127.53.9.99"        # swallows every packet (timeouts)
FAKE_CONTROL = ("127.53.9.1", 8053)   # fakectl talks to this TCP port
FAKE_ZONES = {
    # zone label  address        behaviour
    "drop":      ("127.53.9.10", "drop"),
    "delay":     ("127.53.9.11", "delay"),
    "tc":        ("127.53.9.12", "tc"),
    "badid":     ("127.53.9.13", "badid"),
    "wrongq":    ("127.53.9.14", "wrongq"),
    "wrongsrc":  ("127.53.9.15", "wrongsrc"),
    "noedns":    ("127.53.9.16", "formerr-edns"),
    "case":      ("127.53.9.17", "mangle-case"),
    "malformed": ("127.53.9.18", "malformed"),
    "stale":     ("127.53.9.19", "normal"),
    "referral":  ("127.53.9.20", "upward-referral"),
    "servfail":  ("127.53.9.21", "servfail"),
}
FAKE_DELAY_MS = 800
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
    "unsupported-alg.test.": dict(alg=253, breakage="unsupported-alg"),
    "nsec3-iter.test.":     dict(alg=13, denial="nsec3", iterations=200),
    # KeyTrap (CVE-2023-50387): KEYTRAP_KEYS keys with one key tag, and
    # KEYTRAP_SIGS invalid RRSIGs by that tag over www and the wildcard.
    "keytrap.test.":        dict(alg=15, split=True, denial="nsec", breakage="keytrap"),
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
