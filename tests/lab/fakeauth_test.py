#!/usr/bin/python3
"""Checks fakeauth's control protocol against the running lab: counters,
silent / resume for one zone and for all, reset. Exit 0 when all hold."""
import os
import subprocess
import sys

import dns.exception
import dns.message
import dns.query

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LAB_DIR)
import lab  # noqa: E402
import topology  # noqa: E402

ZONE = "stale." + topology.FAKE_PARENT[1]
ADDRESS = topology.FAKE_ZONES["stale"][0]
failures = []
passes = []


def answered(qname):
    try:
        dns.query.udp(dns.message.make_query(qname, "A"), ADDRESS, timeout=0.5)
        return True
    except dns.exception.Timeout:
        return False


def expect(ok, what):
    print("%s %s" % ("ok  " if ok else "FAIL", what))
    (passes if ok else failures).append(what)


def count(qname):
    out = subprocess.run([os.path.join(LAB_DIR, "fakectl"), "count", qname, "A"],
                         capture_output=True, text=True, check=True).stdout
    return int(out)


try:
    lab.fakectl("reset")
    expect(answered("www." + ZONE), "answers before silent")
    expect(count("www." + ZONE) == 1, "one query counted")
    expect(lab.fakectl("silent " + ZONE)["silent"] == [ZONE], "silent lists the zone")
    expect(not answered("www." + ZONE), "no answer while silent")
    expect(count("www." + ZONE) == 2, "queries still counted while silent")
    lab.fakectl("resume " + ZONE)
    expect(answered("www." + ZONE), "answers after resume")
    lab.fakectl("silent all")
    expect(not answered("x." + ZONE), "silent all drops everything")
    lab.fakectl("resume all")
    expect(answered("x." + ZONE), "resume all")
    expect("error" in lab.fakectl("silent no.such.zone."), "unknown zone is an error")
    expect("error" in lab.fakectl("bogus"), "unknown command is an error")
    lab.fakectl("reset")
    expect(lab.fakectl("stats")["queries"] == {}, "reset clears counters")
finally:
    lab.fakectl("reset")
print("%d passed, %d failed" % (len(passes), len(failures)))
sys.exit(1 if failures else 0)
