#!/usr/bin/python3
"""server.user: the daemon gives up root once its sockets are open (own daemon).

  privileges_test.py SEXTANT_BINARY

Started as root with `server.user: nobody`: every uid and gid of the process
is nobody's afterwards, it still resolves (upstream sockets are opened after
the switch), the control socket belongs to nobody and still answers, and
SIGTERM stops it cleanly. An unknown user stops the start with a clear
error. Skipped (exit 77) when not run as root.
"""
import os
import pwd
import subprocess
import sys
import tempfile
import time

import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402


def ids(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                fields[key] = value.split()
    return fields


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("not root: skipping (the switch needs root)")
        return 77
    binary = argv[0]
    nobody = pwd.getpwnam("nobody")
    results = common.Results("privileges (server.user)")
    workdir = tempfile.mkdtemp(prefix="sextant-priv-")
    os.chmod(workdir, 0o755)
    sock = os.path.join(workdir, "control.sock")
    # RFC 5011 state in a directory nobody may not write to: the file is
    # handed over before the switch and rewritten in place.
    state = os.path.join(workdir, "root.key")
    extra = ("  auto-trust-anchor-file: %s\n  trust-anchor-refresh: 1s\n"
             "control:\n  socket: %s\n" % (state, sock))
    daemon = common.Daemon(binary, extra_config=extra, workdir=workdir)
    with open(daemon.config) as f:
        text = f.read()
    with open(daemon.config, "w") as f:
        f.write(text.replace("  threads: 2\n", "  threads: 2\n  user: nobody\n"))
    try:
        daemon.start()
        seen = ids(daemon.process.pid)
        results.check(seen["Uid"] == [str(nobody.pw_uid)] * 4 and seen["Gid"] == [str(nobody.pw_gid)] * 4,
                      "every uid and gid is nobody's", str(seen))
        results.check("0" not in seen.get("Groups", []), "no supplementary group root", str(seen))
        reply = common.udp_query(common.make_query("www.example.com.", "A"), "127.0.0.1", daemon.port)
        results.check(reply.rcode() == dns.rcode.NOERROR and common.answer_addresses(reply) == ["192.0.2.10"],
                      "still resolves (upstream sockets opened as nobody)", reply.to_text())
        st = os.stat(sock)
        results.check(st.st_uid == nobody.pw_uid and (st.st_mode & 0o777) == 0o660,
                      "the control socket belongs to nobody, mode 0660", "uid %d mode %o" % (st.st_uid, st.st_mode))
        code, out, err = common.control(binary, ["status"], sock)
        results.check(code == 0 and "version" in out, "the control socket answers", out + err)
        results.check(os.stat(state).st_uid == nobody.pw_uid, "the RFC 5011 state file belongs to nobody",
                      "uid %d" % os.stat(state).st_uid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ";;state=2" not in open(state).read():
            time.sleep(0.2)
        before = open(state).read()
        time.sleep(2.5)
        after = open(state).read()
        results.check(";;state=2" in after and after != before,
                      "nobody rewrites the state file after each probe (root key VALID)", after[-400:])
        code, _ = daemon.stop()
        results.check(code == 0, "SIGTERM: clean stop", "exit %s" % code)
        log = daemon.log_text()
        results.check("running as user nobody" in log, "the switch is logged", log[-1500:])
        results.check(not any(m in log for m in common.SANITIZER_MARKERS), "no sanitizer report", log[-3000:])
    finally:
        daemon.stop()

    config = os.path.join(workdir, "unknown-user.yaml")
    common.write_config(config, common.free_port(), 1)
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text.replace("  threads: 1\n", "  threads: 1\n  user: no-such-user-here\n"))
    p = subprocess.run([binary, "-c", config], capture_output=True, text=True, timeout=30)
    results.check(p.returncode == 1 and "no user named 'no-such-user-here'" in p.stderr,
                  "an unknown user stops the start", "exit %d: %s" % (p.returncode, p.stderr[-500:]))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
