#!/usr/bin/python3
"""Warm restart (issue 17, section 3): after a restart of a resolver holding
N names, how many of the first 1,000 questions are answered from cache, and
how long the restart takes from the stop to the first answer.

Each resolver (one worker thread) resolves N names of the lab's signed big
zone once (dnsperf -n 1 at a fixed rate), then is restarted in the ways an
operator would, and after each restart asked 1,000 of those names (a fixed
random sample, dnsperf -n 1):

- Sextant, warm restart on (the default; its own snapshot file): SIGTERM
  (the cache is saved), start, first answer, the 1,000 questions.
- Sextant with warm restart off: the same, cold.
- Unbound 1.17, cold: SIGTERM, start.
- Unbound 1.17 by hand: `unbound-control dump_cache` to a file, SIGTERM,
  start, `unbound-control load_cache` from it (what Unbound offers; its
  restart time counts the dump and the load).

"From cache" is the resolver's own count of cache answers over the 1,000
questions (Sextant: sextant_answers_from_cache_total / sextant_queries_total;
Unbound: total.num.cachehits / total.num.queries), and the upstream queries
it sent meanwhile are shown beside it. "stop -> answering" runs from the
SIGTERM (or from the dump, by hand) to the first answer of the new process
(a cached name outside the sample, asked every 10 ms).

    bench/warm_restart.py [--sextant CMD] [--names 100000] [--qps 2500]
"""

import argparse
import random
import socket
import subprocess
import time

import dns.message
import dns.query

import benchlib as B

GOAL_FROM_CACHE = 0.99
GOAL_RESTART_S = 2.0


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--names", type=int, default=100000, help="names cached before the restart (max 100000)")
    parser.add_argument("--qps", type=int, default=2500, help="dnsperf -Q while filling the cache")
    parser.add_argument("--questions", type=int, default=1000, help="questions asked after the restart")
    parser.add_argument("--seed", type=int, default=17, help="seed of the sample of questions")
    parser.add_argument("--load-bound", type=int, default=600,
                        help="seconds allowed for Unbound's load_cache")
    return parser.parse_args()


def sextant_stats(sock):
    """`sextant control stats` over the Unix socket, as {name: value}."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(sock))
        s.sendall(b"stats\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    values = {}
    for line in data.decode().splitlines():
        name, _, value = line.rpartition(" ")
        try:
            values[name] = float(value)
        except ValueError:
            pass
    return values


def unbound_control(config, *command, stdin=None, timeout=120):
    return subprocess.run(["unbound-control", "-c", str(config)] + list(command), input=stdin,
                          capture_output=True, timeout=timeout)


def unbound_stats(config):
    out = unbound_control(config, "stats_noreset").stdout.decode()
    return {k: float(v) for k, v in (l.split("=", 1) for l in out.splitlines() if "=" in l)}


def counters(kind, handle):
    """(queries, answered from cache, upstream queries) so far."""
    if kind == "sextant":
        s = sextant_stats(handle)
        upstream = sum(v for k, v in s.items() if k.startswith("sextant_upstream_queries_total"))
        return s.get("sextant_queries_total", 0), s.get("sextant_answers_from_cache_total", 0), upstream
    s = unbound_stats(handle)
    return s.get("total.num.queries", 0), s.get("total.num.cachehits", 0), s.get("total.num.cachemiss", 0)


def wait_answering(port, qname, deadline_s=30):
    """Seconds until the first reply to `qname` (asked every 10 ms), or None."""
    query = dns.message.make_query(qname, "A")
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.01)
            return time.monotonic()
        except Exception:
            continue
    return None


def launch(server):
    """Starts the server's process without ServerProcess.start()'s wait."""
    server.output = open(server.stdout_path, "a")
    server.process = subprocess.Popen(server.argv, stdin=subprocess.DEVNULL, stdout=server.output,
                                      stderr=subprocess.STDOUT, cwd=str(server.workdir),
                                      start_new_session=True)
    B.on_exit(server.stop)


def restart(server, port, probe, before_stop=None, after_start=None, before_start=None):
    """Stops and starts `server`; returns seconds from the stop (or from
    before_stop) to the first answer, and the stop's own duration.
    before_start runs between the two and is not counted."""
    t0 = time.monotonic()
    if before_stop:
        before_stop()
    t_stop = time.monotonic()
    server.stop()
    stopped = time.monotonic()
    skipped = 0.0
    if before_start:
        before_start()
        skipped = time.monotonic() - stopped
        t0 += skipped
    launch(server)
    first = wait_answering(port, probe)
    if first is None:
        raise B.BenchError("%s did not answer after the restart:\n%s" % (server.name, server.tail()))
    if after_start:
        after_start()
        first = time.monotonic()
    return first - t0, stopped - t_stop


def ask(port, sample_file, args):
    return B.dnsperf(port, sample_file, runs=1, clients=4, outstanding=100, timeout_s=5,
                     pin_cpu=not args.no_pin, wall_limit=60)


def fill(server, port, names_file, args):
    limit = int(args.names / args.qps * 2) + 30
    started = time.monotonic()
    r = B.dnsperf(port, names_file, runs=1, max_qps=args.qps, clients=8, outstanding=1000, timeout_s=10,
                  seconds=limit, pin_cpu=not args.no_pin)
    B.log("%s: filled %d/%d names NOERROR in %.1f s (rcodes %s)"
          % (server.name, r.noerror, args.names, time.monotonic() - started, r.rcodes))
    if r.noerror < args.names * 0.98:
        raise B.BenchError("%s answered only %d of %d names while filling" % (server.name, r.noerror,
                                                                              args.names))


def measure(kind, server, port, handle, sample_file, probe, args, before_stop=None, after_start=None,
            before_start=None):
    seconds, stop_s = restart(server, port, probe, before_stop, after_start, before_start)
    q0, hits0, up0 = counters(kind, handle)
    result = ask(port, sample_file, args)
    q1, hits1, up1 = counters(kind, handle)
    asked = q1 - q0
    return dict(restart=seconds, stop=stop_s, asked=asked, from_cache=(hits1 - hits0) / asked if asked else 0,
                upstream=up1 - up0, noerror=result.noerror)


def main():
    args = B.apply_common_arguments(parse_arguments())
    B.require_tools("dnsperf", "unbound", "unbound-control")
    if not 1000 <= args.names <= 100000 or args.questions >= args.names:
        raise B.BenchError("--names must be 1000..100000 and above --questions")
    tmp = B.private_dir("warm-restart")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()
    names_file = tmp / "names.txt"
    B.head_lines(B.Lab.query_file("big-signed.test."), args.names, names_file)
    lines = names_file.read_text().splitlines()
    probe = lines[0].split()[0]
    sample = random.Random(args.seed).sample(lines[1:], args.questions)
    sample_file = tmp / "sample.txt"
    sample_file.write_text("\n".join(sample) + "\n")

    rows = {}
    notes = []
    available, why = B.sextant_available(args.sextant)
    if available:
        d = tmp / "sextant"
        d.mkdir()
        listeners = B.Listeners.pick()
        control = d / "control.sock"
        snapshot = d / "cache.snapshot"
        server = B.sextant_server(args.sextant, d, listeners, pin_cpu=not args.no_pin, cache_memory="1G",
                                  warm_restart_file=str(snapshot), control_socket=str(control))
        server.start()
        fill(server, listeners.udp_tcp, names_file, args)
        rows["Sextant, warm restart"] = measure("sextant", server, listeners.udp_tcp, control, sample_file,
                                                probe, args)
        size = snapshot.stat().st_size if snapshot.exists() else 0
        notes.append("snapshot file: %.1f MiB (%.0f octets per name)" % (size / 2**20, size / args.names))

        # The same cache (restored), restarted cold: the stop still saves (as
        # a default Sextant does), then the snapshot is removed and the
        # warm restart turned off before the start (not counted).
        def go_cold():
            snapshot.unlink(missing_ok=True)
            config = d / "sextant.yaml"
            config.write_text(config.read_text().replace("enabled: true", "enabled: false", 1))

        rows["Sextant, warm restart off"] = measure("sextant", server, listeners.udp_tcp, control, sample_file,
                                                    probe, args, before_start=go_cold)
        server.stop()
        lab.check_still_up()
    else:
        notes.append("Sextant not measured: %s" % why)

    if not args.no_unbound:
        d = tmp / "unbound"
        d.mkdir()
        listeners = B.Listeners.pick()
        server = B.unbound_server(d, listeners, pin_cpu=not args.no_pin, cache_mib=(256, 512))
        config = d / "unbound.conf"
        text = config.read_text()
        if "    control-enable: no" not in text:
            raise B.BenchError("configs/unbound.conf.in: no 'control-enable: no' to turn on")
        config.write_text(text.replace("    control-enable: no", "    control-enable: yes\n"
                                       "    control-interface: %s" % (d / "control.sock")))
        server.start()
        fill(server, listeners.udp_tcp, names_file, args)
        dump = {}

        def dump_cache():
            started = time.monotonic()
            dump["text"] = unbound_control(config, "dump_cache").stdout
            dump["dump_s"] = time.monotonic() - started

        def load_cache():
            started = time.monotonic()
            try:
                r = unbound_control(config, "load_cache", stdin=dump["text"], timeout=args.load_bound)
                if r.returncode != 0:
                    notes.append("unbound-control load_cache failed: %s" % r.stdout.decode()[-200:])
            except subprocess.TimeoutExpired:
                notes.append("unbound-control load_cache did not finish within %d s" % args.load_bound)
            dump["load_s"] = time.monotonic() - started

        rows["Unbound, dump_cache/load_cache by hand"] = measure(
            "unbound", server, listeners.udp_tcp, config, sample_file, probe, args, dump_cache, load_cache)
        notes.append("Unbound by hand: dump_cache %.2f s (%.1f MiB of text), load_cache %.2f s"
                     % (dump["dump_s"], len(dump["text"]) / 2**20, dump["load_s"]))
        rows["Unbound, cold"] = measure("unbound", server, listeners.udp_tcp, config, sample_file, probe, args)
        server.stop()
        lab.check_still_up()

    print()
    print("Warm restart: %d names of big-signed.test. cached, then a restart, then %d of them asked "
          "(dnsperf -n 1)" % (args.names, args.questions))
    print(B.environment_note(not args.no_pin))
    table = []
    for label, r in rows.items():
        table.append([label, "%.2f s" % r["restart"], "%.2f s" % r["stop"], "%d" % r["asked"],
                      "%.1f%%" % (100 * r["from_cache"]), "%d" % r["upstream"], "%d" % r["noerror"]])
    print(B.table(["restart", "stop -> answering", "of which the stop", "questions", "from cache",
                   "upstream queries (Unbound: cache misses)", "NOERROR"], table, title=""))
    s = rows.get("Sextant, warm restart")
    if s:
        print("\nSextant warm restart: %.1f%% from cache (goal >= %.0f%%: %s), %.2f s stop -> answering "
              "(goal <= %.1f s: %s)"
              % (100 * s["from_cache"], 100 * GOAL_FROM_CACHE, "met" if s["from_cache"] >= GOAL_FROM_CACHE
                 else "NOT met", s["restart"], GOAL_RESTART_S, "met" if s["restart"] <= GOAL_RESTART_S
                 else "NOT met"))
        u = rows.get("Unbound, dump_cache/load_cache by hand")
        if u:
            print("Restart time Sextant / Unbound by hand: %s" % B.ratio(s["restart"], u["restart"]))
    for note in notes:
        print("NOTE: " + note)
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
