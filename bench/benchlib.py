"""Shared plumbing for the load benchmarks in bench/ (see bench/README.md).

Everything a benchmark script needs besides its own measurement: finding and
bringing up the lab, free ports, the servers under test (Sextant from a
command line, Debian's Unbound, the trivial responder) with generated
configs in a private temporary directory, CPU and memory readings from
/proc, dnsperf runs and the parsing of their output, and plain-text tables.

Runs with Debian's /usr/bin/python3. No packets leave 127.0.0.0/8: every
server listens on 127.0.0.1 and resolves from the lab on 127.53.0.0/16 (or
the /16 that SEXTANT_LAB_NET names, see tests/lab/labnet.py).
"""

import atexit
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CONFIGS = BENCH_DIR / "configs"
LAB_DIR = REPO / "tests" / "lab"
LAB_RUN = Path(os.environ.get("SEXTANT_LAB_RUN", LAB_DIR / "run"))
sys.path.insert(0, str(LAB_DIR))
import labnet  # noqa: E402  (tests/lab/labnet.py: the lab's prefix)
DEFAULT_SEXTANT = str(REPO / "build" / "release" / "resolver" / "sextant")
DEFAULT_TRIVIAL = str(REPO / "build" / "release" / "bench" / "trivial_responder")
DEFAULT_DOQ_LOAD = str(REPO / "build" / "release" / "bench" / "doq_load")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

# Two cores: servers run on one, the load generator on the other by default.
# "any" leaves the scheduler free (--server-cpu / --client-cpu / --no-pin).
SERVER_CPU = "0"
CLIENT_CPU = "1"
DNSPERF_THREADS = 1


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """A benchmark cannot go on (server did not start, lab down, tool missing)."""


# --------------------------------------------------------------------------
# Cleanup: every process a benchmark starts is registered here and stopped
# on exit, on an exception, and on SIGTERM/SIGINT.

_cleanups = []


def on_exit(function):
    _cleanups.append(function)


def _run_cleanups():
    while _cleanups:
        function = _cleanups.pop()
        try:
            function()
        except Exception as error:  # cleanup must go on with the others
            log("cleanup: %s" % error)


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


atexit.register(_run_cleanups)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def private_dir(prefix):
    """A temporary directory removed at exit (unless BENCH_KEEP_TMP is set)."""
    path = Path(tempfile.mkdtemp(prefix="sextant-bench-%s-" % prefix))
    if not os.environ.get("BENCH_KEEP_TMP"):
        on_exit(lambda: shutil.rmtree(path, ignore_errors=True))
    else:
        log("keeping %s (BENCH_KEEP_TMP)" % path)
    return path


# --------------------------------------------------------------------------
# The lab

class Lab:
    """Brings the lab up if needed; stops it at the end only if it started it."""

    def __init__(self, keep=False, delays=False):
        self.keep = keep
        self.delays = delays      # `up --delays`: real round trips (tests/lab/README.md)
        self.started_by_us = False

    def _all_up(self):
        result = subprocess.run([str(LAB_DIR / "status")], capture_output=True, text=True,
                                timeout=60)
        lines = [l.split() for l in result.stdout.splitlines() if l.strip()]
        servers = [l for l in lines if l and l[0] != "unbound"]
        return bool(servers) and all(l[-1] == "ok" for l in servers)

    def ensure_up(self):
        if not self._all_up():
            self.started_by_us = True
            if not self.keep:
                on_exit(self.down)
        up = [str(LAB_DIR / "up"), "--wait"] + (["--delays"] if self.delays else [])
        log("lab: tests/lab/" + " ".join(["up"] + up[1:]))
        # `up --wait` also waits for big-signed.test., which is signed in the
        # background on a fresh lab; when everything is up it starts nothing
        # (and refuses if the running lab has delays and this asks none, or
        # the other way round).
        result = subprocess.run(up, capture_output=True, text=True, timeout=400)
        if result.returncode != 0:
            raise BenchError("tests/lab/up failed:\n%s%s" % (result.stdout, result.stderr))
        for needed in ("root.hints", "root-anchor.ds"):
            if not (LAB_RUN / needed).exists():
                raise BenchError("lab run dir lacks %s" % (LAB_RUN / needed))

    def check_still_up(self):
        """Another user's `tests/lab/down` would silently spoil the figures."""
        if not self._all_up():
            raise BenchError("the lab went down during the benchmark (someone ran tests/lab/down?)")

    def down(self):
        log("lab: tests/lab/down (this benchmark brought it up)")
        subprocess.run([str(LAB_DIR / "down")], capture_output=True, timeout=120)

    @staticmethod
    def query_file(zone):
        path = LAB_RUN / {"big.test.": "big-queries.txt",
                          "big-signed.test.": "big-signed-queries.txt"}[zone]
        if not path.exists():
            raise BenchError("lab query file %s missing" % path)
        return path


def head_lines(source, count, destination):
    """The first `count` lines of `source` into `destination`; returns the count written."""
    written = 0
    with open(source) as src, open(destination, "w") as dst:
        for line in src:
            if written == count:
                break
            if line.strip():
                dst.write(line)
                written += 1
    if written < count:
        raise BenchError("%s has only %d lines, %d wanted" % (source, written, count))
    return written


# --------------------------------------------------------------------------
# Ports and readiness

def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (a small race remains)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                    tcp.bind(("127.0.0.1", port))
                    return port
            except OSError:
                continue
    raise BenchError("no free port found")


def _bound_ports(table, listen_only):
    ports = set()
    try:
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, state = fields[1], fields[3]
                if listen_only and state != "0A":
                    continue
                address, port = local.split(":")
                if address in ("0100007F", "00000000"):  # 127.0.0.1 or 0.0.0.0
                    ports.add(int(port, 16))
    except OSError:
        pass
    return ports


def ports_ready(udp_ports=(), tcp_ports=()):
    """True when every port has a socket bound (UDP) or listening (TCP) on 127.0.0.1.

    Reads /proc/net rather than sending a query, so that checking readiness
    puts nothing in the cache and sends nothing upstream."""
    udp = _bound_ports("/proc/net/udp", False) if udp_ports else set()
    tcp = _bound_ports("/proc/net/tcp", True) if tcp_ports else set()
    return all(p in udp for p in udp_ports) and all(p in tcp for p in tcp_ports)


# --------------------------------------------------------------------------
# /proc readings

def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        # The command name may contain spaces: split after its closing paren.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError("no VmRSS for pid %d" % pid)


def thread_count(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


# --------------------------------------------------------------------------
# Processes

def pin(argv, cpu, enabled):
    if not enabled or cpu == "any" or not shutil.which("taskset"):
        return argv
    return ["taskset", "-c", cpu] + argv


class ServerProcess:
    """One server under test. `argv` must exec the server itself (not fork a
    child), because CPU and memory are read from this PID."""

    def __init__(self, name, argv, workdir, udp_ports=(), tcp_ports=(), pin_cpu=True,
                 optional_udp_ports=(), optional_tcp_ports=()):
        self.name = name
        self.argv = pin(list(argv), SERVER_CPU, pin_cpu)
        self.workdir = Path(workdir)
        self.udp_ports = tuple(udp_ports)
        self.tcp_ports = tuple(tcp_ports)
        # Listeners the benchmark can do without (a transport not built yet):
        # start() waits a little for them and lists the absent ones in `missing`.
        self.optional_udp_ports = tuple(optional_udp_ports)
        self.optional_tcp_ports = tuple(optional_tcp_ports)
        self.missing = set()
        self.process = None
        self.stdout_path = self.workdir / ("%s.out" % name)

    @property
    def pid(self):
        return self.process.pid

    def start(self, timeout=20.0):
        log("%s: %s" % (self.name, " ".join(shlex.quote(a) for a in self.argv)))
        self.output = open(self.stdout_path, "w")
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.output,
                                        stderr=subprocess.STDOUT, cwd=str(self.workdir),
                                        start_new_session=True)
        on_exit(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError("%s exited at start (status %s):\n%s"
                                 % (self.name, self.process.returncode, self.tail()))
            if ports_ready(self.udp_ports, self.tcp_ports):
                self._wait_optional(time.monotonic() + 3.0)
                return self
            time.sleep(0.05)
        raise BenchError("%s not listening on %s after %.0f s:\n%s"
                         % (self.name, self.udp_ports + self.tcp_ports, timeout, self.tail()))

    def _wait_optional(self, deadline):
        while True:
            self.missing = ({p for p in self.optional_udp_ports if not ports_ready(udp_ports=[p])} |
                            {p for p in self.optional_tcp_ports if not ports_ready(tcp_ports=[p])})
            if not self.missing or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if self.missing:
            log("%s: not listening on %s (those transports are skipped)"
                % (self.name, ", ".join(str(p) for p in sorted(self.missing))))

    def listening(self, port):
        return port is not None and port not in self.missing

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def check_alive(self):
        if not self.alive():
            raise BenchError("%s died (status %s):\n%s"
                             % (self.name, self.process.returncode, self.tail()))

    def tail(self, lines=15):
        try:
            return "".join(open(self.stdout_path).readlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log("%s ignored SIGTERM for 10 s: SIGKILL" % self.name)
            self.process.kill()
            self.process.wait(timeout=10)


def run(argv, timeout, check=True, **kwargs):
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise BenchError("timed out after %.0f s: %s" % (timeout, " ".join(argv)))
    if check and result.returncode != 0:
        raise BenchError("failed (%d): %s\n%s%s" % (result.returncode, " ".join(argv),
                                                    result.stdout[-2000:], result.stderr[-2000:]))
    return result


# --------------------------------------------------------------------------
# Server configurations

def make_certificate(directory):
    """A throwaway self-signed ECDSA certificate for DoT/DoH/DoQ listeners."""
    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], timeout=30)
    return cert, key


class Listeners:
    """Ports one server listens on (None = that transport is off)."""

    def __init__(self, udp_tcp, dot=None, doh=None, doq=None, doh3=None):
        self.udp_tcp, self.dot, self.doh, self.doq = udp_tcp, dot, doh, doq
        self.doh3 = doh3   # DoH over HTTP/3: UDP, the DoH TCP port's number

    @classmethod
    def pick(cls, dot=False, doh=False, doq=False, doh3=False):
        doh_port = free_port() if doh or doh3 else None
        return cls(free_port(), free_port() if dot else None, doh_port,
                   free_port() if doq else None, doh_port if doh3 else None)

    def tcp_ports(self):
        return [p for p in (self.udp_tcp, self.dot, self.doh) if p]

    def udp_ports(self):
        return [p for p in (self.udp_tcp, self.doq, self.doh3) if p]


def fill_template(name, values):
    text = (CONFIGS / name).read_text()
    for key, value in values.items():
        text = text.replace("@%s@" % key, str(value))
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise BenchError("%s: unfilled placeholders %s" % (name, leftover))
    return text


def unbound_server(workdir, listeners, cert=None, key=None, pin_cpu=True, name="unbound",
                   cache_mib=(128, 256)):
    """Debian's Unbound, one thread, tuned fairly (bench/configs/unbound.conf.in)."""
    workdir = Path(workdir)
    interfaces = ["    interface: 127.0.0.1@%d" % p
                  for p in (listeners.udp_tcp, listeners.dot, listeners.doh) if p]
    tls = []
    if listeners.dot or listeners.doh:
        tls += ['    tls-service-key: "%s"' % key, '    tls-service-pem: "%s"' % cert]
    if listeners.dot:
        tls.append("    tls-port: %d" % listeners.dot)
    if listeners.doh:
        tls += ["    https-port: %d" % listeners.doh, '    http-endpoint: "/dns-query"',
                "    http-notls-downstream: no"]
    if listeners.doq or listeners.doh3:
        raise BenchError("Unbound 1.17 has no DNS over QUIC and no HTTP/3")
    config = workdir / "unbound.conf"
    config.write_text(fill_template("unbound.conf.in", {
        "DIR": workdir, "RUN": LAB_RUN, "NET": labnet.NET, "PORT": listeners.udp_tcp,
        "INTERFACES": "\n".join(interfaces), "TLS": "\n".join(tls) if tls else "    # no TLS listeners",
        "MSG_CACHE": "%dm" % cache_mib[0], "RRSET_CACHE": "%dm" % cache_mib[1]}))
    run(["unbound-checkconf", str(config)], timeout=30)
    return ServerProcess(name, ["unbound", "-d", "-p", "-c", str(config)], workdir,
                         listeners.udp_ports(), listeners.tcp_ports(), pin_cpu)


def _yaml_list(ports):
    return "[%s]" % ", ".join('"127.0.0.1@%d"' % p for p in ports if p)


def sextant_server(command, workdir, listeners, cert=None, key=None, pin_cpu=True, name="sextant",
                   cache_memory="512M", optional_encrypted=True, server_extra="", warm_restart_file=None,
                   control_socket=None, threads=1):
    """The resolver under test, from a command line. `{config}` in the command
    is replaced by the generated YAML file; without it, `-c FILE` is appended.
    `server_extra`: more lines for the `server:` section (indented two spaces).
    Warm restart stays off unless `warm_restart_file` is given."""
    workdir = Path(workdir)
    config = workdir / "sextant.yaml"
    text = fill_template("sextant.yaml.in", {
        "RUN": LAB_RUN, "NET": labnet.NET, "LISTEN": _yaml_list([listeners.udp_tcp]),
        "DOT_LISTEN": _yaml_list([listeners.dot]), "DOH_LISTEN": _yaml_list([listeners.doh]),
        "DOQ_LISTEN": _yaml_list([listeners.doq]), "DOH3_LISTEN": _yaml_list([listeners.doh3]),
        "CERT": cert or "", "KEY": key or "", "CACHE_MEMORY": cache_memory,
        "WARM_RESTART": "true" if warm_restart_file else "false",
        "WARM_RESTART_FILE": warm_restart_file or "", "CONTROL_SOCKET": control_socket or ""})
    if server_extra:
        text = text.replace("\nserver:\n", "\nserver:\n" + server_extra, 1)
    config.write_text(text.replace("  threads: 1\n", "  threads: %d\n" % threads, 1))
    argv = shlex.split(command)
    if os.sep in argv[0] and not os.path.isabs(argv[0]):
        argv[0] = os.path.abspath(argv[0])   # the server runs in its own directory
    if "{config}" in command:
        argv = [a.replace("{config}", str(config)) for a in argv]
    else:
        argv += ["-c", str(config)]
    if optional_encrypted:
        # DoT/DoH/DoQ may not be wired yet in a given build: measure what is there.
        return ServerProcess(name, argv, workdir, [listeners.udp_tcp], [listeners.udp_tcp], pin_cpu,
                             optional_udp_ports=[p for p in (listeners.doq, listeners.doh3) if p],
                             optional_tcp_ports=[p for p in (listeners.dot, listeners.doh) if p])
    return ServerProcess(name, argv, workdir, listeners.udp_ports(), listeners.tcp_ports(), pin_cpu)


def sextant_available(command):
    """(True, "") if the command's program exists, else (False, why)."""
    if not command or command == "none":
        return False, "disabled with --sextant none"
    program = shlex.split(command)[0]
    if "{config}" in program:
        return True, ""
    if os.sep in program:
        if os.access(program, os.X_OK):
            return True, ""
        return False, "%s does not exist (yet)" % program
    return (True, "") if shutil.which(program) else (False, "%s not on PATH" % program)


def trivial_command(requested):
    """The trivial responder's binary: the one given, the release build, or a
    private -O2 build of bench/trivial_responder.cpp (a few seconds)."""
    if requested and requested != "auto":
        return requested
    return _private_build("trivial_responder", DEFAULT_TRIVIAL, [])


def _private_build(name, default, flags):
    """`default` if it exists (the release build), else a private -O2 build of
    bench/NAME.cpp in ~/.cache/sextant-bench (rebuilt when the source is newer)."""
    if os.access(default, os.X_OK):
        return default
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sextant-bench"
    cache.mkdir(parents=True, exist_ok=True)
    binary = cache / name
    source = BENCH_DIR / (name + ".cpp")
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        log("building %s with g++ -O2 (no release build found)" % binary)
        run(["g++", "-std=c++20", "-O2", "-Wall", "-Wextra", "-o", str(binary), str(source)] + flags,
            timeout=180)
    return str(binary)


def doq_load_command(requested=None):
    """bench/doq_load.cpp's binary: the one given, the release build, or a private build."""
    if requested and requested != "auto":
        return requested
    return _private_build("doq_load", DEFAULT_DOQ_LOAD, ["-lngtcp2_crypto_gnutls", "-lngtcp2", "-lgnutls"])


class DoqLoadResult:
    """The RESULT line of doq_load (key=value), as attributes."""

    def __init__(self, text):
        self.text = text
        line = [l for l in text.splitlines() if l.startswith("RESULT ")]
        if not line:
            raise BenchError("doq_load printed no RESULT line:\n%s" % text[-1500:])
        values = dict(kv.split("=", 1) for kv in line[-1].split()[1:])
        for key, value in values.items():
            setattr(self, key, float(value) if "." in value else int(value))
        self.completed = self.answered
        self.lost = max(self.sent - self.answered, 0)
        self.run_time = self.wall


def doq_load(binary, port, query_file, seconds=5, connections=4, streams=50, qps=None,
             per_connection=0, resume=False, early_data=False, server_pid=None, pin_cpu=True):
    argv = [binary, "-s", "127.0.0.1", "-p", str(port), "-d", str(query_file), "-l", str(seconds),
            "-c", str(connections), "-m", str(streams)]
    if qps:
        argv += ["-Q", str(qps)]
    if per_connection:
        argv += ["-n", str(per_connection)]
    if early_data:
        argv.append("--early-data")
    elif resume:
        argv.append("--resume")
    if server_pid:
        argv += ["--server-pid", str(server_pid)]
    result = run(pin(argv, CLIENT_CPU, pin_cpu), timeout=seconds + 30, check=False)
    return DoqLoadResult(result.stdout + result.stderr)


def trivial_server(binary, workdir, port, pin_cpu=True, name="trivial"):
    return ServerProcess(name, [binary, "127.0.0.1@%d" % port], workdir, [port], (), pin_cpu)


# --------------------------------------------------------------------------
# dnsperf

class DnsperfResult:
    def __init__(self, text):
        self.text = text

        def number(pattern, default=None, cast=float):
            match = re.search(pattern, text)
            return cast(match.group(1)) if match else default

        self.sent = number(r"Queries sent:\s+(\d+)", 0, int)
        self.completed = number(r"Queries completed:\s+(\d+)", 0, int)
        self.lost = number(r"Queries lost:\s+(\d+)", 0, int)
        self.qps = number(r"Queries per second:\s+([\d.]+)", 0.0)
        self.run_time = number(r"Run time \(s\):\s+([\d.]+)", 0.0)
        self.avg_latency = number(r"Average Latency \(s\):\s+([\d.]+)")
        self.stddev_latency = number(r"Latency StdDev \(s\):\s+([\d.]+)")
        self.rcodes = {code: int(n) for code, n in
                       re.findall(r"\b([A-Z]+) (\d+) \([\d.]+%\)", text.split("Response codes:")[-1]
                                  .splitlines()[0])} if "Response codes:" in text else {}
        # Per-query lines of -v: "> NOERROR name type 0.000123" (lost: "> T name type").
        self.latencies = [float(m) for m in re.findall(r"^> [A-Z]+ \S+ \S+ ([\d.]+)$", text, re.M)]

    @property
    def noerror(self):
        return self.rcodes.get("NOERROR", 0)


def dnsperf(server_port, query_file, mode="udp", seconds=None, runs=None, clients=4,
            outstanding=200, max_qps=None, timeout_s=5, verbose=False, pin_cpu=True,
            extra=(), wall_limit=None):
    argv = ["dnsperf", "-m", mode, "-s", "127.0.0.1", "-p", str(server_port), "-d", str(query_file),
            "-c", str(clients), "-q", str(outstanding), "-t", str(timeout_s),
            "-T", str(DNSPERF_THREADS)]
    if seconds:
        argv += ["-l", str(seconds)]
    if runs:
        argv += ["-n", str(runs)]
    if max_qps:
        argv += ["-Q", str(max_qps)]
    if verbose:
        argv.append("-v")
    argv += list(extra)
    if wall_limit is None:
        wall_limit = (seconds or 120) + timeout_s + 30
    result = run(pin(argv, CLIENT_CPU, pin_cpu), timeout=wall_limit, check=False)
    if "Statistics:" not in result.stdout:
        raise BenchError("dnsperf gave no statistics (%d): %s\n%s%s"
                         % (result.returncode, " ".join(argv), result.stdout[-1500:],
                            result.stderr[-1500:]))
    return DnsperfResult(result.stdout)


def validates(port, qname):
    """True if one DO query for a name of a signed zone comes back NOERROR with AD:
    the resolver validated it. Figures of a resolver that does not validate are
    not comparable with Unbound's, which does."""
    result = run(["kdig", "@127.0.0.1", "-p", str(port), "+dnssec", "+timeout=3", "+retry=1",
                  qname, "A"], timeout=20, check=False)
    match = re.search(r"^;; Flags: ([a-z ]*);", result.stdout, re.M)
    return "status: NOERROR" in result.stdout and match is not None and "ad" in match.group(1).split()


def percentile(values, fraction):
    """Nearest-rank percentile of a list (None if empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(round(fraction * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------
# Output

def fmt_number(value, digits=0, unit=""):
    if value is None:
        return "n/a"
    if digits == 0:
        return "{:,.0f}{}".format(value, unit)
    return "{:,.{}f}{}".format(value, digits, unit)


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "n/a"
    return "%.*fx" % (digits, a / b)


def table(headers, rows, title=None):
    """A plain-text table with right-aligned figures."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    out = []
    if title:
        out.append(title)
    out.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                         for i, (h, w) in enumerate(zip(headers, widths))))
    out.append("  ".join("-" * w for w in widths))
    for row in cells:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(out)


def output_path(stem, suffix):
    """Where a benchmark writes a file next to its printed tables: $BENCH_OUT
    (default /tmp), named like run_all.sh's text output
    (sextant-bench-STAMP-STEM.SUFFIX, STAMP from $BENCH_STAMP or now)."""
    stamp = os.environ.get("BENCH_STAMP") or time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return Path(os.environ.get("BENCH_OUT", "/tmp")) / ("sextant-bench-%s-%s.%s" % (stamp, stem, suffix))


def plot_latencies(stem, series, title):
    """Writes latency distributions as a PNG (python3-matplotlib) and returns
    its path, or None when matplotlib is missing. `series` maps a label to
    a list of latencies in milliseconds. Two panels: the cumulative
    distribution on a log time axis, and latency by percentile on a "nines"
    axis (50, 90, 99, 99.9 ...), where tails show."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FixedLocator, FuncFormatter
    except ImportError:
        log("NOTE: python3-matplotlib is not installed: no latency plot (scripts/install-deps.sh)")
        return None
    import math
    series = {label: sorted(v for v in values if v is not None and v > 0)
              for label, values in series.items()}
    series = {label: values for label, values in series.items() if values}
    if not series:
        return None
    figure, (cdf, tail) = plt.subplots(1, 2, figsize=(12, 4.5))
    most = 0.0
    for label, values in series.items():
        n = len(values)
        fractions = [(i + 1) / n for i in range(n)]
        cdf.step(values, fractions, where="post",
                 label="%s (%s answers, p50 %.3f ms)" % (label, "{:,}".format(n), percentile(values, 0.5)))
        # Percentile axis: x = -log10(1 - p), so 90 % -> 1, 99 % -> 2 ...
        nines = [-math.log10(1 - f) if f < 1 else -math.log10(1 / (n + 1)) for f in fractions]
        tail.plot(nines, values, label=label)
        most = max(most, max(nines))
    cdf.set_xscale("log")
    cdf.set_xlabel("latency (ms, log scale)")
    cdf.set_ylabel("fraction of answers")
    cdf.set_ylim(0, 1.01)
    cdf.grid(True, which="both", alpha=0.3)
    cdf.legend(fontsize="small", loc="lower right")
    cdf.set_title("cumulative distribution")
    ticks = [t for t in range(0, int(most) + 2)]
    tail.xaxis.set_major_locator(FixedLocator(ticks))
    tail.xaxis.set_major_formatter(FuncFormatter(lambda x, _: "%g" % (100 * (1 - 10.0 ** -float(x)))))
    tail.set_yscale("log")
    tail.set_xlabel("percentile")
    tail.set_ylabel("latency (ms, log scale)")
    tail.grid(True, which="both", alpha=0.3)
    tail.legend(fontsize="small", loc="upper left")
    tail.set_title("latency by percentile")
    figure.suptitle(title, fontsize="medium")
    figure.tight_layout()
    path = output_path(stem, "png")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def environment_note(pin_cpu):
    def where(cpu):
        return "not pinned" if not pin_cpu or cpu == "any" else "pinned to CPU %s (taskset)" % cpu
    return ("machine: %d cores, load average %s now; servers %s; dnsperf (-T %d) %s"
            % (os.cpu_count(), loadavg(), where(SERVER_CPU), DNSPERF_THREADS, where(CLIENT_CPU)))


def common_arguments(parser):
    parser.add_argument("--sextant", default=DEFAULT_SEXTANT,
                        help="command line of the resolver under test; {config} is replaced by the "
                             "generated YAML file, else '-c FILE' is appended; 'none' skips it "
                             "(default: %(default)s)")
    parser.add_argument("--no-unbound", action="store_true", help="skip Unbound")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin servers and load generator to cores at all")
    parser.add_argument("--server-cpu", default=SERVER_CPU,
                        help="taskset CPU list for the servers, or 'any' (default: %(default)s)")
    parser.add_argument("--client-cpu", default=CLIENT_CPU,
                        help="taskset CPU list for dnsperf, or 'any' (default: %(default)s)")
    parser.add_argument("--dnsperf-threads", type=int, default=DNSPERF_THREADS,
                        help="dnsperf -T (default: %(default)s)")
    parser.add_argument("--keep-lab", action="store_true",
                        help="leave the lab up even if this benchmark brought it up")
    return parser


def apply_common_arguments(args):
    """Stores the pinning choices of common_arguments() in this module."""
    global SERVER_CPU, CLIENT_CPU, DNSPERF_THREADS
    SERVER_CPU, CLIENT_CPU, DNSPERF_THREADS = args.server_cpu, args.client_cpu, args.dnsperf_threads
    return args


def require_tools(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise BenchError("missing tools: %s (scripts/install-deps.sh installs them)" % ", ".join(missing))


def main_wrapper(main):
    """Runs main(); a BenchError becomes a one-line message and exit status 1."""
    try:
        sys.exit(main())
    except BenchError as error:
        log("error: %s" % error)
        sys.exit(1)
