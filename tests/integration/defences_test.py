#!/usr/bin/python3
"""The defences of a public resolver (issue 16), each on a short-lived daemon
of its own (own port, own config, control socket for the counters):

  defences_test.py SEXTANT_BINARY cookies | client-cookies | rate-limit | rebinding

cookies     dig +cookie and kdig +cookie get a server cookie that dig calls
            "(good)"; sent back it is echoed; a forged server cookie is
            answered with a fresh one; a cookie of 11 octets gets FORMERR;
            TCP answers carry cookies too; the counters by verdict move.
client-cookies  toward authoritative servers (fakeauth's cookies and
            cookie-forge zones): the first query to a server carries an
            8-octet client cookie, later ones the server's cookie too; a
            forged UDP reply with another client cookie (and a false address)
            arriving before the real one is dropped and the query asked over
            TCP: the client gets the real address. With cookies.client off,
            the same forgery is believed (what the defence is for).
rate-limit  rate 20/s per /24, slip 2: a burst of 200 cache hits from one
            address gets about 20 answers, half the rest truncated, the rest
            nothing; meanwhile another /24, TCP, and a valid cookie (learned
            over TCP) are answered; the counters match. At 1/s with slip 1, dig gets
            TC and retries over TCP, dig +cookie gets BADCOOKIE and retries
            with the new cookie: both answered.
rebinding   rebinding.enabled with inside.rebind.faults.test. listed as
            private: names of fakeauth's rebind zone on private, loopback,
            CGNAT, link-local, ULA and IPv4-mapped addresses are REFUSED with
            EDE 15 (dig shows it), a mixed set loses its private address, a
            CNAME to a private name is refused, the exempt name and public
            names are answered; the same from the cache; counted. Off (the
            default), the private address is answered. With the zone added
            as a stub zone by a reload, its private addresses are answered.

Everything is bounded: at most a few hundred datagrams, seconds per part.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402
import topology  # noqa: E402  (tests/lab, on the path through sextant_common)

NAME = "www.example.com."
ADDRESS = "192.0.2.10"


def query_with_option(qname, data):
    option = dns.edns.GenericOption(dns.edns.COOKIE, data)
    return dns.message.make_query(qname, "A", use_edns=0, payload=1232, options=[option])


def run(argv, timeout=15):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def daemon_with(binary, extra, threads=2):
    workdir = tempfile.mkdtemp(prefix="sextant-defences-")
    socket_path = os.path.join(workdir, "control.sock")
    extra = "control:\n  socket: %s\n%s" % (socket_path, extra)
    return common.Daemon(binary, extra_config=extra, workdir=workdir, threads=threads), socket_path


def finish_daemon(results, daemon):
    code, elapsed = daemon.stop()
    reports = daemon.sanitizer_reports()
    results.check(code == 0 and not reports, "daemon stopped cleanly",
                  "exit %s after %.1f s; %s" % (code, elapsed, reports[:5]))


# ---- cookies ---------------------------------------------------------------
def test_cookies(binary, results):
    daemon, socket_path = daemon_with(binary, "")
    with daemon:
        port = daemon.port
        code, out = run(["dig", "@127.0.0.1", "-p", str(port), "+cookie", "+tries=2", NAME, "A"])
        m = re.search(r"; COOKIE: ([0-9a-f]{16})([0-9a-f]{32}) \(good\)", out)
        results.check(code == 0 and m is not None and ADDRESS in out,
                      "dig +cookie: answered with a 16-octet server cookie, (good)", out[-1500:])
        if m:
            client, server = m.group(1), m.group(2)
            results.check(server.startswith("01000000"), "the server cookie is RFC 9018 version 1", server)
            code, out = run(["dig", "@127.0.0.1", "-p", str(port), "+cookie=" + client + server, NAME, "A"])
            m2 = re.search(r"; COOKIE: ([0-9a-f]{48}) \(good\)", out)
            results.check(m2 is not None and m2.group(1) == client + server,
                          "dig sending it back: the same cookie is echoed (valid, fresh)", out[-1500:])
            forged = client + "01000000" + "%08x" % int(time.time()) + "00" * 8
            code, out = run(["dig", "@127.0.0.1", "-p", str(port), "+cookie=" + forged, NAME, "A"])
            m3 = re.search(r"; COOKIE: ([0-9a-f]{48})", out)
            results.check("status: NOERROR" in out and m3 is not None and m3.group(1) != forged
                          and m3.group(1).startswith(client),
                          "a forged server cookie: answered, with a fresh cookie", out[-1500:])
        code, out = run(["kdig", "@127.0.0.1", "-p", str(port), "+cookie", NAME, "A"])
        m = re.search(r";; COOKIE: ([0-9A-Fa-f]{48})", out)
        results.check(code == 0 and m is not None and ADDRESS in out, "kdig +cookie: answered with a cookie",
                      out[-1500:])
        code, out = run(["dig", "@127.0.0.1", "-p", str(port), "+tcp", "+cookie", NAME, "A"])
        results.check(re.search(r"; COOKIE: [0-9a-f]{48} \(good\)", out) is not None,
                      "dig +tcp +cookie: TCP answers carry cookies too", out[-1500:])
        reply = common.udp_query(query_with_option(NAME, b"\x01" * 11), "127.0.0.1", port)
        results.check(reply.rcode() == dns.rcode.FORMERR, "a cookie of 11 octets: FORMERR",
                      dns.rcode.to_text(reply.rcode()))
        s = common.control_stats(binary, socket_path)
        for verdict in ("client_only", "valid", "invalid", "malformed"):
            key = 'sextant_cookie_queries_total{verdict="%s"}' % verdict
            results.check(s.get(key, 0) >= 1, "counted: %s" % key, str(s.get(key)))
        finish_daemon(results, daemon)


# ---- cookies toward authoritative servers ------------------------------------
def fake_options(qname, qtype="A"):
    key = "%s/%s" % (qname.lower(), qtype)
    return common.fakectl("stats").get("options", {}).get(key, [])


def test_client_cookies(binary, results):
    zone = "cookies.faults.test."
    forge = "cookie-forge.faults.test."
    common.fakectl("reset")
    # One worker: each worker remembers servers' cookies in its own server
    # table, so with two the second query may go out from a worker that has
    # not met the server yet (client cookie only; failed 2 runs in 7).
    daemon, socket_path = daemon_with(binary, "", threads=1)
    with daemon:
        port = daemon.port
        ask = lambda name, qtype="A": common.udp_query(common.make_query(name, qtype), "127.0.0.1", port)  # noqa: E731
        first = ask("www." + zone)
        results.check(common.answer_addresses(first) == ["192.0.2.201"], "www.%s answered" % zone, first.to_text())
        ask("nothere." + zone)
        seen = fake_options("www." + zone) + fake_options("nothere." + zone)
        cookies = [o["cookie"] for o in seen if o["cookie"]]
        results.check(len(cookies) >= 2 and len(cookies[0]) == 16 and len(cookies[-1]) == 48
                      and cookies[-1].startswith(cookies[0]),
                      "the server got our client cookie, then it with its server cookie", str(seen))
        forged = ask("www." + forge)
        results.check(common.answer_addresses(forged) == ["192.0.2.200"],
                      "a forged UDP reply (another client cookie) is not believed: the real address",
                      forged.to_text())
        transports = [o["transport"] for o in fake_options("www." + forge)]
        results.check("tcp" in transports, "the query was asked again over TCP", str(transports))
        s = common.control_stats(binary, socket_path)
        results.check(s.get("sextant_walker_cookie_mismatches_total", 0) >= 1, "counted: cookie mismatches",
                      str(s.get("sextant_walker_cookie_mismatches_total")))
        finish_daemon(results, daemon)
    daemon, socket_path = daemon_with(binary, "cookies:\n  client: false\n")
    with daemon:
        reply = common.udp_query(common.make_query("www." + forge, "A"), "127.0.0.1", daemon.port)
        results.check(common.answer_addresses(reply) == ["192.0.2.66"],
                      "without client cookies the same forgery is believed (the test can fail)", reply.to_text())
        finish_daemon(results, daemon)


# ---- rebinding protection ----------------------------------------------------
REBIND = "rebind.faults.test."


def test_rebinding(binary, results):
    config = "rebinding:\n  enabled: true\n  private-zones: [inside.%s]\n" % REBIND
    daemon, socket_path = daemon_with(binary, config)
    with daemon:
        port = daemon.port
        refused = [("private", "A"), ("loopback", "A"), ("cgnat", "A"), ("linklocal", "A"), ("zero", "A"),
                   ("v6loop", "AAAA"), ("ula", "AAAA"), ("v6ll", "AAAA"), ("mapped", "AAAA"), ("alias", "A")]
        for round_ in ("miss", "hit"):
            for label, qtype in refused:
                reply = common.udp_query(common.make_query("%s.%s" % (label, REBIND), qtype), "127.0.0.1", port)
                results.check(reply.rcode() == dns.rcode.REFUSED and 15 in common.ede_codes(reply) and not reply.answer,
                              "%s: %s.%s %s refused with EDE 15" % (round_, label, REBIND, qtype), reply.to_text())
            reply = common.udp_query(common.make_query("mixed." + REBIND, "A"), "127.0.0.1", port)
            results.check(common.answer_addresses(reply) == ["192.0.2.44"],
                          "%s: mixed keeps only its public address" % round_, reply.to_text())
            reply = common.udp_query(common.make_query("inside." + REBIND, "A"), "127.0.0.1", port)
            results.check(common.answer_addresses(reply) == ["10.9.9.9"],
                          "%s: a name of a private zone keeps its private address" % round_, reply.to_text())
            for qtype, want in (("A", "192.0.2.45"), ("AAAA", "2001:db8::45")):
                reply = common.udp_query(common.make_query("public." + REBIND, qtype), "127.0.0.1", port)
                results.check(common.answer_addresses(reply, dns.rdatatype.from_text(qtype)) == [want],
                              "%s: public %s answered" % (round_, qtype), reply.to_text())
        code, out = run(["dig", "@127.0.0.1", "-p", str(port), "private." + REBIND, "A"])
        results.check("status: REFUSED" in out and "EDE: 15 (Blocked)" in out, "dig shows REFUSED and EDE 15",
                      out[-1500:])
        s = common.control_stats(binary, socket_path)
        results.check(s.get('sextant_rebinding_total{action="refused"}', 0) >= 21
                      and s.get('sextant_rebinding_total{action="removed"}', 0) >= 10,
                      "counted: refused answers and removed addresses",
                      "%s / %s" % (s.get('sextant_rebinding_total{action="refused"}'),
                                   s.get('sextant_rebinding_total{action="removed"}')))
        finish_daemon(results, daemon)
    daemon, _ = daemon_with(binary, "")
    with daemon:
        reply = common.udp_query(common.make_query("private." + REBIND, "A"), "127.0.0.1", daemon.port)
        results.check(common.answer_addresses(reply) == ["10.1.2.3"], "off (the default): answered as is",
                      reply.to_text())
        finish_daemon(results, daemon)
    # A stub zone is the operator's own servers: exempt, from the reload
    # that adds it on (the filter reads the walker's configured zones).
    daemon, socket_path = daemon_with(binary, "rebinding:\n  enabled: true\n")
    with daemon:
        port = daemon.port
        reply = common.udp_query(common.make_query("private." + REBIND, "A"), "127.0.0.1", port)
        results.check(reply.rcode() == dns.rcode.REFUSED, "no stub zone yet: private.%s refused" % REBIND,
                      reply.to_text())
        with open(daemon.config, "a") as f:
            f.write("stub-zones:\n  - {zone: %s, servers: ['%s']}\n"
                    % (REBIND, topology.FAKE_DEFENCE_ZONES["rebind"][0]))
        code, out, err = common.control(binary, ["reload"], socket_path)
        results.check(code == 0 and "stub-zones applied" in out, "reload adds the stub zone", out + err)
        for round_ in ("miss", "hit"):
            for label in ("private", "alias"):
                reply = common.udp_query(common.make_query("%s.%s" % (label, REBIND), "A"), "127.0.0.1", port)
                results.check(common.answer_addresses(reply) == ["10.1.2.3"],
                              "%s: %s.%s in a stub zone keeps its private address" % (round_, label, REBIND),
                              reply.to_text())
        finish_daemon(results, daemon)
    # What the policy writes is the operator's own, on a hit as on a miss: an
    # RPZ response-IP rewrite and a QNAME trigger to a private address.
    workdir = tempfile.mkdtemp(prefix="sextant-defences-rpz-")
    rpz = os.path.join(workdir, "private.rpz")
    with open(rpz, "w") as f:
        f.write("$ORIGIN rpz.private.\n$TTL 300\n@ SOA ns.rpz.private. admin.rpz.private. 1 3600 600 86400 60\n"
                "@ NS ns.rpz.private.\n32.45.2.0.192.rpz-ip A 10.20.30.40\nmixed.%s A 10.20.30.41\n"
                % REBIND.rstrip("."))
    daemon, _ = daemon_with(binary, "rebinding:\n  enabled: true\npolicy:\n  rpz:\n    - {file: %s}\n" % rpz)
    with daemon:
        for round_ in ("miss", "hit"):
            for name, want in (("public." + REBIND, "10.20.30.40"), ("mixed." + REBIND, "10.20.30.41")):
                reply = common.udp_query(common.make_query(name, "A"), "127.0.0.1", daemon.port)
                results.check(reply.rcode() == dns.rcode.NOERROR and common.answer_addresses(reply) == [want],
                              "%s: RPZ local data %s for %s is not screened" % (round_, want, name), reply.to_text())
        finish_daemon(results, daemon)


# ---- rate limiting ---------------------------------------------------------
def burst(port, count, source, timeout=1.5):
    """Sends `count` queries at once from `source`; returns the replies."""
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for i in range(count):
            q = common.make_query(NAME, "A")
            q.id = i
            s.sendto(q.to_wire(), ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                break
            replies.append(dns.message.from_wire(data))
    return replies


def test_rate_limit(binary, results):
    config = "rate-limit:\n  rate: 20\n  slip: 2\n"
    daemon, socket_path = daemon_with(binary, config)
    with daemon:
        port = daemon.port
        # Warm the cache from another /24, so that every burst query is a hit.
        common.udp_query(common.make_query(NAME, "A"), "127.0.0.1", port, source="127.0.9.1")
        started = time.monotonic()
        replies = burst(port, 200, "127.0.0.1")
        elapsed = time.monotonic() - started
        answered = [r for r in replies if not (r.flags & dns.flags.TC)]
        truncated = [r for r in replies if r.flags & dns.flags.TC]
        limited = 200 - len(answered)
        # The burst (20) plus what 20/s refills while the burst is read. The
        # client reads only after sending all 200, so on a loaded machine a
        # reply or two may be lost from its socket (CI once saw 19): the lower
        # bound allows that; the upper bound is what shows the limiting.
        results.check(18 <= len(answered) <= 20 + 20 * elapsed + 2,
                      "a burst of 200: about the bucket's 20 answered",
                      "%d answered in %.2f s" % (len(answered), elapsed))
        results.check(abs(len(truncated) - limited / 2) <= 2 and all(not r.answer for r in truncated),
                      "half of the limited ones slip as empty TC=1 answers",
                      "%d truncated of %d limited" % (len(truncated), limited))
        other = common.udp_query(common.make_query(NAME, "A"), "127.0.0.1", port, source="127.0.1.1")
        results.check(common.answer_addresses(other) == [ADDRESS] and not other.flags & dns.flags.TC,
                      "meanwhile another /24 is answered", other.to_text())
        tcp = common.tcp_query(query_with_option(NAME, b"\x11" * 8), "127.0.0.1", port)
        results.check(common.answer_addresses(tcp) == [ADDRESS], "meanwhile TCP from the limited /24 is answered",
                      tcp.to_text())
        cookie = None
        for option in tcp.options:
            if option.otype == dns.edns.COOKIE:
                cookie = option.to_wire() if hasattr(option, "to_wire") else None
                if cookie is None:  # dnspython's CookieOption
                    cookie = option.client + option.server
        ok = 0
        for _ in range(10):
            try:
                r = common.udp_query(query_with_option(NAME, cookie), "127.0.0.1", port, timeout=1.0)
                ok += 1 if common.answer_addresses(r) == [ADDRESS] and not r.flags & dns.flags.TC else 0
            except Exception:  # noqa: BLE001 (a timeout is a failure here)
                pass
        results.check(cookie is not None and len(cookie) == 24 and ok == 10,
                      "a valid cookie (learned over TCP) exempts the limited address: 10 of 10 answered",
                      "cookie %s, %d answered" % (cookie.hex() if cookie else None, ok))
        s = common.control_stats(binary, socket_path)
        dropped = s.get('sextant_rate_limited_total{action="dropped"}', -1)
        slipped = s.get('sextant_rate_limited_total{action="truncated"}', -1)
        results.check(slipped == len(truncated) and dropped + slipped == limited,
                      "counted: dropped and truncated",
                      "dropped %s truncated %s (seen %d limited, %d truncated)"
                      % (dropped, slipped, limited, len(truncated)))
        finish_daemon(results, daemon)

    # One answer a second: dig, asking right after a burst, is over it.
    daemon, socket_path = daemon_with(binary, "rate-limit:\n  rate: 1\n  slip: 1\n")
    with daemon:
        port = daemon.port
        common.udp_query(common.make_query(NAME, "A"), "127.0.0.1", port, source="127.0.9.1")
        burst(port, 5, "127.0.0.1", timeout=0.1)
        code, out = run(["dig", "@127.0.0.1", "-p", str(port), "-b", "127.0.0.1", "+nocookie", "+tries=1", NAME, "A"])
        results.check("Truncated, retrying in TCP mode" in out and ADDRESS in out,
                      "slip 1: dig gets TC=1 and is answered over TCP", out[-1500:])
        burst(port, 5, "127.0.0.1", timeout=0.1)
        code, out = run(["dig", "@127.0.0.1", "-p", str(port), "-b", "127.0.0.1", "+cookie", "+tries=1", NAME, "A"])
        results.check("BADCOOKIE, retrying" in out and ADDRESS in out and "(good)" in out,
                      "slip 1: dig +cookie gets BADCOOKIE and is answered with the new cookie", out[-1500:])
        s = common.control_stats(binary, socket_path)
        results.check(s.get('sextant_rate_limited_total{action="badcookie"}', 0) >= 1, "counted: badcookie",
                      str(s.get('sextant_rate_limited_total{action="badcookie"}')))
        finish_daemon(results, daemon)


def main(argv):
    parts = {"cookies": test_cookies, "client-cookies": test_client_cookies, "rate-limit": test_rate_limit,
             "rebinding": test_rebinding}
    if len(argv) != 2 or argv[1] not in parts:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary, part = argv
    results = common.Results("defences: " + part)
    parts[part](binary, results)
    return results.finish()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except common.TestFailure as e:
        print("FAIL %s" % e)
        print("defences: 0 passed, 1 failed")
        sys.exit(1)
