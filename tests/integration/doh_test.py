#!/usr/bin/python3
"""DoH for every client, through the daemon against the lab: HTTP/1.1,
HTTP/2 and HTTP/3 on one port, the error statuses on each, Alt-Svc, the
JSON API, and cleartext HTTP/1.1 behind a trusted proxy.

  doh_test.py SEXTANT_BINARY DOH3_CLIENT [tls|cleartext]

tls (default): a daemon of its own with DoH over TLS (TCP) and over HTTP/3
(UDP) on the same free port of 127.0.0.1, the JSON API on, and a self-signed
certificate. Every client must get the answer the daemon gives over UDP for
a signed name (www.example.com. A with DO: AD=1) and a signed NXDOMAIN:
curl --http1.1 and --http2 (POST and GET, parsed with dnspython, max-age <=
the answer's TTL, Alt-Svc h3=":PORT"), bench/doh3_client over HTTP/3 (POST
and GET). Then 400 / 404 / 405 / 413 / 415 on HTTP/1.1, HTTP/2 and HTTP/3;
the JSON API with curl (Google's /resolve and Cloudflare's ?name= forms,
AD, NXDOMAIN with the SOA, a bad type: 400 with a JSON error) and over
HTTP/3; h2load --h1 and doh3_client load (every request answered).

cleartext: a daemon with server.doh.h2c (cleartext DoH behind a reverse
proxy), trusted proxy 127.0.0.2, access control allowing 127.0.0.0/8 and
198.51.100.0/24: curl --http1.1 over http:// gets answers, and its
X-Forwarded-For is believed from 127.0.0.2 only (203.0.113.9 -> REFUSED,
198.51.100.7 -> answered; from 127.0.0.3 ignored); h2c still works beside it.

Only 127.0.0.0/8 is contacted.
"""
import json
import os
import re
import shutil
import sys
import tempfile

import dns.message
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encrypted_test as enc  # noqa: E402
import sextant_common as common  # noqa: E402

POSITIVE = enc.POSITIVE
NEGATIVE = enc.NEGATIVE


def curl(version, extra, target, cert, timeout=10):
    """(exit code, body bytes, headers dict) of one curl request."""
    hfile = tempfile.mktemp(prefix="sextant-doh-headers-")
    argv = ["curl", "-sS", version, "--max-time", str(timeout), "-D", hfile] + \
           (["--cacert", cert] if cert else []) + extra + [target]
    code, body, err = enc.run_bytes(argv, timeout=timeout + 5)
    headers = {}
    if os.path.exists(hfile):
        headers = enc.parse_headers(open(hfile, errors="replace").read())
        os.unlink(hfile)
    headers["_error"] = err
    return code, body, headers


def doh3(client, port, cert, args, timeout=20):
    """bench/doh3_client against the daemon's HTTP/3 listener."""
    argv = [client, "-s", "127.0.0.1", "-p", str(port), "--cafile", cert, "--servername", "localhost",
            "--timeout", "5"] + args
    return enc.run(argv, timeout=timeout)


def doh3_raw(client, port, cert, workdir, args):
    """One raw request over HTTP/3: (status, headers dict, body bytes)."""
    out_file = os.path.join(workdir, "h3-body.bin")
    if os.path.exists(out_file):
        os.unlink(out_file)
    code, out, err = doh3(client, port, cert, args + ["-o", out_file])
    status = re.search(r"^status: (\d+)$", out, re.M)
    headers = dict(re.findall(r"^([a-z0-9-]+): (.*)$", out, re.M))
    body = open(out_file, "rb").read() if os.path.exists(out_file) else b""
    return (int(status.group(1)) if status else None), headers, body, out + err


def tls_test(binary, client):
    results = common.Results("doh for every client")
    workdir = tempfile.mkdtemp(prefix="sextant-doh-")
    lab = enc.Lab(binary, workdir)
    port = common.free_port()
    metrics_port = common.free_port()
    have_h3 = client != "none" and os.path.exists(client)
    daemon = common.Daemon(binary, workdir=workdir)
    enc.write_full_config(daemon,
                          "  doh:\n    listen: [\"127.0.0.1@%d\"]\n%s    json: true\n"
                          "  tls:\n    certificate: %s\n    key: %s\n"
                          % (port, "    http3-listen: [\"127.0.0.1@%d\"]\n" % port if have_h3 else "", lab.cert,
                             lab.key),
                          "metrics:\n  listen: [\"127.0.0.1@%d\"]\n" % metrics_port)
    print("daemon: udp/tcp %d, doh tcp+udp %d; files in %s" % (daemon.port, port, workdir), flush=True)
    if not have_h3:
        results.check(False, "bench/doh3_client is built", "not found: %s" % client)
    cert = lab.cert
    url = "https://localhost:%d/dns-query" % port
    with daemon:
        expected = {}
        for qname, qtype in (POSITIVE, NEGATIVE):
            common.udp_query(common.make_query(qname, qtype, dnssec=True), "127.0.0.1", daemon.port, timeout=5)
            reply = common.udp_query(common.make_query(qname, qtype, dnssec=True), "127.0.0.1", daemon.port,
                                     timeout=5)
            expected[qname] = enc.summary_of_message(reply)
        results.check(expected[POSITIVE[0]][:3] == ("NOERROR", True, ["www.example.com. A 192.0.2.10"]),
                      "udp reference: www.example.com. A NOERROR AD=1 192.0.2.10", str(expected[POSITIVE[0]]))
        results.check(expected[NEGATIVE[0]][:3] == ("NXDOMAIN", True, []),
                      "udp reference: nx.example.com. A NXDOMAIN AD=1", str(expected[NEGATIVE[0]]))

        def check_answer(name, qname, body, headers=None):
            try:
                reply = dns.message.from_wire(body)
            except Exception as e:  # noqa: BLE001 - any parse failure is the finding
                results.check(False, "%s: answer parses" % name, "%r: %r" % (e, body[:80]))
                return
            want = expected[qname]
            got = enc.summary_of_message(reply)
            results.check(got == want, "%s %s: same answer as UDP" % (name, qname), "expected %s, got %s" % (want, got))
            if headers is not None:
                ttl = enc.min_ttl(reply)
                m = re.fullmatch(r"max-age=(\d+)", headers.get("cache-control", ""))
                results.check(m is not None and ttl is not None and int(m.group(1)) <= ttl,
                              "%s %s: cache-control max-age <= TTL" % (name, qname),
                              "cache-control %r, TTL %s" % (headers.get("cache-control"), ttl))

        alt_svc = 'h3=":%d"; ma=86400' % port
        # -- curl over HTTP/1.1 and HTTP/2: POST and GET -------------------------------
        for version, label in (("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2")):
            for qname, qtype in (POSITIVE, NEGATIVE):
                query = common.make_query(qname, qtype, dnssec=True)
                query.id = 0
                wire = query.to_wire()
                qfile = os.path.join(workdir, "q.bin")
                with open(qfile, "wb") as f:
                    f.write(wire)
                for method in ("POST", "GET"):
                    if method == "POST":
                        extra, target = ["-H", "content-type: application/dns-message", "--data-binary", "@" + qfile], url
                    else:
                        extra, target = [], url + "?dns=" + enc.base64url(wire)
                    code, body, headers = curl(version, extra, target, cert)
                    name = "curl %s %s" % (label, method)
                    status_line_ok = headers.get(":status") == "200"
                    results.check(code == 0 and status_line_ok and headers.get("content-type") == "application/dns-message",
                                  "%s %s: 200 application/dns-message" % (name, qname),
                                  "exit %s, headers %s" % (code, headers))
                    check_answer(name, qname, body, headers)
                    if have_h3:
                        results.check(headers.get("alt-svc") == alt_svc, "%s: Alt-Svc %s" % (name, alt_svc),
                                      "headers %s" % headers)

        # -- HTTP/3 with bench/doh3_client ------------------------------------------
        if have_h3:
            for qname, qtype in (POSITIVE, NEGATIVE):
                query = common.make_query(qname, qtype, dnssec=True)
                query.id = 0
                wire = query.to_wire()
                qfile = os.path.join(workdir, "q3.bin")
                with open(qfile, "wb") as f:
                    f.write(wire)
                for method, args in (("POST", ["--request", "POST", "/dns-query", "--body", qfile]),
                                     ("GET", ["--request", "GET", "/dns-query?dns=" + enc.base64url(wire)])):
                    status, headers, body, text = doh3_raw(client, port, cert, workdir, args)
                    results.check(status == 200 and headers.get("content-type") == "application/dns-message",
                                  "HTTP/3 %s %s: 200 application/dns-message" % (method, qname), text[-1500:])
                    check_answer("HTTP/3 %s" % method, qname, body, headers)

        # -- every error status on every HTTP version --------------------------------
        query = common.make_query(POSITIVE[0], POSITIVE[1])
        query.id = 0
        good = os.path.join(workdir, "good.bin")
        with open(good, "wb") as f:
            f.write(query.to_wire())
        big = os.path.join(workdir, "big.bin")
        with open(big, "wb") as f:
            f.write(query.to_wire()[:12] + b"\0" * 70000)
        ct = ["-H", "content-type: application/dns-message"]
        cases = [  # (what, status, curl extra, curl path, doh3 args)
            ("GET bad base64url", 400, [], "/dns-query?dns=%21%21not*base64", ["--request", "GET", "/dns-query?dns=!!not*base64"]),
            ("GET without dns=", 400, [], "/dns-query", ["--request", "GET", "/dns-query"]),
            ("another path", 404, ct + ["--data-binary", "@" + good], "/other", ["--request", "POST", "/other", "--body", good]),
            ("PUT", 405, ct + ["-X", "PUT", "--data-binary", "@" + good], "/dns-query",
             ["--request", "PUT", "/dns-query", "--body", good]),
            ("POST 70012 octets", 413, ct + ["--data-binary", "@" + big], "/dns-query",
             ["--request", "POST", "/dns-query", "--body", big]),
            ("POST text/plain", 415, ["-H", "content-type: text/plain", "--data-binary", "@" + good], "/dns-query",
             ["--request", "POST", "/dns-query", "--body", good, "--content-type", "text/plain"]),
        ]
        target_base = "https://localhost:%d" % port
        for what, want, extra, path, h3_args in cases:
            for version, label in (("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2")):
                code, _, headers = curl(version, extra, target_base + path, cert)
                results.check(headers.get(":status") == str(want), "%s %s: %d" % (label, what, want),
                              "exit %s headers %s" % (code, headers))
            if have_h3:
                status, _, _, text = doh3_raw(client, port, cert, workdir, h3_args)
                results.check(status == want, "HTTP/3 %s: %d" % (what, want), text[-800:])

        # -- the JSON API -----------------------------------------------------------
        def json_get(path, version="--http2"):
            code, body, headers = curl(version, ["-H", "accept: application/dns-json"], target_base + path, cert)
            try:
                return headers, json.loads(body.decode())
            except ValueError:
                return headers, {"_unparsed": body[:200]}

        for path, label in (("/resolve?name=www.example.com&type=A&do=1", "Google form"),
                            ("/dns-query?name=www.example.com.&type=a", "Cloudflare form")):
            for version in ("--http1.1", "--http2"):
                headers, doc = json_get(path, version)
                answer = [a for a in doc.get("Answer", []) if a.get("type") == 1]
                results.check(headers.get(":status") == "200" and headers.get("content-type") == "application/dns-json"
                              and doc.get("Status") == 0 and answer and answer[0].get("data") == "192.0.2.10"
                              and answer[0].get("name") == "www.example.com.",
                              "JSON %s %s: Status 0, A 192.0.2.10" % (label, version), "%s %s" % (headers, doc))
                results.check(headers.get("access-control-allow-origin") == "*",
                              "JSON %s %s: Access-Control-Allow-Origin *" % (label, version), str(headers))
        headers, doc = json_get("/resolve?name=www.example.com&type=A&do=1")
        results.check(doc.get("AD") is True and any(a.get("type") == 46 for a in doc.get("Answer", [])),
                      "JSON do=1: AD true and the RRSIG", str(doc))
        m = re.fullmatch(r"max-age=(\d+)", headers.get("cache-control", ""))
        ttl = min([a["TTL"] for a in doc.get("Answer", [])] or [None]) if doc.get("Answer") else None
        results.check(m is not None and ttl is not None and int(m.group(1)) <= ttl,
                      "JSON: cache-control max-age <= TTL", "%s %s" % (headers, doc))
        headers, doc = json_get("/resolve?name=nx.example.com&type=A")
        results.check(doc.get("Status") == 3 and any(a.get("type") == 6 for a in doc.get("Authority", [])),
                      "JSON NXDOMAIN: Status 3 and the SOA", str(doc))
        headers, doc = json_get("/resolve?name=www.example.com&type=NOPE")
        results.check(headers.get(":status") == "400" and "error" in doc, "JSON bad type: 400 with an error",
                      "%s %s" % (headers, doc))
        if have_h3:
            status, headers, body, text = doh3_raw(client, port, cert, workdir,
                                                   ["--request", "GET", "/resolve?name=www.example.com&type=A"])
            try:
                doc = json.loads(body.decode())
            except ValueError:
                doc = {}
            results.check(status == 200 and any(a.get("data") == "192.0.2.10" for a in doc.get("Answer", [])),
                          "JSON over HTTP/3: A 192.0.2.10", text[-1500:])

        # -- load: h2load over HTTP/1.1, doh3_client over HTTP/3 -------------------------
        code, out, err = enc.run(["h2load", "--h1", "-n", "200", "-c", "2", "-m", "4", "-d", good, "-H",
                                  "content-type: application/dns-message", url], timeout=60)
        results.check("200 succeeded" in out and "status codes: 200 2xx" in out,
                      "h2load --h1: 200 requests, 200 answered 2xx", (out + err)[-1500:])
        if have_h3:
            qlist = os.path.join(workdir, "qfile")
            with open(qlist, "w") as f:
                f.write("www.example.com A\nnx.example.com A\nexample.com SOA\nwww.example.com AAAA\n")
            code, out, err = doh3(client, port, cert, ["-d", qlist, "-n", "200", "-c", "2", "-m", "10"], timeout=60)
            results.check(code == 0 and "Queries completed:    200 (100.00%)" in out and "Queries lost:         0" in out,
                          "doh3_client: 200 queries over 2 connections x 10 streams, all answered",
                          "exit %s\n%s" % (code, (out + err)[-1500:]))
            print("  doh3_client: %s" % " | ".join(l.strip() for l in out.splitlines()
                                                    if re.search(r"completed|per second|Latency", l)), flush=True)

        # -- the counters of all that, in /metrics ------------------------------------
        code, body, _ = curl("--http1.1", [], "http://127.0.0.1:%d/metrics" % metrics_port, None)
        text = body.decode(errors="replace")

        def sample(name, labels=""):
            m = re.search(r"^%s%s (\d+)$" % (re.escape(name), re.escape(labels)), text, re.M)
            return int(m.group(1)) if m else None

        versions = ["1.1", "2"] + (["3"] if have_h3 else [])
        for version in versions:
            n = sample("sextant_doh_requests_total", '{http="%s"}' % version)
            results.check(n is not None and n >= 10, "metrics: sextant_doh_requests_total{http=\"%s\"} counts" % version,
                          "got %s" % n)
        for status in ("200", "400", "404", "405", "413", "415"):
            n = sample("sextant_doh_responses_total", '{status="%s"}' % status)
            results.check(n is not None and n >= len(versions) - 1,
                          "metrics: sextant_doh_responses_total{status=\"%s\"} counts" % status, "got %s" % n)
        n = sample("sextant_doh_json_requests_total")
        results.check(n is not None and n >= 8, "metrics: sextant_doh_json_requests_total counts", "got %s" % n)

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


def cleartext_test(binary):
    results = common.Results("cleartext doh (HTTP/1.1 and h2c) behind a trusted proxy")
    workdir = tempfile.mkdtemp(prefix="sextant-doh-clear-")
    port = common.free_port()
    daemon = common.Daemon(binary, workdir=workdir)
    enc.write_full_config(daemon,
                          "  doh:\n    listen: [\"127.0.0.1@%d\"]\n    h2c: true\n"
                          "    trusted-proxies: [127.0.0.2/32]\n" % port,
                          "access-control:\n"
                          "  - {subnet: 127.0.0.0/8, action: allow}\n"
                          "  - {subnet: 198.51.100.0/24, action: allow}\n")
    print("daemon: udp/tcp %d, doh cleartext %d; files in %s" % (daemon.port, port, workdir), flush=True)
    query = common.make_query(POSITIVE[0], POSITIVE[1], dnssec=True)
    query.id = 0
    url = "http://127.0.0.1:%d/dns-query?dns=%s" % (port, enc.base64url(query.to_wire()))
    with daemon:
        cases = [
            ("from trusted 127.0.0.2, X-Forwarded-For 203.0.113.9 (not allowed)", "127.0.0.2", "203.0.113.9",
             "REFUSED"),
            ("from trusted 127.0.0.2, X-Forwarded-For 198.51.100.7 (allowed)", "127.0.0.2", "198.51.100.7",
             "NOERROR"),
            ("from untrusted 127.0.0.3, X-Forwarded-For 203.0.113.9 (ignored)", "127.0.0.3", "203.0.113.9",
             "NOERROR"),
        ]
        for version, label in (("--http1.1", "HTTP/1.1"), ("--http2-prior-knowledge", "h2c")):
            for what, source, forwarded, want in cases:
                code, body, headers = curl(version, ["--interface", source, "-H", "X-Forwarded-For: %s" % forwarded],
                                           url, None)
                try:
                    reply = dns.message.from_wire(body)
                    got = dns.rcode.to_text(reply.rcode())
                except Exception as e:  # noqa: BLE001
                    reply, got = None, "unparsed (%r, exit %s, %s)" % (e, code, headers.get("_error"))
                ok = got == want
                if ok and want == "NOERROR":
                    ok = common.answer_addresses(reply) == ["192.0.2.10"]
                if ok and want == "REFUSED":
                    ok = not reply.answer and 18 in common.ede_codes(reply)
                results.check(ok, "%s %s: %s" % (label, what, want), "got %s; %s" % (got, headers))
            # No Alt-Svc in cleartext: the proxy in front decides what it advertises.
            code, body, headers = curl(version, [], url, None)
            results.check(headers.get(":status") == "200" and "alt-svc" not in headers,
                          "%s: 200 without Alt-Svc" % label, str(headers))
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


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] not in ("tls", "cleartext")):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if len(argv) == 3 and argv[2] == "cleartext":
        return cleartext_test(argv[0])
    return tls_test(argv[0], argv[1])


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except common.TestFailure as e:
        print("FAIL %s" % e)
        print("doh: 0 passed, 1 failed")
        sys.exit(1)
