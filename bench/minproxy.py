"""A reference point, not a product: the least a Python reverse proxy on this stack can do.

    BENCH_ORIGIN=http://127.0.0.1:PORT python -m uvicorn --app-dir bench minproxy:app --http httptools --loop uvloop

Raw ASGI on uvicorn, one pooled aiohttp session with edgeproxy's own session settings, the
viewer's path and headers forwarded (Host replaced), the response streamed back with hop-by-hop
headers dropped. No routing, cache, policies, CloudFront headers or hooks. The gap between this
row and edgeproxy's pass-through row is what edgeproxy's request path costs; the gap between
this row and the Starlette hello is what a Python aiohttp origin round trip costs.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp
from yarl import URL

ORIGIN = os.environ.get("BENCH_ORIGIN", "http://127.0.0.1:9000")
_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade", b"host"})
_session: aiohttp.ClientSession | None = None


def _new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=5, enable_cleanup_closed=False),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
    )


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _session = _new_session()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _session is not None:
                    await _session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert _session is not None
    target = ORIGIN + scope["raw_path"].decode("latin-1")
    if scope["query_string"]:
        target += "?" + scope["query_string"].decode("latin-1")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in _HOP]
    async with _session.request(scope["method"], URL(target, encoded=True), headers=headers, allow_redirects=False) as response:
        out = [(k, v) for k, v in response.raw_headers if k.lower() not in _HOP]
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        async for chunk in response.content.iter_chunked(65536):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
