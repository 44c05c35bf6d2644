#!/usr/bin/python3
"""labnet.py: which prefixes SEXTANT_LAB_NET accepts, how text written for
the default lab is moved to another one, and the ports of a lab. Needs no
lab: labnet is loaded afresh with each environment."""
import importlib.util
import os
import sys

LAB_DIR = os.path.dirname(os.path.abspath(__file__))


def load(net=None):
    """labnet as a process with SEXTANT_LAB_NET=net (unset if None) sees it."""
    saved = dict(os.environ)
    os.environ.pop("SEXTANT_LAB_NET", None)
    if net is not None:
        os.environ["SEXTANT_LAB_NET"] = net
    try:
        spec = importlib.util.spec_from_file_location("labnet_under_test",
                                                      os.path.join(LAB_DIR, "labnet.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main():
    failed = 0
    for name in ("LAB_UNBOUND_PORT", "SEXTANT_IT_PORT"):     # the caller's overrides
        os.environ.pop(name, None)

    def check(ok, what):
        nonlocal failed
        print("%s %s" % ("ok  " if ok else "FAIL", what))
        failed += 0 if ok else 1

    default = load()
    check(default.NET == "127.53" and default.NET_INT == 0x7F350000, "unset: 127.53")
    check(load("").NET == "127.53", "empty: 127.53")
    zone = "a.root-servers.net. A 127.53.0.1 ; lame 127.53.2.9, not 10.0.127.53 or 127.530.0.1\n"
    check(default.to_lab(zone) == zone, "the default lab leaves text as it is")
    check(default.port("unbound") == 5391 and default.port("sextant") == 5300,
          "the default lab keeps 5391 and 5300")

    other = load("127.61")
    check(other.address("2.1") == "127.61.2.1" and other.NET_INT == 0x7F3D0000, "127.61: addresses")
    check(other.to_lab(zone) == "a.root-servers.net. A 127.61.0.1 ; lame 127.61.2.9, "
          "not 10.0.127.53 or 127.530.0.1\n", "127.61: only the lab's addresses move")
    check(other.port("unbound") == 5471 and other.port("sextant") == 5380, "127.61: 5471 and 5380")
    check(other.port("6000") == 6000, "a number is a number")
    os.environ["LAB_UNBOUND_PORT"] = "6001"        # read when the port is asked for
    try:
        check(other.port("unbound") == 6001 and other.port("sextant") == 5380,
              "LAB_UNBOUND_PORT overrides the unbound port only")
    finally:
        del os.environ["LAB_UNBOUND_PORT"]
    ports = {load("127.%d" % n).port(name) for n in range(1, 255) for name in ("unbound", "sextant")}
    check(len(ports) == 2 * 254 and max(ports) < 32768,
          "every prefix gets ports of its own, below the ephemeral range")
    try:
        other.port("nope")
        check(False, "an unknown port name is refused")
    except other.LabNetError:
        check(True, "an unknown port name is refused")

    for bad in ("127.0", "127.255", "127.053", "10.53", "127.53.0.0", "127.53/16", "localhost"):
        try:
            load(bad)
            check(False, "%r is refused" % bad)
        except SystemExit as e:
            check("SEXTANT_LAB_NET" in str(e), "%r is refused" % bad)
    print("%d failed" % failed)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
