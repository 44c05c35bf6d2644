#!/usr/bin/python3
"""Warm restart through real sockets: the cache saved at SIGTERM comes back at
the next start, so the same questions are answered from cache (no upstream
query) with the same answers, AD bits and aged TTLs; a damaged snapshot, one
written with other DNSSEC settings, a stub zone added since (names below it
are not restored), and `sextant control dump-cache --to FILE`.

  warm_restart_test.py SEXTANT_BINARY

One daemon of its own (2 workers, a control socket, its snapshot in a
temporary directory), restarted several times; each step is bounded.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

QUESTIONS = [
    ("www.example.com.", "A", True),         # signed, AD
    ("www.example.com.", "AAAA", True),
    ("alias.example.com.", "A", True),       # CNAME chain (a wire answer)
    ("nonexistent.example.com.", "A", True),  # NXDOMAIN with NSEC proof
    ("www.example.com.", "MX", True),        # NODATA
    ("example.com.", "MX", False),
] + [("n%06d.big.test." % i, "A", False) for i in range(1, 201)]


def ask_all(port):
    """{(qname, type, do): (rcode, AD, sorted answer rdata, min TTL)}"""
    out = {}
    for qname, qtype, do in QUESTIONS:
        reply = common.udp_query(common.make_query(qname, qtype, dnssec=do), "127.0.0.1", port, timeout=5)
        # Case-insensitive: names in rdata may carry the 0x20 case of the upstream query.
        rdata = sorted(("%s %s" % (r.name, rd.to_text())).lower() for r in reply.answer for rd in r
                       if rd.rdtype != 46)  # RRSIGs aside
        ttls = [r.ttl for r in reply.answer] + [r.ttl for r in reply.authority]
        out[(qname, qtype, do)] = (reply.rcode(), bool(reply.flags & 0x20), rdata, min(ttls) if ttls else None)
    return out


def upstream(values):
    return sum(v for k, v in values.items() if k.startswith("sextant_upstream_queries_total"))


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = argv[0]
    results = common.Results("warm_restart")
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="sextant-warm-"))
    snapshot = os.path.join(workdir, "cache.snapshot")
    sock = os.path.join(workdir, "control.sock")
    extra = ("control:\n  socket: %s\ncache:\n  warm-restart:\n    file: %s\n" % (sock, snapshot))
    daemon = common.Daemon(binary, extra_config=extra, workdir=workdir)
    try:
        daemon.start()
        port = daemon.port
        before = ask_all(port)
        results.check(before[("www.example.com.", "A", True)][:3] == (0, True, ["www.example.com. 192.0.2.10"]),
                      "cold: www.example.com A validated", str(before[("www.example.com.", "A", True)]))
        results.check(before[("nonexistent.example.com.", "A", True)][0] == 3, "cold: NXDOMAIN")
        code, elapsed = daemon.stop()
        results.check(code == 0, "SIGTERM: exit 0 (%.2f s)" % elapsed, "exit %s" % code)
        results.check(os.path.exists(snapshot), "the snapshot is written at stop")
        results.check("warm restart: saved the cache at stop" in daemon.log_text(), "the save is logged")

        # --- warm: everything from cache, nothing upstream, same answers.
        started = time.monotonic()
        daemon.start()
        answering = time.monotonic() - started
        s0 = common.control_stats(binary, sock)
        after = ask_all(port)
        s1 = common.control_stats(binary, sock)
        results.check(s1.get("sextant_cache_restored_entries", 0) > 200,
                      "restored entries reported (%d), answering %.2f s after start"
                      % (s1.get("sextant_cache_restored_entries", 0), answering))
        asked = s1["sextant_queries_total"] - s0["sextant_queries_total"]
        hits = s1["sextant_answers_from_cache_total"] - s0["sextant_answers_from_cache_total"]
        results.check(asked == len(QUESTIONS) and hits == asked,
                      "warm: all %d questions answered from cache" % len(QUESTIONS), "%d of %d" % (hits, asked))
        results.check(upstream(s1) == upstream(s0), "warm: no upstream query",
                      "%d upstream queries" % (upstream(s1) - upstream(s0)))
        same = [k for k in QUESTIONS if before[k][:3] == after[k][:3]]
        results.check(len(same) == len(QUESTIONS), "warm: same rcode, AD and answers for every question",
                      str([(k, before[k], after[k]) for k in QUESTIONS if k not in same][:3]))
        aged = [k for k in QUESTIONS if before[k][3] is not None and after[k][3] is not None
                and after[k][3] > before[k][3]]
        results.check(not aged, "warm: no TTL grew over the restart", str(aged[:3]))

        # --- dump-cache --to FILE writes a snapshot that starts a daemon warm.
        copy = os.path.join(workdir, "copy.snapshot")
        code, out, err = common.control(binary, ["dump-cache", "--to", copy], socket_path=sock)
        results.check(code == 0 and os.path.exists(copy) and open(copy, "rb").read(8) == b"SXTCACHE",
                      "dump-cache --to FILE writes a snapshot", out + err)
        code, out, err = common.control(binary, ["dump-cache"], socket_path=sock)
        results.check(code == 0 and "www.example.com." in out, "dump-cache without --to is still text")
        daemon.stop()
        os.remove(snapshot)
        shutil.copy(copy, snapshot)
        daemon.start()
        s0 = common.control_stats(binary, sock)
        ask_all(port)
        s1 = common.control_stats(binary, sock)
        results.check(upstream(s1) == upstream(s0), "a dump-cache --to file put in place starts warm",
                      "%d upstream queries" % (upstream(s1) - upstream(s0)))

        # --- a damaged snapshot: a warning, a cold start, right answers.
        daemon.stop()
        data = bytearray(open(snapshot, "rb").read())
        data[len(data) // 2] ^= 0x55
        open(snapshot, "wb").write(bytes(data))
        daemon.start()
        results.check("checksum mismatch" in daemon.log_text(), "a damaged snapshot is ignored with a warning")
        s0 = common.control_stats(binary, sock)
        damaged = ask_all(port)
        s1 = common.control_stats(binary, sock)
        results.check(upstream(s1) > upstream(s0), "... and the start is cold")
        results.check(all(damaged[k][:3] == before[k][:3] for k in QUESTIONS), "... with the right answers",
                      str([(k, before[k], damaged[k]) for k in QUESTIONS if damaged[k][:3] != before[k][:3]][:3]))

        # --- a stub zone that came since the snapshot: nothing at or below it
        # comes back (its answers may now come from other servers), the rest does.
        daemon.stop()
        stub = "stub-zones:\n  - {zone: big.test., servers: ['sld6.servers.test.']}\n"
        common.write_config(daemon.config, port, 2, extra + stub)
        daemon.start()
        results.check("forward or stub zone big.test. came, went or changed" in daemon.log_text(),
                      "a stub zone added since the snapshot is logged")
        s0 = common.control_stats(binary, sock)
        stubbed = ask_all(port)
        s1 = common.control_stats(binary, sock)
        hits = s1["sextant_answers_from_cache_total"] - s0["sextant_answers_from_cache_total"]
        outside = len([q for q in QUESTIONS if not q[0].endswith(".big.test.")])
        results.check(hits == outside, "... names below it are not restored, the %d others are" % outside,
                      "%d answers from cache" % hits)
        results.check(all(stubbed[k][:3] == before[k][:3] for k in QUESTIONS), "... with the right answers",
                      str([(k, before[k], stubbed[k]) for k in QUESTIONS if stubbed[k][:3] != before[k][:3]][:3]))
        common.write_config(daemon.config, port, 2, extra)

        # --- other DNSSEC settings: the snapshot is not used.
        daemon.stop()
        common.write_config(daemon.config, port, 2, extra)
        with open(daemon.config) as f:
            text = f.read()
        with open(daemon.config, "w") as f:
            f.write(text.replace("dnssec:\n", "dnssec:\n  validation: false\n", 1))
        daemon.start()
        results.check("written with DNSSEC validation on" in daemon.log_text(),
                      "a snapshot written with validation on is ignored when it is off")
        reply = common.udp_query(common.make_query("www.example.com.", "A", dnssec=True), "127.0.0.1", port)
        results.check(not (reply.flags & 0x20), "... and no AD comes from it")
    finally:
        daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(not reports, "no sanitizer report", "\n".join(reports[:10]))
        shutil.rmtree(workdir, ignore_errors=True)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
