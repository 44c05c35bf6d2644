#!/usr/bin/python3
"""The lab: a simulated internet on loopback (see README.md).

  lab.py up [--wait] [--delays[=ROOT,TLD,OTHER]]
                            build zones if needed, start every server, wait
                            (--wait: also for zones signed in the background;
                            --delays: knotd servers answer 10/20/30 ms late,
                            through delayproxy.py; see README.md)
  lab.py down               stop what `up` started (by pid file), nothing else
  lab.py status             which servers run and answer
  lab.py selfcheck [--full] every server answers for its zones; signatures verify
  lab.py stop NAME / start NAME   one server (failover tests): root1, tld3, fakeauth...
  lab.py check-net          exit 1 if the run directory holds a lab that runs on
                            another prefix than $SEXTANT_LAB_NET (see below)
  lab.py rollover STAGE|show   re-sign rollover.test. for an RFC 5011 rollover
                            stage (start, publish, revoke, done; rollover.py) and
                            reload it; prints the stage, the key tags and K1's DS

The run directory is tests/lab/run/ or $SEXTANT_LAB_RUN. The lab's servers
live on $SEXTANT_LAB_NET.0.0/16 (default 127.53, see labnet.py). One run
directory holds one lab at a time: while a lab brought up on one prefix runs
from it, every command given another prefix refuses to act on it.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LAB_DIR)

import dns.dnssec  # noqa: E402
import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

import delayproxy  # noqa: E402
import labnet  # noqa: E402
import rollover  # noqa: E402
import topology  # noqa: E402
import zonebuild  # noqa: E402

RUN_DIR = os.path.abspath(os.environ.get("SEXTANT_LAB_RUN", os.path.join(LAB_DIR, "run")))
PID_DIR = os.path.join(RUN_DIR, "pids")
KNOT_DIR = os.path.join(RUN_DIR, "knot")
UP_TIMEOUT = 25.0
BACKGROUND_TIMEOUT = 300.0


def log(message):
    print("lab: %s" % message, flush=True)


# ---- processes ---------------------------------------------------------------
def pid_file(name):
    return os.path.join(PID_DIR, name + ".pid")


def running_pid(name):
    """The pid of the lab process NAME if it runs; checks that the pid really
    is ours (its command line names our run directory or our config)."""
    try:
        with open(pid_file(name)) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError):
        return None
    try:
        with open(pid_file(name) + ".cmd") as f:
            marker = f.read().strip()
    except OSError:
        marker = os.path.join(RUN_DIR, "")
    return pid if marker in cmdline else None


def start_process(name, argv, log_path, marker):
    os.makedirs(PID_DIR, exist_ok=True)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)
    with open(pid_file(name) + ".cmd", "w") as f:
        f.write(marker)
    with open(pid_file(name), "w") as f:
        f.write("%d\n" % proc.pid)
    return proc


def alive(pid):
    """True while the process exists and is not a zombie (PID 1 in some
    containers never reaps orphans, so their /proc entries stay)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def remove_pid_file(name):
    for path in (pid_file(name), pid_file(name) + ".cmd"):
        if os.path.exists(path):
            os.unlink(path)


def stop_processes(names):
    """SIGTERM to each lab process in names that runs, then SIGKILL to those
    still alive after 5 s. Returns the names that were running."""
    pids = {}
    for name in names:
        pid = running_pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            pids[name] = pid
        else:
            remove_pid_file(name)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in pids.values()):
        for pid in pids.values():
            try:                   # reap it if it is our own child
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.05)
    for name, pid in pids.items():
        if alive(pid) and running_pid(name) == pid:
            os.kill(pid, signal.SIGKILL)
        remove_pid_file(name)
    return list(pids)


def stop_process(name):
    return bool(stop_processes([name]))


# ---- delays (delayproxy.py) -------------------------------------------------------
DELAYS_FILE = os.path.join(RUN_DIR, "delays")
DEFAULT_DELAYS = (10, 20, 30)    # ms: root servers, TLD servers, the others (issue 17)


def current_delays():
    """The delays the lab in RUN_DIR was brought up with, or None."""
    try:
        with open(DELAYS_FILE) as f:
            return tuple(int(x) for x in f.read().split(","))
    except (OSError, ValueError):
        return None


def parse_delays(args):
    """None (no --delays), the defaults, or the three values of --delays=R,T,O."""
    for arg in args:
        if arg == "--delays":
            return DEFAULT_DELAYS
        if arg.startswith("--delays="):
            values = tuple(int(x) for x in arg.split("=", 1)[1].split(","))
            if len(values) != 3 or not all(0 <= v <= 1000 for v in values):
                raise ValueError("--delays=ROOT,TLD,OTHER takes three values in ms (0-1000)")
            return values
    return None


def knot_port():
    return delayproxy.BACKEND_PORT if current_delays() else 53


def server_delay(server, delays):
    root, tld, other = delays
    return root if server.startswith("root") else tld if server.startswith("tld") else other


def delayproxy_command(delays):
    log_path = os.path.join(RUN_DIR, "delayproxy.log")
    targets = ["%s:%d" % (address, server_delay(name, delays))
               for name, (address, _zones) in topology.KNOT_SERVERS.items()]
    argv = ["/usr/bin/python3", os.path.join(LAB_DIR, "delayproxy.py"), "--log", log_path] + targets
    return argv, log_path, "--log " + log_path


# ---- knot ------------------------------------------------------------------------
def knot_config_path(server):
    return os.path.join(KNOT_DIR, server, "knot.conf")


def write_knot_config(server, zone_files):
    address, zones = topology.KNOT_SERVERS[server]
    rundir = os.path.join(KNOT_DIR, server)
    os.makedirs(os.path.join(rundir, "db"), exist_ok=True)
    lines = [
        "# generated by tests/lab/lab.py; do not edit",
        "server:",
        '    rundir: "%s"' % rundir,
        '    listen: "%s@%d"' % (address, knot_port()),
        "    udp-workers: 1",
        "    tcp-workers: 1",
        "    background-workers: 1",
        "database:",
        '    storage: "%s/db"' % rundir,
        "control:",
        '    listen: "%s/knot.sock"' % rundir,
        "log:",
        '  - target: "%s/knotd.log"' % rundir,
        "    any: notice",
        "template:",
        "  - id: default",
        "    zonefile-sync: -1",
        "    zonefile-load: whole",
        "    journal-content: none",
        "    semantic-checks: off",
    ]
    if zones:
        lines.append("zone:")
        for zone in zones:
            path = zone_files[zone]
            if server in topology.ZONES[zone].get("variants", {}):
                path = os.path.join(os.path.dirname(path), "%s.%s.zone"
                                    % (zonebuild.zone_file_stem(zone), server))
            lines += ['  - domain: "%s"' % zone, '    file: "%s"' % path]
    path = knot_config_path(server)
    text = "\n".join(lines) + "\n"
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)
    return path


# ---- DNS probes ------------------------------------------------------------------
def probe(address, qname, qtype="SOA", tcp=False, timeout=0.5, want_dnssec=False):
    query = dns.message.make_query(qname, qtype, want_dnssec=want_dnssec)
    query.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(query, address, timeout=timeout)
    return dns.query.udp(query, address, timeout=timeout, ignore_unexpected=True)


def answers_authoritatively(address, zone, tcp=False):
    try:
        reply = probe(address, zone, tcp=tcp)
    except (dns.exception.DNSException, OSError):
        return False
    return reply.rcode() == dns.rcode.NOERROR and bool(reply.flags & dns.flags.AA) \
        and any(r.rdtype == dns.rdatatype.SOA for r in reply.answer)


def server_ready(server, pending=()):
    """True when the server answers for all its zones but those pending."""
    address, zones = topology.KNOT_SERVERS[server]
    zones = [z for z in zones if z not in pending]
    if not zones:
        try:
            return probe(address, "example.com.").rcode() == dns.rcode.REFUSED
        except (dns.exception.DNSException, OSError):
            return False
    return all(answers_authoritatively(address, zone) for zone in zones)


def fakeauth_ready():
    try:
        return fakectl("stats").get("ok", False)
    except (OSError, ValueError):
        return False


def fakectl(command, timeout=2.0):
    with socket.create_connection(topology.FAKE_CONTROL, timeout=timeout) as s:
        s.sendall((command + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data.decode())


# ---- outputs for the resolver -----------------------------------------------------
def write_resolver_inputs(builder):
    hints = [";; Root hints of the Sextant lab (tests/lab), generated by lab.py"]
    for letter, server in (("a", "root1"), ("b", "root2")):
        hints.append(".                        3600000  NS  %s.root-servers.net." % letter)
    for letter, server in (("a", "root1"), ("b", "root2")):
        hints.append("%s.root-servers.net.       3600000  A   %s"
                     % (letter, topology.KNOT_SERVERS[server][0]))
    write_if_changed(os.path.join(RUN_DIR, "root.hints"), "\n".join(hints) + "\n")
    write_if_changed(os.path.join(RUN_DIR, "root-anchor.ds"),
                     "\n".join(builder.ds_records(".")) + "\n")
    keys = builder.read_dnskeys(builder.ensure_keys("."))
    write_if_changed(os.path.join(RUN_DIR, "root-anchor.key"), "\n".join(
        ". 86400 IN DNSKEY %s" % k.to_text() for k in keys if k.flags & 0x0001) + "\n")
    description = {
        "run_dir": RUN_DIR,
        "root_hints": os.path.join(RUN_DIR, "root.hints"),
        "root_anchor_ds": os.path.join(RUN_DIR, "root-anchor.ds"),
        "root_anchor_key": os.path.join(RUN_DIR, "root-anchor.key"),
        "servers": {name: {"address": a, "zones": z, "pid_file": pid_file(name)}
                    for name, (a, z) in topology.KNOT_SERVERS.items()},
        "dead_addresses": topology.DEAD_ADDRESSES,
        "fakeauth": {"pid_file": pid_file("fakeauth"),
                     "control": "%s:%d" % topology.FAKE_CONTROL,
                     "parent": {"zone": topology.FAKE_PARENT[1],
                                "address": topology.FAKE_PARENT[0]},
                     "blackhole": topology.FAKE_BLACKHOLE,
                     "zones": {"%s.%s" % (label, topology.FAKE_PARENT[1]):
                               {"address": a, "behaviour": b}
                               for label, (a, b) in topology.FAKE_ZONES.items()}},
        "query_files": {zone: os.path.join(RUN_DIR, "%s-queries.txt" % zone.split(".")[0])
                        for zone, p in topology.ZONES.items() if p.get("generated")},
    }
    write_if_changed(os.path.join(RUN_DIR, "lab.json"),
                     json.dumps(description, indent=2, sort_keys=True) + "\n")


def write_if_changed(path, text):
    if os.path.exists(path) and open(path).read() == text:
        return
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


# ---- commands -----------------------------------------------------------------------
def start_knot(server, zone_files):
    config = write_knot_config(server, zone_files)
    return start_process(server, ["/usr/sbin/knotd", "-c", config],
                         knot_log_path(server), config)


def knot_log_path(server):
    return os.path.join(KNOT_DIR, server, "stdout.log")


def fakeauth_command():
    """fakeauth's argv, log and marker. The marker is the log option, which
    names the run directory: the script path alone is the same for every lab
    run from this checkout."""
    log_path = os.path.join(RUN_DIR, "fakeauth.log")
    argv = ["/usr/bin/python3", os.path.join(LAB_DIR, "fakeauth.py"), "--log", log_path]
    return argv, log_path, "--log " + log_path


def start_fakeauth():
    return start_process("fakeauth", *fakeauth_command())


def builder_command(zones):
    """The background builder's argv, log and marker; --run-dir is there only
    to tell it from another lab's builder (with a final "/", so that the
    marker of run/ is no prefix of run2/'s)."""
    run_dir = os.path.join(RUN_DIR, "")
    argv = ["/usr/bin/python3", os.path.abspath(__file__), "build-background",
            "--run-dir", run_dir] + list(zones)
    return argv, os.path.join(RUN_DIR, "builder.log"), "build-background --run-dir " + run_dir


def has_exited(name, proc=None):
    """For a process this run started (proc given), asks the kernel through
    its Popen. running_pid would be wrong here: just after exec,
    /proc/PID/cmdline reads empty for a moment (the new program's argument
    area is not set up yet), which once made `up` call a healthy fakeauth
    exited and fail CI."""
    if proc is not None:
        return proc.poll() is not None
    return running_pid(name) is None


def report_exit(name, proc):
    """Says how a process this run started ended, with the end of its log:
    a CI machine's run directory is gone by the time anyone reads the report."""
    log_path = (os.path.join(RUN_DIR, name + ".log") if name in ("fakeauth", "delayproxy")
                else knot_log_path(name))
    status = proc.returncode
    how = "killed by signal %d" % -status if status < 0 else "exit status %d" % status
    log("%s exited (%s); the end of %s:" % (name, how, log_path))
    try:
        with open(log_path, errors="replace") as f:
            for line in f.read().splitlines()[-15:]:
                log("  | " + line)
    except OSError as e:
        log("  (cannot read it: %s)" % e)


def check_privileges():
    """Port 53 needs root unless the kernel lowered the privileged range."""
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            unprivileged_start = int(f.read())
    except (OSError, ValueError):
        unprivileged_start = 1024
    if os.geteuid() != 0 and unprivileged_start > 53:
        log("needs root: the lab's servers listen on port 53 of %s.x.x" % labnet.NET)
        return False
    return True


def cmd_up(args):
    wait = "--wait" in args
    started = time.monotonic()
    if not check_privileges():
        return 1
    try:
        delays = parse_delays(args)
    except ValueError as e:
        log(str(e))
        return 2
    os.makedirs(RUN_DIR, exist_ok=True)
    if delays != current_delays():
        if any(running_pid(name) is not None for name in all_process_names()):
            log("the lab runs %s; `down` first to bring it up %s"
                % ("with delays %s ms" % (current_delays(),) if current_delays() else "without delays",
                   "with delays %s ms" % (delays,) if delays else "without delays"))
            return 1
        if delays:
            write_if_changed(DELAYS_FILE, ",".join(str(d) for d in delays))
        elif os.path.exists(DELAYS_FILE):
            os.unlink(DELAYS_FILE)
    builder = zonebuild.ZoneBuilder(RUN_DIR, log)
    before = {z: mtime(builder, z) for z in topology.ZONES}
    background = [z for z, p in topology.ZONES.items()
                  if p.get("background") and builder.needs_build(z)]
    zone_files = builder.build_all(skip=background)
    rebuilt = {z for z in topology.ZONES if mtime(builder, z) != before[z]}
    write_resolver_inputs(builder)
    launched = []
    processes = {}    # name -> Popen, for what this run started
    for server, (_address, zones) in topology.KNOT_SERVERS.items():
        if running_pid(server) is None:
            processes[server] = start_knot(server, zone_files)
            launched.append(server)
        else:
            path = knot_config_path(server)
            before_text = open(path).read() if os.path.exists(path) else None
            write_knot_config(server, zone_files)
            if open(path).read() != before_text:
                # A zone was added to or removed from this server (topology
                # change): a running knotd learns it only from a config reload.
                subprocess.run(["knotc", "-c", path, "reload"], capture_output=True)
            for zone in set(zones) & rebuilt:
                subprocess.run(["knotc", "-c", knot_config_path(server), "zone-reload", zone],
                               capture_output=True)
    if running_pid("fakeauth") is None:
        processes["fakeauth"] = start_fakeauth()
        launched.append("fakeauth")
    if delays and running_pid("delayproxy") is None:
        processes["delayproxy"] = start_process("delayproxy", *delayproxy_command(delays))
        launched.append("delayproxy (%d/%d/%d ms)" % delays)
    if background and running_pid("builder") is None:
        processes["builder"] = start_process("builder", *builder_command(background))
        launched.append("builder (%s, in the background)" % ", ".join(background))
    log("started: %s" % (", ".join(launched) if launched else "nothing (already up)"))
    deadline = time.monotonic() + UP_TIMEOUT
    waiting = set(topology.KNOT_SERVERS) | {"fakeauth"}
    pending = set(background)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            ready = fakeauth_ready() if name == "fakeauth" else server_ready(name, pending)
            if ready:
                waiting.discard(name)
            elif has_exited(name, processes.get(name)):
                if name in processes:
                    report_exit(name, processes[name])
                else:
                    log("%s, which was already running, stopped; see its log in %s"
                        % (name, RUN_DIR))
                return 1
        if waiting:
            time.sleep(0.1)
    if waiting:
        log("not ready after %.0f s: %s" % (UP_TIMEOUT, ", ".join(sorted(waiting))))
        return 1
    log("up in %.1f s: %d zones on %d knotd servers + fakeauth (%d fault zones) on %s.0.0/16; "
        "run dir %s" % (time.monotonic() - started, len(topology.ZONES),
                        len(topology.KNOT_SERVERS), len(topology.FAKE_ZONES), labnet.NET, RUN_DIR))
    if background:
        if not wait:
            log("still signing in the background: %s (`up --wait` waits for it)"
                % ", ".join(background))
            return 0
        return wait_for_background(background, started, processes.get("builder"))
    return 0


def wait_for_background(zones, started, builder_process):
    deadline = time.monotonic() + BACKGROUND_TIMEOUT
    while time.monotonic() < deadline:
        if all(answers_authoritatively(address, zone)
               for zone in zones for address, served in topology.KNOT_SERVERS.values()
               if zone in served):
            log("background zones served after %.1f s: %s"
                % (time.monotonic() - started, ", ".join(zones)))
            return 0
        if has_exited("builder", builder_process) and not all(
                os.path.exists(os.path.join(RUN_DIR, "zones", zonebuild.zone_file_stem(z) + ".zone"))
                for z in zones):
            log("the background build failed; see %s" % os.path.join(RUN_DIR, "builder.log"))
            return 1
        time.sleep(0.2)
    log("background zones not served after %.0f s" % BACKGROUND_TIMEOUT)
    return 1


def cmd_build_background(args):
    """Builds slow zones after `up` returned, then has their servers load them.
    ([--run-dir DIR] ZONE...: see builder_command.)"""
    zones = args[2:] if args[:1] == ["--run-dir"] else args
    builder = zonebuild.ZoneBuilder(RUN_DIR, log)
    for zone in zones:
        builder.build_zone(zone)
        for server, (_address, served) in topology.KNOT_SERVERS.items():
            if zone in served:
                subprocess.run(["knotc", "-c", knot_config_path(server), "zone-reload", zone],
                               capture_output=True)
    os.unlink(pid_file("builder"))
    return 0


def cmd_rollover(args):
    """Sets the rollover stage, re-signs rollover.test. and has its servers
    reload it (they serve the new keys within a second); `show` changes
    nothing. Prints rollover.describe()."""
    zone = "rollover.test."
    builder = zonebuild.ZoneBuilder(RUN_DIR, log)
    if not args or (args[0] != "show" and args[0] not in rollover.STAGES):
        log("usage: lab.py rollover %s|show" % "|".join(rollover.STAGES))
        return 2
    if args[0] != "show":
        rollover.set_stage(RUN_DIR, args[0])
        builder.build_zone(zone)
        for server, (_address, served) in topology.KNOT_SERVERS.items():
            if zone in served and running_pid(server) is not None:
                run = subprocess.run(["knotc", "-c", knot_config_path(server), "zone-reload", zone],
                                     capture_output=True, text=True)
                if run.returncode != 0:
                    log("knotc zone-reload %s on %s failed: %s" % (zone, server, run.stderr.strip()))
                    return 1
    print(rollover.describe(RUN_DIR, builder.ensure_keys(zone)))
    return 0


def mtime(builder, zone):
    path = os.path.join(builder.zones_dir, zonebuild.zone_file_stem(zone) + ".zone")
    return os.path.getmtime(path) if os.path.exists(path) else None


def all_process_names():
    names = list(topology.KNOT_SERVERS) + ["fakeauth"]
    if os.path.isdir(PID_DIR):     # anything else the lab started (unbound, ...)
        names += [f[:-4] for f in sorted(os.listdir(PID_DIR))
                  if f.endswith(".pid") and f[:-4] not in names]
    return names


def net_of_run_dir():
    """The prefix the lab in RUN_DIR was last brought up on (from lab.json)."""
    try:
        with open(os.path.join(RUN_DIR, "lab.json")) as f:
            address = json.load(f)["servers"]["root1"]["address"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return address.rsplit(".", 2)[0]


def other_lab_in_run_dir():
    """The prefix of a lab that runs from RUN_DIR on another prefix than this
    one, or None. Its processes and files are that lab's: `up` must not start
    servers with other addresses beside them, nor `down` stop them."""
    net = net_of_run_dir()
    if net is None or net == labnet.NET:
        return None
    if any(running_pid(name) is not None for name in all_process_names()):
        return net
    return None


def refuse_other_lab():
    """Logs why and returns True when RUN_DIR holds another prefix's live lab."""
    other = other_lab_in_run_dir()
    if other is None:
        return False
    log("the lab in %s runs on %s.0.0/16, but %s is %s: not touching it. Use "
        "%s=%s for that lab, or %s=<another directory> for a second one"
        % (RUN_DIR, other, labnet.NET_VARIABLE, labnet.NET, labnet.NET_VARIABLE, other,
           "SEXTANT_LAB_RUN"))
    return True


def cmd_check_net(_args):
    return 1 if refuse_other_lab() else 0


def cmd_down(_args):
    stopped = stop_processes(all_process_names())
    if os.path.exists(DELAYS_FILE):
        os.unlink(DELAYS_FILE)   # the next `up` chooses again
    log("stopped: %s" % (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(_args):
    down = 0
    for name in all_process_names():
        pid = running_pid(name)
        if name in topology.KNOT_SERVERS:
            address = topology.KNOT_SERVERS[name][0]
            ok = pid is not None and server_ready(name)
        elif name == "fakeauth":
            address = topology.FAKE_PARENT[0]
            ok = pid is not None and fakeauth_ready()
        else:
            address, ok = "-", pid is not None
        down += 0 if ok else 1
        print("%-9s %-12s %-7s %s" % (name, address, pid or "-", "ok" if ok else "DOWN"))
    return 0 if down == 0 else 1


def cmd_stop(args):
    return 0 if stop_process(args[0]) else 1


def cmd_start(args):
    name = args[0]
    if running_pid(name) is not None:
        return 0
    builder = zonebuild.ZoneBuilder(RUN_DIR, log)
    if name == "fakeauth":
        start_fakeauth()
        ready = fakeauth_ready
    else:
        zone_files = {z: os.path.join(builder.zones_dir, zonebuild.zone_file_stem(z) + ".zone")
                      for z in topology.ZONES}
        start_knot(name, zone_files)
        ready = lambda: server_ready(name)  # noqa: E731
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ready():
            return 0
        time.sleep(0.1)
    return 1


def main(argv):
    commands = {"up": cmd_up, "down": cmd_down, "status": cmd_status,
                "stop": cmd_stop, "start": cmd_start, "build-background": cmd_build_background,
                "check-net": cmd_check_net, "rollover": cmd_rollover}
    if len(argv) < 2 or argv[1] not in commands and argv[1] != "selfcheck":
        print(__doc__)
        return 2
    # (build-background is started by `up`, which has checked already.)
    if argv[1] not in ("build-background", "check-net") and refuse_other_lab():
        return 1
    if argv[1] == "selfcheck":
        import selfcheck
        return selfcheck.main(RUN_DIR, argv[2:])
    return commands[argv[1]](argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
