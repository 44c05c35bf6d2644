#!/usr/bin/python3
"""Starts and stops the sextant daemon shared by the integration tests (the
ctest fixture `sextant_lab`).

  sextant_fixture.py start BINARY PORT RUNDIR   start sextant on 127.0.0.1@PORT
                                                with 2 threads and the lab's hints,
                                                wait until it answers
  sextant_fixture.py stop RUNDIR                SIGTERM the pid in RUNDIR/sextant.pid
                                                (only that pid, after checking its
                                                command line); fail if the log
                                                holds a sanitizer report

PORT is a number or `sextant`, the lab's port for this daemon (5300 in the
default lab; it follows SEXTANT_LAB_NET, see tests/lab/labnet.py).
RUNDIR gets sextant.yaml, sextant.pid and sextant.log. The daemon is detached
(own session) so that it outlives the setup test.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402

START_WAIT_S = 30
STOP_WAIT_S = 5


def pid_state(pid):
    """'R', 'S', 'Z', ... from /proc, or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def running(pid):
    state = pid_state(pid)
    return state is not None and state != "Z"   # PID 1 here does not reap orphans


def read_pid(rundir):
    try:
        with open(os.path.join(rundir, "sextant.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def ours(pid, rundir):
    """True if pid is the sextant started with this rundir's config."""
    config = os.path.join(rundir, "sextant.yaml").encode()
    return config in cmdline(pid)


def stop_pid(pid, rundir):
    if pid is None or not running(pid) or not ours(pid, rundir):
        return True
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        if not running(pid):
            return True
        time.sleep(0.1)
    print("sextant_fixture: pid %d ignored SIGTERM for %d s; killing it" % (pid, STOP_WAIT_S))
    os.kill(pid, signal.SIGKILL)
    return False


def start(binary, port, rundir):
    os.makedirs(rundir, exist_ok=True)
    old = read_pid(rundir)
    if old is not None:
        stop_pid(old, rundir)      # a leftover from an interrupted run
    config = os.path.join(rundir, "sextant.yaml")
    log_path = os.path.join(rundir, "sextant.log")
    common.write_config(config, port, threads=2)
    if common.wait_until_answering("127.0.0.1", port, 0.5):
        print("sextant_fixture: something already answers on 127.0.0.1:%d; not starting" % port)
        return 1
    with open(log_path, "w") as log:
        process = subprocess.Popen([binary, "-c", config], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    with open(os.path.join(rundir, "sextant.pid"), "w") as f:
        f.write("%d\n" % process.pid)
    if not common.wait_until_answering("127.0.0.1", port, START_WAIT_S, process):
        print("sextant_fixture: sextant (pid %d) did not answer on 127.0.0.1:%d within %d s"
              % (process.pid, port, START_WAIT_S))
        stop_pid(process.pid, rundir)
        with open(log_path, errors="replace") as f:
            print(f.read()[-4000:])
        return 1
    print("sextant_fixture: sextant pid %d answering on 127.0.0.1:%d (log %s)"
          % (process.pid, port, log_path))
    return 0


def stop(rundir):
    pid = read_pid(rundir)
    clean = stop_pid(pid, rundir)
    try:
        os.unlink(os.path.join(rundir, "sextant.pid"))
    except OSError:
        pass
    log_path = os.path.join(rundir, "sextant.log")
    try:
        with open(log_path, errors="replace") as f:
            log = f.read()
    except OSError:
        log = ""
    reports = [line for line in log.splitlines()
               if any(m in line for m in common.SANITIZER_MARKERS)]
    if reports:
        print("sextant_fixture: sanitizer reports in %s:" % log_path)
        print(log[-8000:])
        return 1
    if not clean:
        return 1
    print("sextant_fixture: stopped pid %s; log has no sanitizer report" % pid)
    return 0


def main(argv):
    if len(argv) == 4 and argv[0] == "start":
        return start(argv[1], common.labnet.port(argv[2]), argv[3])
    if len(argv) == 2 and argv[0] == "stop":
        return stop(argv[1])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
