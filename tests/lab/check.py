#!/usr/bin/python3
"""Runs the lab's expected results (cases.tsv) against a resolver.

  check HOST PORT [--tags a,b] [--exclude-tags a,b] [--ids a,b|@file]
                  [--exclude-ids a,b|@file] [--tcp] [--jobs N] [--timeout S]
                  [--cases FILE] [--list] [--verbose]

Prints one line per failing case and ends with exactly `N passed, M failed`.
Exit status 0 when nothing failed, 1 otherwise, 2 on bad usage.
"""
import argparse
import concurrent.futures
import os
import sys
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
COLUMNS = ["id", "qname", "qtype", "flags", "rcode", "ad", "answer", "extra", "tags"]
KNOWN_FLAGS = {"do", "cd", "ad", "tcp", "noedns", "nord"}


class CaseError(Exception):
    pass


def load_cases(path):
    cases, seen = [], set()
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != len(COLUMNS):
                raise CaseError("%s:%d: %d columns, want %d" % (path, number, len(fields), len(COLUMNS)))
            case = dict(zip(COLUMNS, fields))
            case["flags"] = set() if case["flags"] == "-" else set(case["flags"].split(","))
            case["tags"] = set(case["tags"].split(","))
            bad = case["flags"] - KNOWN_FLAGS
            if bad:
                raise CaseError("%s:%d: unknown flags %s" % (path, number, ",".join(sorted(bad))))
            if case["id"] in seen:
                raise CaseError("%s:%d: duplicate id %s" % (path, number, case["id"]))
            seen.add(case["id"])
            case["expected_answer"] = parse_answer(case)
            case["line"] = number
            cases.append(case)
    return cases


def parse_answer(case):
    text = case["answer"]
    if text in ("-", "*"):
        return text
    records = set()
    for item in text.split(" | "):
        tokens = item.split(None, 1)
        if tokens[0].endswith("."):
            owner, rest = tokens[0], tokens[1]
        else:
            owner, rest = case["qname"], item
        rdtype, rdata = rest.split(None, 1)
        records.add(normalise(owner, rdtype, dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), rdata, origin=dns.name.root,
            relativize=False)))
    return records


def normalise(owner, rdtype, rdata):
    if not isinstance(owner, str):
        owner = owner.to_text()
    if not isinstance(rdtype, str):
        rdtype = dns.rdatatype.to_text(rdtype)
    return (owner.lower(), rdtype.upper(), rdata.to_text().lower())


def ask(host, port, case, force_tcp, timeout, try_timeout):
    """Sends the case's query; returns (reply, transport used)."""
    flags = case["flags"]
    query = dns.message.make_query(case["qname"], case["qtype"],
                                   use_edns=False if "noedns" in flags else 0,
                                   want_dnssec="do" in flags, payload=1232)
    if "nord" in flags:
        query.flags &= ~dns.flags.RD
    if "cd" in flags:
        query.flags |= dns.flags.CD
    if "ad" in flags:
        query.flags |= dns.flags.AD
    # Like a stub resolver (glibc: 5 s x 2): try again when a try times out.
    # Some resolvers (Unbound's discard-timeout) deliberately leave a client
    # unanswered when resolution takes long, and answer its retry from cache.
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise dns.exception.Timeout()
        this_try = min(try_timeout, remaining)
        try:
            if force_tcp or "tcp" in flags:
                return dns.query.tcp(query, host, port=port, timeout=this_try), "tcp"
            reply = dns.query.udp(query, host, port=port, timeout=this_try)
            if reply.flags & dns.flags.TC:
                return dns.query.tcp(query, host, port=port, timeout=this_try), "udp+tcp"
            return reply, "udp"
        except (dns.exception.Timeout, EOFError, ConnectionError):
            # No answer, or the resolver closed the TCP connection without
            # one: a stub asks again while time remains.
            if time.monotonic() >= deadline:
                raise dns.exception.Timeout()
            time.sleep(0.2)        # bounded: never spin on a closing server
            continue


def compare(case, reply):
    """Returns a list of differences between the case and the reply."""
    problems = []
    rcode = dns.rcode.to_text(reply.rcode())
    if rcode != case["rcode"]:
        problems.append("rcode %s, want %s" % (rcode, case["rcode"]))
    if case["ad"] in ("0", "1"):
        ad = 1 if reply.flags & dns.flags.AD else 0
        if ad != int(case["ad"]):
            problems.append("AD %d, want %s" % (ad, case["ad"]))
    want_rrsig = case["qtype"].upper() == "RRSIG"
    got = set()
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.RRSIG and not want_rrsig:
            continue
        for rdata in rrset:
            got.add(normalise(rrset.name, rrset.rdtype, rdata))
    expected = case["expected_answer"]
    if expected == "-" and got:
        problems.append("answer %s, want none" % format_records(got))
    elif isinstance(expected, set) and got != expected:
        missing, extra = expected - got, got - expected
        detail = []
        if missing:
            detail.append("missing %s" % format_records(missing))
        if extra:
            detail.append("unexpected %s" % format_records(extra))
        problems.append("answer: " + "; ".join(detail))
    if case["extra"] != "-":
        for check in case["extra"].split(","):
            problem = extra_check(check, reply)
            if problem:
                problems.append(problem)
    return problems


def extra_check(check, reply):
    if check.startswith("soa="):
        zone = dns.name.from_text(check[4:])
        if not any(r.rdtype == dns.rdatatype.SOA and r.name == zone for r in reply.authority):
            return "no SOA of %s in the authority section" % zone
    elif check.startswith("ttl<="):
        limit = int(check[5:])
        ttls = [r.ttl for r in reply.answer]
        if not ttls or max(ttls) > limit:
            return "answer TTLs %s, want <= %d" % (ttls, limit)
    elif check.startswith("count="):
        rdtype, count = check[6:].split(":")
        n = sum(len(r) for r in reply.answer if r.rdtype == dns.rdatatype.from_text(rdtype))
        if n != int(count):
            return "%d %s records, want %s" % (n, rdtype, count)
    else:
        return "unknown extra check %r in cases file" % check
    return None


def format_records(records):
    return ", ".join(" ".join(r) for r in sorted(records))


def id_list(value):
    if value is None:
        return None
    if value.startswith("@"):
        ids = set()
        with open(value[1:]) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    ids.add(line.split()[0])
        return ids
    return set(v for v in value.split(",") if v)


def select(cases, args):
    tags = set(args.tags.split(",")) if args.tags else None
    exclude_tags = set(args.exclude_tags.split(",")) if args.exclude_tags else set()
    ids, exclude_ids = id_list(args.ids), id_list(args.exclude_ids) or set()
    chosen = []
    for case in cases:
        if tags is not None and not case["tags"] & tags:
            continue
        if case["tags"] & exclude_tags:
            continue
        if ids is not None and case["id"] not in ids:
            continue
        if case["id"] in exclude_ids:
            continue
        chosen.append(case)
    return chosen


def run_case(host, port, case, force_tcp, timeout, try_timeout):
    started = time.monotonic()
    try:
        reply, transport = ask(host, port, case, force_tcp, timeout, try_timeout)
    except dns.exception.Timeout:
        return ["no reply within %.0f s" % timeout], None, time.monotonic() - started
    except (dns.exception.DNSException, OSError, EOFError) as e:
        return ["query failed: %s" % e], None, time.monotonic() - started
    return compare(case, reply), transport, time.monotonic() - started


def main(argv):
    parser = argparse.ArgumentParser(description="Check a resolver against the lab's cases.")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--cases", default=os.path.join(LAB_DIR, "cases.tsv"))
    parser.add_argument("--tags", help="only cases with one of these tags")
    parser.add_argument("--exclude-tags", help="skip cases with one of these tags")
    parser.add_argument("--ids", help="only these ids (comma list or @file)")
    parser.add_argument("--exclude-ids", help="skip these ids (comma list or @file)")
    parser.add_argument("--tcp", action="store_true", help="every query over TCP")
    parser.add_argument("--jobs", type=int, default=8, help="queries in parallel (default 8)")
    parser.add_argument("--timeout", type=float, default=15.0,
                        help="seconds per case, all tries (default 15)")
    parser.add_argument("--try-timeout", type=float, default=4.0,
                        help="seconds per try before asking again (default 4)")
    parser.add_argument("--list", action="store_true", help="list the selected cases and exit")
    parser.add_argument("--verbose", action="store_true", help="print passing cases too")
    args = parser.parse_args(argv)
    try:
        cases = select(load_cases(args.cases), args)
    except (CaseError, OSError, ValueError, dns.exception.DNSException) as e:
        print("check: %s" % e, file=sys.stderr)
        return 2
    if args.list:
        for case in cases:
            print("%s\t%s %s" % (case["id"], case["qname"], case["qtype"]))
        return 0
    passed = failed = 0
    jobs = max(1, min(args.jobs, 64))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_case, args.host, args.port, case, args.tcp,
                               args.timeout, args.try_timeout)
                   for case in cases]
        for case, future in zip(cases, futures):
            problems, transport, elapsed = future.result()
            flags = ",".join(sorted(case["flags"])) or "-"
            if problems:
                failed += 1
                print("FAIL %s: %s %s %s: %s" % (case["id"], case["qname"], case["qtype"],
                                                 flags, "; ".join(problems)), flush=True)
            else:
                passed += 1
                if args.verbose:
                    print("ok   %s (%s, %.0f ms)" % (case["id"], transport, elapsed * 1000))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
