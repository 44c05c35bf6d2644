#!/usr/bin/python3
"""lab.py must not call a process it has just started "exited".

Right after exec, /proc/PID/cmdline can read empty for a moment, so the
pid-file check (running_pid) says "not ours" about a healthy process: that
made `up` report a live fakeauth as exited and fail a CI run. has_exited asks
the Popen instead. This starts short sleepers the way `up` starts its
servers and asks at once, many times over; with the pid-file check about
one try in five went wrong here. Needs no lab: it runs in a temporary
run directory.
"""
import os
import sys
import tempfile

TRIES = 60


def main():
    with tempfile.TemporaryDirectory(prefix="sextant-lab-proc-") as run_dir:
        os.environ["SEXTANT_LAB_RUN"] = run_dir
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import lab  # noqa: E402 - reads SEXTANT_LAB_RUN when imported

        sleeper = os.path.join(run_dir, "sleeper.py")
        with open(sleeper, "w") as f:
            f.write("import time\ntime.sleep(2)\n")
        wrong = 0
        processes = []
        for i in range(TRIES):
            name = "sleeper%d" % i
            proc = lab.start_process(name, ["/usr/bin/python3", sleeper, name],
                                     os.path.join(run_dir, name + ".log"), sleeper)
            processes.append(proc)
            if lab.has_exited(name, proc):
                wrong += 1
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        ended = sum(1 for i, proc in enumerate(processes)
                    if lab.has_exited("sleeper%d" % i, proc))
        print("called exited while running: %d of %d; after kill: %d of %d"
              % (wrong, TRIES, ended, TRIES))
        return 0 if wrong == 0 and ended == TRIES else 1


if __name__ == "__main__":
    sys.exit(main())
