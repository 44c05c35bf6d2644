#!/usr/bin/python3
"""Writes the seed corpus of fuzz_doh_http2 into tests/fuzz/corpus-doh-http2/.

Each seed is one control octet (fuzz_doh_http2.cpp: how the input is cut,
how the resolver answers) followed by what an HTTP/2 client sends after the
connection preface: its SETTINGS, then requests as HEADERS (HPACK literals,
no Huffman) and DATA frames, or an attack (rapid reset, SETTINGS and PING
floods). Run: /usr/bin/python3 make_http2_corpus.py
"""
import base64
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-doh-http2")

END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PING, WINDOW_UPDATE = 0, 1, 2, 3, 4, 6, 8
# control octet: bits 0-3 piece size / 7 (0: all at once); bits 4-5 answers
# (0 at once, 1 later, 2 abandoned, 3 mixed); bit 6 JSON API on.
AT_ONCE, LATER, ABANDON, MIXED, JSON = 0x00, 0x10, 0x20, 0x30, 0x40


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def header_block(fields):
    # Literal header field without indexing, new name (RFC 7541 §6.2.2).
    block = b""
    for name, value in fields:
        block += b"\x00" + hpack_int(len(name), 7) + name.encode() + hpack_int(len(value), 7) + value.encode()
    return block


def query(name="example.com", qtype=1):
    wire = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        wire += bytes([len(label)]) + label.encode()
    return wire + b"\x00" + struct.pack(">HH", qtype, 1)


def get(stream, path=None):
    if path is None:
        path = "/dns-query?dns=" + base64.urlsafe_b64encode(query()).decode().rstrip("=")
    fields = [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"), (":path", path),
              ("accept", "application/dns-message")]
    return frame(HEADERS, END_STREAM | END_HEADERS, stream, header_block(fields))


def get_indexed(stream):
    # :method GET, :scheme https from the static table; :authority (1) and
    # :path (4) with indexed names and literal values: the shortest request,
    # for floods (nghttp2 wants :authority or host).
    path = ("/dns-query?dns=" + base64.urlsafe_b64encode(query()).decode().rstrip("=")).encode()
    block = b"\x82\x87\x01\x09localhost\x04" + hpack_int(len(path), 7) + path
    return frame(HEADERS, END_STREAM | END_HEADERS, stream, block)


def post(stream, body):
    fields = [(":method", "POST"), (":scheme", "https"), (":authority", "localhost"), (":path", "/dns-query"),
              ("content-type", "application/dns-message"), ("content-length", str(len(body))),
              ("x-forwarded-for", "192.0.2.1")]
    return frame(HEADERS, END_HEADERS, stream, header_block(fields)) + frame(DATA, END_STREAM, stream, body)


CLIENT_SETTINGS = frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100) + struct.pack(">HI", 4, 65535))
SETTINGS_ACK = frame(SETTINGS, ACK, 0)

SEEDS = {
    "get": bytes([AT_ONCE]) + CLIENT_SETTINGS + SETTINGS_ACK + get(1),
    "get-later-pieces": bytes([LATER | 3]) + CLIENT_SETTINGS + get(1) + get(3) + get(5),
    "post": bytes([MIXED]) + CLIENT_SETTINGS + post(1, query()) + post(3, query("example.org", 28)),
    "post-abandoned": bytes([ABANDON | 1]) + CLIENT_SETTINGS + post(1, query()),
    "json": bytes([JSON]) + CLIENT_SETTINGS + get(1, "/resolve?name=example.com&type=AAAA")
    + get(3, "/dns-query?name=example.net"),
    "errors": bytes([AT_ONCE]) + CLIENT_SETTINGS + get(1, "/other") + get(3, "/dns-query?dns=!!")
    + frame(HEADERS, END_STREAM | END_HEADERS, 5, header_block([(":method", "PUT"), (":path", "/dns-query")])),
    # CVE-2023-44487: open a stream, reset it at once, again and again; the
    # answers come later, after the resets.
    "rapid-reset": bytes([LATER]) + CLIENT_SETTINGS
    + b"".join(get_indexed(s) + frame(RST_STREAM, 0, s, struct.pack(">I", 8)) for s in range(1, 240, 2)),
    "settings-flood": bytes([AT_ONCE]) + CLIENT_SETTINGS
    + b"".join(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 65535 + i)) for i in range(300)),
    "ping-flood": bytes([AT_ONCE]) + CLIENT_SETTINGS
    + b"".join(frame(PING, 0, 0, struct.pack(">Q", i)) for i in range(300)),
    "streams-over-cap": bytes([LATER]) + CLIENT_SETTINGS + b"".join(get(s) for s in range(1, 41, 2)),
    "window-priority": bytes([MIXED | 2]) + CLIENT_SETTINGS + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 20))
    + frame(PRIORITY, 0, 1, struct.pack(">IB", 0, 16)) + get(1)
    + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 100)),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {OUT}")


if __name__ == "__main__":
    main()
