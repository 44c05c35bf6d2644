#!/usr/bin/python3
"""Calibration: Unbound standing in for Sextant, to measure the noise floor.

    bench/cache_hit.py --sextant bench/unbound_as_sextant.py
    bench/transports.py --sextant bench/unbound_as_sextant.py

Reads the YAML config the benchmarks generate for Sextant (`-c FILE`),
writes the benchmarks' Unbound config with the same listeners next to it,
and execs Unbound (so the PID the benchmark measures is Unbound's). The
"Sextant / Unbound" ratios then compare two identical Unbound processes: an
A/A run, whose distance from 1.00x is the measurement noise of the machine.

Unbound has no DNS over QUIC: when the YAML asks for a DoQ listener, a UDP
socket is bound on that port and left unread (inherited across exec), so
the benchmark starts and its kdig DoQ loop reports 0 answered.
"""

import os
import socket
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402  (after the path setup)


def port_of(endpoints):
    """The port of the first "ADDR@PORT" of a YAML list, or None."""
    return int(str(endpoints[0]).rsplit("@", 1)[1]) if endpoints else None


def main():
    if "-c" not in sys.argv or sys.argv.index("-c") + 1 >= len(sys.argv):
        print("usage: %s -c SEXTANT_YAML" % sys.argv[0], file=sys.stderr)
        return 2
    path = sys.argv[sys.argv.index("-c") + 1]
    with open(path) as f:
        server = (yaml.safe_load(f) or {}).get("server", {})
    listeners = B.Listeners(port_of(server.get("listen")),
                            port_of(server.get("dot", {}).get("listen")),
                            port_of(server.get("doh", {}).get("listen")), None)
    tls = server.get("tls", {})
    unbound = B.unbound_server(os.path.dirname(os.path.abspath(path)), listeners,
                               tls.get("certificate") or None, tls.get("key") or None,
                               pin_cpu=False, name="unbound-as-sextant")
    doq = port_of(server.get("doq", {}).get("listen"))
    if doq:
        placeholder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        placeholder.bind(("127.0.0.1", doq))
        placeholder.set_inheritable(True)
    sys.stdout.flush()
    os.execvp(unbound.argv[0], unbound.argv)


if __name__ == "__main__":
    sys.exit(main())
