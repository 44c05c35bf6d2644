"""Builds the lab's zones into the run directory: keys, DS records in parents,
signatures, and the deliberate breakages.

The committed sources under zones/ are written for the default lab
(127.53); their addresses are moved to this lab's prefix (labnet.to_lab)
as they are assembled. Signing uses ldns-signzone (real keys from
ldns-keygen). Results are cached: a zone is re-signed only when its input
(source text, child DS records, keys, signing parameters) changed or its
signatures are older than topology.RESIGN_AFTER_DAYS.
"""
import base64
import concurrent.futures
import hashlib
import json
import os
import random
import subprocess
import time

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.rdtypes.ANY.RRSIG
import dns.zone

import labnet
import rollover
import topology

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
ZONE_SOURCE_DIR = os.path.join(LAB_DIR, "zones")
# Bump when the way zones are built changes, so cached results are redone.
BUILD_VERSION = "4"

LDNS_ALGORITHM_NAMES = {3: "DSA", 5: "RSASHA1", 7: "RSASHA1-NSEC3-SHA1", 8: "RSASHA256",
                        13: "ECDSAP256SHA256", 15: "ED25519"}
PRIVATE_ALGORITHM = 253
PRIVATE_ALGORITHM_ID = "alg253.lab."
# Key sizes where ldns-keygen needs one (bits).
LDNS_KEY_BITS = {3: 1024, 5: 1024, 7: 1024, 8: 2048}


def zone_file_stem(zone):
    return "root" if zone == "." else zone.rstrip(".")


def parent_zone(zone):
    """The closest enclosing zone of the lab, or None for the root."""
    if zone == ".":
        return None
    name = dns.name.from_text(zone).parent()
    while True:
        text = name.to_text()
        if text in topology.ZONES:
            return text
        name = name.parent()


def children_of(zone):
    return [z for z in topology.ZONES if parent_zone(z) == zone]


class ZoneBuilder:
    def __init__(self, run_dir, log):
        self.run_dir = run_dir
        self.keys_dir = os.path.join(run_dir, "keys")
        self.zones_dir = os.path.join(run_dir, "zones")
        self.log = log
        os.makedirs(self.keys_dir, exist_ok=True)
        os.makedirs(self.zones_dir, exist_ok=True)

    # ---- keys ---------------------------------------------------------
    def _key_dir(self, zone):
        return os.path.join(self.keys_dir, zone_file_stem(zone))

    def ensure_keys(self, zone):
        """Returns the key base names (ldns format) of a zone, making them once."""
        params = topology.ZONES[zone]
        directory = self._key_dir(zone)
        index = os.path.join(directory, "keys.json")
        if os.path.exists(index):
            with open(index) as f:
                return json.load(f)
        os.makedirs(directory, exist_ok=True)
        alg = params["alg"]
        if params.get("breakage") == "unsupported-alg":
            bases = [self._make_unsupported_key(zone, directory, alg)]
        elif params.get("breakage") == "rollover":
            bases = rollover.make_keys(zone, directory)
        elif params.get("breakage") == "keytrap":
            bases = [self._make_ed25519_key(zone, directory, flags)
                     for flags in (257, 256)]         # KSK, ZSK
        else:
            kinds = ["ksk", "zsk"] if params.get("split") else ["ksk"]
            bases = []
            for kind in kinds:
                cmd = ["ldns-keygen", "-a", LDNS_ALGORITHM_NAMES[alg]]
                if alg in LDNS_KEY_BITS:
                    cmd += ["-b", str(LDNS_KEY_BITS[alg])]
                if kind == "ksk":
                    cmd.append("-k")
                cmd.append(zone)
                out = subprocess.run(cmd, cwd=directory, check=True,
                                     capture_output=True, text=True).stdout
                bases.append(os.path.join(directory, out.strip()))
        with open(index + ".tmp", "w") as f:
            json.dump(bases, f)
        os.replace(index + ".tmp", index)
        return bases

    def _make_unsupported_key(self, zone, directory, alg):
        # RFC 4034 A.1.1: a PRIVATEDNS key starts with the wire form of a
        # domain name naming the algorithm; the rest is opaque to validators.
        # Other algorithms (GOST, 12) get 64 random octets, the size of a
        # GOST R 34.10-2001 public key.
        public = os.urandom(64)
        if alg == PRIVATE_ALGORITHM:
            public = dns.name.from_text(PRIVATE_ALGORITHM_ID).to_wire() + public
        key = dns.rdtypes.ANY.DNSKEY.DNSKEY(
            dns.rdataclass.IN, dns.rdatatype.DNSKEY, 257, 3, alg, public)
        base = os.path.join(directory, "K%s+%03d+%05d" % (zone, alg, dns.dnssec.key_id(key)))
        with open(base + ".key", "w") as f:
            f.write("%s\tIN\tDNSKEY\t%s\n" % (zone, key.to_text()))
        return base

    @staticmethod
    def _make_ed25519_key(zone, directory, flags):
        """An Ed25519 key made here rather than by ldns-keygen: the KeyTrap
        zone is signed by this file (_sign_keytrap), with the raw seed."""
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.hazmat.primitives import serialization
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
        key = dns.rdtypes.ANY.DNSKEY.DNSKEY(
            dns.rdataclass.IN, dns.rdatatype.DNSKEY, flags, 3, 15, public)
        base = os.path.join(directory, "K%s+015+%05d" % (zone, dns.dnssec.key_id(key)))
        with open(base + ".key", "w") as f:
            f.write("%s\tIN\tDNSKEY\t%s\n" % (zone, key.to_text()))
        seed = private.private_bytes(serialization.Encoding.Raw,
                                     serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())
        with open(base + ".seed", "w") as f:
            f.write(seed.hex() + "\n")
        return base

    @staticmethod
    def read_dnskeys(bases):
        keys = []
        for base in bases:
            with open(base + ".key") as f:
                for line in f:
                    line = line.split(";", 1)[0].strip()
                    if not line:
                        continue
                    tokens = line.split()
                    at = tokens.index("DNSKEY")
                    keys.append(dns.rdata.from_text(
                        dns.rdataclass.IN, dns.rdatatype.DNSKEY, " ".join(tokens[at + 1:])))
        return keys

    def ds_records(self, zone):
        """The DS RRset text the parent publishes for a signed zone."""
        bases = self.ensure_keys(zone)
        lines = []
        for key in self.read_dnskeys(bases):
            if not key.flags & 0x0001:      # only the SEP (KSK) keys
                continue
            # SHA-1 DS for rsasha1.test.: dnspython's default policy refuses to make one.
            ds = dns.dnssec.make_ds(zone, key, topology.ZONES[zone].get("ds_digest", "SHA256"),
                                    policy=dns.dnssec.allow_all_policy)
            if topology.ZONES[zone].get("breakage") == "bad-ds":
                digest = bytearray(ds.digest)
                digest[0] ^= 0xFF
                ds = ds.replace(digest=bytes(digest))
            lines.append("%s 86400 IN DS %s" % (zone, ds.to_text()))
        return lines

    # ---- zone text ----------------------------------------------------
    def source_text(self, zone):
        params = topology.ZONES[zone]
        if params.get("generated"):
            text = self._generated_zone(zone, params["generated"])
        else:
            with open(os.path.join(ZONE_SOURCE_DIR, zone_file_stem(zone) + ".zone")) as f:
                text = labnet.to_lab(f.read())
        extra = []
        for child in sorted(children_of(zone)):
            child_params = topology.ZONES[child]
            if child_params["alg"] is not None and not child_params.get("island"):
                extra += self.ds_records(child)
        if extra:
            text += "\n; DS records of the signed children, added at bring-up\n"
            text += "\n".join(extra) + "\n"
        return text

    @staticmethod
    def _generated_zone(zone, count):
        lines = ["$ORIGIN %s" % zone, "$TTL 3600",
                 "@ SOA sld6.servers.test. hostmaster.%s 1 3600 900 604800 300" % zone,
                 "@ NS sld6.servers.test."]
        lines += ["n%06d A 10.%d.%d.%d" % (i, (i >> 16) & 255, (i >> 8) & 255, i & 255)
                  for i in range(count)]
        return "\n".join(lines) + "\n"

    def write_query_file(self, zone, count):
        path = os.path.join(self.run_dir, "%s-queries.txt" % zone_file_stem(zone).split(".")[0])
        if not os.path.exists(path):
            with open(path + ".tmp", "w") as f:
                for i in range(count):
                    f.write("n%06d.%s A\n" % (i, zone))
            os.replace(path + ".tmp", path)
        return path

    # ---- building -----------------------------------------------------
    def served_path(self, zone):
        return os.path.join(self.zones_dir, zone_file_stem(zone) + ".zone")

    def needs_build(self, zone):
        return self.build_zone(zone, dry_run=True)

    def build_all(self, workers=2, skip=()):
        """Builds every zone but those in skip; returns {zone: served zone
        file path} for all zones (a skipped zone's file may not exist yet)."""
        started = time.monotonic()
        signed = [z for z, p in topology.ZONES.items() if p["alg"] is not None]
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(self.ensure_keys, signed))     # RSA key generation is slow
            jobs = {}
            # Big zones first: they take longest.
            order = sorted(topology.ZONES, key=lambda z: -topology.ZONES[z].get("generated", 0))
            for zone in order:
                if zone not in skip:
                    jobs[zone] = pool.submit(self.build_zone, zone)
            for job in jobs.values():
                job.result()
        result = {zone: self.served_path(zone) for zone in topology.ZONES}
        for zone, params in topology.ZONES.items():
            if params.get("generated"):
                self.write_query_file(zone, params["generated"])

        self.log("zones built in %.1f s" % (time.monotonic() - started))
        return result

    def build_zone(self, zone, dry_run=False):
        """Builds one zone unless its cached result is current. With dry_run,
        only says whether a build is needed."""
        params = topology.ZONES[zone]
        stem = zone_file_stem(zone)
        served = os.path.join(self.zones_dir, stem + ".zone")
        stamp_path = os.path.join(self.zones_dir, stem + ".stamp")
        text = self.source_text(zone)
        digest = hashlib.sha256()
        digest.update(BUILD_VERSION.encode())
        digest.update(json.dumps(params, sort_keys=True).encode())
        digest.update(text.encode())
        if params["alg"] is not None:
            for key in self.read_dnskeys(self.ensure_keys(zone)):
                digest.update(key.to_text().encode())
        if params.get("breakage") == "rollover":
            digest.update(rollover.stage(self.run_dir).encode())
        fingerprint = digest.hexdigest()
        if os.path.exists(stamp_path) and os.path.exists(served):
            with open(stamp_path) as f:
                stamp = json.load(f)
            fresh = time.time() - stamp["built_at"] < topology.RESIGN_AFTER_DAYS * 86400
            if stamp["fingerprint"] == fingerprint and fresh and self._variants_exist(zone):
                return False if dry_run else served
        if dry_run:
            return True
        source = os.path.join(self.zones_dir, stem + ".src")
        with open(source, "w") as f:
            f.write(text)
        tmp = served + ".tmp"
        if params["alg"] is None:
            with open(tmp, "w") as f:
                f.write(text)
        elif params.get("breakage") == "unsupported-alg":
            self._sign_unsupported(zone, params["alg"], source, tmp)
        elif params.get("breakage") == "rollover":
            rollover.sign(zone, source, tmp, self.ensure_keys(zone), rollover.stage(self.run_dir),
                          *self._signature_window(params))
        elif params.get("breakage") == "keytrap":
            self._sign_keytrap(zone, source, tmp)
        else:
            self._sign_with_ldns(zone, params, source, tmp)
        if params.get("breakage") == "bogus-sig":
            self._corrupt_signature(tmp, "www." + zone, "A")
        os.replace(tmp, served)
        self._write_variants(zone, served)
        with open(stamp_path, "w") as f:
            json.dump({"fingerprint": fingerprint, "built_at": time.time()}, f)
        self.log("built %s" % zone)
        return served

    # ---- per-server variants ------------------------------------------
    # topology.ZONES[zone]["variants"] = {server: breakage}: that server
    # serves a copy of the zone broken that way (one server of a zone
    # serving bogus data while the others are right).
    def variant_path(self, zone, server):
        return os.path.join(self.zones_dir, "%s.%s.zone" % (zone_file_stem(zone), server))

    def _variants_exist(self, zone):
        return all(os.path.exists(self.variant_path(zone, server))
                   for server in topology.ZONES[zone].get("variants", {}))

    def _write_variants(self, zone, served):
        for server, breakage in topology.ZONES[zone].get("variants", {}).items():
            path = self.variant_path(zone, server)
            with open(served) as f, open(path + ".tmp", "w") as out:
                out.write(f.read())
            if breakage == "bogus-sig":
                self._corrupt_signature(path + ".tmp", "www." + zone, "A")
            os.replace(path + ".tmp", path)

    @staticmethod
    def _ldns_time(t):
        return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))

    def _signature_window(self, params):
        now = time.time()
        if params.get("breakage") == "expired":
            return now - 40 * 86400, now - 10 * 86400
        return now - 3600, now + topology.SIG_VALIDITY_DAYS * 86400

    def _sign_with_ldns(self, zone, params, source, out):
        inception, expiration = self._signature_window(params)
        cmd = ["ldns-signzone", "-o", zone, "-f", out,
               "-i", self._ldns_time(inception), "-e", self._ldns_time(expiration)]
        unsigned_tail = ""
        if params.get("denial") == "nsec3":
            cmd += ["-n", "-a", "1", "-t", str(params.get("iterations", 0))]
            if params.get("salt"):
                cmd += ["-s", params["salt"]]
            if params.get("optout"):
                cmd.append("-p")
                source, unsigned_tail = self._split_insecure_delegations(zone, source)
        cmd.append(source)
        cmd += self.ensure_keys(zone)
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError("ldns-signzone %s failed: %s" % (zone, run.stderr.strip()))
        if unsigned_tail:
            with open(out, "a") as f:
                f.write(unsigned_tail)

    def _split_insecure_delegations(self, zone, source):
        """For opt-out: ldns-signzone -p only sets the flag, it still gives
        every delegation an NSEC3. So the insecure delegations (NS without DS)
        are taken out before signing and put back, unsigned, afterwards; the
        opt-out NSEC3 chain then covers them as RFC 5155 6 intends."""
        z = dns.zone.from_file(source, origin=zone, relativize=False, check_origin=True)
        origin = z.origin
        insecure = [name for name, node in z.nodes.items()
                    if name != origin and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
                    and not node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DS)]
        tail = ["; insecure delegations, outside the opt-out NSEC3 chain"]
        for name in insecure:
            node = z.nodes[name]
            ns = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
            tail.append(ns.to_text(name))
            node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
            # glue below an insecure delegation goes with it
            for other, other_node in list(z.nodes.items()):
                if other != name and other.is_subdomain(name):
                    for rdataset in other_node.rdatasets:
                        tail.append(rdataset.to_text(other))
                    del z.nodes[other]
            if not node.rdatasets:
                del z.nodes[name]
        trimmed = source + ".signable"
        z.to_file(trimmed, relativize=False)
        return trimmed, "\n".join(tail) + "\n"

    def _sign_unsupported(self, zone, alg, source, out):
        """Signs with algorithm 253 or 12 (GOST). No validator can check these
        signatures (their bytes are random): what matters is that the DS and
        DNSKEY name an algorithm the validator does not implement (RFC 4035
        5.2: insecure)."""
        z = dns.zone.from_file(source, origin=zone, relativize=False, check_origin=True)
        origin = z.origin
        key = self.read_dnskeys(self.ensure_keys(zone))[0]
        key_tag = dns.dnssec.key_id(key)
        z.find_rdataset(origin, dns.rdatatype.DNSKEY, create=True).add(key, 3600)
        names = sorted(z.nodes.keys())
        for i, name in enumerate(names):
            node = z.nodes[name]
            types = [r.rdtype for r in node.rdatasets] + [dns.rdatatype.NSEC, dns.rdatatype.RRSIG]
            nsec = dns.rdata.from_text(
                dns.rdataclass.IN, dns.rdatatype.NSEC,
                " ".join([names[(i + 1) % len(names)].to_text()]
                         + sorted(dns.rdatatype.to_text(t) for t in set(types))))
            node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC, create=True).add(nsec, 300)
        inception, expiration = self._signature_window({})
        rng = random.Random(key_tag)
        for name, node in list(z.nodes.items()):
            for rdataset in list(node.rdatasets):
                sig = dns.rdtypes.ANY.RRSIG.RRSIG(
                    dns.rdataclass.IN, dns.rdatatype.RRSIG, rdataset.rdtype,
                    alg, len(name) - 1, rdataset.ttl, int(expiration),
                    int(inception), key_tag, origin, bytes(rng.getrandbits(8) for _ in range(64)))
                node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG,
                                   rdataset.rdtype, create=True).add(sig, rdataset.ttl)
        z.to_file(out, relativize=False)

    @staticmethod
    def _colliding_ed25519_keys(zsk, count):
        """count - 1 further Ed25519 public keys with the ZSK's key tag.

        The key tag (RFC 4034 B) is a plain sum of the RDATA's 16-bit words,
        so adding 1 to one byte and taking 1 from another byte of the same
        parity keeps it. An Ed25519 public key is the point's y coordinate
        (RFC 8080 / RFC 8032 5.1.3); about half of all y values lie on the
        curve, and only those are kept, so every key is a real point that a
        validator must try (no private key exists for them: their
        signatures can only fail)."""
        p = 2 ** 255 - 19
        d = (-121665 * pow(121666, -1, p)) % p

        def on_curve(raw):
            y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
            if y >= p:
                return False
            u, v = (y * y - 1) % p, (d * y * y + 1) % p
            x2 = u * pow(v, -1, p) % p
            if x2 == 0:
                return not raw[31] & 0x80
            return pow(x2, (p - 1) // 2, p) == 1

        rng = random.Random(dns.dnssec.key_id(zsk))
        keys, seen = [zsk], {bytes(zsk.key)}
        for _ in range(100000):                  # bounded: ~2 tries per key
            if len(keys) >= count:
                break
            raw = bytearray(zsk.key)
            i, j = rng.sample(range(0, 30, 2), 2) if rng.random() < 0.5 \
                else rng.sample(range(1, 31, 2), 2)
            step = rng.randint(1, 8)
            if raw[i] + step > 255 or raw[j] - step < 0:
                continue
            raw[i] += step
            raw[j] -= step
            if bytes(raw) in seen or not on_curve(bytes(raw)):
                continue
            seen.add(bytes(raw))
            keys.append(zsk.replace(key=bytes(raw)))
        assert len(keys) == count and len({dns.dnssec.key_id(k) for k in keys}) == 1
        return keys

    def _sign_keytrap(self, zone, source, out):
        """KeyTrap (CVE-2023-50387). DNSKEY: the KSK (DS in test.), the ZSK
        and keys colliding with the ZSK's tag; signed by the KSK only, so the
        chain of trust up to the keys is sound. Every other RRset carries
        KEYTRAP_SIGS signatures with the ZSK's tag whose bytes were altered
        (in the R half, so that a verifier cannot reject them by a range
        check and must do the full computation). Every RRset but the A RRsets of
        www and of the wildcard also carries one valid ZSK signature (SOA, NS
        and the NSEC chain stay verifiable); those two carry none: bogus."""
        from cryptography.hazmat.primitives.asymmetric import ed25519
        z = dns.zone.from_file(source, origin=zone, relativize=False, check_origin=True)
        origin = z.origin
        bases = self.ensure_keys(zone)
        ksk, zsk = self.read_dnskeys(bases)
        private = []
        for base in bases:
            with open(base + ".seed") as f:
                private.append(ed25519.Ed25519PrivateKey.from_private_bytes(
                    bytes.fromhex(f.read().strip())))
        keys = [ksk] + self._colliding_ed25519_keys(zsk, topology.KEYTRAP_KEYS)
        dnskeys = z.find_rdataset(origin, dns.rdatatype.DNSKEY, create=True)
        for key in keys:
            dnskeys.add(key, 3600)
        names = sorted(z.nodes.keys())
        for i, name in enumerate(names):
            node = z.nodes[name]
            types = {r.rdtype for r in node.rdatasets} | {dns.rdatatype.NSEC, dns.rdatatype.RRSIG}
            nsec = dns.rdata.from_text(
                dns.rdataclass.IN, dns.rdatatype.NSEC,
                " ".join([names[(i + 1) % len(names)].to_text()]
                         + sorted(dns.rdatatype.to_text(t) for t in types)))
            node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC, create=True).add(nsec, 300)
        inception, expiration = self._signature_window({})
        trapped = {dns.name.from_text("www", origin), dns.name.from_text("*", origin)}   # A only
        for name, node in list(z.nodes.items()):
            for rdataset in list(node.rdatasets):
                rrset = (name, rdataset)
                sigs = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG,
                                          rdataset.rdtype, create=True)
                if rdataset.rdtype == dns.rdatatype.DNSKEY:
                    sigs.add(dns.dnssec.sign(rrset, private[0], origin, ksk,
                                             inception, expiration), rdataset.ttl)
                    continue
                good = dns.dnssec.sign(rrset, private[1], origin, zsk, inception, expiration)
                if name.is_wild():
                    # RFC 4034 3.1.3: the "*" label is not counted (dnspython
                    # 2.3's sign() counts it), so sign again with the right count.
                    good = good.replace(labels=len(name) - 2, signature=b"")
                    good = good.replace(signature=private[1].sign(
                        dns.dnssec._make_rrsig_signature_data(rrset, good)))
                for k in range(topology.KEYTRAP_SIGS):
                    signature = bytearray(good.signature)
                    signature[k % 32] ^= 1 << (k // 32 % 8)
                    sigs.add(good.replace(signature=bytes(signature)), rdataset.ttl)
                if name not in trapped or rdataset.rdtype != dns.rdatatype.A:
                    sigs.add(good, rdataset.ttl)
        z.to_file(out, relativize=False)

    @staticmethod
    def _corrupt_signature(path, owner, covered):
        """Flips one byte in the middle of the RRSIG over (owner, covered)."""
        with open(path) as f:
            lines = f.readlines()
        done = False
        for i, line in enumerate(lines):
            tokens = line.split()
            if len(tokens) >= 13 and tokens[0].lower() == owner.lower() \
                    and tokens[3] == "RRSIG" and tokens[4] == covered:
                signature = bytearray(base64.b64decode("".join(tokens[12:])))
                signature[len(signature) // 2] ^= 0x01
                tokens = tokens[:12] + [base64.b64encode(bytes(signature)).decode()]
                lines[i] = "\t".join(tokens) + "\n"
                done = True
        if not done:
            raise RuntimeError("no RRSIG %s over %s to corrupt in %s" % (owner, covered, path))
        with open(path, "w") as f:
            f.writelines(lines)
