#!/usr/bin/python3
"""A second opinion on cases.tsv: BIND's own validator (delv, from
bind9-dnsutils) validates each DNSSEC case from the lab's root anchor,
fetching data through a recursive resolver (HOST PORT, e.g. the lab's Unbound;
delv sets CD, so that resolver's own verdict does not matter).

  delv_check.py HOST PORT [--exclude-ids a,b|@file] [--jobs N]
  (PORT: a number, or `unbound` for the lab's Unbound: see labnet.py)

Compared: cases with the `do` flag and without `cd`:
  AD 1 -> delv says "fully validated"      AD 0 -> "unsigned answer"
  SERVFAIL of a `bogus` case -> delv's validation fails.
Ends with `N passed, M failed`.
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LAB_DIR)
import check  # noqa: E402
import labnet  # noqa: E402

RUN_DIR = os.path.abspath(os.environ.get("SEXTANT_LAB_RUN", os.path.join(LAB_DIR, "run")))


def anchor_file(directory):
    """delv wants a BIND trust-anchors clause, not a DS record."""
    with open(os.path.join(RUN_DIR, "root-anchor.ds")) as f:
        records = [line.split() for line in f if line.strip()]
    path = os.path.join(directory, "anchor.conf")
    with open(path, "w") as f:
        f.write("trust-anchors {\n")
        for r in records:
            f.write('  %s static-ds %s %s %s "%s";\n' % (r[0], r[4], r[5], r[6], "".join(r[7:])))
        f.write("};\n")
    return path


def verdict(host, port, anchor, case):
    argv = ["delv", "@" + host, "-p", str(port), "-a", anchor, "+root=.",
            case["qname"], case["qtype"]]
    if "tcp" in case["flags"]:
        argv.append("+tcp")
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "timeout"
    out = run.stdout + run.stderr
    # delv gives one verdict per RRset (a CNAME chain can be secure, then
    # unsigned); AD needs every one secure. "resolution failed: ncache
    # nxdomain" also precedes validated negative answers, so it is checked last.
    if "unsigned answer" in out:
        return "insecure"
    if "fully validated" in out:
        return "secure"
    if "resolution failed" in out or "validation failed" in out or "no valid" in out:
        return "bogus"
    return "unknown: " + " / ".join(out.strip().splitlines()[:2])


def expected_verdict(case):
    if "do" not in case["flags"] or "cd" in case["flags"]:
        return None
    if case["rcode"] == "SERVFAIL":
        return "bogus" if "bogus" in case["tags"] else None
    if case["rcode"] in ("NOERROR", "NXDOMAIN") and case["ad"] in ("0", "1"):
        return "secure" if case["ad"] == "1" else "insecure"
    return None


def main(argv):
    parser = argparse.ArgumentParser(description="Cross-check cases.tsv with delv.")
    parser.add_argument("host")
    parser.add_argument("port", type=labnet.port_argument)
    parser.add_argument("--cases", default=os.path.join(LAB_DIR, "cases.tsv"))
    parser.add_argument("--exclude-ids")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    excluded = check.id_list(args.exclude_ids) or set()
    cases = [c for c in check.load_cases(args.cases)
             if expected_verdict(c) and c["id"] not in excluded]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        anchor = anchor_file(tmp)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(args.jobs, 32))) as pool:
            results = list(pool.map(lambda c: verdict(args.host, args.port, anchor, c), cases))
    for case, got in zip(cases, results):
        want = expected_verdict(case)
        if got == want:
            passed += 1
            if args.verbose:
                print("ok   %s: %s" % (case["id"], got))
        else:
            failed += 1
            print("FAIL %s: %s %s: delv says %s, cases.tsv says %s"
                  % (case["id"], case["qname"], case["qtype"], got, want))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
