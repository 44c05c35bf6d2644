#!/usr/bin/python3
"""A scriptable fake authoritative server for the lab: what real servers will
not do on request.

It serves faults.test. on the lab's x.x.9.1 (127.53.9.1 in the default lab;
plain, correct answers) and, for each fault, a child zone
<label>.faults.test. on its own address whose server misbehaves in one way
(see topology.FAKE_ZONES and README.md). It also swallows every packet sent
to the black-hole address. Its addresses follow SEXTANT_LAB_NET (labnet.py),
inherited from `lab.py up`.

Control: one line per TCP connection to topology.FAKE_CONTROL, one JSON reply:
  silent [ZONE|all]   drop every query for ZONE (or everything) from now on
  resume [ZONE|all]   answer again
  stats               {"queries": {"qname/qtype": n}, "by_zone": {...}, "silent": [...]}
  reset               clear the counters (and resume everything)
tests/lab/fakectl is the command-line client.
"""
import argparse
import heapq
import json
import os
import random
import selectors
import socket
import struct
import sys
import threading
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import topology  # noqa: E402

PARENT_ADDRESS, PARENT_ZONE = topology.FAKE_PARENT
MAX_TCP_CLIENTS = 64


def build_zone_data():
    """{zone name: {"address", "behaviour", "records": {(name, type): rrset}}}."""
    zones = {}
    parent = dns.name.from_text(PARENT_ZONE)

    def rr(records, owner, ttl, rdtype, *rdatas):
        name = dns.name.from_text(owner)
        records[(name, dns.rdatatype.from_text(rdtype))] = dns.rrset.from_text(
            name, ttl, "IN", rdtype, *rdatas)

    def common(records, zone, address, ttl):
        rr(records, zone, ttl, "SOA", "ns.%s hostmaster.%s 1 3600 900 604800 %d" % (zone, zone, ttl))
        rr(records, zone, ttl, "NS", "ns.%s" % zone)
        rr(records, "ns." + zone, ttl, "A", address)

    parent_records = {}
    common(parent_records, PARENT_ZONE, PARENT_ADDRESS, 300)
    rr(parent_records, "www." + PARENT_ZONE, 300, "A", "192.0.2.90")
    rr(parent_records, "txt." + PARENT_ZONE, 300, "TXT", '"faults parent"')
    zones[parent] = {"address": PARENT_ADDRESS, "behaviour": "normal",
                     "records": parent_records, "delegations": {}}
    # www.<zone> addresses follow the sorted labels; zones added later go
    # last, so the addresses cases.tsv expects stay what they were.
    added_later = ("slow",)
    ordered = sorted(topology.FAKE_ZONES.items(), key=lambda item: (item[0] in added_later, item[0]))
    for index, (label, (address, behaviour)) in enumerate(ordered):
        zone = "%s.%s" % (label, PARENT_ZONE)
        ttl = topology.FAKE_STALE_TTL if label == "stale" else 300
        records = {}
        common(records, zone, address, ttl)
        rr(records, "www." + zone, ttl, "A", "192.0.2.%d" % (150 + index))
        rr(records, "txt." + zone, ttl, "TXT", '"%s"' % behaviour)
        name = dns.name.from_text(zone)
        zones[name] = {"address": address, "behaviour": behaviour, "records": records}
        # The delegation (with glue) lives in the parent.
        zones[parent]["delegations"][name] = (
            dns.rrset.from_text(name, 300, "IN", "NS", "ns." + zone),
            [dns.rrset.from_text("ns." + zone, 300, "IN", "A", address)])
    # The defences' zones (topology.FAKE_DEFENCE_ZONES).
    for index, (label, (address, behaviour)) in enumerate(sorted(topology.FAKE_DEFENCE_ZONES.items())):
        zone = "%s.%s" % (label, PARENT_ZONE)
        records = {}
        common(records, zone, address, 300)
        rr(records, "www." + zone, 300, "A", "192.0.2.%d" % (200 + index))
        if label == "rebind":
            by_owner = {}
            for owner, rdtype, rdata in topology.FAKE_REBIND_RECORDS:
                by_owner.setdefault((owner, rdtype), []).append(rdata)
            for (owner, rdtype), rdatas in by_owner.items():
                rr(records, "%s.%s" % (owner, zone), 300, rdtype, *rdatas)
        name = dns.name.from_text(zone)
        zones[name] = {"address": address, "behaviour": behaviour, "records": records}
        zones[parent]["delegations"][name] = (
            dns.rrset.from_text(name, 300, "IN", "NS", "ns." + zone),
            [dns.rrset.from_text("ns." + zone, 300, "IN", "A", address)])
    add_conformance_zones(zones, parent, rr)
    return zones


def add_conformance_zones(zones, parent, rr):
    """topology.FAKE_CONFORMANCE_ZONES: zones with several servers (one
    behaviour per address) and the glueless cycles."""
    specs = topology.FAKE_CONFORMANCE_ZONES
    names = {label: "%s.%s" % (label, PARENT_ZONE) for label in specs}
    for index, (label, spec) in enumerate(sorted(specs.items())):
        zone = names[label]
        name = dns.name.from_text(zone)
        records = {}
        if "servers" in spec:
            ns_names = ["ns%d.%s" % (i + 1, zone) for i in range(len(spec["servers"]))]
            behaviours = {address: behaviour for address, behaviour in spec["servers"]}
            for ns_name, (address, _) in zip(ns_names, spec["servers"]):
                rr(records, ns_name, 300, "A", address)
            glue = [dns.rrset.from_text(n, 300, "IN", "A", a)
                    for n, (a, _) in zip(ns_names, spec["servers"])]
        else:
            ns_names = spec["ns"]
            behaviours = {spec["serve"]: "normal"}
            glue = []
        rr(records, zone, 300, "SOA", "%s hostmaster.%s 1 3600 900 604800 300" % (ns_names[0], zone))
        rr(records, zone, 300, "NS", *ns_names)
        rr(records, "www." + zone, 300, "A", "192.0.2.%d" % (200 + index))
        rr(records, "www." + zone, 300, "AAAA", "2001:db8::%d" % (200 + index))
        rr(records, "txt." + zone, 300, "TXT", '"%s"' % ",".join(sorted(set(behaviours.values()))))
        if label == "names":
            # Targets under the zone's own name: compressed against the
            # question, they carry its 0x20 case into the reply.
            rr(records, zone, 300, "MX", "10 mail." + zone)
            rr(records, "mail." + zone, 300, "A", "192.0.2.220")
            rr(records, "_sip._tcp." + zone, 300, "SRV", "0 5 5060 sip." + zone)
            rr(records, "sip." + zone, 300, "A", "192.0.2.221")
            rr(records, "alias." + zone, 300, "CNAME", "www." + zone)
        zones[name] = {"address": next(iter(behaviours)), "behaviour": "normal",
                       "behaviours": behaviours, "records": records}
        zones[parent]["delegations"][name] = (dns.rrset.from_text(name, 300, "IN", "NS", *ns_names), glue)
    # The addresses of glueless NS names, in the zone that holds each name:
    # the address that serves the zone naming it.
    for label, spec in specs.items():
        for ns_name in spec.get("ns", []):
            holder = max((z for z in zones if dns.name.from_text(ns_name).is_subdomain(z)),
                         key=lambda z: len(z))
            rr(zones[holder]["records"], ns_name, 300, "A", spec["serve"])


class Counters:
    """Queries received, per "qname/TYPE" and per zone (read by fakectl);
    for the defences' zones, the COOKIE and ECS options they carried."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queries = {}
        self.by_zone = {}
        self.options = {}

    def reset(self):
        with self.lock:
            self.queries = {}
            self.by_zone = {}
            self.options = {}

    def record_options(self, qname, qtype, transport, cookie, subnet):
        key = "%s/%s" % (qname.to_text().lower(), dns.rdatatype.to_text(qtype))
        with self.lock:
            self.options.setdefault(key, []).append(
                {"transport": transport, "cookie": cookie.hex() if cookie is not None else None,
                 "subnet": subnet})
            del self.options[key][:-20]    # bounded: the last 20 per name

    def count(self, zone, qname, qtype):
        key = "%s/%s" % (qname.to_text().lower(), dns.rdatatype.to_text(qtype))
        with self.lock:
            self.queries[key] = self.queries.get(key, 0) + 1
            z = zone.to_text()
            self.by_zone[z] = self.by_zone.get(z, 0) + 1


class FakeAuth:
    def __init__(self, log):
        self.log = log
        self.zones = build_zone_data()
        self.zone_by_address = {}
        for name, z in self.zones.items():
            for address in z.get("behaviours", {z["address"]: z["behaviour"]}):
                self.zone_by_address[address] = name
        self.counters = Counters()
        self.silent = set()          # zone names (text) or "all"
        self.silent_lock = threading.Lock()
        self.selector = selectors.DefaultSelector()
        self.timers = []             # heap of (due, seq, callable)
        self.timer_seq = 0
        self.timer_lock = threading.Lock()
        self.udp = {}                # address -> socket
        self.tcp_clients = threading.BoundedSemaphore(MAX_TCP_CLIENTS)

    # ---- sockets --------------------------------------------------------
    def open_sockets(self):
        addresses = list(self.zone_by_address) + [topology.FAKE_BLACKHOLE,
                                                   topology.FAKE_SPOOF_SOURCE]
        for address in addresses:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            u.bind((address, 53))
            u.setblocking(False)
            self.udp[address] = u
            if address == topology.FAKE_SPOOF_SOURCE:
                continue     # only sends
            self.selector.register(u, selectors.EVENT_READ, ("udp", address))
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind((address, 53))
            t.listen(64)
            t.setblocking(False)
            self.selector.register(t, selectors.EVENT_READ, ("tcp", address))
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c.bind(topology.FAKE_CONTROL)
        c.listen(16)
        c.setblocking(False)
        self.selector.register(c, selectors.EVENT_READ, ("control", None))

    def later(self, delay, action):
        with self.timer_lock:
            self.timer_seq += 1
            heapq.heappush(self.timers, (time.monotonic() + delay, self.timer_seq, action))

    def serve_forever(self):
        while True:
            with self.timer_lock:
                timeout = None if not self.timers else max(0.0, self.timers[0][0] - time.monotonic())
            for key, _ in self.selector.select(timeout if timeout is not None else 1.0):
                kind, address = key.data
                try:
                    if kind == "udp":
                        self.on_udp(key.fileobj, address)
                    elif kind == "tcp":
                        conn, peer = key.fileobj.accept()
                        self.spawn(self.on_tcp, conn, peer, address)
                    else:
                        conn, peer = key.fileobj.accept()
                        self.spawn(self.on_control, conn)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    self.log("socket error on %s %s: %s" % (kind, address, e))
            now = time.monotonic()
            while True:
                with self.timer_lock:
                    if not self.timers or self.timers[0][0] > now:
                        break
                    _, _, action = heapq.heappop(self.timers)
                try:
                    action()
                except OSError as e:
                    self.log("delayed send failed: %s" % e)

    def spawn(self, fn, conn, *args):
        if not self.tcp_clients.acquire(blocking=False):
            conn.close()
            return

        def run():
            try:
                conn.settimeout(5)
                fn(conn, *args)
            except (OSError, ValueError):
                pass
            finally:
                conn.close()
                self.tcp_clients.release()
        threading.Thread(target=run, daemon=True).start()

    # ---- transports -------------------------------------------------------
    def on_udp(self, sock, address):
        for _ in range(64):      # bounded batch per wake-up
            try:
                wire, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            for delay, source, reply in self.safe_respond(wire, address, "udp"):
                out = self.udp[source]
                if delay:
                    self.later(delay, lambda o=out, r=reply, p=peer: o.sendto(r, p))
                else:
                    out.sendto(reply, peer)

    def on_tcp(self, conn, peer, address):
        for _ in range(100):     # bounded number of queries per connection
            header = self._read_exact(conn, 2)
            if header is None:
                return
            wire = self._read_exact(conn, struct.unpack("!H", header)[0])
            if wire is None:
                return
            for delay, _source, reply in self.safe_respond(wire, address, "tcp"):
                if delay:
                    time.sleep(delay)
                conn.sendall(struct.pack("!H", len(reply)) + reply)

    @staticmethod
    def _read_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def on_control(self, conn):
        line = b""
        while not line.endswith(b"\n") and len(line) < 1024:
            chunk = conn.recv(1024)
            if not chunk:
                break
            line += chunk
        words = line.decode("ascii", "replace").split()
        reply = self.control(words)
        conn.sendall((json.dumps(reply, sort_keys=True) + "\n").encode())

    def control(self, words):
        if not words:
            return {"error": "empty command"}
        command, target = words[0], (words[1] if len(words) > 1 else "all")
        if target != "all":
            target = dns.name.from_text(target).to_text().lower()
            if dns.name.from_text(target) not in self.zones:
                return {"error": "unknown zone %s" % target}
        with self.silent_lock:
            if command == "silent":
                self.silent.add(target)
            elif command == "resume":
                if target == "all":
                    self.silent.clear()
                else:
                    self.silent.discard(target)
            elif command == "reset":
                self.silent.clear()
                self.counters.reset()
            elif command != "stats":
                return {"error": "unknown command %s" % command}
            silent = sorted(self.silent)
        with self.counters.lock:
            return {"ok": True, "silent": silent, "queries": dict(self.counters.queries),
                    "by_zone": dict(self.counters.by_zone), "options": dict(self.counters.options)}

    # ---- answers ------------------------------------------------------------
    def safe_respond(self, wire, address, transport):
        """respond(), but a query it cannot handle is logged and dropped:
        one odd packet must not take the whole fake server down."""
        try:
            return self.respond(wire, address, transport)
        except Exception as e:  # noqa: BLE001 - any bug here must not stop the lab
            self.log("dropped a query on %s it could not handle: %r" % (address, e))
            return []

    def respond(self, wire, address, transport):
        """Returns a list of (delay seconds, source address, reply bytes)."""
        if address == topology.FAKE_BLACKHOLE:
            return []
        zone_name = self.zone_by_address[address]
        zone = self.zones[zone_name]
        try:
            query = dns.message.from_wire(wire)
        except (dns.exception.DNSException, ValueError):
            return []
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1 \
                or query.flags & dns.flags.QR:
            return []
        question = query.question[0]
        self.counters.count(zone_name, question.name, question.rdtype)
        with self.silent_lock:
            if "all" in self.silent or zone_name.to_text().lower() in self.silent:
                return []
        behaviour = zone.get("behaviours", {}).get(address, zone["behaviour"])
        if behaviour == "aa-upward-referral" or (
                behaviour == "aaaa-upward-referral" and question.rdtype == dns.rdatatype.AAAA):
            # AA=1 but no answer, no SOA: the root's NS set (lame, not NODATA).
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.AA
            reply.authority.append(dns.rrset.from_text(
                ".", 518400, "IN", "NS", "a.root-servers.net.", "b.root-servers.net."))
            return [(0, address, reply.to_wire())]
        if behaviour == "no-soa":
            reply = self.answer(query, zone_name, zone)
            if reply.rcode() == dns.rcode.NXDOMAIN or not reply.answer:
                reply.authority = [r for r in reply.authority if r.rdtype != dns.rdatatype.SOA]
            return [(0, address, reply.to_wire())]
        if behaviour == "extra-records":
            return [(0, address, self.with_extra_records(self.answer(query, zone_name, zone),
                                                        zone_name).to_wire())]
        if behaviour == "drop":
            return []
        if behaviour == "formerr-edns" and query.edns >= 0:
            reply = dns.message.make_response(query)
            reply.use_edns(False)
            reply.set_rcode(dns.rcode.FORMERR)
            return [(0, address, reply.to_wire())]
        if behaviour == "servfail":
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.SERVFAIL)
            return [(0, address, reply.to_wire())]
        if behaviour == "malformed":
            return [(0, address, self.malformed(query, wire))]
        if behaviour == "upward-referral":
            reply = dns.message.make_response(query)
            reply.flags &= ~dns.flags.AA
            reply.authority.append(dns.rrset.from_text(
                ".", 518400, "IN", "NS", "a.root-servers.net.", "b.root-servers.net."))
            return [(0, address, reply.to_wire())]
        reply = self.answer(query, zone_name, zone)
        if behaviour == "tc" and transport == "udp":
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC | dns.flags.AA
            return [(0, address, truncated.to_wire())]
        if behaviour == "delay":
            return [(topology.FAKE_DELAY_MS / 1000.0, address, reply.to_wire())]
        if behaviour == "slow":
            return [(topology.FAKE_SLOW_MS / 1000.0, address, reply.to_wire())]
        if behaviour == "mangle-case":
            return [(0, address, self.mangle_case(reply))]
        if behaviour in ("cookies", "cookie-forge", "ecs"):
            return self.defence_reply(query, reply, address, transport, behaviour)
        if transport == "udp" and behaviour in ("badid", "wrongq", "wrongsrc", "badopcode"):
            # A forged answer first (which a resolver must ignore), the real
            # one 50 ms later.
            # (built from scratch: the zone's own RRsets must stay untouched)
            owner = question.name
            if behaviour == "wrongq":
                owner = dns.name.from_text("forged." + zone_name.to_text())
            forged = dns.message.make_response(query)
            forged.flags |= dns.flags.AA
            if behaviour == "wrongq":
                forged.question[0] = dns.rrset.RRset(owner, question.rdclass, question.rdtype)
            forged.answer.append(dns.rrset.from_text(owner, 300, "IN", "A", "192.0.2.66"))
            source = address
            if behaviour == "badid":
                forged.id = (query.id + 1) & 0xFFFF
            elif behaviour == "badopcode":
                forged.set_opcode(dns.opcode.NOTIFY)
            elif behaviour == "wrongsrc":
                source = topology.FAKE_SPOOF_SOURCE
            return [(0, source, forged.to_wire()), (0.05, address, reply.to_wire())]
        return [(0, address, reply.to_wire())]

    def answer(self, query, zone_name, zone):
        question = query.question[0]
        reply = dns.message.make_response(query)
        if query.edns >= 0:
            reply.use_edns(0, 0, 1232)
        qname, qtype = question.name, question.rdtype
        if question.rdclass != dns.rdataclass.IN or not qname.is_subdomain(zone_name):
            reply.set_rcode(dns.rcode.REFUSED)
            return reply
        for child, (ns, glue) in zone.get("delegations", {}).items():
            if qname.is_subdomain(child):
                reply.authority.append(ns)
                reply.additional.extend(glue)
                return reply
        reply.flags |= dns.flags.AA
        records = zone["records"]
        soa = records[(zone_name, dns.rdatatype.SOA)]
        cname = records.get((qname, dns.rdatatype.CNAME))
        if cname is not None and qtype != dns.rdatatype.CNAME:
            reply.answer.append(cname)
            target = (cname[0].target, qtype)
            if target in records:
                reply.answer.append(records[target])
        elif (qname, qtype) in records:
            reply.answer.append(records[(qname, qtype)])
        elif any(name == qname for name, _ in records):
            reply.authority.append(soa)
        else:
            reply.set_rcode(dns.rcode.NXDOMAIN)
            reply.authority.append(soa)
        return reply

    COOKIE_SECRET = b"fakeauth cookie secret"

    def defence_reply(self, query, reply, address, transport, behaviour):
        """The cookie and ECS zones (topology.FAKE_DEFENCE_ZONES)."""
        question = query.question[0]
        cookie = subnet = None
        for option in query.options if query.edns >= 0 else []:
            if option.otype == dns.edns.COOKIE:
                cookie = option.to_wire() if not hasattr(option, "data") else option.data
            elif option.otype == dns.edns.ECS:
                subnet = "%s/%d" % (option.address, option.srclen)
        self.counters.record_options(question.name, question.rdtype, transport, cookie, subnet)
        if behaviour == "ecs":
            # (the first label compared case-blind: resolvers send 0x20 case)
            www = question.name.labels[0].lower() == b"www"
            if subnet is not None and question.rdtype == dns.rdatatype.A and reply.answer and www:
                third = int(subnet.split("/")[0].split(".")[2]) if "." in subnet else 253
                reply.answer = [dns.rrset.from_text(question.name, 300, "IN", "A", "198.51.100.%d" % third)]
            elif question.rdtype == dns.rdatatype.A and reply.answer and www:
                reply.answer = [dns.rrset.from_text(question.name, 300, "IN", "A", "198.51.100.254")]
            if subnet is not None:
                for option in query.options:
                    if option.otype == dns.edns.ECS:
                        scope = 24 if option.family == 1 else 56
                        reply.use_edns(0, 0, 1232, options=[dns.edns.ECSOption(
                            option.address, option.srclen, min(scope, option.srclen) if reply.answer else 0)])
            return [(0, address, reply.to_wire())]
        if cookie is not None and len(cookie) >= 8:
            import hashlib
            server = hashlib.sha256(self.COOKIE_SECRET + cookie[:8]).digest()[:16]
            reply.use_edns(0, 0, 1232, options=[dns.edns.GenericOption(dns.edns.COOKIE, cookie[:8] + server)])
        if behaviour == "cookie-forge" and transport == "udp":
            forged = dns.message.make_response(query)
            forged.flags |= dns.flags.AA
            forged.answer.append(dns.rrset.from_text(question.name, 300, "IN", "A", "192.0.2.66"))
            if cookie is not None and len(cookie) >= 8:
                wrong = bytes(b ^ 0xFF for b in cookie[:8]) + bytes(16)
                forged.use_edns(0, 0, 1232, options=[dns.edns.GenericOption(dns.edns.COOKIE, wrong)])
            return [(0, address, forged.to_wire()), (0.05, address, reply.to_wire())]
        return [(0, address, reply.to_wire())]

    @staticmethod
    def with_extra_records(reply, zone_name):
        """Pads an answer with RRsets nobody asked for: another type at the
        name, another name of the zone, a name outside it, an NS set and glue
        for another zone."""
        if not reply.answer or reply.rcode() != dns.rcode.NOERROR:
            return reply
        qname = reply.question[0].name
        extra_type = "TXT" if reply.question[0].rdtype != dns.rdatatype.TXT else "SPF"
        reply.answer.insert(0, dns.rrset.from_text(qname, 300, "IN", extra_type, '"extra"'))
        reply.answer.append(dns.rrset.from_text("other." + zone_name.to_text(), 300, "IN", "A",
                                                "192.0.2.66"))
        reply.answer.append(dns.rrset.from_text("www.example.com.", 300, "IN", "A", "192.0.2.66"))
        reply.authority.append(dns.rrset.from_text("example.com.", 300, "IN", "NS", "ns.evil.example."))
        reply.additional.append(dns.rrset.from_text("ns.evil.example.", 300, "IN", "A", "192.0.2.66"))
        reply.additional.append(dns.rrset.from_text("unrelated." + zone_name.to_text(), 300, "IN",
                                                    "A", "192.0.2.66"))
        return reply

    @staticmethod
    def mangle_case(reply):
        """Inverts the case of every letter of the question name (0x20)."""
        wire = bytearray(reply.to_wire())
        offset = 12
        while offset < len(wire) and wire[offset] != 0:
            length = wire[offset]
            for i in range(offset + 1, offset + 1 + length):
                c = wire[i]
                if 65 <= c <= 90 or 97 <= c <= 122:
                    wire[i] = c ^ 0x20
            offset += length + 1
        return bytes(wire)

    @staticmethod
    def malformed(query, wire):
        """A reply with the query's ID whose answer count promises records the
        packet does not hold, and a compression pointer that points forward."""
        header = struct.pack("!HHHHHH", query.id, 0x8480, 1, 3, 0, 0)
        end = 12
        while end < len(wire) and wire[end] != 0 and end < 12 + 255:
            end += wire[end] + 1
        question = wire[12:end + 5]
        garbage = b"\xc0\xff" + b"\x00\x01\x00\x01" + bytes(random.getrandbits(8) for _ in range(7))
        return header + question + garbage


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", help="log file (default: stderr)")
    args = parser.parse_args()
    out = open(args.log, "a", buffering=1) if args.log else sys.stderr

    def log(message):
        out.write("%s %s\n" % (time.strftime("%H:%M:%S"), message))
    server = FakeAuth(log)
    server.open_sockets()
    log("fakeauth: serving %d zones" % len(server.zones))
    server.serve_forever()


if __name__ == "__main__":
    main()
