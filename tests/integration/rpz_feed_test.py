#!/usr/bin/python3
"""RPZ from a primary (issue 15), end to end through real sockets:

  rpz_feed_test.py SEXTANT_BINARY

A Knot DNS primary of the test's own (on the lab prefix, journal on, so it
serves IXFR, with `notify:` toward Sextant) serves rpz.test.:
  1. the initial AXFR: names blocked (dig, kdig), metrics say AXFR;
  2. the zone changed on the primary (knotc zone-begin/set/unset/commit):
     Knot's NOTIFY -> IXFR -> the change applies within a bounded wait;
  3. NOTIFY from an address not allowed, or for another zone: REFUSED;
     from the primary's address: NOERROR with AA;
  4. the primary stopped: the last good copy still filters, and a restart
     of Sextant reads it back from the zonefile cache;
  5. a broken primary (a small fake: IXFR refused, then an AXFR whose zone
     the policy loader refuses): the old copy stays, the error names the
     transfer (primary, serial, record), and the failure is counted.
"""
import os
import re
import shutil
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sextant_common as common  # noqa: E402
import labnet  # noqa: E402

PRIMARY = labnet.address("250.1")  # not used by the lab's servers
OTHER = labnet.address("250.2")
ZONE = "rpz.test."
SOA = "@ 300 SOA ns.rpz.test. admin.rpz.test. %d 3600 1 86400 60\n"


def free_port_on(address):
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((address, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((address, port))
                except OSError:
                    continue
            return port
    raise common.TestFailure("no free port on %s" % address)


def dig(port, name, rdtype="A", tool="dig"):
    cmd = [tool, "@127.0.0.1", "-p", str(port), name, rdtype]
    cmd += ["+tries=1", "+time=3", "+nocookie"] if tool == "dig" else ["+retry=0", "+timeout=3", "+edns"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    text = p.stdout + p.stderr
    m = re.search(r"status: (\w+)", text)
    answers = re.findall(r"^\S+\s+\d+\s+IN\s+A\s+(\S+)$", text, re.M)
    return (m.group(1) if m else None), answers, text


def blocked(port, name, tool="dig"):
    """NXDOMAIN with EDE 15 (the RPZ's answer, not the lab's NXDOMAIN)."""
    status, _, text = dig(port, name, tool=tool)
    return status == "NXDOMAIN" and re.search(r"EDE: 15", text) is not None


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def metric(text, family, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    pattern = r"^%s%s (\S+)$" % (re.escape(family), re.escape("{%s}" % want) if want else "")
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else None


def wait_for(what, condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Knot:
    """knotd serving rpz.test. with a journal (IXFR) and NOTIFY to Sextant."""

    def __init__(self, directory, port, notify_port):
        self.dir = directory
        self.port = port
        os.makedirs(os.path.join(directory, "db"), exist_ok=True)
        with open(os.path.join(directory, "rpz.test.zone"), "w") as f:
            f.write("$ORIGIN rpz.test.\n$TTL 300\n" + SOA % 1 + "@ NS ns.rpz.test.\n"
                    "bad1.example CNAME .\n*.bad2.example CNAME *.\nwalled.example A 10.9.9.1\n")
        self.config = os.path.join(directory, "knot.conf")
        with open(self.config, "w") as f:
            f.write("\n".join([
                "server:",
                '    rundir: "%s"' % directory,
                '    listen: "%s@%d"' % (PRIMARY, port),
                "    udp-workers: 1", "    tcp-workers: 1", "    background-workers: 1",
                "database:", '    storage: "%s/db"' % directory,
                "control:", '    listen: "%s/knot.sock"' % directory,
                "log:", '  - target: "%s/knotd.log"' % directory, "    any: info",
                "remote:", "  - id: sextant", '    address: "127.0.0.1@%d"' % notify_port,
                '    via: "%s"' % PRIMARY,
                "acl:", "  - id: xfr", '    address: "127.0.0.0/8"', "    action: transfer",
                "template:", "  - id: default", "    zonefile-sync: -1", "    journal-content: changes",
                "    semantic-checks: off",
                "zone:", '  - domain: "%s"' % ZONE, '    file: "%s/rpz.test.zone"' % directory,
                "    notify: sextant", "    acl: xfr", ""]))
        self.process = None

    def start(self):
        self.log = open(os.path.join(self.dir, "stdout.log"), "w")
        self.process = subprocess.Popen(["/usr/sbin/knotd", "-c", self.config], stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        ok = wait_for("knot", lambda: self.knotc("zone-status", ZONE).returncode == 0 and self.serial() == 1)
        if not ok:
            raise common.TestFailure("knotd did not serve %s: %s" % (ZONE, self.log_text()))

    def knotc(self, *args):
        return subprocess.run(["knotc", "-c", self.config, "-t", "5"] + list(args),
                              capture_output=True, text=True, timeout=15)

    def serial(self):
        try:
            q = dns.message.make_query(ZONE, "SOA")
            r = dns.query.tcp(q, PRIMARY, port=self.port, timeout=1)
            return r.answer[0][0].serial if r.answer else None
        except Exception:  # noqa: BLE001
            return None

    def log_text(self):
        try:
            return open(os.path.join(self.dir, "knotd.log")).read()
        except OSError:
            return ""

    def stop(self):
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
            self.log.close()


class BrokenPrimary(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """SOA serial 100; IXFR REFUSED; AXFR of a zone the policy loader refuses
    (a CNAME beside an A record at one trigger)."""
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address):
        self.asked = []
        super().__init__(address, BrokenHandler)


class BrokenHandler(socketserver.BaseRequestHandler):
    def read_message(self):
        head = self.request.recv(2)
        if len(head) < 2:
            return None
        size = struct.unpack("!H", head)[0]
        data = b""
        while len(data) < size:
            chunk = self.request.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return dns.message.from_wire(data)

    def send(self, message):
        wire = message.to_wire()
        self.request.sendall(struct.pack("!H", len(wire)) + wire)

    def handle(self):
        q = self.read_message()
        if q is None:
            return
        qtype = q.question[0].rdtype
        self.server.asked.append(dns.rdatatype.to_text(qtype))
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        soa = dns.rrset.from_text(ZONE, 300, "IN", "SOA", "ns.rpz.test. admin.rpz.test. 100 3600 1 86400 60")
        if qtype == dns.rdatatype.SOA:
            r.answer.append(soa)
        elif qtype == dns.rdatatype.IXFR:
            r.set_rcode(dns.rcode.REFUSED)
        else:
            r.answer.append(soa)
            r.answer.append(dns.rrset.from_text("ok.example." + ZONE, 300, "IN", "CNAME", "."))
            self.send(r)
            r = dns.message.make_response(q)
            r.answer.append(dns.rrset.from_text("twice.example." + ZONE, 300, "IN", "CNAME", "."))
            r.answer.append(dns.rrset.from_text("twice.example." + ZONE, 300, "IN", "A", "10.0.0.1"))
            r.answer.append(soa)
        self.send(r)


def notify(port, zone, source):
    q = dns.message.make_query(zone, "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    q.flags = (q.flags & ~dns.flags.RD) | dns.flags.AA
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=3, source=source)


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = argv[0]
    results = common.Results("rpz feed")
    work = tempfile.mkdtemp(prefix="sextant-rpzfeed-")
    knot_port = free_port_on(PRIMARY)
    sextant_port = common.free_port()
    metrics_port = common.free_port()
    cache_file = os.path.join(work, "rpz.test.cache")
    control_socket = os.path.join(work, "control.sock")
    extra = ("metrics:\n  listen: [\"127.0.0.1@%d\"]\n"
             "control:\n  socket: %s\n"
             "policy:\n  rpz:\n"
             "    - {zone: rpz.test, primaries: [\"%s@%d\"], file: %s, transfer-timeout: 5s}\n"
             % (metrics_port, control_socket, PRIMARY, knot_port, cache_file))
    knot = Knot(os.path.join(work, "knot"), knot_port, sextant_port)
    daemon = common.Daemon(binary, port=sextant_port, extra_config=extra, workdir=work)
    broken = None
    try:
        knot.start()
        daemon.start()
        port = daemon.port

        # 1. Initial AXFR.
        ok = wait_for("axfr", lambda: blocked(port, "bad1.example"))
        results.check(ok, "dig: a QNAME trigger applies after the initial AXFR", daemon.log_text()[-800:])
        status, _, text = dig(port, "x.bad2.example", tool="kdig")
        results.check(status == "NOERROR" and "ANSWER: 0" in text,
                      "kdig: a wildcard NODATA trigger", text)
        m = metrics(metrics_port)
        results.check(metric(m, "sextant_rpz_transfers_total", zone="rpz.test.", kind="axfr", result="ok") == 1,
                      "one AXFR counted", m[-2000:])
        results.check(metric(m, "sextant_rpz_serial", zone="rpz.test.") == 1, "serial 1 in the metrics")
        results.check(os.path.exists(cache_file) and "bad1.example" in open(cache_file).read(),
                      "the zonefile cache is written")

        # 2. A change on the primary, by NOTIFY and IXFR.
        for args in (["zone-begin", ZONE],
                     ["zone-set", ZONE, "bad3.example", "300", "CNAME", "."],
                     ["zone-unset", ZONE, "bad1.example"],
                     ["zone-set", ZONE, "bad1.example", "300", "A", "10.9.9.9"],
                     ["zone-commit", ZONE]):
            r = knot.knotc(*args)
            results.check(r.returncode == 0, "knotc " + " ".join(args), r.stdout + r.stderr)
        started = time.monotonic()
        ok = wait_for("ixfr", lambda: blocked(port, "bad3.example"), seconds=8)
        elapsed = time.monotonic() - started
        results.check(ok, "the change applies after NOTIFY (%.1f s)" % elapsed,
                      daemon.log_text()[-1500:] + knot.log_text()[-800:])
        status, answers, text = dig(port, "bad1.example")
        results.check(status == "NOERROR" and answers == ["10.9.9.9"],
                      "a trigger changed from NXDOMAIN to local data (cache flushed)", text)
        m = metrics(metrics_port)
        results.check(metric(m, "sextant_rpz_transfers_total", zone="rpz.test.", kind="ixfr", result="ok") == 1,
                      "the change came by IXFR", m[-2500:])
        results.check(re.search(r"serial 2 by IXFR from .*3 changes, applied in place", daemon.log_text()) is not None,
                      "the IXFR edited the zone in place (no rebuild)", daemon.log_text()[-1000:])
        results.check((metric(m, "sextant_rpz_notify_total", zone="rpz.test.", result="accepted") or 0) >= 1,
                      "Knot's NOTIFY accepted")
        results.check(metric(m, "sextant_rpz_serial", zone="rpz.test.") == 2, "serial 2 in the metrics")

        # A reload with the zone's settings unchanged keeps its copy, timers
        # and counters (no new AXFR).
        code, out, err = common.control(binary, ["reload"], socket_path=control_socket)
        results.check(code == 0, "control reload", out + err)
        code, out, err = common.control(binary, ["status"], socket_path=control_socket)
        results.check("rpz-feed rpz.test. serial 2 ok" in out, "control status: the zone's serial and state", out + err)
        m = metrics(metrics_port)
        results.check(blocked(port, "bad3.example") and
                      metric(m, "sextant_rpz_serial", zone="rpz.test.") == 2 and
                      metric(m, "sextant_rpz_transfers_total", zone="rpz.test.", kind="axfr", result="ok") == 1,
                      "after a reload: the same copy, no new transfer", m[-1500:])

        # 3. NOTIFY from elsewhere.
        r = notify(port, ZONE, OTHER)
        results.check(r.rcode() == dns.rcode.REFUSED, "NOTIFY from an address not allowed: REFUSED",
                      r.to_text())
        r = notify(port, "other.test.", PRIMARY)
        results.check(r.rcode() == dns.rcode.REFUSED, "NOTIFY for a zone not fed: REFUSED", r.to_text())
        r = notify(port, ZONE, PRIMARY)
        results.check(r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA and r.opcode() == dns.opcode.NOTIFY,
                      "NOTIFY from the primary: NOERROR, AA", r.to_text())
        m = metrics(metrics_port)
        results.check(metric(m, "sextant_rpz_notify_total", zone="rpz.test.", result="refused") == 1,
                      "the refused NOTIFY counted")

        # 4. Primary down: the last copy stays, also across a restart.
        knot.stop()
        r = notify(port, ZONE, PRIMARY)  # a refresh that fails
        wait_for("failure", lambda: (metric(metrics(metrics_port), "sextant_rpz_refresh_failures_total",
                                            zone="rpz.test.") or 0) >= 1, seconds=5)
        results.check(blocked(port, "bad3.example"), "primary down: the last copy filters")
        results.check("refresh failed" in daemon.log_text(), "the failed refresh is logged")
        code, _ = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(code == 0 and not reports, "daemon stopped cleanly", str(reports[:5]))
        os.makedirs(os.path.join(work, "restart"))
        extra = extra.replace(control_socket, control_socket + "2")
        daemon = common.Daemon(binary, port=sextant_port, extra_config=extra, workdir=os.path.join(work, "restart"))
        daemon.start()
        results.check(blocked(port, "bad3.example") and dig(port, "bad1.example")[1] == ["10.9.9.9"],
                      "restart with the primary down: the zonefile cache filters", daemon.log_text()[-800:])

        # 5. A broken primary: the copy stays, the error names the transfer.
        broken = BrokenPrimary((PRIMARY, knot_port))
        threading.Thread(target=broken.serve_forever, daemon=True).start()
        notify(port, ZONE, PRIMARY)
        ok = wait_for("broken", lambda: (metric(metrics(metrics_port), "sextant_rpz_transfers_total",
                                                 zone="rpz.test.", kind="axfr", result="failed") or 0) >= 1)
        log = daemon.log_text()
        results.check(ok and "IXFR" in broken.asked and "AXFR" in broken.asked,
                      "IXFR refused, then AXFR tried", "%s\n%s" % (broken.asked, log[-1500:]))
        results.check(re.search(r"AXFR of rpz\.test\. from %s@%d: serial 100: the policy zone is refused: "
                                r"twice\.example\.rpz\.test\." % (re.escape(PRIMARY), knot_port), log) is not None,
                      "the error names the primary, the serial and the record", log[-1500:])
        results.check(blocked(port, "bad3.example"), "the refused transfer changed nothing")
        results.check(metric(metrics(metrics_port), "sextant_rpz_serial", zone="rpz.test.") == 2,
                      "still serial 2")
    finally:
        if broken:
            broken.shutdown()
            broken.server_close()
        code, _ = daemon.stop()
        reports = daemon.sanitizer_reports()
        results.check(code == 0 and not reports, "daemon stopped cleanly", str(reports[:5]))
        knot.stop()
    if not results.failures:
        shutil.rmtree(work, ignore_errors=True)
    return results.finish()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except common.TestFailure as e:
        print("FAIL %s" % e)
        print("rpz feed: 0 passed, 1 failed")
        sys.exit(1)
