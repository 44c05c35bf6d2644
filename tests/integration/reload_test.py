#!/usr/bin/python3
"""Reloading a running daemon (own daemon, own config file):

  reload_test.py SEXTANT_BINARY

1. `sextant control reload` after access-control, log-level and threads were
   edited: the new rules hold at once (127.0.0.1 refused, 127.0.0.2
   answered), threads is reported as needing a restart, and the cache is
   kept (a cached name is answered without asking upstream again).
2. SIGHUP after the rules were edited back: 127.0.0.1 is answered again.
3. A broken file: the reload fails with exit 1 and the running rules stay.
4. Negative trust anchors at run time: www.bogus-sig.test. is SERVFAIL;
   after `insecure-add bogus-sig.test` it is answered (without AD) and
   listed; after `insecure-remove` it is SERVFAIL again (the cache under the
   name is flushed both times). Then the same through the file and reload.
"""
import os
import signal
import sys
import tempfile
import time

import dns.exception
import dns.flags
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402
from sextant_common import control  # noqa: E402

NAME = "www.faults.test."


def rules(*allowed):
    return "access-control:\n" + "".join("  - {subnet: %s, action: allow}\n" % a for a in allowed)


def ask(port, source):
    try:
        return common.udp_query(common.make_query(NAME, "A"), "127.0.0.1", port, timeout=2.0, source=source)
    except dns.exception.Timeout:
        return None


def answered(reply):
    return reply is not None and reply.rcode() == dns.rcode.NOERROR and bool(reply.answer)


def refused(reply):
    return reply is not None and reply.rcode() == dns.rcode.REFUSED


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = argv[0]
    results = common.Results("reload")
    workdir = tempfile.mkdtemp(prefix="sextant-reload-")
    sock = os.path.join(workdir, "control.sock")
    control_section = "control:\n  socket: %s\n" % sock
    with common.Daemon(binary, extra_config=control_section + rules("127.0.0.0/8"), workdir=workdir) as daemon:
        port = daemon.port
        reply = ask(port, "127.0.0.1")
        results.check(answered(reply), "before: 127.0.0.1 answered", reply and reply.to_text())
        upstream_before = common.upstream_count(NAME)

        # 1. control reload
        common.write_config(daemon.config, port, 2, control_section + rules("127.0.0.2/32"))
        with open(daemon.config) as f:
            text = f.read()
        # log-level and threads live in the server: section the helper wrote.
        text = text.replace("  threads: 2\n", "  threads: 3\n  log-level: debug\n")
        with open(daemon.config, "w") as f:
            f.write(text)
        code, out, err = control(binary, ["reload"], sock)
        results.check(code == 0 and "ok: access-control applied (1 rules)" in out and "ok: log-level applied" in out,
                      "control reload applies access-control and log-level", "exit %d: %s%s" % (code, out, err))
        results.check("need a restart" in out and "server.threads" in out,
                      "a changed thread count is reported as needing a restart", out)
        reply = ask(port, "127.0.0.1")
        results.check(refused(reply), "after: 127.0.0.1 refused", reply and reply.to_text())
        reply = ask(port, "127.0.0.2")
        results.check(answered(reply), "after: 127.0.0.2 answered", reply and reply.to_text())
        results.check(common.upstream_count(NAME) == upstream_before,
                      "the cache was kept: no upstream query for the cached name",
                      "%d -> %d" % (upstream_before, common.upstream_count(NAME)))
        code, out, err = control(binary, ["reload"], sock)
        results.check(code == 0 and "access-control" not in out and "need a restart" in out,
                      "a second reload changes nothing more", out + err)

        # 2. SIGHUP
        common.write_config(daemon.config, port, 2, control_section + rules("127.0.0.0/8"))
        daemon.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        reply = None
        while time.monotonic() < deadline:
            reply = ask(port, "127.0.0.1")
            if answered(reply):
                break
            time.sleep(0.2)
        results.check(answered(reply), "SIGHUP: 127.0.0.1 answered again", reply and reply.to_text())

        # 3. a broken file
        with open(daemon.config, "a") as f:
            f.write("server:\n  nonsense-setting: 1\n")
        code, out, err = control(binary, ["reload"], sock)
        results.check(code == 1 and "keeping the running configuration" in err,
                      "a broken file: reload fails, exit 1", "exit %d: %s%s" % (code, out, err))
        reply = ask(port, "127.0.0.1")
        results.check(answered(reply), "a broken file: the running rules stay", reply and reply.to_text())

        # 4. negative trust anchors (the file is broken now: write a good one first)
        common.write_config(daemon.config, port, 2, control_section + rules("127.0.0.0/8"))
        control(binary, ["reload"], sock)

        def bogus():
            q = common.make_query("www.bogus-sig.test.", "A", dnssec=True)
            return common.udp_query(q, "127.0.0.1", port, timeout=3.0)
        reply = bogus()
        results.check(reply.rcode() == dns.rcode.SERVFAIL, "bogus-sig.test.: SERVFAIL", reply.to_text())
        code, out, err = control(binary, ["insecure-add", "bogus-sig.test"], sock)
        results.check(code == 0 and "now a negative trust anchor" in out, "insecure-add", out + err)
        reply = bogus()
        results.check(reply.rcode() == dns.rcode.NOERROR and common.answer_addresses(reply) == ["192.0.2.101"]
                      and not reply.flags & dns.flags.AD,
                      "under the NTA: answered, without AD", reply.to_text())
        code, out, err = control(binary, ["insecure-list"], sock)
        results.check(code == 0 and out == "bogus-sig.test.\n", "insecure-list", out + err)
        code, out, err = control(binary, ["insecure-remove", "bogus-sig.test"], sock)
        results.check(code == 0 and "validated again" in out, "insecure-remove", out + err)
        reply = bogus()
        results.check(reply.rcode() == dns.rcode.SERVFAIL, "NTA removed: SERVFAIL again", reply.to_text())
        code, out, err = control(binary, ["insecure-remove", "bogus-sig.test"], sock)
        results.check(code == 1 and "not a negative trust anchor" in err, "removing it twice exits 1", out + err)
        common.write_config(daemon.config, port, 2, control_section + rules("127.0.0.0/8"))
        with open(daemon.config) as f:
            text = f.read()
        # into the dnssec: section the helper wrote
        text = text.replace("  trust-anchor-file:", "  negative-trust-anchors: [bogus-sig.test]\n  trust-anchor-file:")
        with open(daemon.config, "w") as f:
            f.write(text)
        code, out, err = control(binary, ["reload"], sock)
        results.check(code == 0 and "negative-trust-anchors applied (1 names" in out, "NTAs from the file by reload",
                      out + err)
        reply = bogus()
        results.check(reply.rcode() == dns.rcode.NOERROR, "the file's NTA holds", reply.to_text())

        code, _ = daemon.stop()
        results.check(code == 0, "clean stop", "exit %s" % code)
        log = daemon.log_text()
        results.check("reload of" in log and "the cache was kept" in log, "reloads are logged", log[-2000:])
        results.check(not any(m in log for m in common.SANITIZER_MARKERS), "no sanitizer report", log[-3000:])
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
