#!/usr/bin/python3
"""scripts/sextant.service passes `systemd-analyze verify` (with the paths
pointed at the built binary). Skipped (exit 77) without systemd-analyze.

  systemd_unit_test.py SEXTANT_BINARY
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts", "sextant.service")


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("systemd-analyze not installed: skipping")
        return 77
    with open(UNIT) as f:
        text = f.read()
    text = text.replace("/usr/local/sbin/sextant", os.path.abspath(argv[0]))
    with tempfile.TemporaryDirectory(prefix="sextant-unit-") as d:
        path = os.path.join(d, "sextant.service")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([analyze, "verify", path], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (p.stdout + p.stderr).splitlines() if "sextant.service" in line]
    if p.returncode != 0 or complaints:
        print("FAIL systemd-analyze verify: exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
        return 1
    print("ok   scripts/sextant.service passes systemd-analyze verify")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
