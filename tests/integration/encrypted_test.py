#!/usr/bin/python3
"""DNS over TLS, HTTPS and QUIC through the daemon, with real clients.

  encrypted_test.py SEXTANT_BINARY [tls|h2c|reload]

tls (default): a daemon of its own with UDP/TCP, DoT, DoH (TLS) and DoQ on
free ports of 127.0.0.1 and a self-signed certificate from
scripts/make-test-cert.sh. Every client must get the answer the daemon gives
over UDP (rcode, AD bit, answer records) for a signed lab name
(www.example.com. A with DO: AD=1) and a signed negative answer
(nx.example.com. A with DO: NXDOMAIN, AD=1): kdig +tls / +https / +https-get
/ +quic, dig +tls / +https, curl POST and GET (parsed with dnspython), curl
--doh-url, dnsperf -m dot / -m doh. Then RFC 8467 padding (padded query →
padded answer over DoT/DoH/DoQ, never over UDP), the DoH cache-control
max-age against the answer's TTL, ALPN refusal (openssl s_client -alpn h3)
and the DoH error statuses 400 / 415 / 413.

h2c: a daemon with a cleartext DoH listener behind a trusted proxy
(server.doh.h2c, trusted-proxies: 127.0.0.2/32) and access control allowing
127.0.0.0/8 and 198.51.100.0/24 only. X-Forwarded-For must be believed from
127.0.0.2 only: a forwarded 203.0.113.9 → REFUSED, a forwarded 198.51.100.7
→ answered, and the same header from 127.0.0.3 (untrusted) is ignored.

Only 127.0.0.0/8 is contacted (curl --doh-url connects to ns1.example.com.,
the lab's sld1, 127.53.2.1 in the default lab, port 1, IPv4 only).
"""
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

MAKE_CERT = os.path.join(common.SOURCE_DIR, "scripts", "make-test-cert.sh")
PADDING_BLOCK = 468            # RFC 8467 §4.1 response block
EDNS_PADDING = 12              # option code (RFC 7830)
CLIENT_TIMEOUT = 20            # seconds for any one client process

POSITIVE = ("www.example.com.", "A")   # signed, AD=1, A 192.0.2.10
NEGATIVE = ("nx.example.com.", "A")    # signed NXDOMAIN, AD=1
CURL_DOH_NAME = "ns1.example.com"      # A = sld1's address: curl's connect stays on loopback
CURL_DOH_ADDRESS = common.labnet.address("2.1")    # tests/lab/zones/example.com.zone


# ---- running clients --------------------------------------------------------------
def run(argv, timeout=CLIENT_TIMEOUT, stdin=None):
    """Runs a client; returns (exit code, stdout, stderr) as text."""
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode(errors="replace"), "timeout after %d s" % timeout
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def run_bytes(argv, timeout=CLIENT_TIMEOUT):
    try:
        p = subprocess.run(argv, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, b"", "timeout after %d s" % timeout
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


# ---- what an answer is, whichever client got it ------------------------------------
def summary_of_message(reply):
    """(rcode, AD, sorted answer records as 'name TYPE rdata', authority types)."""
    answer = sorted("%s %s %s" % (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype), r.to_text())
                    for rrset in reply.answer if rrset.rdtype != dns.rdatatype.RRSIG for r in rrset)
    authority = sorted(set(dns.rdatatype.to_text(rrset.rdtype) for rrset in reply.authority))
    return (dns.rcode.to_text(reply.rcode()), bool(reply.flags & dns.flags.AD), answer, authority)


SECTION_RE = re.compile(r"^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION", re.I)


def summary_of_text(output):
    """The same summary from dig's or kdig's presentation output; None when
    the output holds no DNS header."""
    status = re.search(r"status: ([A-Z]+)", output)
    flags = re.search(r";; [Ff]lags: ([a-z ]*);", output)
    if not status or not flags:
        return None
    section = None
    answer, authority = [], set()
    for line in output.splitlines():
        m = SECTION_RE.match(line)
        if m:
            section = m.group(1).upper()
            continue
        if not line.strip() or line.startswith(";"):
            if not line.strip():
                section = None if section in ("ANSWER", "AUTHORITY") else section
            continue
        fields = line.split(None, 4)
        if len(fields) < 5 or fields[2] != "IN":
            continue
        name, _ttl, _class, rdtype, rdata = fields
        if section == "ANSWER" and rdtype != "RRSIG":
            answer.append("%s %s %s" % (name.lower(), rdtype, rdata.strip()))
        elif section == "AUTHORITY":
            authority.add(rdtype)
    return (status.group(1), "ad" in flags.group(1).split(), sorted(answer), sorted(authority))


# ---- the test --------------------------------------------------------------------
class Lab:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.dir = workdir
        code, out, err = run(["sh", MAKE_CERT, workdir])
        if code != 0:
            raise common.TestFailure("make-test-cert.sh failed: %s %s" % (out, err))
        self.cert = os.path.join(workdir, "cert.pem")
        self.key = os.path.join(workdir, "key.pem")


def write_full_config(daemon, server_extra, tail=""):
    """The lab config of sextant_common.write_config plus keys inside `server:`
    (write_config cannot nest them). Warm restart off, as write_config does."""
    tail = common.with_cache_settings(tail, "  warm-restart:\n    enabled: false\n")
    with open(daemon.config, "w") as f:
        f.write("server:\n"
                "  listen: [\"127.0.0.1@%d\"]\n"
                "  threads: 2\n"
                "%s"
                "resolver:\n"
                "  root-hints: %s\n"
                "  query-private-addresses: true\n"
                "dnssec:\n"
                "  trust-anchor-file: %s\n"
                "%s" % (daemon.port, server_extra, common.ROOT_HINTS, common.ROOT_ANCHOR, tail))


def base64url(wire):
    return base64.urlsafe_b64encode(wire).decode().rstrip("=")


def padding_options(reply):
    return [o for o in (reply.options if reply.edns >= 0 else []) if o.otype == EDNS_PADDING]


def parse_headers(text):
    """The last response's headers from curl -D (lower-case names)."""
    headers = {}
    for line in text.splitlines():
        if line.startswith("HTTP/"):
            headers = {":status": line.split()[1] if len(line.split()) > 1 else ""}
        elif ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return headers


def min_ttl(reply):
    """The TTL a DoH cache may keep the reply: smallest answer TTL, or for a
    negative answer min(SOA TTL, SOA MINIMUM) (RFC 8484 §5.1, RFC 2308)."""
    ttls = [rrset.ttl for rrset in reply.answer]
    if ttls:
        return min(ttls)
    for rrset in reply.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return min(rrset.ttl, rrset[0].minimum)
    return None


def raw_dot(port, cafile, wire, timeout=5.0):
    """One query over DoT (ALPN "dot", certificate verified); the answer's octets."""
    import socket
    import ssl
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["dot"])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s, \
            context.wrap_socket(s, server_hostname="localhost") as t:
        t.sendall(len(wire).to_bytes(2, "big") + wire)
        data = b""
        for _ in range(100):  # bounded; each recv returns data or ends the loop
            if len(data) >= 2 and len(data) >= 2 + int.from_bytes(data[:2], "big"):
                break
            chunk = t.recv(65535)
            if not chunk:
                break
            data += chunk
    if len(data) < 2:
        raise EOFError("no answer over DoT")
    return data[2:2 + int.from_bytes(data[:2], "big")]


def raw_h2_get(port, cafile, path, timeout=5.0):
    """One GET over HTTP/2 with python3-h2; returns ("status", CODE),
    ("goaway", ERROR_CODE), ("reset", ERROR_CODE), ("closed", None) or
    ("timeout", None)."""
    import socket
    import ssl
    import h2.config
    import h2.connection
    import h2.events
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as s:
            c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
            c.initiate_connection()
            c.send_headers(1, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                               (":path", path)], end_stream=True)
            s.sendall(c.data_to_send())
            for _ in range(50):  # bounded: a handful of frames is all we expect
                data = s.recv(65535)
                if not data:
                    return ("closed", None)
                for e in c.receive_data(data):
                    if isinstance(e, h2.events.ResponseReceived):
                        return ("status", dict(e.headers).get(b":status", b"").decode())
                    if isinstance(e, h2.events.ConnectionTerminated):
                        return ("goaway", int(e.error_code))
                    if isinstance(e, h2.events.StreamReset):
                        return ("reset", int(e.error_code))
                s.sendall(c.data_to_send())
    except socket.timeout:
        return ("timeout", None)
    except (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError) as e:
        # The server closed while our HEADERS were still arriving: the
        # kernel then resets the connection and the GOAWAY can be lost.
        return ("closed", type(e).__name__)
    except (OSError, ssl.SSLError) as e:
        return ("error", repr(e))
    return ("no verdict", None)


def tls_test(binary):
    results = common.Results("encrypted transports")
    workdir = tempfile.mkdtemp(prefix="sextant-enc-")
    lab = Lab(binary, workdir)
    dot, doh, doq = common.free_port(), common.free_port(), common.free_port()
    daemon = common.Daemon(binary, workdir=workdir)
    write_full_config(daemon,
                      "  dot:\n    listen: [\"127.0.0.1@%d\"]\n"
                      "  doh:\n    listen: [\"127.0.0.1@%d\"]\n    path: /dns-query\n"
                      "  doq:\n    listen: [\"127.0.0.1@%d\"]\n"
                      "  tls:\n    certificate: %s\n    key: %s\n" % (dot, doh, doq, lab.cert, lab.key))
    print("daemon: udp/tcp %d, dot %d, doh %d, doq %d; files in %s" % (daemon.port, dot, doh, doq, workdir),
          flush=True)
    cert = lab.cert
    url = "https://localhost:%d/dns-query" % doh
    with daemon:
        udp_port = daemon.port
        # The reference: what the daemon says over plain UDP (asked twice so
        # that the second, cached, answer is the one compared).
        expected = {}
        for qname, qtype in (POSITIVE, NEGATIVE):
            query = common.make_query(qname, qtype, dnssec=True)
            common.udp_query(query, "127.0.0.1", udp_port, timeout=5)
            reply = common.udp_query(common.make_query(qname, qtype, dnssec=True), "127.0.0.1", udp_port, timeout=5)
            expected[qname] = summary_of_message(reply)
        pos, neg = expected[POSITIVE[0]], expected[NEGATIVE[0]]
        # The reference itself must be right, or "same as UDP" means nothing.
        results.check(pos[:3] == ("NOERROR", True, ["www.example.com. A 192.0.2.10"]),
                      "udp reference: www.example.com. A NOERROR AD=1 192.0.2.10", str(pos))
        results.check(neg[:3] == ("NXDOMAIN", True, []) and "SOA" in neg[3],
                      "udp reference: nx.example.com. A NXDOMAIN AD=1 with SOA", str(neg))

        def same(name, summary, qname, output):
            want = expected[qname]
            results.check(summary == want, "%s %s: same answer as UDP" % (name, qname),
                          "expected %s, got %s; output:\n%s" % (want, summary, output[-3000:]))

        # -- kdig: DoT, DoH POST, DoH GET, DoQ (+quic/+https last) --------------------
        tls_opts = ["+tls-ca=%s" % cert, "+tls-hostname=localhost"]
        kdig_variants = [
            ("kdig +tls", dot, tls_opts, "TLS session"),
            ("kdig +https", doh, tls_opts + ["+https"], "HTTP session (HTTP/2-POST)"),
            ("kdig +https-get", doh, tls_opts + ["+https-get"], "HTTP session (HTTP/2-GET)"),
            ("kdig +quic", doq, tls_opts + ["+quic"], "QUIC session"),
        ]
        for name, port, opts, marker in kdig_variants:
            for qname, qtype in (POSITIVE, NEGATIVE):
                argv = ["kdig", "@127.0.0.1", "-p", str(port), "+dnssec", "+timeout=5", "+retry=0",
                        qname, qtype] + opts
                code, out, err = run(argv)
                results.check(code == 0 and marker in out, "%s %s: exit 0, %s" % (name, qname, marker),
                              "exit %s; %s\n%s" % (code, " ".join(argv), (out + err)[-2000:]))
                same(name, summary_of_text(out), qname, out + err)

        # -- dig: DoT and DoH (exit code is 0 even on certificate errors) -------
        dig_variants = [("dig +tls", dot, ["+tls"], "(TLS)"),
                        ("dig +https", doh, ["+https=/dns-query"], "(HTTPS)"),
                        ("dig +https-get", doh, ["+https-get=/dns-query"], "(HTTPS-GET)")]
        for name, port, opts, marker in dig_variants:
            for qname, qtype in (POSITIVE, NEGATIVE):
                argv = ["dig", "@127.0.0.1", "-p", str(port), "+dnssec", "+time=5", "+tries=1"] + opts + \
                       ["+tls-ca=%s" % cert, "+tls-hostname=localhost", qname, qtype]
                code, out, err = run(argv)
                text = out + err
                bad = [w for w in ("verification", "failed", "timed out", "connection refused") if w in text.lower()]
                results.check(code == 0 and marker in out and not bad,
                              "%s %s: verified, %s, no error" % (name, qname, marker),
                              "exit %s; words %s; %s\n%s" % (code, bad, " ".join(argv), text[-2000:]))
                same(name, summary_of_text(out), qname, text)

        # -- curl: POST and GET, answer parsed with dnspython ---------------------
        for qname, qtype in (POSITIVE, NEGATIVE):
            query = common.make_query(qname, qtype, dnssec=True)
            query.id = 0  # RFC 8484 §4.1: cache-friendly
            wire = query.to_wire()
            qfile = os.path.join(workdir, "q.bin")
            with open(qfile, "wb") as f:
                f.write(wire)
            for method in ("POST", "GET"):
                hfile = os.path.join(workdir, "headers.txt")
                if method == "POST":
                    argv = ["curl", "-sS", "--http2", "--max-time", "10", "--cacert", cert, "-D", hfile,
                            "-H", "content-type: application/dns-message", "--data-binary", "@" + qfile, url]
                else:
                    argv = ["curl", "-sS", "--http2", "--max-time", "10", "--cacert", cert, "-D", hfile,
                            url + "?dns=" + base64url(wire)]
                code, body, err = run_bytes(argv)
                headers = parse_headers(open(hfile, errors="replace").read()) if os.path.exists(hfile) else {}
                name = "curl %s %s" % (method, qname)
                results.check(code == 0 and headers.get(":status") == "200"
                              and headers.get("content-type") == "application/dns-message",
                              "%s: HTTP/2 200 application/dns-message" % name,
                              "exit %s, headers %s, %s" % (code, headers, err))
                try:
                    reply = dns.message.from_wire(body)
                except Exception as e:  # noqa: BLE001 - any parse failure is the finding
                    results.check(False, "%s: answer parses" % name, "%s: %r" % (e, body[:80]))
                    continue
                same(name, summary_of_message(reply), qname, reply.to_text())
                results.check(reply.id == 0, "%s: id 0 echoed" % name, "id %d" % reply.id)
                # cache-control max-age must not outlive the answer.
                ttl = min_ttl(reply)
                m = re.fullmatch(r"max-age=(\d+)", headers.get("cache-control", ""))
                print("  %s: cache-control %r, answer TTL %s" % (name, headers.get("cache-control"), ttl), flush=True)
                results.check(m is not None and ttl is not None and int(m.group(1)) <= ttl,
                              "%s: cache-control max-age <= TTL" % name,
                              "cache-control %r, answer TTL %s" % (headers.get("cache-control"), ttl))
                if os.path.exists(hfile):
                    os.unlink(hfile)

        # -- curl --doh-url: curl resolves a lab name through the daemon ----------
        argv = ["curl", "-v", "-4", "--max-time", "10", "--connect-timeout", "3", "--cacert", cert,
                "--doh-url", url, "http://%s:1/" % CURL_DOH_NAME]
        code, out, err = run(argv)
        results.check(CURL_DOH_ADDRESS in err and "Could not resolve" not in err,
                      "curl --doh-url resolves %s to %s" % (CURL_DOH_NAME, CURL_DOH_ADDRESS),
                      "exit %s; %s" % (code, err[-2000:]))

        # -- dnsperf over DoT and DoH: everything answered ----------------------
        qlist = os.path.join(workdir, "qfile")
        with open(qlist, "w") as f:
            f.write("www.example.com A\nnx.example.com A\nexample.com SOA\nwww.example.com AAAA\n"
                    "alias.example.com A\n")
        perf = [("dot", ["-m", "dot", "-p", str(dot)]),
                ("doh", ["-m", "doh", "-p", str(doh), "-O", "doh-uri=https://localhost/dns-query",
                         "-O", "doh-method=POST"])]
        for name, opts in perf:
            argv = ["dnsperf", "-s", "127.0.0.1", "-d", qlist, "-n", "40", "-c", "2", "-l", "5", "-t", "3"] + opts
            code, out, err = run(argv, timeout=30)
            sent = re.search(r"Queries sent:\s+(\d+)", out)
            done = re.search(r"Queries completed:\s+(\d+)", out)
            lost = re.search(r"Queries lost:\s+(\d+)", out)
            ok = (code == 0 and sent and done and lost and int(sent.group(1)) == 200
                  and int(done.group(1)) == 200 and int(lost.group(1)) == 0)
            results.check(bool(ok), "dnsperf -m %s: 200 sent, 200 completed, 0 lost" % name,
                          "exit %s; %s\n%s" % (code, " ".join(argv), (out + err)[-2500:]))
            print("  dnsperf -m %s: %s" % (name, " | ".join(
                l.strip() for l in out.splitlines() if re.search(r"Queries (sent|completed|lost)|Response codes|"
                                                                  r"Queries per second", l))), flush=True)

        # -- RFC 8467 padding ------------------------------------------------
        padded = common.make_query(POSITIVE[0], POSITIVE[1], dnssec=True)
        padded.use_edns(0, dns.flags.DO, 1232, pad=128)
        padded_wire = padded.to_wire()
        results.check(padding_options(dns.message.from_wire(padded_wire)),
                      "the padded query carries a padding option")
        # UDP: no padding in the answer.
        raw = common.raw_udp(padded_wire, "127.0.0.1", udp_port, timeout=3)
        reply = dns.message.from_wire(raw) if raw else None
        results.check(reply is not None and not padding_options(reply),
                      "udp: padded query, answer NOT padded",
                      "no reply" if reply is None else "%d octets, options %s" % (len(raw), reply.options))
        # DoT: raw TLS, length-prefixed, so the exact answer length is seen;
        # a query without padding must get an answer without padding.
        unpadded_wire = common.make_query(POSITIVE[0], POSITIVE[1], dnssec=True).to_wire()
        for label, wire, want_padding in (("padded", padded_wire, True), ("unpadded", unpadded_wire, False)):
            try:
                raw = raw_dot(dot, cert, wire)
                reply = dns.message.from_wire(raw)
                if want_padding:
                    results.check(len(raw) % PADDING_BLOCK == 0 and padding_options(reply),
                                  "dot: padded query, answer padded to a multiple of %d" % PADDING_BLOCK,
                                  "%d octets, options %s" % (len(raw), reply.options))
                else:
                    results.check(not padding_options(reply), "dot: unpadded query, answer NOT padded",
                                  "%d octets, options %s" % (len(raw), reply.options))
                same("dot (python, %s)" % label, summary_of_message(reply), POSITIVE[0], reply.to_text())
            except (OSError, EOFError, dns.exception.DNSException) as e:
                results.check(False, "dot: %s query answered" % label, repr(e))
        # DoH: curl, raw body.
        qfile = os.path.join(workdir, "padded.bin")
        with open(qfile, "wb") as f:
            f.write(padded_wire)
        code, body, err = run_bytes(["curl", "-sS", "--http2", "--max-time", "10", "--cacert", cert,
                                     "-H", "content-type: application/dns-message", "--data-binary", "@" + qfile,
                                     url])
        try:
            reply = dns.message.from_wire(body)
            results.check(len(body) % PADDING_BLOCK == 0 and padding_options(reply),
                          "doh: padded query, answer padded to a multiple of %d" % PADDING_BLOCK,
                          "%d octets, options %s" % (len(body), reply.options))
        except Exception as e:  # noqa: BLE001
            results.check(False, "doh: padded query answered", "exit %s %s %r %r" % (code, err, e, body[:80]))
        # DoQ: kdig +padding (prints ";; PADDING: N B" for the answer's option).
        argv = ["kdig", "@127.0.0.1", "-p", str(doq), "+dnssec", "+timeout=5", "+retry=0", "+padding",
                POSITIVE[0], POSITIVE[1]] + tls_opts + ["+quic"]
        code, out, err = run(argv)
        size = re.search(r";; Received (\d+) B", out)
        results.check(code == 0 and "PADDING" in out and size and int(size.group(1)) % PADDING_BLOCK == 0,
                      "doq: kdig +padding, answer padded to a multiple of %d" % PADDING_BLOCK,
                      "exit %s; %s\n%s" % (code, " ".join(argv), (out + err)[-2000:]))
        # And kdig over UDP with +padding: no padding back.
        argv = ["kdig", "@127.0.0.1", "-p", str(udp_port), "+dnssec", "+timeout=5", "+padding",
                POSITIVE[0], POSITIVE[1]]
        code, out, err = run(argv)
        results.check(code == 0 and "status: NOERROR" in out and "PADDING" not in out,
                      "udp: kdig +padding, answer NOT padded", (out + err)[-2000:])

        # -- ALPN: h3 refused on DoT and DoH; the right one accepted --------------
        for name, port, right in (("dot", dot, "dot"), ("doh", doh, "h2")):
            for alpn, should_work in (("h3", False), (right, True)):
                argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
                        "-alpn", alpn, "-CAfile", cert, "-verify_return_error"]
                code, out, err = run(argv, timeout=10, stdin=b"")
                text = out + err
                negotiated = re.search(r"ALPN protocol: (\S+)", text)
                if should_work:
                    results.check(negotiated is not None and negotiated.group(1) == right,
                                  "%s: ALPN %s accepted" % (name, alpn), "exit %s\n%s" % (code, text[-1500:]))
                else:
                    results.check(code != 0 and negotiated is None and "no application protocol" in text,
                                  "%s: ALPN %s refused (no_application_protocol alert)" % (name, alpn),
                                  "exit %s\n%s" % (code, text[-1500:]))

        # -- DoH error statuses through the daemon --------------------------------
        def status_of(extra_argv, target):
            argv = ["curl", "-sS", "--http2", "--max-time", "10", "--cacert", cert, "-o", "/dev/null",
                    "-w", "%{http_code}"] + extra_argv + [target]
            code, out, err = run(argv)
            return out.strip(), "exit %s %s %s" % (code, err, " ".join(argv)[:300])

        got, detail = status_of([], url + "?dns=%21%21not*base64url")
        results.check(got == "400", "doh GET bad base64url: 400", "got %s; %s" % (got, detail))
        got, detail = status_of(["-H", "content-type: text/plain", "--data-binary", "@" + qfile], url)
        results.check(got == "415", "doh POST wrong content-type: 415", "got %s; %s" % (got, detail))
        big = os.path.join(workdir, "big.bin")
        with open(big, "wb") as f:
            f.write(padded_wire[:12] + b"\0" * 70000)
        got, detail = status_of(["-H", "content-type: application/dns-message", "--data-binary", "@" + big], url)
        results.check(got == "413", "doh POST 70012-octet body: 413", "got %s; %s" % (got, detail))
        # A GET whose message is over 65535 octets (88000 characters): curl
        # and nghttp cannot send it as-is (nghttp silently truncates the URI
        # at 65535), so a raw HTTP/2 client (python3-h2) does. Acceptable: a
        # 413/414 status, or the connection closed with COMPRESSION_ERROR
        # (nghttp2's HPACK decoder caps one header field at 64 KiB), or closed
        # before the GOAWAY arrived (seen in about 1 of 3 tries: the daemon
        # closes with our request still unread, see the report); never 200.
        outcome = raw_h2_get(doh, cert, "/dns-query?dns=" + base64url(bytes(12) + os.urandom(66000 - 12)))
        print("  oversize GET outcome: %s" % (outcome,), flush=True)
        results.check(outcome in (("status", "413"), ("status", "414"), ("goaway", 9)) or outcome[0] == "closed",
                      "doh GET 66000-octet message: refused (413/414, GOAWAY COMPRESSION_ERROR or closed)",
                      "got %s" % (outcome,))
        got, detail = status_of([], url.replace("/dns-query", "/other") + "?dns=" + base64url(padded_wire))
        results.check(got == "404", "doh GET on another path: 404", "got %s; %s" % (got, detail))
        # After all that, the daemon still answers over DoH.
        got, detail = status_of([], url + "?dns=" + base64url(padded_wire))
        results.check(got == "200", "doh GET after the errors: 200", "got %s; %s" % (got, detail))

        code, elapsed = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(code == 0 and not reports, "daemon stopped cleanly",
                      "exit %s after %.1f s; %s" % (code, elapsed, reports[:5]))
        if results.failures:
            print("---- daemon log (last 60 lines) ----")
            print("\n".join(daemon.log_text().splitlines()[-60:]))
    if not results.failures:
        shutil.rmtree(workdir, ignore_errors=True)
    return results.finish()


def h2c_test(binary):
    results = common.Results("doh h2c behind a trusted proxy")
    workdir = tempfile.mkdtemp(prefix="sextant-h2c-")
    doh = common.free_port()
    daemon = common.Daemon(binary, workdir=workdir)
    write_full_config(daemon,
                      "  doh:\n    listen: [\"127.0.0.1@%d\"]\n    h2c: true\n"
                      "    trusted-proxies: [127.0.0.2/32]\n" % doh,
                      "access-control:\n"
                      "  - {subnet: 127.0.0.0/8, action: allow}\n"
                      "  - {subnet: 198.51.100.0/24, action: allow}\n")
    print("daemon: udp/tcp %d, doh h2c %d; files in %s" % (daemon.port, doh, workdir), flush=True)
    query = common.make_query(POSITIVE[0], POSITIVE[1], dnssec=True)
    query.id = 0
    url = "http://127.0.0.1:%d/dns-query?dns=%s" % (doh, base64url(query.to_wire()))
    with daemon:

        def ask(source, forwarded):
            argv = ["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10", "--interface", source]
            if forwarded:
                argv += ["-H", "X-Forwarded-For: %s" % forwarded]
            code, body, err = run_bytes(argv + [url])
            try:
                return dns.message.from_wire(body), ""
            except Exception as e:  # noqa: BLE001
                return None, "exit %s %s %r %r" % (code, err, e, body[:80])

        cases = [
            ("from trusted 127.0.0.2, X-Forwarded-For 203.0.113.9 (not allowed)", "127.0.0.2", "203.0.113.9",
             "REFUSED"),
            ("from trusted 127.0.0.2, X-Forwarded-For 198.51.100.7 (allowed)", "127.0.0.2", "198.51.100.7",
             "NOERROR"),
            ("from trusted 127.0.0.2, X-Forwarded-For 203.0.113.9, 127.0.0.2 (rightmost untrusted)", "127.0.0.2",
             "203.0.113.9, 127.0.0.2", "REFUSED"),
            ("from untrusted 127.0.0.3, X-Forwarded-For 203.0.113.9 (ignored)", "127.0.0.3", "203.0.113.9",
             "NOERROR"),
            ("from trusted 127.0.0.2, no X-Forwarded-For", "127.0.0.2", None, "NOERROR"),
        ]
        for what, source, forwarded, want in cases:
            reply, error = ask(source, forwarded)
            got = dns.rcode.to_text(reply.rcode()) if reply is not None else None
            ok = got == want
            if ok and want == "NOERROR":
                ok = common.answer_addresses(reply) == ["192.0.2.10"]
            if ok and want == "REFUSED":
                ok = not reply.answer and 18 in common.ede_codes(reply)
            results.check(ok, "h2c %s: %s%s" % (what, want, " + EDE 18" if want == "REFUSED" else ""),
                          error or reply.to_text())
        code, elapsed = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(code == 0 and not reports, "daemon stopped cleanly",
                      "exit %s after %.1f s; %s" % (code, elapsed, reports[:5]))
        if results.failures:
            print("---- daemon log (last 60 lines) ----")
            print("\n".join(daemon.log_text().splitlines()[-60:]))
    if not results.failures:
        shutil.rmtree(workdir, ignore_errors=True)
    return results.finish()


def certificate_fingerprint(port, alpn):
    """SHA-256 fingerprint of the certificate a new TLS connection is shown."""
    s_client = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-alpn", alpn,
                               "-servername", "localhost"], input=b"", capture_output=True, timeout=10)
    x509 = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=s_client.stdout,
                          capture_output=True, timeout=10)
    return x509.stdout.decode().strip()


def file_fingerprint(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", path],
                         capture_output=True, timeout=10)
    return out.stdout.decode().strip()


def reload_test(binary):
    """SIGHUP re-reads the certificate: new DoT and DoH connections get the
    new one; a broken file keeps the old one and the daemon keeps serving."""
    results = common.Results("certificate reload")
    workdir = tempfile.mkdtemp(prefix="sextant-reload-")
    lab = Lab(binary, workdir)
    dot, doh = common.free_port(), common.free_port()
    daemon = common.Daemon(binary, workdir=workdir)
    write_full_config(daemon,
                      "  dot:\n    listen: [\"127.0.0.1@%d\"]\n"
                      "  doh:\n    listen: [\"127.0.0.1@%d\"]\n"
                      "  tls:\n    certificate: %s\n    key: %s\n" % (dot, doh, lab.cert, lab.key))
    with daemon:
        first = file_fingerprint(lab.cert)
        results.check(certificate_fingerprint(dot, "dot") == first and first != "",
                      "DoT shows the configured certificate", first)
        fresh_dir = os.path.join(workdir, "new")
        code, out, err = run(["sh", MAKE_CERT, fresh_dir])
        if code != 0:
            raise common.TestFailure("make-test-cert.sh failed: %s %s" % (out, err))
        shutil.copy(os.path.join(fresh_dir, "cert.pem"), lab.cert)
        shutil.copy(os.path.join(fresh_dir, "key.pem"), lab.key)
        second = file_fingerprint(lab.cert)
        daemon.process.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        results.check(certificate_fingerprint(dot, "dot") == second != first,
                      "after SIGHUP new DoT connections get the new certificate")
        results.check(certificate_fingerprint(doh, "h2") == second, "and new DoH connections too")
        with open(lab.cert, "w") as f:
            f.write("not a certificate\n")
        daemon.process.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        results.check(certificate_fingerprint(dot, "dot") == second,
                      "a broken file keeps the previous certificate")
        # Answered locally (class CH is refused), so the lab's state does not matter.
        probe = dns.message.make_query("version.bind.", "TXT", "CH")
        reply = common.udp_query(probe, "127.0.0.1", daemon.port, timeout=5)
        results.check(reply.rcode() == dns.rcode.REFUSED, "the daemon still answers", reply.to_text())
        code, _ = daemon.stop()
        with open(daemon.log_path) as f:
            log = f.read()
        results.check("keeping the old certificate" in log, "the failed reload is logged", log[-2000:])
        results.check(code == 0 and not daemon.sanitizer_reports(), "daemon stopped cleanly")
    shutil.rmtree(workdir, ignore_errors=True)
    return results.finish()


def main(argv):
    if len(argv) not in (1, 2) or (len(argv) == 2 and argv[1] not in ("tls", "h2c", "reload")):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if len(argv) == 2 and argv[1] == "reload":
        return reload_test(argv[0])
    return h2c_test(argv[0]) if len(argv) == 2 and argv[1] == "h2c" else tls_test(argv[0])


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except common.TestFailure as e:
        print("FAIL %s" % e)
        print("encrypted transports: 0 passed, 1 failed")
        sys.exit(1)
