"""A small reader of dnstap files (Frame Streams + the dnstap protobuf), for
tests whose logs hold frames Debian's dnstap-ldns 0.2.1 refuses to print
(DoT, DoH and DoQ clients: protocol numbers newer than it).

Only what the tests need: every MESSAGE frame as a dict with the message's
type name, socket protocol name, addresses as text, ports, the question
name of the query or response, and the response's rcode. The protobuf wire format is decoded by hand
(varint, 64-bit, length-delimited, 32-bit fields), following
transports/dnstap.proto.
"""
import ipaddress
import struct

import dns.message
import dns.rcode

MESSAGE_TYPES = {1: "AUTH_QUERY", 2: "AUTH_RESPONSE", 3: "RESOLVER_QUERY", 4: "RESOLVER_RESPONSE",
                 5: "CLIENT_QUERY", 6: "CLIENT_RESPONSE", 7: "FORWARDER_QUERY", 8: "FORWARDER_RESPONSE",
                 9: "STUB_QUERY", 10: "STUB_RESPONSE", 11: "TOOL_QUERY", 12: "TOOL_RESPONSE",
                 13: "UPDATE_QUERY", 14: "UPDATE_RESPONSE"}
PROTOCOLS = {1: "UDP", 2: "TCP", 3: "DOT", 4: "DOH", 5: "DNSCryptUDP", 6: "DNSCryptTCP", 7: "DOQ"}


def _varint(data, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or oversized varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data):
    """(field number, value) pairs of one protobuf message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(data, pos)
        elif wire_type == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire_type == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire_type)
        yield number, value


def _parse(wire):
    try:
        return dns.message.from_wire(wire)
    except Exception:  # noqa: BLE001 (a log may hold what the client sent, malformed or not)
        return None


def _message(data):
    out = {}
    for number, value in _fields(data):
        if number == 1:
            out["message_type"] = MESSAGE_TYPES.get(value, str(value))
        elif number == 3:
            out["socket_protocol"] = PROTOCOLS.get(value, str(value))
        elif number in (4, 5):
            key = "query_address" if number == 4 else "response_address"
            out[key] = str(ipaddress.ip_address(bytes(value))) if len(value) in (4, 16) else value.hex()
        elif number in (6, 7):
            out["query_port" if number == 6 else "response_port"] = str(value)
        elif number in (10, 14):
            message = _parse(bytes(value))
            if message is not None and message.question:
                out["question"] = message.question[0].name.to_text().lower()
            if message is not None and number == 14:
                out["rcode"] = dns.rcode.to_text(message.rcode())
    return out


def read_frames(path):
    """Every MESSAGE frame of a Frame Streams file, as dicts (see above)."""
    with open(path, "rb") as f:
        data = f.read()
    frames, pos = [], 0
    while pos + 4 <= len(data):
        (length,) = struct.unpack("!I", data[pos:pos + 4])
        pos += 4
        if length == 0:  # a control frame: its own length, then its body
            if pos + 4 > len(data):
                break
            (control_length,) = struct.unpack("!I", data[pos:pos + 4])
            pos += 4 + control_length
            continue
        payload = data[pos:pos + length]
        pos += length
        envelope = dict(_fields(payload))
        if envelope.get(15) == 1 and 14 in envelope:
            frame = _message(envelope[14])
            frame["identity"] = bytes(envelope.get(1, b"")).decode(errors="replace")
            frames.append(frame)
    return frames
