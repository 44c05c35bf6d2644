#!/usr/bin/python3
"""SIGTERM stops the daemon cleanly: within STOP_BOUND_S, exit code 0, and
the sanitizers (the test build uses ASan + UBSan) report nothing.

  sigterm_test.py SEXTANT_BINARY

The daemon (its own port) first answers a few questions, and the signal
arrives while resolutions are still in flight over UDP and TCP (names whose
servers never or only partly answer), so shutdown has real work to cancel.
"""
import os
import socket
import sys
import time

import dns.exception

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

STOP_BOUND_S = 3.0
IN_FLIGHT = ["www.all-dead.test.", "www.dead.test.", "n012345.big.test."]


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = common.Results("sigterm")
    daemon = common.Daemon(argv[0]).start()
    host, port = "127.0.0.1", daemon.port
    try:
        reply = common.udp_query(common.make_query("www.example.com.", "A"), host, port, timeout=5)
        results.check(common.answer_addresses(reply) == ["192.0.2.10"], "answers before the signal",
                      reply.to_text())
    except dns.exception.Timeout:
        results.check(False, "answers before the signal", "timeout")
    # Questions in flight over UDP and TCP: sent, not waited for.
    sockets = []
    for name in IN_FLIGHT:
        wire = common.make_query(name, "A").to_wire()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(wire, (host, port))
        t = socket.create_connection((host, port), timeout=2)
        t.sendall(len(wire).to_bytes(2, "big") + wire)
        sockets += [u, t]
    idle = socket.create_connection((host, port), timeout=2)   # an idle TCP client too
    sockets.append(idle)
    time.sleep(0.2)
    code, elapsed = daemon.stop(timeout=STOP_BOUND_S)
    for s in sockets:
        s.close()
    results.check(code is not None, "stopped within %.1f s of SIGTERM (%.2f s)"
                  % (STOP_BOUND_S, elapsed), "had to be killed")
    results.check(code == 0, "exit code 0", "exit code %s" % code)
    reports = daemon.sanitizer_reports()
    log = daemon.log_text()
    results.check(not reports, "no sanitizer report on stderr",
                  "\n" + "\n".join(reports[:10]) + "\n--- log tail ---\n" + log[-3000:])
    results.check(common.wait_until_answering(host, port, 0.5) is False,
                  "port %d no longer answers" % port)
    return results.finish()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except common.TestFailure as e:
        print("FAIL %s" % e)
        print("sigterm: 0 passed, 1 failed")
        sys.exit(1)
