"""Many slow viewers of one video, each from its own loopback address, and a probe.

Each viewer connects from 127.0.X.Y (500 new viewers a second), asks for the whole video (`Range: bytes=0-`, as a
browser's player does) and reads it at a viewer's pace, RATE bytes a second, for SECONDS
seconds. Once they are all started, a probe from 127.0.0.1, in a process of its own, asks for
256 KiB ranges at random offsets on fresh connections, one after another, and times each
to its last byte (a failed probe counts with the time it took).
Prints a JSON summary: errors by kind, late seconds (a second's bytes took more than a
second to come), the probe's latencies.

    viewers.py HOST PORT PATH SIZE [--viewers N] [--rate BYTES] [--seconds S]
"""

import argparse
import asyncio
import collections
import json
import multiprocessing
import random
import time

try:
    import uvloop
except ImportError:  # plain asyncio holds the load too, with more CPU
    uvloop = None

PROBE_BYTES = 256 * 1024
TIMEOUT = 15


def source_address(i):
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


async def get(host, port, path, first, last, local):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, local_addr=(local, 0)), TIMEOUT
    )
    range_end = "" if last is None else str(last)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: reel-bench\r\n"
        f"Range: bytes={first}-{range_end}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status = int(head.split(b" ", 2)[1])
    return reader, writer, status


def run_loop(coro):
    if uvloop is not None:
        return uvloop.run(coro)
    return asyncio.run(coro)


async def probe(args):
    """Times 256 KiB ranges one after another for args.seconds; returns (ms, errors)."""
    latencies, errors = [], collections.Counter()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        first = random.randrange(0, args.size - PROBE_BYTES)
        began = time.monotonic()
        writer = None
        try:
            reader, writer, status = await get(
                args.host, args.port, args.path, first, first + PROBE_BYTES - 1, "127.0.0.1"
            )
            if status != 206:
                errors[f"probe status {status}"] += 1
            else:
                await asyncio.wait_for(reader.readexactly(PROBE_BYTES), TIMEOUT)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
            errors[f"probe {type(e).__name__}"] += 1
        finally:
            if writer is not None:
                writer.close()
        latencies.append((time.monotonic() - began) * 1000)
        await asyncio.sleep(0.1)
    return latencies, errors


def probe_process(args, results):
    results.put(run_loop(probe(args)))


class Run:
    def __init__(self, args):
        self.args = args
        self.errors = collections.Counter()
        self.late_seconds = 0

    async def viewer(self, i):
        a = self.args
        writer = None
        step = "connect"
        try:
            reader, writer, status = await get(a.host, a.port, a.path, 0, None, source_address(i))
            if status not in (200, 206):
                self.errors[f"status {status}"] += 1
                return
            step = "read"
            start = time.monotonic()
            for second in range(1, a.seconds + 1):
                asked = time.monotonic()
                await asyncio.wait_for(reader.readexactly(a.rate), TIMEOUT)
                if time.monotonic() - asked > 1:
                    self.late_seconds += 1
                await asyncio.sleep(max(0, start + second - time.monotonic()))
        except asyncio.TimeoutError:
            self.errors[f"{step}: no answer in {TIMEOUT} s"] += 1
        except asyncio.IncompleteReadError:
            self.errors[f"{step}: closed by the server"] += 1
        except OSError as e:
            self.errors[f"{step}: {type(e).__name__}"] += 1
        finally:
            if writer is not None:
                writer.close()

    async def main(self):
        a = self.args
        viewers = []
        # 500 new viewers a second: a crowd, but one that nginx's default listen backlog
        # (511) takes without dropping connections.
        for i in range(a.viewers):
            viewers.append(asyncio.create_task(self.viewer(i)))
            if i % 50 == 49:
                await asyncio.sleep(0.1)
        # The probe has an event loop of its own, so that the viewers' cannot delay it.
        results = multiprocessing.Queue()
        prober = multiprocessing.Process(target=probe_process, args=(a, results))
        prober.start()
        await asyncio.gather(*viewers)
        probe_ms, probe_errors = await asyncio.to_thread(results.get)
        prober.join()
        self.errors.update(probe_errors)
        ms = sorted(probe_ms)
        pick = lambda q: round(ms[min(len(ms) - 1, int(q * len(ms)))]) if ms else None
        print(json.dumps({
            "viewers": a.viewers,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "late_seconds": self.late_seconds,
            "probes": len(ms),
            "probe_p50_ms": pick(0.50),
            "probe_p99_ms": pick(0.99),
        }))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("path")
    p.add_argument("size", type=int)
    p.add_argument("--viewers", type=int, default=5000)
    p.add_argument("--rate", type=int, default=16 * 1024)
    p.add_argument("--seconds", type=int, default=45)
    args = p.parse_args()
    run_loop(Run(args).main())


if __name__ == "__main__":
    main()
