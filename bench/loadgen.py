"""The built-in load generator, used when `wrk` is not installed: N keep-alive connections, closed loop.

    python bench/loadgen.py --port P --path /small [-c 64] [-d 5] [--warmup 1] [--unique]

Prints one JSON object (requests, duration_s, rps, p50/p90/p99 ms, errors, non2xx).

Why not an aiohttp client: a load generator must be much faster than what it measures. aiohttp's
client costs tens of µs per request in Python; this one writes pre-encoded request bytes from a
bare `asyncio.Protocol` on uvloop and parses responses with httptools (C), so one process drives
well over the proxy's rate. It runs as its own process (bench/run.py starts it) so it never
shares an event loop or the GIL with the bench's bookkeeping. Like wrk, each connection sends its
next request when the previous response is complete (no pipelining), and latency is measured per
request from write to the end of the response.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import httptools
import uvloop


class Run:
    """Shared state of one run: the clock window, the samples, the request source."""

    def __init__(self, host: str, port: int, path: str, unique: bool) -> None:
        self.host, self.port = host, port
        self.path = path
        self.unique = unique
        self.nonce = os.urandom(4).hex()
        self.counter = 0
        self.fixed = self._encode(path)
        self.running = True
        self.measuring = False
        self.samples: list[int] = []  # latency, ns
        self.non2xx = 0
        self.errors = 0

    def _encode(self, path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUser-Agent: edgeproxy-bench\r\n\r\n".encode()

    def request(self) -> bytes:
        if not self.unique:
            return self.fixed
        self.counter += 1
        return self._encode(f"{self.path.rstrip('/')}/{self.nonce}-{self.counter}")


class Connection(asyncio.Protocol):
    def __init__(self, run: Run, lost: asyncio.Future[None]) -> None:
        self.run = run
        self.lost = lost
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.started = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self) -> None:
        assert self.transport is not None
        self.started = time.perf_counter_ns()
        self.transport.write(self.run.request())

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.run.errors += 1
            if self.transport is not None:
                self.transport.close()

    def on_message_complete(self) -> None:
        run = self.run
        if run.measuring:
            run.samples.append(time.perf_counter_ns() - self.started)
            status = self.parser.get_status_code()
            if not 200 <= status < 400:
                run.non2xx += 1
        if self.transport is None:
            return
        if run.running and self.parser.should_keep_alive():
            self.send()
        else:
            self.transport.close()


async def connection_loop(run: Run) -> None:
    """Keep one connection busy until the run ends, reconnecting when the server closes it."""
    loop = asyncio.get_running_loop()
    while run.running:
        lost: asyncio.Future[None] = loop.create_future()
        try:
            transport, _ = await loop.create_connection(lambda: Connection(run, lost), run.host, run.port)
        except OSError:
            run.errors += 1
            await asyncio.sleep(0.01)
            continue
        try:
            await lost
        finally:
            transport.close()


async def drive(run: Run, connections: int, duration: float, warmup: float) -> dict[str, float | int]:
    tasks = [asyncio.ensure_future(connection_loop(run)) for _ in range(connections)]
    await asyncio.sleep(warmup)
    run.measuring = True
    started = time.perf_counter()
    await asyncio.sleep(duration)
    run.measuring = False
    elapsed = time.perf_counter() - started
    run.running = False
    await asyncio.wait(tasks, timeout=5)
    for task in tasks:
        task.cancel()
    samples = sorted(run.samples)

    def pct(p: float) -> float:
        if not samples:
            return 0.0
        return samples[min(len(samples) - 1, int(p / 100 * len(samples)))] / 1e6

    return {
        "requests": len(samples),
        "duration_s": elapsed,
        "rps": len(samples) / elapsed,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "errors": run.errors,
        "non2xx": run.non2xx,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("-d", "--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds of load before measuring")
    parser.add_argument("--unique", action="store_true", help="a fresh path per request (forces cache misses)")
    args = parser.parse_args()
    run = Run(args.host, args.port, args.path, args.unique)
    result = uvloop.run(drive(run, args.connections, args.duration, args.warmup))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
