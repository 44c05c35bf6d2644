#!/usr/bin/python3
"""DoH over HTTP/1.1, HTTP/2 and HTTP/3 (issue 18): cached-answer queries per
server CPU-second, Sextant beside Unbound's DoH (HTTP/2 only in 1.17), in
one run.

Both resolvers get one worker thread, the same certificate and the same
names (N names of the lab's signed big zone, asked as RFC 8484 GETs with
ID 0), and are warmed over UDP first. Then, per HTTP version, each server
gets R rounds of S seconds (servers alternating), with the server's CPU
time read around every round:

  HTTP/1.1  h2load --h1 -c CONNS -m DEPTH (pipelining)      Sextant only
  HTTP/2    h2load      -c CONNS -m STREAMS                 Sextant and Unbound
  HTTP/2    dnsperf -m doh -c CONNS (as bench/transports.py)  Sextant and Unbound
  HTTP/3    bench/doh3_client -c CONNS -m STREAMS            Sextant only

The same load generator drives HTTP/1.1 and HTTP/2 (h2load), so those two
figures compare the HTTP layers; HTTP/3 is driven by doh3_client (no other
client exists), whose own CPU cost per query is higher. The ratio against
Unbound is on HTTP/2, the only version both serve.

    bench/doh.py [--sextant CMD] [--doh3-client PATH] [--rounds 2] [--seconds 5] ...
"""

import argparse
import base64
import os
import re

import dns.message

import benchlib as B

VERSIONS = ["h1", "h2", "h2-dnsperf", "h3"]
LABEL = {"h1": "HTTP/1.1 (h2load --h1)", "h2": "HTTP/2 (h2load)", "h2-dnsperf": "HTTP/2 (dnsperf)",
         "h3": "HTTP/3 (doh3_client)"}
DEFAULT_DOH3_CLIENT = str(B.REPO / "build" / "release" / "bench" / "doh3_client")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.common_arguments(parser)
    parser.add_argument("--doh3-client", default=DEFAULT_DOH3_CLIENT,
                        help="bench/doh3_client binary (default: %(default)s)")
    parser.add_argument("--names", type=int, default=1000, help="cached names asked")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per version and server")
    parser.add_argument("--seconds", type=int, default=5, help="length of one round")
    parser.add_argument("--clients", type=int, default=8, help="connections")
    parser.add_argument("--streams", type=int, default=16,
                        help="concurrent requests per connection (HTTP/1.1: pipelining depth)")
    parser.add_argument("--versions", default=",".join(VERSIONS),
                        help="comma list of %s (default: all)" % ",".join(VERSIONS))
    return parser.parse_args()


class LoadResult:
    def __init__(self, completed, failed, run_time, text):
        self.completed, self.failed, self.run_time, self.text = completed, failed, run_time, text

    @property
    def qps(self):
        return self.completed / self.run_time if self.run_time > 0 else None


def h2load(port, uri_file, seconds, clients, streams, http1, pin_cpu):
    argv = ["h2load", "-i", str(uri_file), "-D", str(seconds), "-c", str(clients), "-m", str(streams)]
    if http1:
        argv.append("--h1")
    result = B.run(B.pin(argv, B.CLIENT_CPU, pin_cpu), timeout=seconds + 60, check=False)
    text = result.stdout + result.stderr
    requests = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                         r"(\d+) errored, (\d+) timeout", text)
    finished = re.search(r"finished in ([\d.]+)(m?s)", text)
    ok = re.search(r"status codes: (\d+) 2xx", text)
    if not requests or not finished or not ok:
        raise B.BenchError("h2load gave no figures: %s\n%s" % (" ".join(argv), text[-1500:]))
    run_time = float(finished.group(1)) / (1000.0 if finished.group(2) == "ms" else 1.0)
    # Answers are the 2xx; failures are what h2load counts as failed, errored or timed out.
    failed = int(requests.group(5)) + int(requests.group(6)) + int(requests.group(7))
    return LoadResult(int(ok.group(1)), failed, run_time, text)


def doh3_client(binary, port, names_file, seconds, clients, streams, pin_cpu):
    argv = [binary, "-s", "127.0.0.1", "-p", str(port), "-d", str(names_file), "-l", str(seconds),
            "-c", str(clients), "-m", str(streams), "--method", "GET", "--timeout", "3"]
    result = B.run(B.pin(argv, B.CLIENT_CPU, pin_cpu), timeout=seconds + 60, check=False)
    text = result.stdout + result.stderr
    done = re.search(r"Queries completed:\s+(\d+)", text)
    lost = re.search(r"Queries lost:\s+(\d+)", text)
    run_time = re.search(r"Run time \(s\):\s+([\d.]+)", text)
    line = re.search(r"HTTP statuses:(.*)", text)
    statuses = {int(s): int(n) for s, n in re.findall(r"(\d{3}) (\d+)", line.group(1))} if line else {}
    if not done or not run_time:
        raise B.BenchError("doh3_client gave no figures: %s\n%s" % (" ".join(argv), text[-1500:]))
    ok = statuses.get(200, 0)
    return LoadResult(ok, int(lost.group(1)) + int(done.group(1)) - ok, float(run_time.group(1)), text)


def main():
    args = B.apply_common_arguments(parse_arguments())
    pin_cpu = not args.no_pin
    versions = [v for v in args.versions.split(",") if v]
    if any(v not in VERSIONS for v in versions):
        raise B.BenchError("--versions takes a subset of %s" % ",".join(VERSIONS))
    B.require_tools("dnsperf", "h2load", "unbound", "openssl")
    tmp = B.private_dir("doh")
    lab = B.Lab(keep=args.keep_lab)
    lab.ensure_up()
    names_file = tmp / "names.txt"
    B.head_lines(B.Lab.query_file("big-signed.test."), args.names, names_file)
    names = [l.split() for l in names_file.read_text().splitlines() if l.strip()]
    cert, key = B.make_certificate(tmp)

    servers = []   # (server, listeners, versions it serves)
    notes = []
    if not args.no_unbound:
        d = tmp / "unbound"
        d.mkdir()
        listeners = B.Listeners.pick(doh=True)
        servers.append((B.unbound_server(d, listeners, cert, key, pin_cpu), listeners, {"h2", "h2-dnsperf"}))
    available, why = B.sextant_available(args.sextant)
    if available:
        d = tmp / "sextant"
        d.mkdir()
        listeners = B.Listeners.pick(doh=True, doh3=True)
        serves = {"h1", "h2", "h2-dnsperf", "h3"}
        if not os.access(args.doh3_client, os.X_OK):
            serves.discard("h3")
            notes.append("HTTP/3 not measured: %s is not built" % args.doh3_client)
        servers.append((B.sextant_server(args.sextant, d, listeners, cert, key, pin_cpu), listeners, serves))
    else:
        notes.append("Sextant not measured: %s" % why)
    if not servers:
        raise B.BenchError("nothing to measure")
    for server, _, _ in servers:
        server.start()
    for server, listeners, _ in servers:
        warm = B.dnsperf(listeners.udp_tcp, names_file, runs=1, max_qps=2000, pin_cpu=pin_cpu, wall_limit=120)
        B.log("%s warm-up over UDP: %d/%d NOERROR" % (server.name, warm.noerror, args.names))
        if warm.noerror < args.names * 0.99:
            raise B.BenchError("%s: warm-up incomplete (rcodes %s)" % (server.name, warm.rcodes))
    lab.check_still_up()

    # GET URIs, one per name, for h2load (ID 0, RD, no EDNS: what dnsperf sends).
    uri_files = {}
    for server, listeners, _ in servers:
        path = tmp / ("uris-%s.txt" % server.name)
        with open(path, "w") as f:
            for name, qtype in names:
                q = dns.message.make_query(name, qtype, use_edns=False)
                q.id = 0
                wire = base64.urlsafe_b64encode(q.to_wire()).decode().rstrip("=")
                f.write("https://127.0.0.1:%d/dns-query?dns=%s\n" % (listeners.doh, wire))
        uri_files[server.name] = path

    figures = {}   # (server, version) -> list of {result, cpu}
    for version in versions:
        for r in range(args.rounds):
            order = servers if r % 2 == 0 else list(reversed(servers))
            for server, listeners, serves in order:
                if version not in serves:
                    continue
                server.check_alive()
                if version == "h3" and not server.listening(listeners.doh3):
                    continue
                if version != "h3" and not server.listening(listeners.doh):
                    continue
                before = B.cpu_seconds(server.pid)
                if version in ("h1", "h2"):
                    result = h2load(listeners.doh, uri_files[server.name], args.seconds, args.clients,
                                    args.streams, version == "h1", pin_cpu)
                elif version == "h2-dnsperf":
                    perf = B.dnsperf(listeners.doh, names_file, mode="doh", seconds=args.seconds,
                                     clients=args.clients, outstanding=args.clients * args.streams,
                                     pin_cpu=pin_cpu,
                                     extra=["-O", "doh-uri=https://127.0.0.1:%d/dns-query" % listeners.doh,
                                            "-O", "doh-method=GET"])
                    result = LoadResult(perf.completed, perf.lost, perf.run_time, perf.text)
                else:
                    result = doh3_client(args.doh3_client, listeners.doh3, names_file, args.seconds,
                                         args.clients, args.streams, pin_cpu)
                used = B.cpu_seconds(server.pid) - before
                figures.setdefault((server.name, version), []).append(dict(result=result, cpu=used))
                B.log("%-10s round %d %-8s %s q/s, %d answered, %d failed, server CPU %.2f s"
                      % (version, r + 1, server.name, B.fmt_number(result.qps), result.completed, result.failed,
                         used))
    for server, _, _ in servers:
        server.check_alive()
    lab.check_still_up()

    print()
    print("DoH, cached answers: %d names (GET), %d rounds x %d s, %d connections x %d streams"
          % (args.names, args.rounds, args.seconds, args.clients, args.streams))
    print(B.environment_note(pin_cpu))
    rows = []
    per_cpu = {}
    for (name, version), rs in figures.items():
        cpu = sum(x["cpu"] for x in rs)
        per_cpu[(name, version)] = sum(x["result"].completed for x in rs) / cpu if cpu > 0 else None
    for version in versions:
        for server, _, serves in servers:
            rs = figures.get((server.name, version))
            if not rs:
                rows.append([LABEL[version], server.name, "not served" if version not in serves else "not measured",
                             "", "", "", ""])
                continue
            cpu = sum(x["cpu"] for x in rs)
            run_time = sum(x["result"].run_time for x in rs)
            failed = sum(x["result"].failed for x in rs)
            qps = B.median([x["result"].qps for x in rs])
            rows.append([LABEL[version], server.name, B.fmt_number(qps), failed,
                         "%.0f%%" % (100 * cpu / max(run_time, 1e-9)), B.fmt_number(per_cpu[(server.name, version)]),
                         B.ratio(per_cpu[(server.name, version)], per_cpu.get(("sextant", "h2")))
                         if server.name == "sextant" else ""])
    print(B.table(["version (client)", "server", "q/s (median)", "failed", "server CPU", "queries/CPU-s",
                   "vs Sextant HTTP/2"], rows,
                  title="\nqueries/CPU-s = answers / server CPU-seconds over all rounds"))
    both = [v for v in versions if ("sextant", v) in per_cpu and ("unbound", v) in per_cpu]
    if both:
        print(B.table(["version (client)", "queries/CPU-s Sextant/Unbound"],
                      [[LABEL[v], B.ratio(per_cpu[("sextant", v)], per_cpu[("unbound", v)])] for v in both],
                      title="\nRatios against Unbound 1.17 (its DoH is HTTP/2 only)"))
    for note in notes:
        print("NOTE: " + note)
    return 0


if __name__ == "__main__":
    B.main_wrapper(main)
