#!/usr/bin/python3
"""Runs the lab's expected results (cases.tsv) against a resolver.

  check HOST PORT [--tags a,b] [--exclude-tags a,b] [--ids a,b|@file]
                  [--exclude-ids a,b|@file] [--tcp] [--jobs N] [--timeout S]
                  [--ignore-ad] [--client dnspython|dig|kdig]
                  [--cases FILE] [--list] [--verbose]

PORT is a number or the name of one of the lab's ports on 127.0.0.1 (labnet.py:
`unbound`, `sextant`). Addresses of the lab in cases.tsv are written for the
default lab (127.53) and moved to $SEXTANT_LAB_NET's prefix when loaded.

Prints one line per failing case and ends with exactly `N passed, M failed`.
Exit status 0 when nothing failed, 1 otherwise, 2 on bad usage.

--client dig|kdig sends every case with the real command-line client (BIND's
dig, Knot's kdig) instead of dnspython and parses its text output (status,
flags, answer and authority sections) into the message compare() checks, so
the whole table also runs through the clients people actually use. Both
clients retry over TCP by themselves when a UDP reply has TC set (neither is
given +ignore). --ignore-ad skips the AD comparison, for resolvers that do not
validate.
"""
import argparse
import concurrent.futures
import math
import os
import re
import shutil
import subprocess
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
sys.path.insert(0, LAB_DIR)
import labnet  # noqa: E402

COLUMNS = ["id", "qname", "qtype", "flags", "rcode", "ad", "answer", "extra", "tags"]
KNOWN_FLAGS = {"do", "cd", "ad", "tcp", "noedns", "nord"}
CLIENTS = ("dnspython", "dig", "kdig")


class CaseError(Exception):
    pass


def load_cases(path):
    cases, seen = [], set()
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = labnet.to_lab(line.rstrip("\n"))
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
            case["expected_exact"] = parse_answer(case, exact=True)
            case["line"] = number
            cases.append(case)
    return cases


def parse_answer(case, exact=False):
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
        parsed = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), rdata,
                                     origin=dns.name.root, relativize=False)
        if exact:
            records.add((owner.lower(), rdtype.upper(), parsed.to_text()))
        else:
            records.add(normalise(owner, rdtype, parsed))
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


# ---- the real command-line clients (dig, kdig) ---------------------------------
class ClientOutputError(Exception):
    """The client's output could not be read as a DNS reply."""


def client_command(tool, host, port, case, force_tcp, tries, try_timeout):
    """The dig or kdig command line for the case's query. Every query has RD
    and EDNS with payload 1232 unless the case says otherwise, as with the
    dnspython client; AD is set only when the case asks for it (dig sets it
    by default, which would change what a non-DO query may get back)."""
    flags = case["flags"]
    seconds = max(1, int(round(try_timeout)))
    args = [tool, "@" + host, "-p", str(port), case["qname"], case["qtype"]]
    if tool == "dig":
        args += ["+time=%d" % seconds, "+tries=%d" % tries]
    else:
        args += ["+time=%d" % seconds, "+retry=%d" % (tries - 1)]
    if "noedns" in flags:
        args.append("+noedns")
    else:
        args += ["+edns=0", "+bufsize=1232"]
        if "do" in flags:
            args.append("+dnssec")
    args.append("+adflag" if "ad" in flags else "+noadflag")
    args.append("+cdflag" if "cd" in flags else "+nocdflag")
    args.append("+nordflag" if "nord" in flags else "+rdflag")
    if force_tcp or "tcp" in flags:
        args.append("+tcp")
    return args


HEADER_RE = re.compile(r"->>HEADER<<- opcode: ([A-Z0-9]+)[,;] status: ([A-Z0-9]+)[,;] id: (\d+)")
FLAGS_RE = re.compile(r"^;; [Ff]lags:([^;]*);", re.M)
SECTION_RE = re.compile(r"^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:\s*$")


def parse_client_output(text):
    """Turns dig's or kdig's text output into a dns.message.Message with the
    header (rcode, flags) and the answer and authority sections, which is all
    compare() reads. When the client printed several replies (kdig may print
    the truncated UDP one before retrying over TCP), the last one counts."""
    headers = list(HEADER_RE.finditer(text))
    if not headers:
        raise ClientOutputError("no reply header in the output")
    last = headers[-1]
    text = text[last.start():]
    reply = dns.message.Message(id=int(last.group(3)))
    try:
        rcode = dns.rcode.from_text(last.group(2))
    except dns.rcode.UnknownRcode:
        raise ClientOutputError("unknown status %s" % last.group(2))
    flags_match = FLAGS_RE.search(text)
    if not flags_match:
        raise ClientOutputError("no flags line in the output")
    flags = 0
    for word in flags_match.group(1).split():
        flags |= dns.flags.from_text(word.upper())
    reply.flags = flags
    reply.set_rcode(rcode)
    sections = {"ANSWER": reply.answer, "AUTHORITY": reply.authority}
    current = None
    for line in text.splitlines():
        heading = SECTION_RE.match(line)
        if heading:
            current = heading.group(1)
            continue
        if not line.strip():
            current = None
            continue
        if current not in sections or line.startswith(";"):
            continue
        fields = line.split(None, 4)
        if len(fields) < 4:
            raise ClientOutputError("unreadable record line %r" % line)
        if len(fields) == 4:
            fields.append("")
        owner, ttl, rdclass, rdtype, rdata = fields
        try:
            name = dns.name.from_text(owner)
            record = dns.rdata.from_text(dns.rdataclass.from_text(rdclass),
                                         dns.rdatatype.from_text(rdtype), rdata,
                                         origin=dns.name.root, relativize=False)
            section = sections[current]
            rrset = reply.find_rrset(section, name, record.rdclass, record.rdtype,
                                     covers=record.covers(), create=True)
            rrset.add(record, int(ttl))
        except (dns.exception.DNSException, ValueError) as e:
            raise ClientOutputError("unreadable record line %r: %s" % (line, e))
    return reply


def ask_with_client(tool, host, port, case, force_tcp, timeout, try_timeout):
    """Sends the case's query with dig or kdig; returns (reply, transport).
    The client itself retries after try_timeout (as many tries as fit in
    timeout) and switches to TCP when the UDP reply is truncated."""
    tries = max(1, int(math.floor(timeout / max(try_timeout, 0.5))))
    command = client_command(tool, host, port, case, force_tcp, tries, try_timeout)
    # Bounded: the client's own tries plus room for its TCP retry.
    limit = tries * max(1, round(try_timeout)) * 2 + 5
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=limit, text=True, errors="replace")
    except subprocess.TimeoutExpired:
        raise dns.exception.Timeout()
    output = done.stdout + "\n" + done.stderr
    if "HEADER<<-" not in done.stdout:
        if re.search(r"timed out|no servers could be reached|failed to query server", output):
            raise dns.exception.Timeout()
        last_line = (output.strip().splitlines() or ["(no output)"])[-1]
        raise ClientOutputError("%s exited %d without a reply: %s" % (tool, done.returncode, last_line))
    reply = parse_client_output(done.stdout)
    if force_tcp or "tcp" in case["flags"]:
        transport = "tcp"
    elif re.search(r"Truncated, retrying in TCP|truncated reply.*retrying over TCP", output):
        transport = "udp+tcp"
    else:
        transport = "udp"
    return reply, transport


def compare(case, reply, ignore_ad=False):
    """Returns a list of differences between the case and the reply.
    ignore_ad: do not compare the AD bit (the resolver does not validate)."""
    problems = []
    rcode = dns.rcode.to_text(reply.rcode())
    if rcode != case["rcode"]:
        problems.append("rcode %s, want %s" % (rcode, case["rcode"]))
    if case["ad"] in ("0", "1") and not ignore_ad:
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
    if "exactcase" in case["extra"].split(",") and isinstance(expected, set):
        # Names inside rdata as written in the table, letter case included
        # (0x20 must not leak into them); owners are the client's own case.
        got = {(o, t, r) for o, t, r in exact_case_records(reply, want_rrsig)}
        expected = {(o, t, r) for o, t, r in case["expected_exact"]}
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


def exact_case_records(reply, want_rrsig=False):
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.RRSIG and not want_rrsig:
            continue
        for rdata in rrset:
            yield (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype),
                   rdata.to_text())


def extra_check(check, reply):
    if check == "exactcase":
        return None  # applied to the answer comparison
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


def run_case(host, port, case, force_tcp, timeout, try_timeout, client="dnspython",
             ignore_ad=False):
    started = time.monotonic()
    try:
        if client == "dnspython":
            reply, transport = ask(host, port, case, force_tcp, timeout, try_timeout)
        else:
            reply, transport = ask_with_client(client, host, port, case, force_tcp, timeout,
                                               try_timeout)
    except dns.exception.Timeout:
        return ["no reply within %.0f s" % timeout], None, time.monotonic() - started
    except ClientOutputError as e:
        return ["%s output: %s" % (client, e)], None, time.monotonic() - started
    except (dns.exception.DNSException, OSError, EOFError) as e:
        return ["query failed: %s" % e], None, time.monotonic() - started
    return compare(case, reply, ignore_ad), transport, time.monotonic() - started


def main(argv):
    parser = argparse.ArgumentParser(description="Check a resolver against the lab's cases.")
    parser.add_argument("host")
    parser.add_argument("port", type=labnet.port_argument)
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
    parser.add_argument("--ignore-ad", action="store_true",
                        help="do not compare the AD bit (for resolvers that do not validate)")
    parser.add_argument("--client", choices=CLIENTS, default="dnspython",
                        help="send the queries with dnspython (default), dig or kdig")
    parser.add_argument("--list", action="store_true", help="list the selected cases and exit")
    parser.add_argument("--verbose", action="store_true", help="print passing cases too")
    args = parser.parse_args(argv)
    try:
        cases = select(load_cases(args.cases), args)
    except (CaseError, OSError, ValueError, dns.exception.DNSException) as e:
        print("check: %s" % e, file=sys.stderr)
        return 2
    if args.client != "dnspython" and not shutil.which(args.client):
        print("check: %s is not installed" % args.client, file=sys.stderr)
        return 2
    if args.list:
        for case in cases:
            print("%s\t%s %s" % (case["id"], case["qname"], case["qtype"]))
        return 0
    passed = failed = 0
    jobs = max(1, min(args.jobs, 64))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_case, args.host, args.port, case, args.tcp,
                               args.timeout, args.try_timeout, args.client, args.ignore_ad)
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
