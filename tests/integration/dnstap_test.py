#!/usr/bin/python3
"""dnstap query logging, on short-lived daemons of their own, read back with
the real tools (fstrm_capture as the collector, dnstap-ldns as the reader):

  dnstap_test.py SEXTANT_BINARY

1. dnstap.socket: fstrm_capture listens on a Unix socket and writes a file.
   UDP and TCP queries (a miss, then a cache hit, then a FORMERR) each give
   one CLIENT_QUERY and one CLIENT_RESPONSE, with the client's address and
   port, the transport, the question, and the identity configured; with
   log-resolver-queries/-responses the walker's own queries to the lab and
   their answers are there too.
2. The collector starts after the daemon: logging catches up once it is there.
3. dnstap.file with log-queries: false: only responses are written.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402
import dns.query  # noqa: E402


def read_tap(path):
    """The frames of a dnstap file, as dnstap-ldns -y prints them: a dict of
    the envelope's and the message's fields ("message_type" for the inner
    type), plus "rcode" and "question" from the DNS message."""
    p = subprocess.run(["dnstap-ldns", "-y", "-r", path], capture_output=True, text=True, timeout=30)
    if p.returncode != 0 or "Error" in p.stderr:
        raise common.TestFailure("dnstap-ldns -r %s: exit %d: %s" % (path, p.returncode, p.stderr))
    frames = []
    for doc in p.stdout.split("\n---"):
        fields = {}
        in_question = False
        for line in doc.splitlines():
            indent = len(line) - len(line.lstrip(" "))
            text = line.strip()
            if text.startswith(";; ->>HEADER<<-") and "rcode:" in text:
                fields["rcode"] = text.split("rcode:")[1].split(",")[0].strip()
            elif text == ";; QUESTION SECTION:":
                in_question = True
            elif in_question and text.startswith(";"):
                words = text[1:].split()
                if words:
                    fields["question"] = words[0].lower()
                in_question = False
            elif not text.startswith(";") and ":" in text and indent <= 2:
                key, _, value = text.partition(":")
                if indent == 2 and key == "type":
                    key = "message_type"
                fields.setdefault(key, value.strip().strip('"'))
        if fields.get("type") == "MESSAGE":
            frames.append(fields)
    return frames


def start_capture(socket_path, out_path):
    capture = subprocess.Popen(["fstrm_capture", "-t", "protobuf:dnstap.Dnstap", "-u", socket_path,
                                "-w", out_path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not os.path.exists(socket_path):
        if time.monotonic() > deadline or capture.poll() is not None:
            raise common.TestFailure("fstrm_capture did not create %s" % socket_path)
        time.sleep(0.05)
    return capture


def stop_capture(capture):
    capture.send_signal(signal.SIGINT)  # fstrm_capture closes its file on SIGINT
    try:
        capture.wait(10)
    except subprocess.TimeoutExpired:
        capture.kill()
        capture.wait(5)


def queries(port):
    """A miss and a hit over UDP, one over TCP, and a FORMERR; returns
    (transport, client port) of the three well-formed ones."""
    sent = []
    for transport in ("udp", "udp", "tcp"):
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            source_port = s.getsockname()[1]
        query = common.make_query("www.example.com.", "A")
        ask = dns.query.udp if transport == "udp" else dns.query.tcp
        ask(query, "127.0.0.1", timeout=3, port=port, source="127.0.0.1", source_port=source_port)
        sent.append((transport.upper(), source_port))
    # A header with QDCOUNT 2: FORMERR.
    common.raw_udp(b"\x12\x34\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00", "127.0.0.1", port)
    return sent


def check_pairs(results, frames, sent, label, want_queries=True):
    expected = (["CLIENT_QUERY"] if want_queries else []) + ["CLIENT_RESPONSE"]
    for protocol, source_port in sent:
        mine = [f for f in frames if f.get("query_port") == str(source_port)
                and f.get("socket_protocol") == protocol]
        kinds = sorted(f.get("message_type", "") for f in mine)
        results.check(kinds == expected, "%s: %s from port %d logged as %s"
                      % (label, protocol, source_port, " + ".join(expected)), "frames: %s" % mine)
        for f in mine:
            results.check(f.get("query_address") == "127.0.0.1" and f.get("question") == "www.example.com."
                          and f.get("identity") == "lab-resolver",
                          "%s: %s %s carries address, question and identity"
                          % (label, protocol, f.get("message_type")), str(f))


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = argv[0]
    results = common.Results("dnstap query log")
    workdir = tempfile.mkdtemp(prefix="sextant-dnstap-")

    # 1 and 2: through a collector's socket, the collector started late.
    socket_path = os.path.join(workdir, "dnstap.sock")
    captured = os.path.join(workdir, "captured.tap")
    extra = ("dnstap:\n  socket: %s\n  identity: lab-resolver\n  log-resolver-queries: true\n"
             "  log-resolver-responses: true\n" % socket_path)
    capture = None
    try:
        with common.Daemon(binary, extra_config=extra, workdir=workdir) as daemon:
            capture = start_capture(socket_path, captured)
            # fstrm reconnects every few seconds: wait until frames flow.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                common.udp_query(common.make_query("warmup.example.com.", "A"), "127.0.0.1", daemon.port)
                time.sleep(0.5)
                if os.path.exists(captured) and os.path.getsize(captured) > 200:
                    break
            results.check(os.path.exists(captured) and os.path.getsize(captured) > 200,
                          "a collector started after the daemon receives frames", captured)
            sent = queries(daemon.port)
            time.sleep(1.5)  # fstrm's I/O thread flushes at least once a second
            code, _ = daemon.stop()
            results.check(code == 0, "daemon with dnstap.socket stops cleanly", "exit %s" % code)
            log = daemon.log_text()
            results.check(not any(m in log for m in common.SANITIZER_MARKERS), "no sanitizer report", log[-3000:])
    finally:
        if capture is not None:
            stop_capture(capture)
    frames = read_tap(captured)
    check_pairs(results, frames, sent, "socket")
    formerr = [f for f in frames if f.get("message_type") == "CLIENT_RESPONSE" and f.get("rcode") == "FORMERR"]
    results.check(len(formerr) == 1, "socket: the FORMERR answer is logged", "%d frames" % len(formerr))
    upstream_q = [f for f in frames if f.get("message_type") == "RESOLVER_QUERY"]
    upstream_r = [f for f in frames if f.get("message_type") == "RESOLVER_RESPONSE"]
    results.check(len(upstream_q) >= 1 and all(common.labnet.in_lab(f.get("response_address", ""))
                                               and f.get("response_port") == "53" for f in upstream_q),
                  "socket: the walker's queries are logged with the lab server asked",
                  "%d frames, e.g. %s" % (len(upstream_q), upstream_q[:1]))
    results.check(upstream_r and len(upstream_r) <= len(upstream_q)
                  and all("query_time" in f and "response_time" in f for f in upstream_r),
                  "socket: the answers to them too, with both times", "%d frames" % len(upstream_r))

    # 3: to a file, responses only.
    tap_file = os.path.join(workdir, "responses.tap")
    extra = ("dnstap:\n  file: %s\n  identity: lab-resolver\n  log-queries: false\n" % tap_file)
    with common.Daemon(binary, extra_config=extra, workdir=workdir) as daemon:
        sent = queries(daemon.port)
        code, _ = daemon.stop()
        results.check(code == 0, "daemon with dnstap.file stops cleanly", "exit %s" % code)
    frames = read_tap(tap_file)
    check_pairs(results, frames, sent, "file", want_queries=False)
    results.check(not [f for f in frames if f.get("message_type", "").startswith("RESOLVER_")],
                  "file: no resolver frames unless asked for", "")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
