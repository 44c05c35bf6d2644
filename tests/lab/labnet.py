#!/usr/bin/python3
"""Which lab this is: its address prefix on loopback and the ports on
127.0.0.1 that belong to it. Several labs can run on one machine (one per
developer or worktree), each on its own /16 of 127.0.0.0/8:

  SEXTANT_LAB_NET=127.N   the lab's servers live on 127.N.0.0/16
                          (default 127.53; N from 1 to 254: 127.0.x.x is
                          the resolver's under test and its clients')

Every address of the lab is NET + "." + a host part (address("0.1") is
root1). The committed zone sources and cases.tsv are written for the
default lab and translated by to_lab(); with the default prefix the
translation changes nothing, so the default lab is what it always was.

Ports on 127.0.0.1 that go with a lab (the lab's Unbound, the integration
tests' shared sextant) are a fixed base + 10 * (N - 53) mod 2560: the
default lab keeps 5391 and 5300, 127.61 gets 5471 and 5380. An environment
variable (LAB_UNBOUND_PORT, SEXTANT_IT_PORT) overrides each.

  labnet.py net          prints the prefix (127.53)
  labnet.py port NAME    prints the port NAME (unbound, sextant) of this lab
"""
import os
import re
import sys

DEFAULT_NET = "127.53"
NET_VARIABLE = "SEXTANT_LAB_NET"

# name -> (port in the default lab, environment variable that overrides it)
PORTS = {
    "unbound": (5391, "LAB_UNBOUND_PORT"),   # tests/lab/unbound/unbound-lab
    "sextant": (5300, "SEXTANT_IT_PORT"),    # tests/integration's shared daemon
}


class LabNetError(ValueError):
    pass


def parse_net(text):
    """The second octet of a "127.N" prefix; LabNetError otherwise."""
    match = re.fullmatch(r"127\.([1-9]\d{0,2})", text)     # no leading 0: octal to some parsers
    if not match or not 1 <= int(match.group(1)) <= 254:
        raise LabNetError("%s=%r: want 127.N with N from 1 to 254 (default %s)"
                          % (NET_VARIABLE, text, DEFAULT_NET))
    return int(match.group(1))


def _net_from_environment():
    text = os.environ.get(NET_VARIABLE) or DEFAULT_NET
    try:
        parse_net(text)
    except LabNetError as e:
        sys.exit("lab: %s" % e)
    return text


NET = _net_from_environment()
SECOND_OCTET = parse_net(NET)
NET_INT = 0x7F000000 | SECOND_OCTET << 16      # the prefix as a number, for packet filters
IS_DEFAULT = NET == DEFAULT_NET
PORT_OFFSET = (SECOND_OCTET - parse_net(DEFAULT_NET)) % 256 * 10

_DEFAULT_PREFIX = re.compile(r"(?<![\d.])%s\.(?=\d)" % re.escape(DEFAULT_NET))


def address(host):
    """The lab address with host part HOST ("2.1" -> "127.53.2.1")."""
    return "%s.%s" % (NET, host)


def in_lab(addr):
    return addr.startswith(NET + ".")


def to_lab(text):
    """TEXT written for the default lab, with its addresses moved to this lab."""
    return text if IS_DEFAULT else _DEFAULT_PREFIX.sub(NET + ".", text)


def port(name_or_number):
    """A port given as a number, or as the name of one of this lab's ports."""
    text = str(name_or_number)
    if text.isdigit():
        return int(text)
    if text not in PORTS:
        raise LabNetError("port %r: a number or one of %s" % (text, ", ".join(sorted(PORTS))))
    base, variable = PORTS[text]
    override = os.environ.get(variable)
    if override:
        if not override.isdigit():
            raise LabNetError("%s=%r is not a port number" % (variable, override))
        return int(override)
    return base + PORT_OFFSET


def port_argument(text):
    """For argparse: type=labnet.port_argument accepts 5300 or "sextant"."""
    import argparse
    try:
        return port(text)
    except LabNetError as e:
        raise argparse.ArgumentTypeError(str(e))


def main(argv):
    if argv == ["net"]:
        print(NET)
        return 0
    if len(argv) == 2 and argv[0] == "port":
        try:
            print(port(argv[1]))
        except LabNetError as e:
            print("labnet: %s" % e, file=sys.stderr)
            return 2
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
