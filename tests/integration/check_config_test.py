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
