"""The proxy endpoint as raw ASGI: scope → `EdgeRequest`, `EdgeResponse` → ASGI messages.

Starlette's Request/Response objects cost ~75 µs a request on this machine (DESIGN §1), so the
proxy path speaks ASGI directly. This module knows ASGI and nothing about CloudFront.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from edgeproxy.logs import log
from edgeproxy.models import ClientDisconnected, EdgeRequest, EdgeResponse, RequestBody
from edgeproxy.origin import OriginBodyError

if TYPE_CHECKING:
    from edgeproxy.distribution import Distribution

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def edge_request(scope: Scope, receive: Receive) -> EdgeRequest:
    """Build the typed request; the body stays unread (it streams to the origin on demand)."""
    raw_headers = scope["headers"]
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers]
    raw_path = scope.get("raw_path")
    uri = raw_path.decode("latin-1") if raw_path else scope["path"]
    if "?" in uri:  # some servers include the query in raw_path
        uri = uri.split("?", 1)[0]
    client = scope.get("client")
    return EdgeRequest(
        method=scope["method"],
        uri=uri or "/",
        querystring=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        client_ip=client[0] if client else "127.0.0.1",
        http_version=scope.get("http_version", "1.1"),
        body=RequestBody(receive),
    )


class ProxyEndpoint:
    """ASGI callable for every proxied request."""

    __slots__ = ("distribution",)

    def __init__(self, distribution: "Distribution") -> None:
        self.distribution = distribution

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = edge_request(scope, receive)
        try:
            response = await self.distribution.handle(request)
        except ClientDisconnected:
            return
        await write_response(response, send, receive, head=request.method == "HEAD")


def _encode_headers(response: EdgeResponse) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in response.headers]


async def write_response(response: EdgeResponse, send: Send, receive: Receive, *, head: bool) -> None:
    """Send `response`; a streamed body is relayed chunk by chunk with backpressure.

    An origin that fails mid-body aborts the viewer connection (raising makes the server close
    it without a fake status). A viewer that goes away stops the relay and releases the origin.
    """
    start = {"type": "http.response.start", "status": response.status, "headers": _encode_headers(response)}
    stream = response.stream
    if stream is None or head:
        if stream is not None:
            response.release()
        await send(start)
        await send({"type": "http.response.body", "body": b"" if head else (response.body or b"")})
        return
    gone = asyncio.Event()
    watcher: asyncio.Future[None] | None = None
    try:
        await send(start)
        chunks = 0
        async for chunk in stream:
            chunks += 1
            if chunks == 2:
                # Watch for the viewer going away only once the body takes more than one
                # chunk (a task per response costs ~25 µs; a one-chunk body is sent at once).
                watcher = asyncio.ensure_future(_watch_disconnect(receive, gone))
            elif gone.is_set():
                log.info("viewer disconnected mid-response; origin transfer closed")
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except OriginBodyError as exc:
        log.warning("%s; viewer connection aborted", exc)
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
        response.release()
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except (OriginBodyError, RuntimeError):
                pass


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return
