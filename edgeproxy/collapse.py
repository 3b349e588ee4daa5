"""Request collapsing and cache filling: concurrent misses for one key share one origin fetch.

`Flight` is one leader's fetch that collapsed followers wait on; `FillStream` is the leader's
origin body on its way to its viewer and into the cache, settling the flight however the body
ends. The distribution decides when to collapse and what to store; this module guarantees
that followers are never left waiting and that only complete bodies are stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from edgeproxy.cache import StoredResponse
from edgeproxy.caching import InflightBytes
from edgeproxy.errors import OriginError
from edgeproxy.logs import log


class Flight:
    """One leader's origin fetch for a cache key, which collapsed followers wait on.

    `settle` hands followers the stored object (or None: fetch your own) exactly once. When
    the body streams to the leader, its `FillStream` settles it at the end
    (`handed_to_stream`). `followers` counts the requests waiting right now: a leader whose
    viewer leaves mid-body keeps reading the origin only for them (spec §10).
    """

    __slots__ = ("_inflight", "_key", "future", "handed_to_stream", "followers")

    def __init__(self, inflight: dict[str, Flight], key: str, collapse: bool) -> None:
        self._inflight = inflight
        self._key = key
        self.handed_to_stream = False
        self.followers = 0
        self.future: asyncio.Future[StoredResponse | None] | None = None
        if collapse:
            self.future = asyncio.get_running_loop().create_future()
            inflight[key] = self

    @property
    def waiting(self) -> bool:
        """Followers are waiting for this fetch (and it has not settled yet)."""
        return self.followers > 0 and self.future is not None and not self.future.done()

    async def join(self) -> StoredResponse | None:
        """As a follower: the leader's stored object, or None (fetch your own)."""
        assert self.future is not None
        self.followers += 1
        try:
            return await asyncio.shield(self.future)
        finally:
            self.followers -= 1

    def settle(self, value: StoredResponse | None) -> None:
        future = self.future
        if future is not None and not future.done():
            future.set_result(value)
            if self._inflight.get(self._key) is self:
                del self._inflight[self._key]


class FillStream:
    """A leader's origin body on its way to its viewer and into the cache.

    It is the response's `stream`, and its `viewer_gone` is the response's `close`, so every
    way a body can end settles the flight exactly once:

    - read to the end (by the viewer, or by `_discard_body` when a hook replaced the body):
      the complete body is stored and followers get the stored object;
    - over `max_object_bytes`: streamed on, not stored; followers fetch their own at once;
    - the origin fails mid-body: nothing stored, the error goes on (the viewer connection is
      aborted), followers fetch their own;
    - released before the end (the viewer went away, a HEAD, an error page took its place):
      with followers waiting, the rest is read in the background so they still get the
      object; without, nothing is stored (responses to cancelled requests are not cached,
      spec §10) and the origin connection is closed.
    """

    __slots__ = (
        "_source", "_close", "_limit", "_budget", "_on_complete", "_flight", "_request_id", "_background",
        "_parts", "_held", "_state", "__weakref__",
    )

    def __init__(
        self,
        source: AsyncIterator[bytes],
        close: Callable[[], None] | None,
        limit: int,
        budget: InflightBytes,
        on_complete: Callable[[bytes], None],
        flight: Flight,
        request_id: str,
        background: set[asyncio.Task[None]],
    ) -> None:
        self._source: AsyncIterator[bytes] | None = source
        self._close = close
        self._limit = limit
        self._budget = budget
        self._on_complete: Callable[[bytes], None] | None = on_complete
        self._flight: Flight | None = flight
        self._request_id = request_id
        self._background = background
        self._parts: list[bytes] | None = []
        self._held = 0  # bytes of `_parts`, taken from `budget`
        self._state = "open"  # "open" -> "draining" -> "done", or "open" -> "done"

    def __aiter__(self) -> FillStream:
        return self

    async def __anext__(self) -> bytes:
        if self._state != "open" or self._source is None:
            raise StopAsyncIteration
        try:
            chunk = await self._source.__anext__()
        except StopAsyncIteration:
            self._finish(complete=True)
            raise
        except BaseException:
            self._finish(complete=False)
            raise
        self._keep(chunk)
        return chunk

    def _keep(self, chunk: bytes) -> None:
        if self._parts is None:
            return
        n = len(chunk)
        if self._held + n > self._limit:
            self._stop_keeping("body over max_object_bytes")
        elif not self._budget.take(n):
            self._stop_keeping("in-flight cache buffers full (max_bytes)")
        else:
            self._held += n
            self._parts.append(chunk)

    def _stop_keeping(self, why: str) -> None:
        self._parts = None
        self._budget.give(self._held)
        self._held = 0
        if self._flight is not None:
            self._flight.settle(None)
        log.info("request %s: %s; streamed through, not stored", self._request_id, why)

    def _finish(self, *, complete: bool) -> None:
        self._state = "done"
        parts, self._parts = self._parts, None
        self._budget.give(self._held)
        self._held = 0
        # Let go of the response (in `on_complete`) and the flight (whose result is the stored
        # object): they reference this stream back, and such a cycle would keep an evicted body
        # alive until the next full garbage collection — under load, hundreds of MB.
        on_complete, flight = self._on_complete, self._flight
        self._on_complete = self._flight = None
        try:
            if complete and parts is not None and on_complete is not None:
                on_complete(b"".join(parts))  # stores, and settles the flight
        finally:
            if flight is not None:
                flight.settle(None)  # no-op when stored; never leaves followers waiting

    def viewer_gone(self) -> None:
        """The response's `close`: nobody reads this stream any further."""
        if self._state == "draining":
            return
        if self._state == "open":
            if self._flight is not None and self._flight.waiting and self._parts is not None:
                self._state = "draining"
                task = asyncio.ensure_future(self._drain())
                self._background.add(task)
                task.add_done_callback(self._background.discard)
                return
            self._finish(complete=False)
        self._close_origin()

    async def aclose(self) -> None:
        self.viewer_gone()

    async def _drain(self) -> None:
        complete = False
        assert self._source is not None
        try:
            async for chunk in self._source:
                self._keep(chunk)
                if self._parts is None:
                    break
            else:
                complete = True
        except OriginError as exc:
            log.warning("request %s: %s; nothing stored", self._request_id, exc)
        finally:
            self._finish(complete=complete)
            self._close_origin()

    def _close_origin(self) -> None:
        close, self._close = self._close, None
        self._source = None
        if close is not None:
            close()
