#!/usr/bin/python3
"""`sextant --check-config FILE`: accepts a good file (exit 0) and the
production example of docs/examples/, rejects a file with an unknown key
(non-zero exit, the message names FILE:LINE and the key) and one with a bad
value.

  check_config_test.py SEXTANT_BINARY
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

GOOD = """server:
  listen: ["127.0.0.1@5300"]
  threads: 2
resolver:
  root-hints: %s
  query-private-addresses: true
cache:
  serve-stale: true
  max-ttl: 1d
""" % common.ROOT_HINTS

# The unknown key is on line 5.
UNKNOWN_KEY = """server:
  listen: ["127.0.0.1@5300"]
  threads: 2
resolver:
  no-such-setting: 7
"""

# A known key with a value out of range, on line 3.
BAD_VALUE = """server:
  listen: ["127.0.0.1@5300"]
  threads: 100000
"""


# forward-zones: a pin that is not a SHA-256 digest, on line 6.
BAD_PIN = """forward-zones:
  - zone: corp.example
    upstreams:
      - 10.0.0.53
      - {address: 10.0.0.54, transport: tls,
         spki-pin: not-a-digest}
"""

# A CA file that looks like PEM but OpenSSL cannot load: the deeper check
# (the same loading the connections do) names the upstream's line, 4.
BAD_CA = """forward-zones:
  - zone: .
    upstreams:
      - {address: 192.0.2.1, transport: tls, tls-name: dns.example, ca-file: %s}
"""


def run(binary, path):
    done = subprocess.run([binary, "--check-config", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=20)
    return done.returncode, done.stdout + done.stderr


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = argv[0]
    results = common.Results("check-config")
    with tempfile.TemporaryDirectory(prefix="sextant-config-") as d:
        paths = {}
        for name, text in (("good", GOOD), ("unknown", UNKNOWN_KEY), ("badvalue", BAD_VALUE)):
            paths[name] = os.path.join(d, name + ".yaml")
            with open(paths[name], "w") as f:
                f.write(text)
        code, output = run(binary, paths["good"])
        results.check(code == 0, "good file accepted (exit 0)", "exit %d: %s" % (code, output))
        code, output = run(binary, paths["unknown"])
        results.check(code != 0, "unknown key rejected (non-zero exit)", "exit %d" % code)
        where = "%s:5" % paths["unknown"]
        results.check(where in output and "no-such-setting" in output,
                      "message names %s and the key" % where, output.strip())
        code, output = run(binary, paths["badvalue"])
        results.check(code != 0 and ("%s:3" % paths["badvalue"]) in output and "threads" in output,
                      "out-of-range value rejected with file:line and key",
                      "exit %d: %s" % (code, output.strip()))
        bad_pin = os.path.join(d, "badpin.yaml")
        with open(bad_pin, "w") as f:
            f.write(BAD_PIN)
        code, output = run(binary, bad_pin)
        results.check(code != 0 and ("%s:6" % bad_pin) in output and "spki-pin" in output,
                      "forward-zones: a bad pin rejected with file:line", "exit %d: %s" % (code, output.strip()))
        broken_ca = os.path.join(d, "broken-ca.pem")
        with open(broken_ca, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nMIIBnotbase64\n-----END CERTIFICATE-----\n")
        bad_ca = os.path.join(d, "badca.yaml")
        with open(bad_ca, "w") as f:
            f.write(BAD_CA % broken_ca)
        code, output = run(binary, bad_ca)
        results.check(code != 0 and ("%s:4" % bad_ca) in output and broken_ca in output,
                      "forward-zones: a CA bundle OpenSSL rejects named with file:line",
                      "exit %d: %s" % (code, output.strip()))
        example = os.path.join(common.SOURCE_DIR, "docs", "examples", "sextant.yaml")
        code, output = run(binary, example)
        results.check(code == 0, "the production example docs/examples/sextant.yaml is valid",
                      "exit %d: %s" % (code, output.strip()))
        code, output = run(binary, os.path.join(d, "missing.yaml"))
        results.check(code != 0, "missing file rejected", "exit %d: %s" % (code, output.strip()))
        # The RFC 5011 state file it names is read too: a bad record is
        # reported with its file and line.
        state = os.path.join(d, "root.key")
        with open(state, "w") as f:
            f.write(";;id: . 1\n. IN DNSKEY 257 3 13 AAAA ;;state=9\n")
        anchored = os.path.join(d, "anchored.yaml")
        with open(anchored, "w") as f:
            f.write("dnssec:\n  auto-trust-anchor-file: %s\n" % state)
        code, output = run(binary, anchored)
        results.check(code != 0 and ("%s:2" % state) in output,
                      "a broken auto-trust-anchor-file is reported with file:line",
                      "exit %d: %s" % (code, output.strip()))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
