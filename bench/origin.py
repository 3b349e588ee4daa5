"""The benchmark origin: a raw asyncio HTTP/1.1 server with fixed bodies, as cheap as Python gets.

    python bench/origin.py --port P [--host 127.0.0.1] [--small-bytes 1024]

Why not an ASGI app or aiohttp.web: on 2 cores the origin shares the CPU with the proxy and the
load generator, so every microsecond it spends is stolen from the thing being measured. A bare
`asyncio.Protocol` on uvloop with httptools parsing and pre-built response bytes answers a request
in a few µs, several times cheaper than a raw ASGI hello on uvicorn.

Routes (by substring of the path, so `/small/abc-17` also works — unique paths force misses):
    …huge…   1 GiB streamed with backpressure (Content-Length set), for the streaming row
    …large…  100 KiB
    anything else: `--small-bytes` (default 1 KiB)
Every response is cacheable (`Cache-Control: public, max-age=86400`) and carries Date and ETag
like a real origin; whether it is cached is the proxy's behavior's decision.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from email.utils import formatdate

import httptools
import uvloop

LARGE_BYTES = 100 * 1024
HUGE_BYTES = 1 << 30
STREAM_CHUNK = 256 * 1024


class Bodies:
    """The fixed bodies and their response heads; the Date line is rebuilt once a second."""

    def __init__(self, small_bytes: int) -> None:
        self.bodies = {
            b"small": b"s" * small_bytes,
            b"large": b"L" * LARGE_BYTES,
        }
        self._second = -1
        self._heads: dict[tuple[bytes, bool], bytes] = {}
        self.chunk = memoryview(b"H" * STREAM_CHUNK)

    def head(self, kind: bytes, length: int, close: bool) -> bytes:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._heads.clear()
        key = (kind, close)
        head = self._heads.get(key)
        if head is None:
            head = (
                b"HTTP/1.1 200 OK\r\n"
                b"Content-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\n"
                b"Cache-Control: public, max-age=86400\r\n"
                b'ETag: "%s-%d"\r\n'
                b"Date: %s\r\n"
                b"%s\r\n"
            ) % (length, kind, length, formatdate(second, usegmt=True).encode(), b"Connection: close\r\n" if close else b"")
            self._heads[key] = head
        return head


class OriginProtocol(asyncio.Protocol):
    """One keep-alive connection; requests are answered in order (pipelining included)."""

    def __init__(self, bodies: Bodies) -> None:
        self.bodies = bodies
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.queue: list[tuple[bytes, bool]] = []  # requests waiting behind a stream
        self.streaming = False
        self.writable: asyncio.Event | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.writable is not None:
            self.writable.set()

    def pause_writing(self) -> None:
        if self.writable is None:
            self.writable = asyncio.Event()
        self.writable.clear()

    def resume_writing(self) -> None:
        if self.writable is not None:
            self.writable.set()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        path, self.url = self.url.split(b"?", 1)[0], b""
        request = (path, not self.parser.should_keep_alive())
        if self.streaming:
            self.queue.append(request)
        else:
            self.answer(*request)

    def answer(self, path: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None:
            return
        if b"huge" in path:
            self.streaming = True
            asyncio.ensure_future(self.stream(close))
            return
        kind = b"large" if b"large" in path else b"small"
        body = self.bodies.bodies[kind]
        transport.write(self.bodies.head(kind, len(body), close) + body)
        if close:
            transport.close()

    async def stream(self, close: bool) -> None:
        bodies = self.bodies
        transport = self.transport
        assert transport is not None
        transport.write(bodies.head(b"huge", HUGE_BYTES, close))
        chunk = bodies.chunk
        left = HUGE_BYTES
        while left > 0 and self.transport is not None:
            piece = chunk if left >= len(chunk) else chunk[:left]
            transport.write(piece)
            left -= len(piece)
            if self.writable is not None and not self.writable.is_set():
                await self.writable.wait()
        self.streaming = False
        if self.transport is None:
            return
        if close:
            transport.close()
            return
        queued, self.queue = self.queue, []
        for request in queued:
            self.answer(*request)


async def serve(host: str, port: int, small_bytes: int) -> None:
    bodies = Bodies(small_bytes)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: OriginProtocol(bodies), host, port, backlog=1024, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--small-bytes", type=int, default=1024)
    args = parser.parse_args()
    try:
        uvloop.run(serve(args.host, args.port, args.small_bytes))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
