#!/usr/bin/python3
"""With several labs on one machine, `down` must stop only its own lab's
processes. Needs no lab: stand-in processes in temporary run directories.

1. A process of another run directory's lab is not ours, even when this run
   directory's pid file names it (a reused pid): fakeauth's and the
   background builder's markers name the run directory (the script path,
   the old fakeauth marker, is the same for every lab of a checkout).
2. A run directory whose lab runs on another prefix (lab.json) is left
   alone: `down` and `check-net` with another SEXTANT_LAB_NET refuse and the
   process lives on; with the lab's own prefix, `down` stops it.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
LAB_PY = os.path.join(LAB_DIR, "lab.py")
# Prefixes only written into files and environments: nothing listens on or
# is sent to them (chosen far from the 127.53-127.61 that people's labs use).
OWN_NET, OTHER_NET = "127.250", "127.251"


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, ok, what, detail=""):
        print("%s %s%s" % ("ok  " if ok else "FAIL", what, (": " + detail) if detail and not ok else ""),
              flush=True)
        self.failed += 0 if ok else 1


def env_for(run_dir, net):
    return dict(os.environ, SEXTANT_LAB_RUN=run_dir, SEXTANT_LAB_NET=net)


def lab_command(run_dir, net, function, *args):
    """(argv, log, marker) from lab.py's FUNCTION as a lab in run_dir has it."""
    code = ("import json, sys; sys.path.insert(0, %r); import lab; "
            "print(json.dumps(lab.%s(*%r)))" % (LAB_DIR, function, list(args)))
    out = subprocess.run(["/usr/bin/python3", "-c", code], env=env_for(run_dir, net),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def sleeper(argv, seconds=30):
    """A process whose command line carries argv (as fakeauth's or the
    builder's would) but that only sleeps."""
    return subprocess.Popen(["/usr/bin/python3", "-c", "import time; time.sleep(%d)" % seconds]
                            + argv[1:], start_new_session=True)


def register(run_dir, name, pid, marker):
    """What lab.start_process leaves behind for a process of run_dir's lab."""
    pids = os.path.join(run_dir, "pids")
    os.makedirs(pids, exist_ok=True)
    with open(os.path.join(pids, name + ".pid.cmd"), "w") as f:
        f.write(marker)
    with open(os.path.join(pids, name + ".pid"), "w") as f:
        f.write("%d\n" % pid)


def lab_py(run_dir, net, *args):
    return subprocess.run(["/usr/bin/python3", LAB_PY] + list(args), env=env_for(run_dir, net),
                          capture_output=True, text=True, timeout=60)


def alive(proc):
    return proc.poll() is None


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def other_run_dirs_process(checks, mine, theirs, name, function, *args):
    argv, _log, marker = lab_command(mine, OWN_NET, function, *args)
    their_argv, _log, _marker = lab_command(theirs, OWN_NET, function, *args)
    proc = sleeper(their_argv)
    try:
        time.sleep(0.3)                      # until /proc/PID/cmdline is filled in
        register(mine, name, proc.pid, marker)
        result = lab_py(mine, OWN_NET, "down")
        checks.check(alive(proc), "%s of another run directory survives this one's `down`" % name,
                     result.stdout + result.stderr)
        own = sleeper(argv)
        time.sleep(0.3)
        register(mine, name, own.pid, marker)
        result = lab_py(mine, OWN_NET, "down")
        time.sleep(0.2)
        checks.check(not alive(own), "this run directory's own %s is stopped by `down`" % name,
                     result.stdout + result.stderr)
        stop(own)
    finally:
        stop(proc)


def other_prefix(checks, run_dir):
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "lab.json"), "w") as f:
        json.dump({"servers": {"root1": {"address": OWN_NET + ".0.1"}}}, f)
    argv, _log, marker = lab_command(run_dir, OWN_NET, "fakeauth_command")
    proc = sleeper(argv)
    try:
        time.sleep(0.3)
        register(run_dir, "fakeauth", proc.pid, marker)
        result = lab_py(run_dir, OTHER_NET, "check-net")
        checks.check(result.returncode == 1 and OWN_NET in result.stdout,
                     "check-net with another prefix: refused, names the lab's", result.stdout)
        result = lab_py(run_dir, OTHER_NET, "down")
        checks.check(result.returncode == 1 and "not touching it" in result.stdout and alive(proc),
                     "down with another prefix refuses; the process lives on",
                     result.stdout + result.stderr)
        result = lab_py(run_dir, OWN_NET, "check-net")
        checks.check(result.returncode == 0, "check-net with the lab's own prefix: fine", result.stdout)
        result = lab_py(run_dir, OWN_NET, "down")
        time.sleep(0.2)
        checks.check(result.returncode == 0 and not alive(proc),
                     "down with the lab's own prefix stops it", result.stdout + result.stderr)
        result = lab_py(run_dir, OTHER_NET, "check-net")
        checks.check(result.returncode == 0,
                     "once that lab is down, another prefix may use the run directory", result.stdout)
    finally:
        stop(proc)


def main():
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="sextant-lab-own-") as top:
        mine, theirs = os.path.join(top, "run"), os.path.join(top, "run2")
        os.makedirs(mine)
        os.makedirs(theirs)
        other_run_dirs_process(checks, mine, theirs, "fakeauth", "fakeauth_command")
        other_run_dirs_process(checks, mine, theirs, "builder", "builder_command",
                               ["big-signed.test."])
        other_prefix(checks, os.path.join(top, "run3"))
    print("%d failed" % checks.failed)
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
