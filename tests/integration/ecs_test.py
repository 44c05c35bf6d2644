#!/usr/bin/python3
"""EDNS Client Subnet (RFC 7871, issue 16 §5) end to end, on a daemon of its
own against fakeauth's ecs zone (www A 198.51.100.<third octet of the subnet
it gets>, scope /24; 198.51.100.254 without the option):

  ecs_test.py SEXTANT_BINARY

- clients on two /24s of loopback get their own subnet's answer; a second
  client of the first /24 is answered from the scoped cache (fakeauth sees
  nothing new);
- dig +subnet and kdig +subnet from a trusted client (ecs.trusted-clients):
  its subnet is what fakeauth gets, the answer is that subnet's and the
  option comes back with scope 24;
- the same from an untrusted client: its option is ignored (fakeauth gets
  the client's own /24), echoed with scope 0;
- +subnet=0.0.0.0/0 (RFC 7871 §7.1.2): no subnet sent, the default answer;
- a malformed option: FORMERR;
- a zone that is not listed (cookies.faults.test.) never sees an ECS option;
- the counters; and with ECS off (the default) nothing is sent;
- the DoH JSON API's edns_client_subnet (curl over cleartext HTTP/1.1):
  from the trusted client, that subnet's answer and
  "edns_client_subnet":"ADDRESS/24"; from another client, ignored (its own
  /24's answer, scope 0); a bad value: HTTP 400;
- a local-data CNAME into the ecs zone: its target is resolved with each
  client's subnet.

Bounded: a few dozen queries, seconds.
"""
import os
import re
import subprocess
import sys
import tempfile

import json

import dns.edns
import dns.message
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402
import labnet  # noqa: E402  (tests/lab, on the path through sextant_common)

ZONE = "ecs.faults.test."
NAME = "www." + ZONE
UNLISTED = "www.cookies.faults.test."
# Client source addresses on loopback, inside this lab's /16 (unused host
# numbers): a trusted client, and two /24s of untrusted ones.
TRUSTED = labnet.address("250.1")
CLIENT_A1, CLIENT_A2 = labnet.address("251.1"), labnet.address("251.2")
CLIENT_B = labnet.address("252.1")


def third_octet(address):
    return int(address.split(".")[2])


def run(argv, timeout=15):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def subnets_seen(qname):
    key = "%s/A" % qname.lower()
    return [o["subnet"] for o in common.fakectl("stats").get("options", {}).get(key, [])]


def daemon_with(binary, extra):
    workdir = tempfile.mkdtemp(prefix="sextant-ecs-")
    socket_path = os.path.join(workdir, "control.sock")
    extra = "control:\n  socket: %s\n%s" % (socket_path, extra)
    return common.Daemon(binary, extra_config=extra, workdir=workdir, threads=1), socket_path


def finish_daemon(results, daemon):
    code, elapsed = daemon.stop()
    reports = daemon.sanitizer_reports()
    results.check(code == 0 and not reports, "daemon stopped cleanly",
                  "exit %s after %.1f s; %s" % (code, elapsed, reports[:5]))


def ask(port, qname, source, options=None):
    q = dns.message.make_query(qname, "A", use_edns=0, payload=1232, options=options or [])
    return common.udp_query(q, "127.0.0.1", port, source=source)


def ecs_echo(reply):
    for o in reply.options:
        if o.otype == dns.edns.ECS:
            return o
    return None


CONFIG = """ecs:
  enabled: true
  zones: [%s]
  add-for: ['0.0.0.0/0', '::/0']
  trusted-clients: [%s/32]
""" % (ZONE, TRUSTED)


def test_on(binary, results):
    common.fakectl("reset")
    daemon, socket_path = daemon_with(binary, CONFIG)
    with daemon:
        port = daemon.port
        a1 = ask(port, NAME, CLIENT_A1)
        results.check(common.answer_addresses(a1) == ["198.51.100.%d" % third_octet(CLIENT_A1)],
                      "a client of one /24 gets its subnet's answer", a1.to_text())
        b = ask(port, NAME, CLIENT_B)
        results.check(common.answer_addresses(b) == ["198.51.100.%d" % third_octet(CLIENT_B)],
                      "a client of another /24 gets another answer", b.to_text())
        seen = subnets_seen(NAME)
        want = ["%s.0/24" % CLIENT_A1.rsplit(".", 1)[0], "%s.0/24" % CLIENT_B.rsplit(".", 1)[0]]
        results.check(seen == want, "fakeauth got each client's /24", str(seen))
        results.check(ecs_echo(a1) is None, "no option in the answer to a client that sent none", a1.to_text())
        a2 = ask(port, NAME, CLIENT_A2)
        results.check(common.answer_addresses(a2) == common.answer_addresses(a1)
                      and subnets_seen(NAME) == want,
                      "a second client of the first /24: answered from the scoped cache", str(subnets_seen(NAME)))

        # A trusted client's own option (dig and kdig).
        code, out = run(["dig", "@127.0.0.1", "-p", str(port), "-b", TRUSTED, "+subnet=203.0.113.77/32", NAME, "A"])
        results.check(code == 0 and "198.51.100.113" in out
                      and re.search(r"CLIENT-SUBNET: 203\.0\.113\.77/32/24", out) is not None,
                      "dig +subnet from a trusted client: that subnet's answer, echoed with scope 24", out[-1500:])
        results.check(subnets_seen(NAME)[-1] == "203.0.113.0/24", "fakeauth got the client's subnet cut to /24",
                      str(subnets_seen(NAME)))
        code, out = run(["kdig", "@127.0.0.1", "-p", str(port), "-b", TRUSTED, "+subnet=203.0.114.0/24", NAME, "A"])
        results.check(code == 0 and "198.51.100.114" in out
                      and re.search(r"CLIENT-SUBNET: 203\.0\.114\.0/24/24", out) is not None,
                      "kdig +subnet from a trusted client: that subnet's answer, scope 24", out[-1500:])

        # An untrusted client's option: ignored, echoed with scope 0.
        before = len(subnets_seen(NAME))
        code, out = run(["dig", "@127.0.0.1", "-p", str(port), "-b", CLIENT_A2, "+subnet=203.0.115.0/24", NAME, "A"])
        results.check(code == 0 and "198.51.100.%d" % third_octet(CLIENT_A2) in out
                      and re.search(r"CLIENT-SUBNET: 203\.0\.115\.0/24/0", out) is not None,
                      "dig +subnet from an untrusted client: its own /24's answer, option echoed with scope 0",
                      out[-1500:])
        code, out = run(["kdig", "@127.0.0.1", "-p", str(port), "-b", CLIENT_B, "+subnet=203.0.116.0/24", NAME, "A"])
        results.check(code == 0 and "198.51.100.%d" % third_octet(CLIENT_B) in out
                      and re.search(r"CLIENT-SUBNET: 203\.0\.116\.0/24/0", out) is not None,
                      "kdig +subnet from an untrusted client: ignored, scope 0", out[-1500:])
        results.check(len(subnets_seen(NAME)) == before, "both from the scoped cache (nothing new upstream)",
                      str(subnets_seen(NAME)))

        # Source prefix 0: do not reveal me.
        code, out = run(["dig", "@127.0.0.1", "-p", str(port), "-b", CLIENT_A1, "+subnet=0.0.0.0/0", NAME, "A"])
        results.check(code == 0 and "198.51.100.254" in out and subnets_seen(NAME)[-1] is None,
                      "dig +subnet=0.0.0.0/0: no subnet sent, the zone's default answer", out[-1500:])

        # A malformed option (a prefix of 24 with one address octet).
        bad = dns.edns.GenericOption(dns.edns.ECS, b"\x00\x01\x18\x00\xcb")
        reply = ask(port, NAME, CLIENT_A1, [bad])
        results.check(reply.rcode() == dns.rcode.FORMERR, "a malformed ECS option: FORMERR",
                      dns.rcode.to_text(reply.rcode()))

        # A zone that is not listed never sees the subnet.
        u = ask(port, UNLISTED, CLIENT_A1)
        ask(port, "nothere.cookies.faults.test.", CLIENT_B)
        unlisted = subnets_seen(UNLISTED) + subnets_seen("nothere.cookies.faults.test.")
        results.check(u.rcode() == dns.rcode.NOERROR and unlisted and all(s is None for s in unlisted),
                      "a zone that is not listed gets no ECS option", str(unlisted))

        s = common.control_stats(binary, socket_path)
        checks = {
            "sextant_walker_ecs_queries_total": lambda v: v >= 4,
            "sextant_walker_ecs_scoped_answers_total": lambda v: v >= 4,
            'sextant_ecs_client_options_total{action="used"}': lambda v: v >= 3,
            'sextant_ecs_client_options_total{action="ignored"}': lambda v: v >= 2,
            'sextant_ecs_client_options_total{action="formerr"}': lambda v: v == 1,
            "sextant_ecs_scoped_cache_hits_total": lambda v: v >= 3,
            'sextant_cache_entries{store="ecs_answers"}': lambda v: v >= 4,
        }
        for key, ok in checks.items():
            results.check(key in s and ok(s[key]), "counted: %s" % key, str(s.get(key)))
        finish_daemon(results, daemon)


def test_off(binary, results):
    common.fakectl("reset")
    daemon, socket_path = daemon_with(binary, "")
    with daemon:
        code, out = run(["dig", "@127.0.0.1", "-p", str(daemon.port), "-b", TRUSTED, "+subnet=203.0.113.0/24",
                         NAME, "A"])
        results.check(code == 0 and "198.51.100.254" in out and "CLIENT-SUBNET" not in out
                      and subnets_seen(NAME) == [None],
                      "ECS off (the default): nothing sent, nothing echoed", out[-1500:] + str(subnets_seen(NAME)))
        finish_daemon(results, daemon)


def curl_json(doh_port, source, query):
    """(HTTP status, parsed JSON or None) of one JSON API request."""
    argv = ["curl", "-sS", "--http1.1", "--max-time", "10", "--interface", source,
            "-H", "accept: application/dns-json", "-w", "\n%{http_code}",
            "http://127.0.0.1:%d/resolve?%s" % (doh_port, query)]
    code, out = run(argv)
    body, _, status = out.rpartition("\n")
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return status.strip(), doc, out


def test_json_api(binary, results):
    common.fakectl("reset")
    daemon, socket_path = daemon_with(binary, CONFIG + "policy:\n  local-data: ['shop.corp. 60 CNAME %s']\n" % NAME)
    doh_port = common.free_port()
    with open(daemon.config) as f:
        text = f.read()
    with open(daemon.config, "w") as f:
        f.write(text.replace("server:\n", "server:\n  doh:\n    listen: [\"127.0.0.1@%d\"]\n"
                             "    h2c: true\n    json: true\n" % doh_port, 1))
    with daemon:
        common.wait_until_answering("127.0.0.1", daemon.port, 10)
        status, doc, out = curl_json(doh_port, TRUSTED, "name=%s&edns_client_subnet=203.0.117.9/24" % NAME)
        results.check(status == "200" and doc is not None
                      and [a["data"] for a in doc.get("Answer", [])] == ["198.51.100.117"]
                      and doc.get("edns_client_subnet") == "203.0.117.0/24",
                      "JSON API edns_client_subnet from a trusted client: that subnet's answer, scope 24", out[-800:])
        results.check(subnets_seen(NAME)[-1:] == ["203.0.117.0/24"], "fakeauth got the parameter's subnet",
                      str(subnets_seen(NAME)))
        status, doc, out = curl_json(doh_port, CLIENT_B, "name=%s&edns_client_subnet=203.0.118.0%%2F24" % NAME)
        results.check(status == "200" and doc is not None
                      and [a["data"] for a in doc.get("Answer", [])] == ["198.51.100.%d" % third_octet(CLIENT_B)]
                      and doc.get("edns_client_subnet") == "203.0.118.0/0",
                      "JSON API edns_client_subnet from an untrusted client: ignored, scope 0", out[-800:])
        status, doc, out = curl_json(doh_port, TRUSTED, "name=%s&edns_client_subnet=203.0.117.9/33" % NAME)
        results.check(status == "400", "a bad edns_client_subnet: HTTP 400", out[-800:])

        for client in (CLIENT_A1, CLIENT_B):
            reply = ask(daemon.port, "shop.corp.", client)
            results.check(common.answer_addresses(reply) == ["198.51.100.%d" % third_octet(client)],
                          "a local-data CNAME's target resolved with the client's subnet (%s)" % client,
                          reply.to_text())
        finish_daemon(results, daemon)


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = common.Results("ecs")
    test_on(argv[0], results)
    test_off(argv[0], results)
    test_json_api(argv[0], results)
    return results.finish()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except common.TestFailure as e:
        print("FAIL %s" % e)
        print("ecs: 0 passed, 1 failed")
        sys.exit(1)
