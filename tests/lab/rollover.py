"""RFC 5011 key rollover of the lab's rollover.test. (an island of security:
no DS in test.), for tests/integration/rfc5011_test.py.

The zone has two ECDSA P-256 key-signing keys, K1 and K2, made once per run
directory. `lab.py rollover STAGE` re-signs it for one stage and reloads it:

  start    DNSKEY {K1}                   signed by K1; the zone's data by K1
  publish  DNSKEY {K1, K2}               signed by K1; data by K1
  revoke   DNSKEY {K1+REVOKE, K2}        signed by K2 and by the revoked K1
                                         itself (RFC 5011 2.1); data by K2
  done     DNSKEY {K2}                   signed by K2; data by K2

A resolver that starts with K1 as its trust anchor and follows RFC 5011
trusts K2 after its add hold-down (publish), drops K1 at revoke, and keeps
validating throughout. The stage lives in RUN_DIR/rollover-stage.
"""
import json
import os

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

STAGES = ("start", "publish", "revoke", "done")
REVOKE = 0x0080
ALGORITHM = 13


def stage(run_dir):
    try:
        with open(os.path.join(run_dir, "rollover-stage")) as f:
            value = f.read().strip()
        return value if value in STAGES else "start"
    except OSError:
        return "start"


def set_stage(run_dir, value):
    if value not in STAGES:
        raise ValueError("stage must be one of %s" % ", ".join(STAGES))
    path = os.path.join(run_dir, "rollover-stage")
    with open(path + ".tmp", "w") as f:
        f.write(value + "\n")
    os.replace(path + ".tmp", path)


def _private(base):
    from cryptography.hazmat.primitives import serialization
    with open(base + ".pem", "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def _dnskey(private, flags):
    return dns.dnssec.make_dnskey(private.public_key(), ALGORITHM, flags=flags)


def make_keys(zone, directory):
    """Two KSKs (PEM private keys plus .key files, as zonebuild reads keys);
    returns their base names, K1 first."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    bases = []
    for name in ("k1", "k2"):
        private = ec.generate_private_key(ec.SECP256R1())
        key = _dnskey(private, 257)
        base = os.path.join(directory, "K%s+%03d+%05d-%s" % (zone, ALGORITHM, dns.dnssec.key_id(key), name))
        with open(base + ".pem", "wb") as f:
            f.write(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        with open(base + ".key", "w") as f:
            f.write("%s\tIN\tDNSKEY\t%s\n" % (zone, key.to_text()))
        bases.append(base)
    return bases


def keys_of_stage(bases, value):
    """(published DNSKEYs, DNSKEY signers, data signer) as (private, dnskey)
    pairs for a stage."""
    k1, k2 = (_private(b) for b in bases)
    one, two = (k1, _dnskey(k1, 257)), (k2, _dnskey(k2, 257))
    revoked = (k1, _dnskey(k1, 257 | REVOKE))
    if value == "start":
        return [one], [one], one
    if value == "publish":
        return [one, two], [one], one
    if value == "revoke":
        return [revoked, two], [two, revoked], two
    return [two], [two], two


def sign(zone, source, out, bases, value, inception, expiration):
    """Writes the zone signed for `value` (NSEC, every RRset by the data
    signer, the DNSKEY RRset by the stage's key signers)."""
    import time
    z = dns.zone.from_file(source, origin=zone, relativize=False, check_origin=True)
    origin = z.origin
    published, key_signers, data_signer = keys_of_stage(bases, value)
    soa = z.find_rdataset(origin, dns.rdatatype.SOA)
    ttl = soa.ttl
    # A new serial per signing, so that the server loads every stage.
    soa_rdata = soa[0].replace(serial=int(time.time()) & 0xFFFFFFFF)
    soa.clear()
    soa.add(soa_rdata, ttl)
    dnskeys = z.find_rdataset(origin, dns.rdatatype.DNSKEY, create=True)
    for _, key in published:
        dnskeys.add(key, ttl)
    names = sorted(z.nodes.keys())
    for i, name in enumerate(names):
        node = z.nodes[name]
        types = {r.rdtype for r in node.rdatasets} | {dns.rdatatype.NSEC, dns.rdatatype.RRSIG}
        nsec = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.NSEC,
                                   " ".join([names[(i + 1) % len(names)].to_text()]
                                            + sorted(dns.rdatatype.to_text(t) for t in types)))
        node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC, create=True).add(nsec, ttl)
    for name, node in list(z.nodes.items()):
        for rdataset in list(node.rdatasets):
            signers = key_signers if rdataset.rdtype == dns.rdatatype.DNSKEY else [data_signer]
            sigs = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdataset.rdtype, create=True)
            for private, key in signers:
                sigs.add(dns.dnssec.sign((name, rdataset), private, origin, key, inception, expiration),
                         rdataset.ttl)
    z.to_file(out, relativize=False)


def describe(run_dir, bases):
    """What a test needs: the stage, both keys' tags (K1's revoked tag too)
    and K1's DS, the first trust anchor."""
    k1, k2 = (_private(b) for b in bases)
    key1 = _dnskey(k1, 257)
    return json.dumps({
        "stage": stage(run_dir),
        "k1_tag": dns.dnssec.key_id(key1),
        "k1_revoked_tag": dns.dnssec.key_id(_dnskey(k1, 257 | REVOKE)),
        "k2_tag": dns.dnssec.key_id(_dnskey(k2, 257)),
        "k1_ds": "rollover.test. IN DS %s" % dns.dnssec.make_ds("rollover.test.", key1, "SHA256").to_text(),
    })
