"""The lab's self-check (lab.py selfcheck [--full]).

1. Every Knot server answers authoritatively (AA, SOA) for each of its zones,
   over UDP and TCP; the lame server answers REFUSED; the fake authoritative
   answers and its control port works.
2. The chain of trust holds from the root anchor down: for every signed zone
   the DS the parent serves matches a DNSKEY the zone serves, the DNSKEY
   RRset is signed by that key, and the SOA is signed by the zone's keys
   (checked with dnspython on live answers from every server of the zone).
   The broken zones are checked to be broken exactly as intended.
3. ldns-verify-zone accepts every signed zone file except the deliberately
   broken ones, which it must reject (--full adds the 100,000-name zone).
Ends with `N passed, M failed`.
"""
import os
import subprocess
import time

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

import topology
import zonebuild


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s" % what, flush=True)


def ask(address, qname, qtype, tcp=False):
    query = dns.message.make_query(qname, qtype, want_dnssec=True, payload=1232)
    query.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(query, address, timeout=3)
    reply = dns.query.udp(query, address, timeout=3, ignore_unexpected=True)
    if reply.flags & dns.flags.TC:
        return dns.query.tcp(query, address, timeout=3)
    return reply


def servers_of(zone):
    return [address for address, zones in topology.KNOT_SERVERS.values() if zone in zones]


def rrset_and_sigs(reply, name, rdtype):
    name = dns.name.from_text(name)
    rrset = sigs = None
    for r in reply.answer:
        if r.name == name and r.rdtype == rdtype:
            rrset = r
        if r.name == name and r.rdtype == dns.rdatatype.RRSIG and r.covers == rdtype:
            sigs = r
    return rrset, sigs


def validates(rrset, sigs, keys, zone):
    if rrset is None or sigs is None:
        return False
    try:
        # allow_all_policy: the lab checks its DSA and RSA/SHA-1 zones too
        # (dnspython's default policy refuses what RFC 8624 deprecates).
        dns.dnssec.validate(rrset, sigs, {dns.name.from_text(zone): keys},
                            policy=dns.dnssec.allow_all_policy)
        return True
    except dns.dnssec.ValidationFailure:
        return False


def check_servers(report):
    for server, (address, zones) in topology.KNOT_SERVERS.items():
        if not zones:
            try:
                rcode = ask(address, "example.com.", "SOA").rcode()
            except (dns.exception.DNSException, OSError):
                rcode = None
            report.check(rcode == dns.rcode.REFUSED, "%s (%s) should answer REFUSED" % (server, address))
        for zone in zones:
            for tcp in (False, True):
                try:
                    reply = ask(address, zone, "SOA", tcp=tcp)
                    ok = reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA \
                        and rrset_and_sigs(reply, zone, dns.rdatatype.SOA)[0] is not None
                except (dns.exception.DNSException, OSError):
                    ok = False
                report.check(ok, "%s (%s) answers SOA %s over %s" % (
                    server, address, zone, "TCP" if tcp else "UDP"))
    address, zone = topology.FAKE_PARENT
    try:
        ok = ask(address, "www." + zone, "A").rcode() == dns.rcode.NOERROR
    except (dns.exception.DNSException, OSError):
        ok = False
    report.check(ok, "fakeauth answers www.%s" % zone)
    for label, (address, behaviour) in topology.FAKE_ZONES.items():
        if behaviour != "normal":
            continue
        try:
            ok = ask(address, "www.%s.%s" % (label, zone), "A").rcode() == dns.rcode.NOERROR
        except (dns.exception.DNSException, OSError):
            ok = False
        report.check(ok, "fakeauth answers www.%s.%s" % (label, zone))
    for label, spec in topology.FAKE_CONFORMANCE_ZONES.items():
        servers = spec.get("servers", [(spec.get("serve"), "normal")])
        for address, behaviour in servers:
            if behaviour not in ("normal", "no-soa", "extra-records", "aaaa-upward-referral"):
                continue
            try:
                reply = ask(address, "www.%s.%s" % (label, zone), "A")
                ok = reply.rcode() == dns.rcode.NOERROR and len(reply.answer) > 0
            except (dns.exception.DNSException, OSError):
                ok = False
            report.check(ok, "fakeauth (%s, %s) answers www.%s.%s" % (address, behaviour, label, zone))
    import lab
    try:
        ok = lab.fakectl("stats").get("ok", False)
    except (OSError, ValueError):
        ok = False
    report.check(ok, "fakeauth control port %s:%d" % topology.FAKE_CONTROL)


def check_chain(report, builder):
    with open(os.path.join(builder.run_dir, "root-anchor.ds")) as f:
        anchor = [line.split(None, 4)[4].strip() for line in f if line.strip()]
    for zone, params in topology.ZONES.items():
        if params["alg"] is None:
            continue
        breakage = params.get("breakage")
        parent = zonebuild.parent_zone(zone)
        for address in servers_of(zone):
            where = "%s at %s" % (zone, address)
            try:
                keys_reply = ask(address, zone, "DNSKEY")
                soa_reply = ask(address, zone, "SOA")
            except (dns.exception.DNSException, OSError) as e:
                report.check(False, "%s: %s" % (where, e))
                continue
            keys, key_sigs = rrset_and_sigs(keys_reply, zone, dns.rdatatype.DNSKEY)
            soa, soa_sigs = rrset_and_sigs(soa_reply, zone, dns.rdatatype.SOA)
            if keys is None:
                report.check(False, "%s serves no DNSKEY" % where)
                continue
            if breakage == "unsupported-alg":
                report.check(all(k.algorithm == params["alg"] for k in keys),
                             "%s: only algorithm %d keys" % (where, params["alg"]))
                report.check(soa_sigs is not None and all(
                    s.algorithm == params["alg"] for s in soa_sigs),
                    "%s: SOA signed with algorithm %d only" % (where, params["alg"]))
                continue
            if breakage == "expired":
                report.check(not validates(soa, soa_sigs, keys, zone)
                             and all(s.expiration < time.time() for s in soa_sigs),
                             "%s: signatures must be expired" % where)
                continue
            report.check(validates(keys, key_sigs, keys, zone), "%s: DNSKEY RRset self-signed" % where)
            report.check(validates(soa, soa_sigs, keys, zone), "%s: SOA signature verifies" % where)
            if breakage == "bogus-sig":
                www, www_sigs = rrset_and_sigs(ask(address, "www." + zone, "A"),
                                               "www." + zone, dns.rdatatype.A)
                report.check(www is not None and not validates(www, www_sigs, keys, zone),
                             "%s: www A signature must fail" % where)
            if params.get("iterations"):
                param = ask(address, zone, "NSEC3PARAM").answer
                report.check(any(r.rdtype == dns.rdatatype.NSEC3PARAM and
                                 r[0].iterations == params["iterations"] for r in param),
                             "%s: NSEC3PARAM with %d iterations" % (where, params["iterations"]))
        # The DS the parent serves must match (or, for bad-ds, must not);
        # an island has none.
        own_keys = builder.read_dnskeys(builder.ensure_keys(zone))
        if params.get("island"):
            reply = ask(servers_of(parent)[0], zone, "DS")
            ds_rrset, _ = rrset_and_sigs(reply, zone, dns.rdatatype.DS)
            report.check(ds_rrset is None, "%s: an island, no DS in %s" % (zone, parent))
            continue
        if parent is None:
            published = anchor
            origin = "root anchor"
        else:
            reply = ask(servers_of(parent)[0], zone, "DS")
            ds_rrset, ds_sigs = rrset_and_sigs(reply, zone, dns.rdatatype.DS)
            published = [ds.to_text() for ds in ds_rrset] if ds_rrset else []
            origin = "DS in %s" % parent
            parent_keys = builder.read_dnskeys(builder.ensure_keys(parent))
            parent_keyset = dns.rrset.from_rdata_list(parent, 3600, parent_keys)
            report.check(validates(ds_rrset, ds_sigs, parent_keyset, parent),
                         "%s: signed by %s" % (origin, parent))
        digest = params.get("ds_digest", "SHA256")
        matches = any(dns.dnssec.make_ds(zone, k, digest, policy=dns.dnssec.allow_all_policy).to_text()
                      in published for k in own_keys)
        if breakage == "bad-ds":
            report.check(published and not matches, "%s must match no DNSKEY of %s" % (origin, zone))
        else:
            report.check(matches, "%s matches a DNSKEY of %s" % (origin, zone))


def check_zone_files(report, builder, full):
    must_fail = {"bogus-sig", "expired", "keytrap"}
    for zone, params in topology.ZONES.items():
        if params["alg"] is None or params.get("breakage") == "unsupported-alg":
            continue
        if params.get("generated") and not full:
            continue
        path = os.path.join(builder.zones_dir, zonebuild.zone_file_stem(zone) + ".zone")
        run = subprocess.run(["ldns-verify-zone", path], capture_output=True, text=True)
        if params.get("breakage") in must_fail:
            report.check(run.returncode != 0, "ldns-verify-zone must reject %s" % zone)
        else:
            report.check(run.returncode == 0, "ldns-verify-zone %s: %s" % (
                zone, (run.stdout + run.stderr).strip().splitlines()[-1:]))


def main(run_dir, args):
    full = "--full" in args
    report = Report()
    builder = zonebuild.ZoneBuilder(run_dir, lambda message: None)
    check_servers(report)
    check_chain(report, builder)
    check_zone_files(report, builder, full)
    print("%d passed, %d failed" % (report.passed, report.failed))
    return 0 if report.failed == 0 else 1
