"""Counts DNS queries sent to the lab's servers, by capturing packets on lo.

A packet socket (AF_PACKET) bound to the loopback interface with a classic
BPF filter attached, so the kernel hands over only IPv4 packets to the lab's
/16 (127.53.0.0/16, or the one SEXTANT_LAB_NET names) port 53 (UDP or TCP):
the queries a resolver sends upstream. Another lab on the machine is not seen.
No tcpdump or tshark needed; needs root (CAP_NET_RAW), as they would.

Each captured query is kept with the kernel's receive time (SO_TIMESTAMPNS,
wall clock: compare with time.time()), so a benchmark marks a window
(start, end) and counts what fell in it, however late the capture thread
got to the packet. UDP: one datagram = one query
(retransmissions count again, as they are packets sent). TCP: every DNS
message in the client-to-server byte stream counts once (segments are
reassembled per connection; retransmitted bytes are skipped), and every
SYN counts as a connection.

The capture sees every process on the machine: a window only belongs to one
resolver if nothing else queries the lab meanwhile. Benchmarks repeat each
measurement and take the minimum, and report when the repeats differ.
"""

import ctypes
import os
import socket
import struct
import sys
import threading
import time

import dns.message
import dns.rdatatype

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "lab"))
import labnet  # noqa: E402  (tests/lab/labnet.py: the lab's prefix)

ETH_P_IP = 0x0800
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35     # also SCM_TIMESTAMPNS: kernel receive time, CLOCK_REALTIME
LAB_NET = labnet.NET_INT   # 0x7F350000 (127.53.0.0) in the default lab
LAB_MASK = 0xFFFF0000


def _bpf(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


# Classic BPF over the IPv4 header (SOCK_DGRAM packet sockets start there).
# Accept: version 4, destination in the lab's /16, UDP or TCP, not a later
# fragment, destination port 53. Everything else: drop.
_PROGRAM = [
    _bpf(0x30, 0, 0, 0),            # 0: ldb [0]
    _bpf(0x54, 0, 0, 0xF0),         # 1: and #0xf0
    _bpf(0x15, 0, 12, 0x40),        # 2: jeq #0x40 ? 3 : drop
    _bpf(0x20, 0, 0, 16),           # 3: ld [16]           destination address
    _bpf(0x54, 0, 0, LAB_MASK),     # 4: and #0xffff0000
    _bpf(0x15, 0, 9, LAB_NET),      # 5: jeq LAB_NET ? 6 : drop
    _bpf(0x30, 0, 0, 9),            # 6: ldb [9]           protocol
    _bpf(0x15, 1, 0, 17),           # 7: jeq #17 (UDP) ? 9 : 8
    _bpf(0x15, 0, 6, 6),            # 8: jeq #6 (TCP) ? 9 : drop
    _bpf(0x28, 0, 0, 6),            # 9: ldh [6]           flags + fragment offset
    _bpf(0x45, 4, 0, 0x1FFF),       # 10: jset #0x1fff ? drop : 11
    _bpf(0xB1, 0, 0, 0),            # 11: ldxb 4*([0]&0xf) header length
    _bpf(0x48, 0, 0, 2),            # 12: ldh [x+2]         destination port
    _bpf(0x15, 0, 1, 53),           # 13: jeq #53 ? accept : drop
    _bpf(0x06, 0, 0, 0x40000),      # 14: accept (whole packet)
    _bpf(0x06, 0, 0, 0),            # 15: drop
]
# Jump offsets count from the next instruction: target = pc + 1 + offset;
# "drop" is instruction 15.
assert len(_PROGRAM) == 16


def _attach_filter(sock):
    program = b"".join(_PROGRAM)
    buffer = ctypes.create_string_buffer(program)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(_PROGRAM), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                    bytes(ctypes.string_at(ctypes.addressof(fprog), ctypes.sizeof(fprog))))
    return buffer  # must outlive the setsockopt call only; kept for clarity


class Query:
    __slots__ = ("time", "proto", "source", "server", "qname", "qtype", "syn")

    def __init__(self, when, proto, source, server, qname, qtype, syn=False):
        self.time, self.proto, self.source, self.server = when, proto, source, server
        self.qname, self.qtype, self.syn = qname, qtype, syn

    def describe(self):
        if self.syn:
            return "%s -> %s TCP connect" % (self.source, self.server)
        return "%s -> %s %s %s %s" % (self.source, self.server, self.proto, self.qname, self.qtype)


def _question(payload):
    try:
        message = dns.message.from_wire(payload, question_only=True)
        q = message.question[0]
        return q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype)
    except Exception:  # a packet we cannot parse still counts, unnamed
        return "?", "?"


class UpstreamCapture:
    """Background capture of lab-bound DNS queries; thread-safe reads."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        self._filter = _attach_filter(self.sock)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("lo", 0))
        # Packets that arrived before the filter was attached: drain them.
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65535)
        except BlockingIOError:
            pass
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.settimeout(0.05)
        self.caught_up = None
        self.queries = []
        self._streams = {}   # (src, sport, dst) -> [next_seq, buffer]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            asked = time.time()
            try:
                packet, ancillary, _flags, _address = self.sock.recvmsg(65535, 64)
            except socket.timeout:
                # The queue was empty at some moment after `asked`: every
                # packet sent before then has been seen.
                self.caught_up = asked
                continue
            except OSError:
                break
            when = asked
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                    seconds, nanoseconds = struct.unpack("qq", data[:16])
                    when = seconds + nanoseconds / 1e9
            try:
                self._parse(packet, when)
            except (IndexError, struct.error):
                continue  # truncated packet: not a query we can count

    def _parse(self, packet, when):
        ihl = (packet[0] & 0x0F) * 4
        proto = packet[9]
        source = socket.inet_ntoa(packet[12:16])
        server = socket.inet_ntoa(packet[16:20])
        sport = struct.unpack("!H", packet[ihl:ihl + 2])[0]
        total = struct.unpack("!H", packet[2:4])[0]
        found = []
        if proto == 17:
            qname, qtype = _question(packet[ihl + 8:total])
            found.append(Query(when, "UDP", source, server, qname, qtype))
        elif proto == 6:
            seq = struct.unpack("!I", packet[ihl + 4:ihl + 8])[0]
            offset = (packet[ihl + 12] >> 4) * 4
            flags = packet[ihl + 13]
            payload = packet[ihl + offset:total]
            key = (source, sport, server)
            if flags & 0x02:  # SYN: a new connection
                self._streams[key] = [(seq + 1) & 0xFFFFFFFF, b""]
                found.append(Query(when, "TCP", source, server, "", "", syn=True))
            stream = self._streams.get(key)
            if stream is not None and payload:
                if seq == stream[0]:   # in order; anything else is a retransmission or a gap
                    stream[0] = (seq + len(payload)) & 0xFFFFFFFF
                    stream[1] += payload
                    while len(stream[1]) >= 2:
                        length = struct.unpack("!H", stream[1][:2])[0]
                        if len(stream[1]) < 2 + length:
                            break
                        qname, qtype = _question(stream[1][2:2 + length])
                        stream[1] = stream[1][2 + length:]
                        found.append(Query(when, "TCP", source, server, qname, qtype))
            if flags & 0x05:  # FIN or RST
                self._streams.pop(key, None)
        with self._lock:
            self.queries.extend(found)

    def between(self, start, end):
        with self._lock:
            return [q for q in self.queries if start <= q.time <= end]

    def last_time(self):
        with self._lock:
            return self.queries[-1].time if self.queries else None

    def wait_quiet(self, quiet, limit):
        """Waits until every packet sent so far has been parsed and none was
        captured for `quiet` seconds (or `limit` passed); returns that moment,
        the end of the window."""
        deadline = time.time() + limit
        wanted = time.time()
        while time.time() < deadline:
            caught = self.caught_up
            if caught is not None and caught >= wanted:
                last = self.last_time()
                if last is None or caught - last >= quiet:
                    return caught
                wanted = last + quiet
            time.sleep(0.02)
        return time.time()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def count(queries):
    """(UDP queries, TCP queries, TCP connections) in a list of captured queries."""
    udp = sum(1 for q in queries if q.proto == "UDP")
    tcp = sum(1 for q in queries if q.proto == "TCP" and not q.syn)
    syn = sum(1 for q in queries if q.syn)
    return udp, tcp, syn
