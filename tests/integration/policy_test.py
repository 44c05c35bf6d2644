#!/usr/bin/python3
"""Policy end to end (issue 15), each part on a short-lived daemon of its own,
through real sockets with dig and kdig (and dnspython where a client must
bind a source address or look at flags dig does not print):

  policy_test.py SEXTANT_BINARY PART

PART is one of:
  local      local data of every type from the config, a zone file and a
             hosts file; PTR generation; static/transparent/redirect/refuse
             zones; wildcards; CNAME chases; no upstream query for local names
  allowlist  literal names and "*." wildcards; REFUSED + EDE 18 (NXDOMAIN in a
             view that asks for it); the upstream never sees a refused name
  blocklist  hosts and domain lists with bad lines (reported with file:line,
             the good lines kept); NXDOMAIN, NODATA, sinkhole and EDE codes;
             CNAME targets; hits per list in /metrics
  rpz        every RPZ action and trigger from a zone file, two zones in order,
             response-IP and client-IP triggers; a broken zone names file:line
  views      split horizon by client address and by listener; the answer
             cache never hands one view's answer to another
  dns64      AAAA synthesised for a lab name with only A records; real AAAA
             kept; DO+CD clients and other subnets get none; PTR under the prefix
  eventlog   the JSON event log parsed back: fields, cache status, policy,
             a malformed packet; sampling and the rate cap, drops counted;
             questions dropped by the per-zone cap (over-limit: drop)
  reload     lists and zones re-read on reload; a broken zone keeps the old
             copy; answers that depended on a changed list are flushed
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

EDE_BLOCKED, EDE_CENSORED, EDE_FILTERED, EDE_PROHIBITED = 15, 16, 17, 18


# ---- clients ------------------------------------------------------------------
class Reply:
    """What dig or kdig printed, parsed: status, flags, answer records, EDE codes."""

    def __init__(self, text):
        self.text = text
        m = re.search(r"status: (\w+)", text)
        self.status = m.group(1) if m else None
        m = re.search(r"flags: ([a-z ]+);", text, re.I)
        self.flags = m.group(1).split() if m else []
        self.ede = [int(x) for x in re.findall(r"EDE: (\d+)", text)]
        self.records = []
        section = None
        for line in text.splitlines():
            if re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL) SECTION", line):
                section = line.split()[1]
                continue
            if not line.strip() or line.startswith(";"):
                if line.startswith(";;") and "SECTION" not in line and section:
                    section = None if not line.strip() else section
                continue
            fields = line.split(None, 4)
            if section and len(fields) >= 5:
                self.records.append((section, fields[0].lower(), fields[3], fields[4].strip()))

    def answer(self, rdtype=None):
        return sorted(r[3] for r in self.records if r[0] == "ANSWER" and (rdtype is None or r[2] == rdtype))

    def authority_types(self):
        return [r[2] for r in self.records if r[0] == "AUTHORITY"]

    def __repr__(self):
        return self.text


def dig(port, name, rdtype="A", *options, tool="dig"):
    cmd = [tool, "@127.0.0.1", "-p", str(port), name, rdtype]
    cmd += ["+tries=1", "+time=3", "+nocookie"] if tool == "dig" else ["+retry=0", "+timeout=3", "+edns"]
    cmd += list(options)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    return Reply(p.stdout + p.stderr)


def kdig(port, name, rdtype="A", *options):
    return dig(port, name, rdtype, *options, tool="kdig")


def ask(port, name, rdtype="A", source=None, tcp=False, dnssec=False, cd=False, timeout=3.0):
    """dnspython, for a bound source address or exact flags; None on timeout."""
    q = common.make_query(name, rdtype, dnssec=dnssec)
    if cd:
        q.flags |= dns.flags.CD
    try:
        send = common.tcp_query if tcp else common.udp_query
        return send(q, "127.0.0.1", port, timeout=timeout, source=source)
    except dns.exception.Timeout:
        return None


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def metric(text, family, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    pattern = r"^%s%s (\S+)$" % (re.escape(family), re.escape("{%s}" % want) if want else "")
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else None


def write(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def daemon_with(binary, config_for, threads=2):
    """A Daemon whose extra configuration is made once its directory and
    ports are known: config_for(directory, metrics_port) -> YAML text."""
    d = common.Daemon(binary, threads=threads)
    d.metrics_port = common.free_port()
    while d.metrics_port == d.port:
        d.metrics_port = common.free_port()
    extra = config_for(d.dir, d.metrics_port)
    common.write_config(d.config, d.port, threads, extra)
    return d


def stopped_cleanly(results, daemon):
    code, elapsed = daemon.stop()
    reports = daemon.sanitizer_reports()
    results.check(code == 0 and not reports, "daemon stopped cleanly",
                  "exit %s after %.1f s; %s" % (code, elapsed, reports[:5]))


# ---- local data --------------------------------------------------------------------
def part_local(binary, results):
    def config(d, mport):
        zone = write(d, "corp.zone", "$ORIGIN corp.test.\n$TTL 600\n"
                     "@ SOA ns.corp.test. admin.corp.test. 7 3600 600 86400 120\n"
                     "@ NS ns.corp.test.\nns A 10.1.0.53\nwiki A 10.1.0.80\nwiki AAAA fd00::80\n")
        hosts = write(d, "hosts", "10.9.8.7 printer.lan printer\n# a comment\nnot-an-address x\n")
        return ("metrics:\n  listen: [\"127.0.0.1@%d\"]\n"
                "policy:\n"
                "  local-zones:\n"
                "    - {name: internal, type: static}\n"
                "    - {name: example.com, type: transparent}\n"
                "    - {name: redirected.test, type: redirect}\n"
                "    - {name: refused.test, type: refuse}\n"
                "  local-data:\n"
                "    - \"internal. SOA ns.internal. admin.internal. 1 3600 600 86400 300\"\n"
                "    - \"db.internal. 300 A 10.0.0.5\"\n"
                "    - \"db.internal. 300 AAAA fd00::5\"\n"
                "    - 'db.internal. TXT \"database\"'\n"
                "    - \"alias.internal. CNAME db.internal.\"\n"
                "    - \"ext.internal. CNAME www.example.com.\"\n"
                "    - \"internal. MX 10 mail.internal.\"\n"
                "    - \"internal. NS ns.internal.\"\n"
                "    - \"_ldap._tcp.internal. SRV 0 10 389 db.internal.\"\n"
                "    - \"53.0.0.10.in-addr.arpa. PTR explicit.internal.\"\n"
                "    - \"ns.internal. A 10.0.0.53\"\n"
                "    - \"*.svc.cluster.example. A 10.96.0.10\"\n"
                "    - \"local.example.com. A 192.0.2.200\"\n"
                "    - \"redirected.test. A 10.7.7.7\"\n"
                "    - \"ok.refused.test. A 10.8.8.8\"\n"
                "  local-zone-files: [{file: %s}]\n"
                "  hosts-files: [%s]\n" % (mport, zone, hosts))

    with daemon_with(binary, config) as daemon:
        port = daemon.port
        before = metric(metrics(daemon.metrics_port), "sextant_resolutions_total")
        r = dig(port, "db.internal", "A")
        results.check(r.status == "NOERROR" and r.answer("A") == ["10.0.0.5"] and "aa" in r.flags,
                      "dig: local A, authoritative", repr(r))
        results.check(kdig(port, "db.internal", "AAAA").answer("AAAA") == ["fd00::5"], "kdig: local AAAA")
        results.check(dig(port, "db.internal", "TXT").answer("TXT") == ['"database"'], "local TXT")
        r = dig(port, "alias.internal", "A")
        results.check(r.answer("CNAME") == ["db.internal."] and r.answer("A") == ["10.0.0.5"],
                      "local CNAME to a local name: both records", repr(r))
        results.check(dig(port, "internal", "MX").answer("MX") == ["10 mail.internal."], "local MX")
        results.check(dig(port, "internal", "NS").answer("NS") == ["ns.internal."], "local NS")
        results.check(dig(port, "_ldap._tcp.internal", "SRV").answer("SRV") == ["0 10 389 db.internal."], "local SRV")
        r = kdig(port, "5.0.0.10.in-addr.arpa", "PTR")
        results.check(r.answer("PTR") == ["db.internal."], "kdig: PTR generated for a local A", repr(r))
        r = dig(port, "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "PTR")
        results.check(r.answer("PTR") == ["db.internal."], "PTR generated for a local AAAA", repr(r))
        results.check(dig(port, "53.0.0.10.in-addr.arpa", "PTR").answer("PTR") == ["explicit.internal."],
                      "an explicit PTR wins over the generated one")
        r = dig(port, "missing.internal", "A")
        results.check(r.status == "NXDOMAIN" and r.authority_types() == ["SOA"],
                      "static zone: NXDOMAIN with the zone's SOA", repr(r))
        r = dig(port, "db.internal", "MX")
        results.check(r.status == "NOERROR" and not r.answer() and "SOA" in r.authority_types(),
                      "a local name without the type: NODATA", repr(r))
        r = dig(port, "api.svc.cluster.example", "A")
        results.check(r.answer("A") == ["10.96.0.10"], "wildcard local data answers below it", repr(r))
        results.check(dig(port, "wiki.corp.test", "AAAA").answer("AAAA") == ["fd00::80"], "zone file: AAAA")
        results.check(dig(port, "nothing.corp.test", "A").status == "NXDOMAIN", "zone file: static by default")
        results.check(kdig(port, "printer.lan", "A").answer("A") == ["10.9.8.7"], "hosts file: A")
        results.check(dig(port, "7.8.9.10.in-addr.arpa", "PTR").answer("PTR") == ["printer.lan."],
                      "hosts file: PTR for the first name")
        r = dig(port, "any.name.redirected.test", "A")
        results.check(r.answer("A") == ["10.7.7.7"], "redirect zone: the apex's data for every name", repr(r))
        results.check(dig(port, "x.refused.test", "A").status == "REFUSED", "refuse zone: REFUSED")
        results.check(dig(port, "ok.refused.test", "A").answer("A") == ["10.8.8.8"], "refuse zone: local data answered")
        results.check(dig(port, "local.example.com", "A").answer("A") == ["192.0.2.200"],
                      "transparent zone: local data answered")
        after = metric(metrics(daemon.metrics_port), "sextant_resolutions_total")
        results.check(before is not None and after == before, "local names: no resolution started (no upstream)",
                      "resolutions %s -> %s" % (before, after))
        r = dig(port, "www.example.com", "A")
        results.check(r.answer("A") == ["192.0.2.10"], "transparent zone: other names resolved normally", repr(r))
        r = dig(port, "ext.internal", "A")
        results.check(r.answer("CNAME") == ["www.example.com."] and r.answer("A") == ["192.0.2.10"],
                      "local CNAME to a lab name: chased through the walker", repr(r))
        log = daemon.log_text()
        results.check("hosts:3:" in log, "the hosts file's bad line is reported with file:line", log[-500:])
        stopped_cleanly(results, daemon)


# ---- allowlist ---------------------------------------------------------------------
def part_allowlist(binary, results):
    def config(d, mport):
        return ("policy:\n"
                "  allowlist: {names: [www.example.com, '*.example.net', www.stale.faults.test]}\n"
                "  views:\n"
                "    - name: nx\n"
                "      clients: [127.0.0.2/32]\n"
                "      allowlist: {names: [www.example.com], action: nxdomain}\n")

    common.fakectl("reset")
    with daemon_with(binary, config) as daemon:
        port = daemon.port
        r = dig(port, "www.example.com", "A")
        results.check(r.status == "NOERROR" and r.answer("A") == ["192.0.2.10"], "a listed name resolves", repr(r))
        for tool in (dig, kdig):
            r = tool(port, "mail.example.com", "A")
            results.check(r.status == "REFUSED" and EDE_PROHIBITED in r.ede,
                          "%s: an unlisted name is REFUSED with EDE 18" % tool.__name__, repr(r))
        r = dig(port, "www.example.net", "A")
        results.check(r.status == "NOERROR", "'*.example.net' allows the names below", repr(r))
        r = dig(port, "example.net", "A")
        results.check(r.status == "REFUSED", "'*.example.net' does not allow example.net itself", repr(r))
        results.check(dig(port, "x.www.example.com", "A").status == "REFUSED", "a literal name allows nothing below")
        reply = ask(port, "mail.example.com.", "A", source="127.0.0.2")
        results.check(reply is not None and reply.rcode() == dns.rcode.NXDOMAIN
                      and EDE_PROHIBITED in common.ede_codes(reply),
                      "a view with action: nxdomain gets NXDOMAIN + EDE 18", str(reply))
        r = dig(port, "txt.stale.faults.test", "TXT")
        results.check(r.status == "REFUSED", "a name under an upstream zone, not listed: REFUSED")
        r = dig(port, "www.stale.faults.test", "A")
        results.check(r.status == "NOERROR", "its listed sibling resolves", repr(r))
        results.check(common.upstream_count("txt.stale.faults.test") == 0,
                      "the upstream never saw the refused name",
                      "queries seen: %d" % common.upstream_count("txt.stale.faults.test"))
        results.check(common.upstream_count("www.stale.faults.test") >= 1, "the upstream saw the allowed one")
        stopped_cleanly(results, daemon)


# ---- blocklists -------------------------------------------------------------------
def blocklist_config(d, mport):
    hosts = write(d, "ads.hosts", "# StevenBlack style\n127.0.0.1 localhost\n"
                  "0.0.0.0 ads.example.com\n0.0.0.0 c3.example.org   # a CNAME target\n"
                  "0.0.0.0\nhttp://not.a.name/\n")
    domains = write(d, "tracking.list", "tracker.example.net\n*.below.example.com\n||adblock.example.com^\n")
    return ("metrics:\n  listen: [\"127.0.0.1@%d\"]\n"
            "policy:\n"
            "  blocklists:\n"
            "    - {name: ads, file: %s}\n"
            "    - {name: tracking, file: %s, action: nodata, ede: filtered}\n"
            "    - {name: sink, names: [sip.example.com], action: sinkhole, sinkhole: [0.0.0.0, '::'], ede: censored}\n"
            "    - {name: refused, names: [mail.example.com], action: refuse}\n" % (mport, hosts, domains))


def part_blocklist(binary, results):
    with daemon_with(binary, blocklist_config) as daemon:
        port = daemon.port
        checked = subprocess.run([binary, "--check-config", daemon.config], capture_output=True, text=True, timeout=60)
        results.check(checked.returncode == 0 and "ads.hosts:5:" in checked.stderr and "ads.hosts:6:" in checked.stderr,
                      "--check-config: valid, bad list lines named with file:line",
                      checked.stdout + checked.stderr)
        results.check("ads.hosts:5:" in daemon.log_text(), "the daemon reports the bad lines at start")
        for tool in (dig, kdig):
            r = tool(port, "ads.example.com", "A")
            results.check(r.status == "NXDOMAIN" and EDE_BLOCKED in r.ede,
                          "%s: hosts list: NXDOMAIN + EDE 15" % tool.__name__, repr(r))
        r = dig(port, "x.y.ads.example.com", "AAAA")
        results.check(r.status == "NXDOMAIN", "a listed name blocks the names below it", repr(r))
        r = dig(port, "tracker.example.net", "A")
        results.check(r.status == "NOERROR" and not r.answer() and EDE_FILTERED in r.ede,
                      "domain list, action nodata: NODATA + EDE 17", repr(r))
        results.check(dig(port, "a.below.example.com", "A").status == "NOERROR" and
                      EDE_FILTERED in dig(port, "a.below.example.com", "A").ede, "'*.below' blocks below")
        r = dig(port, "below.example.com", "A")
        results.check(EDE_FILTERED not in r.ede, "'*.below' leaves below.example.com itself", repr(r))
        results.check(EDE_FILTERED in dig(port, "adblock.example.com", "A").ede, "an Adblock ||name^ line")
        r = dig(port, "sip.example.com", "A")
        results.check(r.answer("A") == ["0.0.0.0"] and EDE_CENSORED in r.ede, "sinkhole A + EDE 16", repr(r))
        results.check(dig(port, "sip.example.com", "AAAA").answer("AAAA") == ["::"], "sinkhole AAAA")
        results.check(dig(port, "mail.example.com", "A").status == "REFUSED", "action refuse: REFUSED")
        r = dig(port, "c1.example.com", "A")
        results.check(r.status == "NXDOMAIN" and EDE_BLOCKED in r.ede,
                      "a CNAME chain through a listed name is blocked", repr(r))
        results.check(dig(port, "www.example.com", "A").answer("A") == ["192.0.2.10"], "other names resolve")
        text = metrics(daemon.metrics_port)
        results.check(metric(text, "sextant_policy_hits_total", kind="blocked", name="ads", action="nxdomain") == 4,
                      "hits counted per list and action", "\n".join(l for l in text.splitlines() if "policy" in l))
        results.check(metric(text, "sextant_policy_entries", kind="blocklist", name="ads") == 2,
                      "entries per list (localhost skipped)")
        stopped_cleanly(results, daemon)


# ---- RPZ --------------------------------------------------------------------------
RPZ_ONE = """$ORIGIN rpz.one.
$TTL 300
@ SOA ns.rpz.one. admin.rpz.one. 11 3600 600 86400 60
@ NS ns.rpz.one.
nx.example.com              CNAME .
*.wild.example.com          CNAME .
www.example.net             CNAME *.
passed.example.org          CNAME rpz-passthru.
www.example.org             CNAME rpz-drop.
txt.example.com             CNAME rpz-tcp-only.
mail.example.com            A 192.0.2.250
garden.example.com          CNAME www.example.com.
32.10.2.0.192.rpz-ip        CNAME .
32.3.0.0.127.rpz-client-ip  CNAME rpz-drop.
c3.example.org              CNAME *.
"""
RPZ_TWO = """$ORIGIN rpz.two.
$TTL 300
@ SOA ns.rpz.two. admin.rpz.two. 5 3600 600 86400 60
passed.example.org          CNAME .
sip.example.com             CNAME .
"""


def part_rpz(binary, results):
    def config(d, mport):
        one = write(d, "one.rpz", RPZ_ONE)
        two = write(d, "two.rpz", RPZ_TWO)
        return ("metrics:\n  listen: [\"127.0.0.1@%d\"]\n"
                "policy:\n  rpz:\n    - {file: %s}\n    - {file: %s, name: second}\n" % (mport, one, two))

    with daemon_with(binary, config) as daemon:
        port = daemon.port
        for tool in (dig, kdig):
            r = tool(port, "nx.example.com", "A")
            results.check(r.status == "NXDOMAIN" and EDE_BLOCKED in r.ede, "%s: QNAME CNAME . -> NXDOMAIN"
                          % tool.__name__, repr(r))
        results.check(dig(port, "a.b.wild.example.com", "A").status == "NXDOMAIN", "wildcard QNAME trigger")
        r = dig(port, "www.example.net", "A")
        results.check(r.status == "NOERROR" and not r.answer(), "CNAME *. -> NODATA", repr(r))
        r = dig(port, "passed.example.org", "A")
        results.check(r.status == "NXDOMAIN" or r.status == "NOERROR", "passthru answered", repr(r))
        results.check(r.status != "NXDOMAIN" or EDE_BLOCKED not in r.ede,
                      "PASSTHRU in the first zone wins over the second zone's NXDOMAIN", repr(r))
        results.check(dig(port, "sip.example.com", "A").status == "NXDOMAIN", "the second zone applies after the first")
        results.check(ask(port, "www.example.org.", "A", timeout=1.5) is None, "rpz-drop: no answer")
        reply = ask(port, "txt.example.com.", "TXT")
        results.check(reply is not None and reply.flags & dns.flags.TC and not reply.answer,
                      "rpz-tcp-only over UDP: TC=1", str(reply))
        reply = ask(port, "txt.example.com.", "TXT", tcp=True)
        results.check(reply is not None and reply.rcode() == dns.rcode.NOERROR and reply.answer,
                      "rpz-tcp-only over TCP: answered", str(reply))
        r = dig(port, "mail.example.com", "A")
        results.check(r.answer("A") == ["192.0.2.250"], "local data trigger", repr(r))
        r = dig(port, "garden.example.com", "A")
        results.check(r.answer("CNAME") == ["www.example.com."] and r.answer("A") == ["192.0.2.10"],
                      "CNAME to a walled garden, chased", repr(r))
        r = kdig(port, "www.example.com", "A")
        results.check(r.status == "NXDOMAIN" and EDE_BLOCKED in r.ede, "kdig: response-IP trigger (rpz-ip)", repr(r))
        results.check(dig(port, "www.example.com", "AAAA").answer("AAAA") == ["2001:db8::10"],
                      "the response-IP trigger leaves the AAAA")
        results.check(ask(port, "alias.example.com.", "TXT", source="127.0.0.3", timeout=1.5) is None,
                      "client-IP trigger: 127.0.0.3 dropped")
        r = dig(port, "c1.example.com", "A")
        results.check(r.status == "NOERROR" and not r.answer("A"), "a CNAME target trigger rewrites the chain", repr(r))
        text = metrics(daemon.metrics_port)
        results.check(metric(text, "sextant_rpz_serial", zone="rpz.one.") == 11 and
                      metric(text, "sextant_rpz_serial", zone="second") == 5, "serial per zone in /metrics")
        results.check((metric(text, "sextant_policy_hits_total", kind="rpz", name="rpz.one.", action="nxdomain")
                       or 0) >= 3, "hits per zone and action")
        stopped_cleanly(results, daemon)

    # A zone that does not parse stops --check-config and the start, naming it.
    d = daemon_with(binary, lambda d, m: "policy:\n  rpz: [{file: %s}]\n" % write(
        d, "bad.rpz", "$ORIGIN rpz.bad.\n@ 300 SOA ns h 1 1 1 1 1\nok.example CNAME .\n99.1.2.3.4.rpz-ip CNAME .\n"))
    checked = subprocess.run([binary, "--check-config", d.config], capture_output=True, text=True, timeout=60)
    results.check(checked.returncode == 1 and "bad.rpz:4:" in checked.stderr,
                  "--check-config: a bad zone is refused with file:line", checked.stderr)
    started = subprocess.run([binary, "-c", d.config], capture_output=True, text=True, timeout=60)
    results.check(started.returncode == 1 and "bad.rpz:4:" in started.stderr, "the start stops, naming file:line",
                  started.stderr[-400:])


# ---- views ------------------------------------------------------------------------
def part_views(binary, results):
    second = common.free_port()

    def config(d, mport):
        zone = write(d, "view.rpz", "$ORIGIN rpz.view.\n$TTL 300\n@ SOA ns h 1 1 1 1 1\n32.10.2.0.192.rpz-ip CNAME .\n")
        return ("policy:\n"
                "  local-data: [\"www.corp.test. A 192.0.2.1\"]\n"
                "  views:\n"
                "    - name: internal\n"
                "      clients: [127.0.0.2/32]\n"
                "      local-data: [\"www.corp.test. A 10.0.0.1\", \"intranet.corp.test. A 10.0.0.2\"]\n"
                "      rpz: [{file: %s}]\n"
                "    - name: guests\n"
                "      listeners: [\"127.0.0.1@%d\"]\n"
                "      inherit: true\n"
                "      blocklists: [{name: guests, names: [www.example.net]}]\n" % (zone, second))

    d = daemon_with(binary, config)
    with open(d.config) as f:
        text = f.read()
    with open(d.config, "w") as f:  # a second listener for the guests' view
        f.write(text.replace('listen: ["127.0.0.1@%d"]' % d.port,
                             'listen: ["127.0.0.1@%d", "127.0.0.1@%d"]' % (d.port, second)))
    with d as daemon:
        port = daemon.port
        inside = ask(port, "www.corp.test.", "A", source="127.0.0.2")
        outside = ask(port, "www.corp.test.", "A", source="127.0.0.1")
        results.check(inside is not None and common.answer_addresses(inside) == ["10.0.0.1"],
                      "client subnet view: internal data", str(inside))
        results.check(outside is not None and common.answer_addresses(outside) == ["192.0.2.1"],
                      "other clients: the top-level data", str(outside))
        outside = ask(port, "intranet.corp.test.", "A", source="127.0.0.1")
        results.check(outside is not None and not common.answer_addresses(outside),
                      "internal-only names are not local for others", str(outside))
        guest = dig(second, "www.example.net", "A")
        results.check(guest.status == "NXDOMAIN" and EDE_BLOCKED in guest.ede, "listener view: its blocklist", repr(guest))
        results.check(dig(second, "www.corp.test", "A").answer("A") == ["192.0.2.1"],
                      "listener view inherits the top-level local data")
        results.check(dig(port, "www.example.net", "A").status == "NOERROR", "the first listener: no such block")
        # The same name, answered differently per view, again and again: the
        # second round comes from the cache, and no view sees another's answer.
        for round_ in (1, 2, 3):
            internal = ask(port, "www.example.com.", "A", source="127.0.0.2")
            plain = ask(port, "www.example.com.", "A", source="127.0.0.1")
            results.check(internal is not None and internal.rcode() == dns.rcode.NXDOMAIN,
                          "round %d: the internal view's RPZ rewrite" % round_, str(internal))
            results.check(plain is not None and common.answer_addresses(plain) == ["192.0.2.10"],
                          "round %d: other clients get the real answer" % round_, str(plain))
        stopped_cleanly(results, daemon)


# ---- DNS64 ------------------------------------------------------------------------
def part_dns64(binary, results):
    def config(d, mport):
        return ("policy:\n  dns64: {prefix: '64:ff9b::/96', clients: [127.0.0.1/32]}\n")

    with daemon_with(binary, config) as daemon:
        port = daemon.port
        for tool in (dig, kdig):
            r = tool(port, "mail.example.com", "AAAA")
            results.check(r.status == "NOERROR" and r.answer("AAAA") == ["64:ff9b::c000:219"],
                          "%s: AAAA synthesised for an A-only name" % tool.__name__, repr(r))
        r = dig(port, "mail.example.com", "AAAA", "+dnssec")
        results.check(r.answer("AAAA") == ["64:ff9b::c000:219"] and "ad" not in r.flags,
                      "DO: synthesised, never AD", repr(r))
        r = dig(port, "www.example.com", "AAAA")
        results.check(r.answer("AAAA") == ["2001:db8::10"], "a real AAAA is kept", repr(r))
        results.check(dig(port, "mail.example.com", "A").answer("A") == ["192.0.2.25"], "A questions untouched")
        r = dig(port, "c1.example.com", "AAAA")
        results.check(r.answer("AAAA") == ["64:ff9b::c000:22c"] and "c2.example.net." in r.answer("CNAME"),
                      "through a CNAME chain: synthesised at its end", repr(r))
        reply = ask(port, "sip.example.com.", "AAAA", dnssec=True, cd=True)
        results.check(reply is not None and not reply.answer, "DO+CD: no synthesis (RFC 6147 5.5)", str(reply))
        reply = ask(port, "sip.example.com.", "AAAA", source="127.0.0.2")
        results.check(reply is not None and not reply.answer, "a client outside dns64.clients: no synthesis", str(reply))
        # The cache keeps the two kinds of clients apart, whichever asks first.
        reply = ask(port, "sip.example.com.", "AAAA", source="127.0.0.1")
        results.check(reply is not None and common.answer_addresses(reply, dns.rdatatype.AAAA) == ["64:ff9b::c000:232"],
                      "then a DNS64 client: synthesised (not the other client's cached NODATA)", str(reply))
        ask(port, "svc-host.example.com.", "AAAA", source="127.0.0.1")
        reply = ask(port, "svc-host.example.com.", "AAAA", source="127.0.0.2")
        results.check(reply is not None and not reply.answer,
                      "a DNS64 client first, then another: no synthesised answer from the cache", str(reply))
        results.check(dig(port, "nx.example.com", "AAAA").status == "NXDOMAIN", "NXDOMAIN stays NXDOMAIN")
        r = dig(port, "c.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa", "PTR")
        results.check(r.answer("CNAME") == ["44.2.0.192.in-addr.arpa."] and r.answer("PTR") == ["c4.example.com."],
                      "PTR under the prefix: CNAME to in-addr.arpa, then its PTR", repr(r))
        stopped_cleanly(results, daemon)


# ---- the event log ----------------------------------------------------------------
def read_events(path, deadline_s=5, at_least=1, until=None):
    """The event log's lines, parsed, once there are `at_least` of them and
    `until(events)` holds (or the deadline passed)."""
    deadline = time.monotonic() + deadline_s
    events = []
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                events = [json.loads(line) for line in f if line.strip()]
        except (OSError, json.JSONDecodeError):
            events = []
        if len(events) >= at_least and (until is None or until(events)):
            break
        time.sleep(0.1)
    return events


def part_eventlog(binary, results):
    def config(d, mport):
        return ("metrics:\n  listen: [\"127.0.0.1@%d\"]\n"
                "policy:\n  local-data: [\"db.internal. A 10.0.0.5\"]\n"
                "  blocklists: [{name: ads, names: [ads.example.com]}]\n"
                "event-log:\n  file: %s\n" % (mport, os.path.join(d, "events.jsonl")))

    with daemon_with(binary, config) as daemon:
        port = daemon.port
        path = os.path.join(daemon.dir, "events.jsonl")
        dig(port, "www.example.com", "A")            # miss
        dig(port, "www.example.com", "A")            # hit
        dig(port, "ads.example.com", "A")            # blocked
        kdig(port, "db.internal", "A", "+tcp")       # local data over TCP
        # Not a query (QR=1): dropped, and logged as malformed; then a query
        # whose question does not parse: FORMERR, logged as malformed too.
        common.raw_udp(b"\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\x03www", "127.0.0.1", port)
        common.raw_udp(b"\x12\x35\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www", "127.0.0.1", port)
        events = read_events(path, at_least=6,
                             until=lambda ev: sum(e.get("reason") == "malformed" for e in ev) >= 2)
        # the daemon's own readiness probe may be there too
        by_name = {}
        for e in events:
            by_name.setdefault((e.get("qname"), e.get("reason", "answered")), []).append(e)
        www = by_name.get(("www.example.com.", "answered"), [])
        keys = {"time", "client", "transport", "qname", "qtype", "rcode", "ede", "cache", "latency_us", "dnssec", "policy"}
        results.check(len(www) == 2 and all(keys <= set(e) for e in www), "one JSON line per query, every field",
                      json.dumps(www))
        results.check([e["cache"] for e in www] == ["miss", "hit"], "cache status miss then hit", json.dumps(www))
        results.check(www and www[0]["dnssec"] == "secure" and www[0]["rcode"] == "NOERROR"
                      and www[0]["client"] == "127.0.0.1" and www[0]["transport"] == "udp", "rcode, DNSSEC, client",
                      json.dumps(www))
        ads = by_name.get(("ads.example.com.", "answered"), [{}])[0]
        results.check(ads.get("policy") == "blocked:ads" and ads.get("ede") == [15] and ads.get("rcode") == "NXDOMAIN",
                      "a blocked name: policy blocked:LIST, EDE 15", json.dumps(ads))
        local = by_name.get(("db.internal.", "answered"), [{}])[0]
        results.check(local.get("policy") == "local-data" and local.get("transport") == "tcp",
                      "local data over TCP", json.dumps(local))
        bad = [e for e in events if e.get("reason") == "malformed"]
        results.check(len(bad) == 2 and sorted(str(e.get("rcode")) for e in bad) == ["FORMERR", "None"],
                      "malformed packets: one event each (dropped, FORMERR)", json.dumps(events[-3:]))
        text = metrics(daemon.metrics_port)
        results.check((metric(text, "sextant_event_log_events_total") or 0) >= 5, "events counted in /metrics")
        stopped_cleanly(results, daemon)

    # Sampling and the rate cap: 1 in 4 kept, at most 20 a second.
    def sampled(d, mport):
        return ("metrics:\n  listen: [\"127.0.0.1@%d\"]\n"
                "policy:\n  local-data: [\"db.internal. A 10.0.0.5\"]\n"
                "event-log:\n  file: %s\n  sample: 4\n  max-per-second: 20\n" % (mport, os.path.join(d, "events.jsonl")))

    with daemon_with(binary, sampled, threads=1) as daemon:
        path = os.path.join(daemon.dir, "events.jsonl")
        before = len(read_events(path, deadline_s=1))
        for _ in range(40):
            ask(daemon.port, "db.internal.", "A")
        got = len(read_events(path, deadline_s=2, at_least=before + 10)) - before
        results.check(got == 10, "sample 4: 10 events for 40 queries", "got %d" % got)
        for _ in range(400):
            ask(daemon.port, "db.internal.", "A", timeout=1)
        time.sleep(0.5)
        text = metrics(daemon.metrics_port)
        dropped = metric(text, "sextant_event_log_dropped_total", reason="rate-limit") or 0
        results.check(dropped > 0, "the rate cap drops events and counts them", "dropped %s" % dropped)
        stopped_cleanly(results, daemon)

    # Questions dropped by the per-zone cap (resolver.over-limit: drop) get an
    # event each: a 3 s stream of random names under the lab's slow zone,
    # which answers NXDOMAIN 300 ms late. (The cap needs a zone whose servers
    # are slow and whose replies are mostly fruitless, zone_outcomes.h; a dead
    # zone's servers are soon held down, and its questions fail fast instead.)
    def capped(d, mport):
        return ("metrics:\n  listen: [\"127.0.0.1@%d\"]\n"
                "event-log:\n  file: %s\n" % (mport, os.path.join(d, "events.jsonl")))

    daemon = daemon_with(binary, capped, threads=1)
    with open(daemon.config) as f:
        text = f.read().replace("resolver:\n", "resolver:\n  max-queries-per-zone: 1\n  over-limit: drop\n", 1)
    with open(daemon.config, "w") as f:
        f.write(text)
    with daemon:
        path = os.path.join(daemon.dir, "events.jsonl")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            start, i = time.monotonic(), 0
            while time.monotonic() - start < 3:
                s.sendto(dns.message.make_query("f%d.slow.faults.test." % i, "A").to_wire(), ("127.0.0.1", daemon.port))
                i += 1
                time.sleep(0.01)
        dropped = metric(metrics(daemon.metrics_port), "sextant_queries_dropped_total") or 0
        events = read_events(path, deadline_s=3,
                             until=lambda ev: sum(e.get("reason") == "dropped-over-limit" for e in ev) >= dropped)
        logged = [e for e in events if e.get("reason") == "dropped-over-limit"]
        results.check(dropped > 0 and len(logged) == dropped
                      and all(e["qname"].endswith(".slow.faults.test.") and e["rcode"] is None for e in logged),
                      "over-limit drops: one event each (reason dropped-over-limit)",
                      "%s dropped, %s" % (dropped, json.dumps(logged[:3])))
        stopped_cleanly(results, daemon)


# ---- reload -----------------------------------------------------------------------
def part_reload(binary, results):
    def config(d, mport):
        write(d, "block.list", "www.example.net\n")
        write(d, "r.rpz", "$ORIGIN rpz.r.\n@ 300 SOA ns h 1 1 1 1 1\nnx.example.org CNAME .\n")
        return ("metrics:\n  listen: [\"127.0.0.1@%d\"]\ncontrol:\n  socket: %s\n"
                "policy:\n  blocklists: [{name: b, file: %s}]\n  rpz: [{file: %s}]\n"
                % (mport, os.path.join(d, "control.sock"), os.path.join(d, "block.list"), os.path.join(d, "r.rpz")))

    with daemon_with(binary, config) as daemon:
        port, sock = daemon.port, os.path.join(daemon.dir, "control.sock")
        r = dig(port, "www.example.net", "A")
        results.check(r.status == "NXDOMAIN" and EDE_BLOCKED in r.ede, "before: www.example.net blocked", repr(r))
        # c1 -> c2 -> c3 is cached (CNAME inspection found nothing).
        r = dig(port, "c1.example.com", "A")
        results.check(r.answer("A") == ["192.0.2.44"], "before: the chain resolves", repr(r))
        hits_before = metric(metrics(daemon.metrics_port), "sextant_answers_from_cache_total")
        dig(port, "c1.example.com", "A")
        results.check(metric(metrics(daemon.metrics_port), "sextant_answers_from_cache_total") == hits_before + 1,
                      "before: the chain is a cache hit")
        write(daemon.dir, "block.list", "c3.example.org\n")
        code, out, err = common.control(binary, ["reload"], socket_path=sock)
        results.check(code == 0 and "policy rebuilt" in out, "control reload rebuilds the policy", out + err)
        r = dig(port, "www.example.net", "A")
        results.check(r.status == "NOERROR" and r.answer("A"), "after: www.example.net no longer blocked", repr(r))
        r = dig(port, "c1.example.com", "A")
        results.check(r.status == "NXDOMAIN" and EDE_BLOCKED in r.ede,
                      "after: the cached chain that now meets the list was flushed", repr(r))
        results.check(re.search(r"[1-9]\d* cached answers flushed", out) is not None, "the reply counts the flush", out)
        r = dig(port, "www.example.com", "A")
        results.check(r.answer("A") == ["192.0.2.10"], "other cached answers stay", repr(r))
        # A broken zone: refused whole, the old copy stays, file:line named.
        write(daemon.dir, "r.rpz", "$ORIGIN rpz.r.\n@ 300 SOA ns h 2 1 1 1 1\nnx.example.org CNAME .\nbad A 1.2\n")
        os.kill(daemon.process.pid, signal.SIGHUP)
        time.sleep(1.0)
        results.check("r.rpz:4:" in daemon.log_text() and "previous copy stays" in daemon.log_text(),
                      "SIGHUP: the broken zone is reported with file:line", daemon.log_text()[-600:])
        results.check(dig(port, "nx.example.org", "A").status == "NXDOMAIN", "the old zone still applies")
        text = metrics(daemon.metrics_port)
        results.check(metric(text, "sextant_rpz_serial", zone="rpz.r.") == 1, "its serial is still the old one")
        results.check((metric(text, "sextant_policy_swaps_total") or 0) == 2, "two swaps counted")
        stopped_cleanly(results, daemon)


PARTS = {"local": part_local, "allowlist": part_allowlist, "blocklist": part_blocklist, "rpz": part_rpz,
         "views": part_views, "dns64": part_dns64, "eventlog": part_eventlog, "reload": part_reload}


def main(argv):
    if len(argv) != 2 or argv[1] not in PARTS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = common.Results("policy " + argv[1])
    PARTS[argv[1]](argv[0], results)
    return results.finish()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except common.TestFailure as e:
        print("FAIL %s" % e)
        print("policy: 0 passed, 1 failed")
        sys.exit(1)
