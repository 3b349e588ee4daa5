"""Typed request, response and origin models that travel the request path.

The CloudFront event JSON is built from and read back into these only in `events.py` (and in
the worker); everything else passes these objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Awaitable
from dataclasses import dataclass, field

from edgeproxy.types import HeaderList


def header_values(headers: HeaderList, name: str) -> list[str]:
    """All values of header `name` (lowercase) in wire order."""
    return [v for k, v in headers if k == name]


def header_value(headers: HeaderList, name: str) -> str | None:
    """The first value of header `name` (lowercase), or None."""
    for k, v in headers:
        if k == name:
            return v
    return None


def without_headers(headers: HeaderList, names: frozenset[str] | set[str]) -> HeaderList:
    """A copy of `headers` without the lowercase `names`."""
    return [(k, v) for k, v in headers if k not in names]


class RequestBody:
    """A viewer request body that streams once, with a peekable prefix for `include_body`.

    The prefix read for a hook (`read_prefix`) is kept and re-streamed ahead of the rest, so an
    origin still receives the full original body after a read-only Include Body hook. A body a
    hook replaced is simply another `RequestBody.of(data)`: nothing here is shared or mutated.
    """

    __slots__ = ("_receive", "_prefix", "_done", "_consumed")

    def __init__(self, receive: Callable[[], Awaitable[dict]] | None, *, initial: bytes = b"", done: bool = False) -> None:
        self._receive = receive
        self._prefix = initial
        self._done = done or receive is None
        self._consumed = False

    @classmethod
    def of(cls, data: bytes) -> "RequestBody":
        return cls(None, initial=data, done=True)

    @property
    def complete(self) -> bool:
        return self._done

    async def _pull(self) -> bytes:
        assert self._receive is not None
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._done = True
            raise ClientDisconnected()
        if not message.get("more_body", False):
            self._done = True
        return message.get("body", b"")

    async def read_prefix(self, limit: int) -> tuple[bytes, bool]:
        """Up to `limit` bytes from the start of the body and whether it was truncated."""
        while not self._done and len(self._prefix) <= limit:
            self._prefix += await self._pull()
        truncated = len(self._prefix) > limit
        return self._prefix[:limit], truncated

    async def read_all(self) -> bytes:
        while not self._done:
            self._prefix += await self._pull()
        return self._prefix

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body to send upstream: the prefix already read, then the rest as it arrives."""
        if self._consumed:
            raise RuntimeError("request body already streamed")
        self._consumed = True
        if self._prefix:
            yield self._prefix
        while not self._done:
            chunk = await self._pull()
            if chunk:
                yield chunk

    def known_length(self) -> int | None:
        """The length when the whole body is in hand (replaced, or read to the end)."""
        return len(self._prefix) if self._done else None


class ClientDisconnected(Exception):
    """The viewer went away while its request body was being read."""


@dataclass(slots=True)
class EdgeRequest:
    """A viewer request as it travels through the stages (hooks may change uri/query/headers)."""

    method: str
    uri: str  # path as received (percent-encoded), starting with "/"
    querystring: str  # raw query string without "?", "" when absent
    headers: HeaderList
    client_ip: str
    http_version: str = "1.1"
    body: RequestBody = field(default_factory=lambda: RequestBody.of(b""))
    request_id: str = ""

    def copy(self) -> "EdgeRequest":
        return EdgeRequest(
            method=self.method,
            uri=self.uri,
            querystring=self.querystring,
            headers=list(self.headers),
            client_ip=self.client_ip,
            http_version=self.http_version,
            body=self.body,
            request_id=self.request_id,
        )

    @property
    def target(self) -> str:
        return f"{self.uri}?{self.querystring}" if self.querystring else self.uri


@dataclass(slots=True)
class EdgeResponse:
    """A response on its way to the viewer.

    `body` holds a complete body (cached, generated, or replaced by a hook); `stream` an origin
    body still arriving. At most one is set; `close` releases the origin connection.
    """

    status: int
    headers: HeaderList
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None
    reason: str = ""
    close: Callable[[], None] | None = None

    def release(self) -> None:
        if self.close is not None:
            close, self.close = self.close, None
            close()


@dataclass(frozen=True, slots=True)
class CustomOrigin:
    """An HTTP(S) origin: the `origin.custom` of an event, plus local-only connect settings."""

    domain_name: str
    port: int
    protocol: str  # "http" | "https"
    path: str = ""  # "" or "/prefix", no trailing slash
    read_timeout_s: float = 30.0
    keepalive_timeout_s: float = 5.0
    connect_timeout_s: float = 10.0
    connection_attempts: int = 1
    custom_headers: tuple[tuple[str, str], ...] = ()  # (lowercase name, value)
    ssl_protocols: tuple[str, ...] = ("TLSv1.2",)
    forward_host: bool = False
    name: str = ""  # the configured origin's name, "" when a hook made it up

    @property
    def netloc(self) -> str:
        default = 443 if self.protocol == "https" else 80
        host = f"[{self.domain_name}]" if ":" in self.domain_name else self.domain_name
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class S3Origin:
    """An S3 origin (`origin.s3`), served locally from `[s3_buckets]`."""

    domain_name: str
    path: str = ""
    region: str = ""
    auth_method: str = "none"
    custom_headers: tuple[tuple[str, str], ...] = ()
    name: str = ""


Origin = CustomOrigin | S3Origin
