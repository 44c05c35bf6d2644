#!/usr/bin/python3
"""DNSSEC as a client sees it, against the lab (tests/lab/):

  dnssec_test.py zones HOST PORT
      every deliberately broken zone: SERVFAIL with its Extended DNS Error,
      and its data with CD=1; insecure zones without AD (EDE 1 for algorithms
      253, DSA and GOST, EDE 27 for NSEC3 iterations above 50); AD for
      algorithms 5, 7, 8, 13, 15; RRSIGs with DO, NSEC/NSEC3 + RRSIGs in negative answers' authority;
      neither RRSIG nor NSEC without DO.
  dnssec_test.py aggressive HOST PORT
      RFC 8198: after one NXDOMAIN in example.org. (NSEC), another random
      name covered by the same NSEC is answered NXDOMAIN without any query
      to the lab (packets to the lab's /16 port 53 captured on lo, as
      bench/upstream_capture.py does; needs root, as the lab does).
  dnssec_test.py keytrap HOST PORT --pid-file FILE
      CVE-2023-50387: keytrap.test. (48 keys with one key tag, 48 invalid
      RRSIGs per RRset) is answered SERVFAIL within a bound; the resolver's
      CPU time (utime+stime of /proc/PID/stat) per KeyTrap query is measured
      against ordinary uncached queries; during a bounded attack (50 queries,
      4 in flight) other clients' queries are all answered within 1 s.

  dnssec_test.py sentinel HOST PORT
      RFC 8509: root-key-sentinel-is-ta-/-not-ta- labels with the lab's root
      key tag and with a tag that is no root key, on secure, CD and insecure
      answers, A, AAAA and TXT, fresh and from the cache.

Only 127.0.0.0/8 is ever addressed.
"""
import argparse
import concurrent.futures
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench"))

import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

from sextant_common import Results, ede_codes, labnet, tcp_query, udp_query  # noqa: E402
import topology  # noqa: E402  (tests/lab/topology.py, on the path through sextant_common)

# EDE codes (RFC 8914)
EDE_UNSUPPORTED_DNSKEY_ALGORITHM = 1
EDE_DNSSEC_BOGUS = 6
EDE_SIGNATURE_EXPIRED = 7
EDE_DNSKEY_MISSING = 9
EDE_UNSUPPORTED_NSEC3_ITERATIONS = 27


def ask(host, port, qname, qtype="A", do=True, cd=False, edns=True, timeout=4.0):
    """One query as a stub sends it: UDP, then TCP if truncated."""
    query = dns.message.make_query(qname, qtype, use_edns=0 if edns else False,
                                   want_dnssec=do, payload=1232)
    if cd:
        query.flags |= dns.flags.CD
    reply = udp_query(query, host, port, timeout=timeout)
    if reply.flags & dns.flags.TC:
        reply = tcp_query(query, host, port, timeout=timeout)
    return reply


def describe(reply):
    return "rcode=%s flags=%s ede=%s answer=%s authority=%s" % (
        dns.rcode.to_text(reply.rcode()), dns.flags.to_text(reply.flags), ede_codes(reply),
        [r.to_text().splitlines()[0][:100] for r in reply.answer],
        [(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)) for r in reply.authority])


def has_ad(reply):
    return bool(reply.flags & dns.flags.AD)


def types_in(section, rdtype):
    return [r for r in section if r.rdtype == rdtype]


def random_label(prefix):
    return "%s-%08x" % (prefix, random.getrandbits(32))


# ---- zones ---------------------------------------------------------------------------
# name, (EDE codes accepted), CD answer. bad-ds: the DS in test. has the
# right key tag and algorithm but a digest that matches no DNSKEY of the
# child: RFC 8914 4.10 code 9 "DNSKEY Missing" ("a DS record existed at a
# parent, but no supported matching DNSKEY record could be found for the
# child") says exactly that, where 6 "DNSSEC Bogus" would only say that
# something failed. Sextant gives 9; the test holds it to that.
BOGUS = [
    ("www.bogus-sig.test.", (EDE_DNSSEC_BOGUS,), "192.0.2.101"),
    ("www.expired.test.", (EDE_SIGNATURE_EXPIRED,), "192.0.2.103"),
    ("www.bad-ds.test.", (EDE_DNSKEY_MISSING,), "192.0.2.104"),
    ("www.keytrap.test.", (EDE_DNSSEC_BOGUS,), "192.0.2.110"),
    # RSA/SHA-1 (5) and RSASHA1-NSEC3-SHA1 (7): a broken signature is caught.
    ("www.bogus-rsasha1.test.", (EDE_DNSSEC_BOGUS,), "192.0.2.127"),
    ("www.bogus-rsasha1-nsec3.test.", (EDE_DNSSEC_BOGUS,), "192.0.2.129"),
]
SECURE = [("www.example.com.", 8, "192.0.2.10"), ("www.example.net.", 13, "192.0.2.11"),
          ("www.example.org.", 15, "192.0.2.12"), ("www.rsasha1.test.", 5, "192.0.2.120"),
          ("www.rsasha1-nsec3.test.", 7, "192.0.2.122")]
# Signed with algorithms a validator does not validate (RFC 8624: DSA MUST
# NOT, GOST MAY): insecure, and the client learns why (EDE 1).
UNSUPPORTED = [("www.dsa.test.", "DSA"), ("www.gost.test.", "GOST")]


def cmd_zones(args):
    res = Results("dnssec zones")
    host, port = args.host, args.port
    for name, codes, address in BOGUS:
        for do in (True, False, False):       # the last one surely from the cache
            reply = ask(host, port, name, do=do)
            edes = ede_codes(reply)
            res.check(reply.rcode() == dns.rcode.SERVFAIL and not has_ad(reply)
                      and not reply.answer and any(c in edes for c in codes),
                      "%s A (DO=%d): SERVFAIL, no AD, EDE in %s (got %s)"
                      % (name, do, list(codes), edes), describe(reply))
        reply = ask(host, port, name, cd=True)
        res.check(reply.rcode() == dns.rcode.NOERROR and not has_ad(reply)
                  and [r.to_text() for rr in types_in(reply.answer, dns.rdatatype.A) for r in rr]
                  == [address] and types_in(reply.answer, dns.rdatatype.RRSIG),
                  "%s A with CD=1: the data %s (+ RRSIGs), no AD" % (name, address),
                  describe(reply))
    # insecure
    reply = ask(host, port, "www.unsigned.test.")
    res.check(reply.rcode() == dns.rcode.NOERROR and not has_ad(reply) and reply.answer,
              "www.unsigned.test. A: answered, no AD", describe(reply))
    # Insecure for a reason the client should learn (RFC 8914): EDE 1 for
    # algorithm 253, EDE 27 for 200 NSEC3 iterations. A fresh random name is
    # resolved first, then asked again (now from the cache): a client must
    # not lose the EDE because someone else asked first.
    nx = random_label("nx") + ".unsupported-alg.test."
    for when in ("fresh", "cached"):
        reply = ask(host, port, nx)
        res.check(reply.rcode() == dns.rcode.NXDOMAIN and not has_ad(reply)
                  and EDE_UNSUPPORTED_DNSKEY_ALGORITHM in ede_codes(reply),
                  "%s A (algorithm 253, %s): NXDOMAIN, no AD, EDE 1" % (nx, when), describe(reply))
    for when in ("first", "again"):
        reply = ask(host, port, "www.unsupported-alg.test.")
        res.check(reply.rcode() == dns.rcode.NOERROR and not has_ad(reply) and reply.answer
                  and EDE_UNSUPPORTED_DNSKEY_ALGORITHM in ede_codes(reply),
                  "www.unsupported-alg.test. A (algorithm 253, %s): answered, no AD, EDE 1"
                  % when, describe(reply))
    for name, what in UNSUPPORTED:
        reply = ask(host, port, name)
        res.check(reply.rcode() == dns.rcode.NOERROR and not has_ad(reply) and reply.answer
                  and EDE_UNSUPPORTED_DNSKEY_ALGORITHM in ede_codes(reply),
                  "%s A (%s): answered, no AD, EDE 1" % (name, what), describe(reply))
    nx = random_label("nx") + ".nsec3-iter.test."
    for when in ("fresh", "cached"):
        reply = ask(host, port, nx)
        res.check(reply.rcode() == dns.rcode.NXDOMAIN and not has_ad(reply)
                  and EDE_UNSUPPORTED_NSEC3_ITERATIONS in ede_codes(reply),
                  "%s (NSEC3, 200 iterations, %s): NXDOMAIN, no AD, EDE 27" % (nx, when),
                  describe(reply))
    # secure, three algorithms; RRSIGs with DO and only with DO
    for name, alg, address in SECURE:
        reply = ask(host, port, name)
        sigs = types_in(reply.answer, dns.rdatatype.RRSIG)
        res.check(reply.rcode() == dns.rcode.NOERROR and has_ad(reply)
                  and any(s.algorithm == alg for rr in sigs for s in rr),
                  "%s A (algorithm %d, DO): AD=1, RRSIG of algorithm %d in the answer"
                  % (name, alg, alg), describe(reply))
        reply = ask(host, port, name, do=False)
        res.check(reply.rcode() == dns.rcode.NOERROR and reply.answer
                  and not types_in(reply.answer + reply.authority + reply.additional,
                                   dns.rdatatype.RRSIG),
                  "%s A without DO: no RRSIG anywhere" % name, describe(reply))
    # negative answers: NSEC (example.com., example.org.), NSEC3 (example.net.)
    for zone, denial in (("example.com.", dns.rdatatype.NSEC), ("example.org.", dns.rdatatype.NSEC),
                         ("example.net.", dns.rdatatype.NSEC3)):
        name = random_label("nx") + "." + zone
        reply = ask(host, port, name)
        covered = {s.type_covered for rr in types_in(reply.authority, dns.rdatatype.RRSIG) for s in rr}
        res.check(reply.rcode() == dns.rcode.NXDOMAIN and has_ad(reply)
                  and types_in(reply.authority, denial) and types_in(reply.authority, dns.rdatatype.SOA)
                  and denial in covered and dns.rdatatype.SOA in covered,
                  "%s (DO): NXDOMAIN, AD, SOA + %s with their RRSIGs in the authority"
                  % (name, dns.rdatatype.to_text(denial)), describe(reply))
        for qname, qtype in ((name, "A"), ("www." + zone, "MX")):
            reply = ask(host, port, qname, qtype, do=False)
            bad = [r for r in reply.answer + reply.authority + reply.additional
                   if r.rdtype in (dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3)]
            res.check(reply.rcode() in (dns.rcode.NXDOMAIN, dns.rcode.NOERROR) and not bad
                      and types_in(reply.authority, dns.rdatatype.SOA),
                      "%s %s without DO: SOA only, no RRSIG/NSEC/NSEC3" % (qname, qtype),
                      describe(reply))
        reply = ask(host, port, "www." + zone, "MX")
        res.check(reply.rcode() == dns.rcode.NOERROR and not reply.answer and has_ad(reply)
                  and types_in(reply.authority, denial)
                  and types_in(reply.authority, dns.rdatatype.RRSIG),
                  "www.%s MX (DO): NODATA, AD, %s + RRSIGs in the authority"
                  % (zone, dns.rdatatype.to_text(denial)), describe(reply))
    return res.finish()


# ---- aggressive NSEC ------------------------------------------------------------------
def covering_nsec(reply, qname):
    """The NSEC of the authority whose range covers qname (owner < qname < next)."""
    for rrset in types_in(reply.authority, dns.rdatatype.NSEC):
        for nsec in rrset:
            owner, nxt = rrset.name, nsec.next
            if owner < qname and (qname < nxt or nxt <= owner):
                return owner, nxt
    return None


def cmd_aggressive(args):
    import upstream_capture
    res = Results("dnssec aggressive nsec")
    host, port, zone = args.host, args.port, "example.org."
    capture = upstream_capture.UpstreamCapture()
    try:
        first = dns.name.from_text(random_label("agg") + "." + zone)
        reply = ask(host, port, first.to_text())
        cover = covering_nsec(reply, first)
        res.check(reply.rcode() == dns.rcode.NXDOMAIN and has_ad(reply) and cover is not None,
                  "first %s: NXDOMAIN, AD, a covering NSEC" % first, describe(reply))
        if cover is None:
            return res.finish()
        second = None
        for _ in range(2000):                       # bounded search
            candidate = dns.name.from_text(random_label("agg") + "." + zone)
            if candidate != first and covering_nsec(reply, candidate) == cover:
                second = candidate
                break
        res.check(second is not None, "a second random name inside %s .. %s" % cover)
        if second is None:
            return res.finish()
        capture.wait_quiet(0.3, 3)
        start = time.time()
        reply2 = ask(host, port, second.to_text())
        end = capture.wait_quiet(0.5, 5)
        window = capture.between(start, end)
        same = [q for q in window if q.qname.lower().rstrip(".") == second.to_text().lower().rstrip(".")]
        # Other people's resolvers may use the lab meanwhile: only queries for
        # our own random names ("agg-...") can be ours.
        org_servers = {address for address, zones in topology.KNOT_SERVERS.values()
                       if "example.org." in zones}
        to_zone = [q for q in window if q.server in org_servers]
        ours = [q for q in window if q.qname.lower().startswith("agg-")]
        print("upstream queries in the window: %d in all (any process), %d to example.org.'s "
              "servers, %d for %s" % (len(window), len(to_zone), len(same), second), flush=True)
        for q in window[:10]:
            print("   captured: %s" % q.describe(), flush=True)
        res.check(reply2.rcode() == dns.rcode.NXDOMAIN and has_ad(reply2)
                  and types_in(reply2.authority, dns.rdatatype.NSEC),
                  "second %s: NXDOMAIN, AD, NSEC in the authority" % second, describe(reply2))
        res.check(not same and not ours,
                  "second name answered without any query upstream for it (RFC 8198)",
                  "; ".join(sorted({q.describe() for q in same + ours})))
        # Control: the capture does see this resolver's queries (a fresh name
        # under the unsigned big.test., where nothing can be synthesised). Not
        # one of its n###### names: other tests (sextant_load_1000) cache
        # blocks of them, and a cached probe made this control fail in CI.
        probe = "ctl-%08x.big.test." % random.getrandbits(32)
        start = time.time()
        ask(host, port, probe)
        end = capture.wait_quiet(0.5, 5)
        seen = [q for q in capture.between(start, end)
                if q.qname.lower().rstrip(".") == probe.rstrip(".")]
        res.check(bool(seen), "control: the capture sees the query upstream for %s" % probe)
    finally:
        capture.close()
    return res.finish()


# ---- KeyTrap ----------------------------------------------------------------------------
def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks     # utime + stime


def timed_ask(host, port, qname, qtype="A", timeout=4.0):
    started = time.monotonic()
    try:
        reply = ask(host, port, qname, qtype, timeout=timeout)
    except (dns.exception.Timeout, OSError) as e:
        return None, time.monotonic() - started, str(e)
    return reply, time.monotonic() - started, ""


def run_batch(host, port, names, parallel):
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(lambda n: timed_ask(host, port, n), names))
    return results, time.monotonic() - started


def cmd_keytrap(args):
    res = Results("dnssec keytrap")
    host, port = args.host, args.port
    with open(args.pid_file) as f:
        pid = int(f.read().strip())
    count, parallel = args.count, 4

    # One query: SERVFAIL, EDE, within the bound.
    cpu0 = cpu_seconds(pid)
    reply, wall, error = timed_ask(host, port, random_label("kt") + ".keytrap.test.")
    cpu1 = cpu_seconds(pid)
    res.check(reply is not None and reply.rcode() == dns.rcode.SERVFAIL and not has_ad(reply)
              and EDE_DNSSEC_BOGUS in ede_codes(reply) and wall < args.bound,
              "one KeyTrap query: SERVFAIL + EDE 6 within %.1f s (%.0f ms wall, %.0f ms CPU)"
              % (args.bound, wall * 1000, (cpu1 - cpu0) * 1000),
              describe(reply) if reply is not None else error)

    # Baseline: ordinary uncached names (big-signed.test.: signed, one validation each).
    base_names = ["n%06d.big-signed.test." % random.randrange(100000) for _ in range(count)]
    cpu0 = cpu_seconds(pid)
    base, base_wall = run_batch(host, port, base_names, parallel)
    base_cpu = cpu_seconds(pid) - cpu0
    base_ok = sum(1 for r, _, _ in base if r is not None and r.rcode() == dns.rcode.NOERROR)

    # The attack: fresh wildcard names (nothing cached), while another client
    # asks ordinary names.
    trap_names = [random_label("kt") + ".keytrap.test." for _ in range(count)]
    victim_latencies, victim_failures = [], []
    stop = threading.Event()

    def victim():
        i = 0
        while not stop.is_set() and i < 2000:          # bounded
            i += 1
            name = ("www.example.com." if i % 2 else
                    "n%06d.big.test." % random.randrange(100000))
            reply, wall, error = timed_ask(host, port, name, timeout=2.0)
            victim_latencies.append(wall)
            if reply is None or reply.rcode() != dns.rcode.NOERROR or not reply.answer:
                victim_failures.append("%s: %s" % (name, describe(reply) if reply else error))
            time.sleep(0.02)

    thread = threading.Thread(target=victim, daemon=True)
    cpu0 = cpu_seconds(pid)
    thread.start()
    attack, attack_wall = run_batch(host, port, trap_names, parallel)
    stop.set()
    thread.join(10)
    attack_cpu = cpu_seconds(pid) - cpu0

    servfail_ede = sum(1 for r, _, _ in attack if r is not None and r.rcode() == dns.rcode.SERVFAIL
                       and EDE_DNSSEC_BOGUS in ede_codes(r) and not has_ad(r))
    walls = sorted(w for _, w, _ in attack)
    vl = sorted(victim_latencies)
    per_trap_ms = attack_cpu * 1000 / count
    per_base_ms = base_cpu * 1000 / count
    print("figures: baseline %d uncached big-signed.test. queries: %.0f ms CPU in all, "
          "%.2f ms CPU/query, %.2f s wall (%d NOERROR)"
          % (count, base_cpu * 1000, per_base_ms, base_wall, base_ok), flush=True)
    print("figures: KeyTrap %d queries (%d in flight): %.0f ms CPU in all (victim's %d "
          "queries included), %.2f ms CPU/query, %.2f s wall; per query wall median %.0f ms, "
          "max %.0f ms" % (count, parallel, attack_cpu * 1000, len(vl), per_trap_ms,
                           attack_wall, walls[len(walls) // 2] * 1000, walls[-1] * 1000),
          flush=True)
    if vl:
        print("figures: other client during the attack: %d queries, median %.1f ms, "
              "p95 %.1f ms, max %.1f ms, %d failed"
              % (len(vl), vl[len(vl) // 2] * 1000, vl[int(len(vl) * 0.95)] * 1000,
                 vl[-1] * 1000, len(victim_failures)), flush=True)
    res.check(servfail_ede == count, "all %d KeyTrap queries: SERVFAIL + EDE 6, no AD (%d did)"
              % (count, servfail_ede),
              "; ".join(describe(r) if r else e for r, _, e in attack
                        if r is None or r.rcode() != dns.rcode.SERVFAIL
                        or EDE_DNSSEC_BOGUS not in ede_codes(r))[:2000])
    res.check(walls and walls[-1] < args.bound,
              "every KeyTrap query answered within %.1f s (max %.0f ms)"
              % (args.bound, walls[-1] * 1000 if walls else -1))
    res.check(per_trap_ms <= args.max_cpu_ms,
              "CPU per KeyTrap query %.2f ms <= %.0f ms (a validator trying all 48 x 48 "
              "key/signature pairs spends ~100+ ms per RRset)" % (per_trap_ms, args.max_cpu_ms))
    res.check(len(vl) >= 5 and not victim_failures and vl[-1] < 1.0,
              "other client during the attack: %d queries, all answered within 1 s "
              "(max %.0f ms)" % (len(vl), vl[-1] * 1000 if vl else -1),
              "; ".join(victim_failures[:5]))
    return res.finish()


# ---- RFC 8509 root key sentinel ------------------------------------------------------
def cmd_sentinel(args):
    """The lab's root key tag (from its anchor file) against the two sentinel
    labels, on secure (wildcard) answers: is-ta answered, not-ta SERVFAIL; a
    tag that is no root key the other way round; CD=1 and insecure answers
    untouched; AAAA (a secure NODATA) treated like A; cache hits like misses."""
    from sextant_common import ROOT_ANCHOR
    res = Results("root key sentinel")
    host, port = args.host, args.port
    with open(ROOT_ANCHOR) as f:
        tags = {int(line.split()[4]) for line in f if line.split()[3:4] == ["DS"]}
    tag = min(tags)
    other = next(t for t in range(1, 65536) if t not in tags)
    for when in ("first", "cached"):
        for label, expect in ((("is", tag), "answer"), (("not", tag), "servfail"),
                              (("is", other), "servfail"), (("not", other), "answer")):
            name = "root-key-sentinel-%s-ta-%05d.wild.example.com." % label
            reply = ask(host, port, name)
            if expect == "answer":
                ok = reply.rcode() == dns.rcode.NOERROR and has_ad(reply) and reply.answer
            else:
                ok = reply.rcode() == dns.rcode.SERVFAIL and not reply.answer
            res.check(ok, "%s A (%s): %s" % (name, when, expect), describe(reply))
    name = "root-key-sentinel-not-ta-%05d.wild.example.com." % tag
    reply = ask(host, port, name, cd=True)
    res.check(reply.rcode() == dns.rcode.NOERROR and reply.answer, "%s A with CD=1: the answer" % name,
              describe(reply))
    reply = ask(host, port, name, "AAAA")
    res.check(reply.rcode() == dns.rcode.SERVFAIL, "%s AAAA (secure NODATA): SERVFAIL" % name,
              describe(reply))
    reply = ask(host, port, name, "TXT")
    res.check(reply.rcode() == dns.rcode.NOERROR and reply.answer, "%s TXT: not A/AAAA, answered" % name,
              describe(reply))
    name = "root-key-sentinel-is-ta-%05d.child.rsasha1-optout.test." % other
    reply = ask(host, port, name)
    res.check(reply.rcode() == dns.rcode.NOERROR and not has_ad(reply) and reply.answer,
              "%s A (insecure): answered as is" % name, describe(reply))
    return res.finish()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["zones", "aggressive", "keytrap", "sentinel"])
    parser.add_argument("host")
    parser.add_argument("port", type=labnet.port_argument)
    parser.add_argument("--pid-file", help="keytrap: the resolver's pid file (CPU time)")
    parser.add_argument("--count", type=int, default=50, help="keytrap: queries in the attack")
    parser.add_argument("--bound", type=float, default=2.0, help="keytrap: seconds per answer")
    parser.add_argument("--max-cpu-ms", type=float, default=50.0,
                        help="keytrap: CPU ms per query allowed")
    args = parser.parse_args()
    if args.command == "keytrap" and not args.pid_file:
        parser.error("keytrap needs --pid-file")
    return {"zones": cmd_zones, "aggressive": cmd_aggressive, "keytrap": cmd_keytrap,
            "sentinel": cmd_sentinel}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
