#!/usr/bin/python3
"""A delaying DNS proxy for the lab (`up --delays`, see README.md).

The container's kernel has no netem, so round trips are simulated here:
for each knotd server, knotd listens on ADDRESS@BACKEND_PORT and this proxy
on ADDRESS@53; every query (UDP datagram, or each chunk of a TCP stream) is
held DELAY ms before it is passed on, and the answer goes back at once. A
resolver therefore sees each server answer DELAY ms later than it would.

One asyncio loop serves every address: timers are due at receive time +
delay (loop.call_at), so a busy loop makes a packet late, never early, and
adds no delay to the packets behind it. Measured on this machine at a few
thousand queries/s: under 1 ms of added jitter (tests/lab/delayproxy_test.py
checks the delay is there and bounded).

UDP: one socket per side. A query's DNS ID is replaced by one the proxy
picks (so that queries from many client ports can share the backend socket)
and put back on the answer. Entries for lost answers expire after 10 s.

  delayproxy.py [--log FILE] [--front-port 53] [--backend-port 10053] ADDRESS:DELAY_MS ...
Only loopback addresses are accepted.
"""
import argparse
import asyncio
import ipaddress
import struct
import sys
import time

BACKEND_PORT = 10053
EXPIRY = 10.0


class UdpBackend(asyncio.DatagramProtocol):
    """The proxy's socket towards knotd for one address."""

    def __init__(self, front):
        self.front = front
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, _addr):
        self.front.answer(data)


class UdpFront(asyncio.DatagramProtocol):
    """ADDRESS@53 for one server: holds each query DELAY before passing it on."""

    def __init__(self, loop, delay, backend_address):
        self.loop = loop
        self.delay = delay
        self.backend_address = backend_address
        self.transport = None
        self.backend = None
        self.pending = {}      # proxy id -> (client address, client id, deadline)
        self.next_id = 1

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if len(data) < 12:
            return
        proxy_id = self._free_id()
        if proxy_id is None:
            return             # 65,535 answers outstanding: drop, as a full queue would
        client_id = data[:2]
        self.pending[proxy_id] = (addr, client_id, time.monotonic() + EXPIRY)
        rewritten = struct.pack("!H", proxy_id) + data[2:]
        self.loop.call_at(self.loop.time() + self.delay, self._forward, rewritten)

    def _forward(self, data):
        if self.backend.transport is not None:
            self.backend.transport.sendto(data, self.backend_address)

    def _free_id(self):
        now = time.monotonic()
        for _ in range(65535):
            candidate = self.next_id
            self.next_id = self.next_id % 65535 + 1
            entry = self.pending.get(candidate)
            if entry is None or entry[2] < now:
                return candidate
        return None

    def answer(self, data):
        if len(data) < 12:
            return
        entry = self.pending.pop(struct.unpack("!H", data[:2])[0], None)
        if entry is None:
            return
        self.transport.sendto(entry[1] + data[2:], entry[0])


async def pipe(reader, writer, delay, loop):
    """Copies a byte stream, each chunk DELAY after it was read, in order."""
    queue = asyncio.Queue()

    async def send():
        while True:
            due, chunk = await queue.get()
            if chunk is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.ensure_future(send())
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            queue.put_nowait((loop.time() + delay, chunk))
    finally:
        queue.put_nowait((0, None))
        try:
            await sender
        except (ConnectionError, OSError):
            pass
        writer.close()


def tcp_handler(delay, backend_address, loop):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.wait_for(
                asyncio.open_connection(*backend_address), 5)
        except (OSError, asyncio.TimeoutError):
            client_writer.close()
            return
        try:
            await asyncio.wait_for(asyncio.gather(
                pipe(client_reader, server_writer, delay, loop),
                pipe(server_reader, client_writer, 0, loop)), 120)
        except (OSError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            client_writer.close()
            server_writer.close()
    return handle


def parse_target(text):
    address, _, delay = text.rpartition(":")
    if not ipaddress.ip_address(address).is_loopback:
        raise argparse.ArgumentTypeError("%s is not a loopback address" % address)
    milliseconds = float(delay)
    if not 0 <= milliseconds <= 1000:
        raise argparse.ArgumentTypeError("delay %s ms is outside 0-1000" % delay)
    return address, milliseconds / 1000.0


async def serve(targets, front_port, backend_port):
    loop = asyncio.get_running_loop()
    for address, delay in targets:
        backend_address = (address, backend_port)
        _, front = await loop.create_datagram_endpoint(
            lambda d=delay, b=backend_address: UdpFront(loop, d, b), local_addr=(address, front_port))
        _, backend = await loop.create_datagram_endpoint(
            lambda f=front: UdpBackend(f), local_addr=(address, 0))
        front.backend = backend
        await asyncio.start_server(tcp_handler(delay, backend_address, loop), address, front_port,
                                   reuse_address=True)
    print("delayproxy: %s" % ", ".join("%s +%.0f ms" % (a, d * 1000) for a, d in targets),
          flush=True)
    await asyncio.Event().wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", help="only names the run directory (the lab's pid marker)")
    parser.add_argument("--front-port", type=int, default=53)
    parser.add_argument("--backend-port", type=int, default=BACKEND_PORT)
    parser.add_argument("targets", nargs="+", type=parse_target, metavar="ADDRESS:DELAY_MS")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.targets, args.front_port, args.backend_port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
