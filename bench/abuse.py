"""Ordinary viewers and the hostile clients of bench/abuse.sh, all on loopback.

    abuse.py viewers PORT VIDEO_PATH SIZE OUT
        four loops from 127.0.0.1, each on a keep-alive connection: a 256 KiB range of
        the video at a random offset, then the home page, 100 ms apart; one line per
        request to OUT ("start_ms ok latency_ms what"); runs until SIGTERM.
    abuse.py slowloris PORT SECONDS  (127.0.0.2) 1,200 connections sending request
        headers one line every 5 s
    abuse.py noread PORT SECONDS PATH  (127.0.0.3) 1,100 connections that GET PATH and
        never read
    abuse.py multipart PORT SECONDS UPLOAD_PATH  (127.0.0.4) one chunked multipart POST
        whose body never contains its boundary, sent as fast as possible
    abuse.py logins PORT SECONDS  (127.0.0.5) 64 loops posting log-ins and registrations
        with random names, hanging up 20 ms after sending

An attacker whose connection is closed opens another, until SECONDS have passed. Every
attack also stops early, and says so, if the server's RSS passes --rss-cap-mib (default
2048) or if the free space of the disk holding --data-dir falls by --disk-cap-mib
(default 2048), so that an unbounded server cannot take the shared machine down.
"""

import argparse
import asyncio
import os
import random
import signal
import socket
import time

try:
    import uvloop
except ImportError:
    uvloop = None

HOST = "127.0.0.1"
RANGE = 256 * 1024
TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8  # tcpi_state values of Linux


def ms():
    return int(time.time() * 1000)


async def read_answer(reader):
    """Reads one HTTP/1.1 answer; returns its status and whether the connection stays."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection") != "close"


async def viewer_loop(port, path, size, out):
    conn = None
    while True:
        for what in ("range", "home"):
            began = ms()
            ok = False
            try:
                if conn is None:
                    conn = await asyncio.wait_for(
                        asyncio.open_connection(HOST, port, local_addr=("127.0.0.1", 0)), 10
                    )
                reader, writer = conn
                if what == "range":
                    first = random.randrange(0, size - RANGE)
                    request = (f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n"
                               f"Range: bytes={first}-{first + RANGE - 1}\r\n\r\n")
                else:
                    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
                writer.write(request.encode())
                status, keep = await asyncio.wait_for(read_answer(reader), 10)
                ok = status in (200, 206)
                if not keep:
                    writer.close()
                    conn = None
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError,
                    IndexError, asyncio.LimitOverrunError):
                pass
            if not ok and conn is not None:  # a connection in an unknown state
                conn[1].close()
                conn = None
            out.write(f"{began} {int(ok)} {ms() - began} {what}\n")
            await asyncio.sleep(0.1)


async def viewers(args):
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with open(args.out, "w", buffering=1) as out:
        loops = [asyncio.create_task(viewer_loop(args.port, args.path, args.size, out))
                 for _ in range(4)]
        await stop.wait()
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)


class Attack:
    def __init__(self, args, source):
        self.args = args
        self.source = source
        self.deadline = time.monotonic() + args.seconds
        self.opened = 0
        self.capped = None
        self.free_at_start = self.disk_free()

    def disk_free(self):
        fs = os.statvfs(self.args.data_dir)
        return fs.f_bavail * fs.f_frsize

    def over(self):
        return self.capped is not None or time.monotonic() >= self.deadline

    async def connect(self, limit=2**16):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                HOST, self.args.port, local_addr=(self.source, 0), limit=limit
            ),
            10,
        )
        self.opened += 1
        return reader, writer

    async def guard(self):
        """Ends the attack when the server's RSS or its disk use passes its cap."""
        path = f"/proc/{self.args.pid}/status"
        while not self.over():
            try:
                with open(path) as f:
                    kib = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            except (OSError, StopIteration):
                kib = 0
            if kib > self.args.rss_cap_mib * 1024:
                self.capped = f"server RSS above {self.args.rss_cap_mib} MiB"
            if self.free_at_start - self.disk_free() > self.args.disk_cap_mib * 2**20:
                self.capped = f"{self.args.disk_cap_mib} MiB more used on the server's disk"
            await asyncio.sleep(0.05)

    async def run(self, worker, count):
        async def forever(i):
            while not self.over():
                try:
                    await worker(i)
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                    await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(forever(i)) for i in range(count)]
        await self.guard()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        note = f", stopped early: {self.capped}" if self.capped else ""
        print(f"{self.args.kind}: {self.opened} connections opened{note}")

    async def sleep_until_over(self, seconds):
        end = min(self.deadline, time.monotonic() + seconds)
        while not self.over() and time.monotonic() < end:
            await asyncio.sleep(min(0.1, end - time.monotonic()))


async def slowloris(attack):
    async def worker(i):
        _, writer = await attack.connect()
        try:
            writer.write(f"GET /?{i} HTTP/1.1\r\nHost: {HOST}\r\n".encode())
            n = 0
            while not attack.over():
                await attack.sleep_until_over(5)
                n += 1
                writer.write(f"X-Slow-{n}: {n}\r\n".encode())
                await writer.drain()
        finally:
            writer.close()

    await attack.run(worker, 1200)


def peer_closed(writer):
    """Whether the server closed the connection, seen without reading what it sent."""
    sock = writer.get_extra_info("socket")
    state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    return state in (TCP_CLOSE, TCP_CLOSE_WAIT)


async def noread(attack):
    async def worker(i):
        # Reading stops once 2 KiB sit in the client's buffer.
        _, writer = await attack.connect(limit=1024)
        try:
            writer.write(f"GET {attack.args.path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            while not attack.over() and not peer_closed(writer):
                await attack.sleep_until_over(1)
        finally:
            writer.close()

    await attack.run(worker, 1100)


async def multipart(attack):
    boundary = "reelbenchboundary"
    filler = os.urandom(1024 * 1024).replace(boundary.encode(), b"x")
    chunk = f"{len(filler):x}\r\n".encode() + filler + b"\r\n"

    async def worker(i):
        reader, writer = await attack.connect()
        try:
            writer.write(
                f"POST {attack.args.path} HTTP/1.1\r\nHost: {HOST}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            while not attack.over() and not reader.at_eof():
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.close()

    await attack.run(worker, 1)


async def logins(attack):
    async def worker(i):
        name, pwd = f"x{random.getrandbits(48):012x}", os.urandom(12).hex()
        if random.random() < 0.5:
            path, body = "/api/user", f'{{"user_name":"{name}","pwd":"{pwd}"}}'
        else:
            path, body = f"/api/user/{name}", f'{{"pwd":"{pwd}"}}'
        _, writer = await attack.connect()
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
            )
            await writer.drain()
            await asyncio.sleep(0.02)
        finally:
            writer.close()

    await attack.run(worker, 64)


ATTACKS = {
    "slowloris": ("127.0.0.2", slowloris),
    "noread": ("127.0.0.3", noread),
    "multipart": ("127.0.0.4", multipart),
    "logins": ("127.0.0.5", logins),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["viewers", *ATTACKS])
    p.add_argument("port", type=int)
    p.add_argument("rest", nargs="*")
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--rss-cap-mib", type=int, default=2048)
    p.add_argument("--data-dir", default="/var/tmp")
    p.add_argument("--disk-cap-mib", type=int, default=2048)
    args = p.parse_args()
    if args.kind == "viewers":
        args.path, args.size, args.out = args.rest[0], int(args.rest[1]), args.rest[2]
        coro = viewers(args)
    else:
        args.seconds = float(args.rest[0])
        args.path = args.rest[1] if len(args.rest) > 1 else ""
        source, attack = ATTACKS[args.kind]
        coro = attack(Attack(args, source))
    if uvloop is not None:
        uvloop.run(coro)
    else:
        asyncio.run(coro)


if __name__ == "__main__":
    main()
