#!/usr/bin/python3
"""delayproxy.py (the lab's `up --delays`): answers come back DELAY later
over UDP and TCP, with the client's DNS ID, and every query is answered when
many are in flight at once. Needs no lab: a dnspython responder on a free
port of 127.0.0.1 stands in for knotd."""
import os
import socket
import subprocess
import sys
import threading
import time

import dns.message
import dns.query
import dns.rrset

HERE = os.path.dirname(os.path.abspath(__file__))
DELAY_MS = 40


def free_port():
    # A port free for both UDP and TCP on 127.0.0.1.
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind(("127.0.0.1", port))
                    return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def answer_for(wire):
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "TXT", '"hi"'))
    return response.to_wire()


def responder(port, stop):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    udp.settimeout(0.1)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(8)
    tcp.settimeout(0.1)

    def serve_tcp():
        while not stop.is_set():
            try:
                conn, _ = tcp.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                length = int.from_bytes(conn.recv(2), "big")
                data = b""
                while len(data) < length:
                    data += conn.recv(length - len(data))
                reply = answer_for(data)
                conn.sendall(len(reply).to_bytes(2, "big") + reply)

    threading.Thread(target=serve_tcp, daemon=True).start()
    while not stop.is_set():
        try:
            data, peer = udp.recvfrom(65535)
        except socket.timeout:
            continue
        udp.sendto(answer_for(data), peer)


def main():
    front, backend = free_port(), free_port()
    stop = threading.Event()
    threading.Thread(target=responder, args=(backend, stop), daemon=True).start()
    proxy = subprocess.Popen([sys.executable, os.path.join(HERE, "delayproxy.py"),
                              "--front-port", str(front), "--backend-port", str(backend),
                              "127.0.0.1:%d" % DELAY_MS], stdout=subprocess.PIPE)
    failures = []
    try:
        proxy.stdout.readline()           # "delayproxy: ..." once it listens
        for transport in (dns.query.udp, dns.query.tcp):
            times = []
            for i in range(5):
                query = dns.message.make_query("n%d.example." % i, "TXT")
                started = time.monotonic()
                reply = transport(query, "127.0.0.1", port=front, timeout=2)
                times.append((time.monotonic() - started) * 1000)
                if reply.id != query.id or not reply.answer:
                    failures.append("%s: wrong reply %s" % (transport.__name__, reply))
            if min(times) < DELAY_MS or max(times) > DELAY_MS + 200:
                failures.append("%s: %s ms, expected %d ms or a little more"
                                % (transport.__name__, ["%.1f" % t for t in times], DELAY_MS))
        # 200 queries in flight from one socket: each answered, with its own ID.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(3)
        sent = {}
        started = time.monotonic()
        for i in range(200):
            query = dns.message.make_query("m%d.example." % i, "TXT", id=1000 + i)
            sent[query.id] = str(query.question[0].name)
            sock.sendto(query.to_wire(), ("127.0.0.1", front))
        got = 0
        while got < len(sent):
            reply = dns.message.from_wire(sock.recv(65535))
            if sent.get(reply.id) != str(reply.question[0].name):
                failures.append("reply %d for %s does not match" % (reply.id, reply.question[0].name))
            got += 1
        elapsed = (time.monotonic() - started) * 1000
        if elapsed < DELAY_MS:
            failures.append("200 in flight answered in %.1f ms, under the delay" % elapsed)
    except Exception as e:   # noqa: BLE001  (a timeout is a failure, with its reason)
        failures.append("%s: %s" % (type(e).__name__, e))
    finally:
        proxy.terminate()
        proxy.wait(5)
        stop.set()
    for f in failures:
        print("FAIL:", f)
    print("delayproxy: %s" % ("ok" if not failures else "%d failures" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
