#!/usr/bin/python3
"""RFC 5011 trust anchor maintenance against the lab, with a daemon of our
own (dnssec.auto-trust-anchor-file, hold-downs of seconds):

  rfc5011_test.py SEXTANT_BINARY

The lab's rollover.test. is an island of security (no DS in test.); its
only trust anchor is the state file this test seeds with the DS of its key
K1. Then the lab rolls the key over (tests/lab/rollover.py, `lab.py
rollover STAGE`):

1. start: K1 becomes VALID in the state file; www.rollover.test. has AD.
2. publish (K1 and K2, signed by K1): K2 goes ADDPEND, then VALID after the
   add hold-down; AD all along.
3. revoke (K1 with the REVOKE bit, signed by itself and K2; data by K2):
   K1 goes REVOKED; `control status` says so; AD all along, now through K2.
4. a restarted daemon reads the state file: K2 trusted, K1 not; AD.
5. after the remove hold-down K1 leaves the file.
6. a DNSKEY RRset signed by no trusted key (start again: K1 only, which is
   revoked here) changes nothing and answers SERVFAIL, never insecure.

The lab is put back to `start` at the end. About 30 s.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import dns.flags
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402
from sextant_common import control  # noqa: E402

LAB = os.path.join(common.LAB_DIR, "lab.py")
NAME = "www.rollover.test."
STATE_NAMES = {"1": "ADDPEND", "2": "VALID", "3": "MISSING", "4": "REVOKED"}


def rollover(stage):
    run = subprocess.run(["/usr/bin/python3", LAB, "rollover", stage], capture_output=True, text=True,
                         timeout=60)
    if run.returncode != 0:
        raise common.TestFailure("lab.py rollover %s failed: %s" % (stage, run.stderr.strip()))
    return json.loads(run.stdout.strip().splitlines()[-1])


def key_states(path):
    """{key tag as published: state name} from the state file."""
    states = {}
    try:
        with open(path) as f:
            for line in f:
                m = re.search(r"\{id = (\d+) .*;;state=(\d)", line)
                if m:
                    states[int(m.group(1))] = STATE_NAMES.get(m.group(2), m.group(2))
    except OSError:
        pass
    return states


def wait_for(path, want, seconds):
    """Waits until every tag of `want` has its state (and absent tags, None, are gone)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = key_states(path)
        if all(states.get(tag) == state for tag, state in want.items()):
            return states
        time.sleep(0.2)
    return key_states(path)


def ask(port):
    query = common.make_query(NAME, "A", dnssec=True)
    return common.udp_query(query, "127.0.0.1", port, timeout=3.0)


def secure(reply):
    return (reply.rcode() == dns.rcode.NOERROR and bool(reply.flags & dns.flags.AD)
            and common.answer_addresses(reply) == ["192.0.2.133"])


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = argv[0]
    res = common.Results("rfc5011")
    workdir = tempfile.mkdtemp(prefix="sextant-5011-")
    state = os.path.join(workdir, "rollover.key")
    sock = os.path.join(workdir, "control.sock")
    extra = ("  auto-trust-anchor-file: %s\n"
             "  trust-anchor-add-holddown: 4s\n"
             "  trust-anchor-remove-holddown: 6s\n"
             "  trust-anchor-refresh: 1s\n"
             "control:\n"
             "  socket: %s\n" % (state, sock))
    daemon = None
    try:
        keys = rollover("start")
        k1, k1r, k2 = keys["k1_tag"], keys["k1_revoked_tag"], keys["k2_tag"]
        with open(state, "w") as f:
            f.write(keys["k1_ds"] + "\n")
        daemon = common.Daemon(binary, extra_config=extra, workdir=workdir).start()

        # 1. The DS seed becomes K1, VALID.
        states = wait_for(state, {k1: "VALID"}, 10)
        res.check(states.get(k1) == "VALID", "start: K1 (%d) VALID in the state file" % k1, states)
        reply = ask(daemon.port)
        res.check(secure(reply), "start: %s has AD (island anchored by K1)" % NAME, reply)

        # 2. K2 published: ADDPEND, then VALID after the hold-down.
        rollover("publish")
        states = wait_for(state, {k2: "ADDPEND"}, 6)
        res.check(states.get(k2) == "ADDPEND" and states.get(k1) == "VALID",
                  "publish: K2 (%d) ADDPEND, K1 VALID" % k2, states)
        res.check(secure(ask(daemon.port)), "publish: AD during the add hold-down")
        states = wait_for(state, {k2: "VALID"}, 15)
        res.check(states.get(k2) == "VALID", "publish: K2 VALID after the add hold-down", states)

        # 3. K1 revoked; the zone now signs its data with K2.
        rollover("revoke")
        states = wait_for(state, {k1r: "REVOKED"}, 8)
        res.check(states.get(k1r) == "REVOKED" and states.get(k2) == "VALID",
                  "revoke: K1 REVOKED (tag %d with the bit), K2 VALID" % k1r, states)
        _, status, _ = control(binary, ["status"], socket_path=sock)
        res.check("key %d REVOKED" % k1r in status and "key %d VALID" % k2 in status,
                  "revoke: `control status` lists K1 REVOKED and K2 VALID", status)
        deadline = time.monotonic() + 6
        reply = ask(daemon.port)
        while not secure(reply) and time.monotonic() < deadline:
            time.sleep(0.5)
            reply = ask(daemon.port)
        res.check(secure(reply), "revoke: %s still has AD (through K2)" % NAME, reply)
        _, metrics, _ = control(binary, ["stats"], socket_path=sock)
        res.check('sextant_trust_anchor_keys{zone="rollover.test.",state="revoked"} 1' in metrics
                  and 'sextant_trust_anchor_keys{zone="rollover.test.",state="valid"} 1' in metrics,
                  "revoke: the key-state gauges say 1 valid, 1 revoked",
                  "\n".join(l for l in metrics.splitlines() if "trust_anchor" in l))

        # 4. Restart: the file is the memory.
        code, _ = daemon.stop()
        res.check(code == 0 and not daemon.sanitizer_reports(), "the daemon stopped cleanly",
                  daemon.sanitizer_reports())
        daemon = common.Daemon(binary, port=daemon.port, extra_config=extra, workdir=workdir).start()
        reply = ask(daemon.port)
        res.check(secure(reply), "restart: %s has AD from the state file's K2" % NAME, reply)

        # 5. The remove hold-down forgets K1.
        deadline = time.monotonic() + 15
        while k1r in key_states(state) and time.monotonic() < deadline:
            time.sleep(0.3)
        res.check(k1r not in key_states(state) and key_states(state).get(k2) == "VALID",
                  "after the remove hold-down only K2 is left", key_states(state))

        # 6. Back to K1 alone: no trusted key signs it. Nothing changes in the
        # file, and the answers fail rather than go insecure.
        rollover("start")
        time.sleep(3)
        res.check(key_states(state) == {k2: "VALID"}, "a set without a trusted key changes nothing",
                  key_states(state))
        reply = ask(daemon.port)
        res.check(reply.rcode() == dns.rcode.SERVFAIL and not reply.answer,
                  "a zone whose keys match no anchor: SERVFAIL (%s)" % common.ede_codes(reply), reply)
        code, _ = daemon.stop()
        res.check(code == 0 and not daemon.sanitizer_reports(), "the daemon stopped cleanly again",
                  daemon.sanitizer_reports())
        daemon = None
    except common.TestFailure as e:
        res.check(False, str(e))
    finally:
        if daemon is not None:
            daemon.stop()
        try:
            rollover("start")
        except (common.TestFailure, subprocess.SubprocessError):
            pass
    return res.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
