"""The request state machine — one request, one path, read top to bottom (DESIGN §1):

    1. match the cache behavior on the original URI
    2. viewer-request            (a generated response goes straight back, uncached)
    3. cache lookup              (fresh hit → 7)
    4. origin-request            (a generated response is cached and skips 5–6a)
    5. origin fetch              (origin groups fail over; 4–6a run once per origin tried)
    6a. origin-response
    6b. cache store
    7. viewer-response           (not for status ≥ 400, viewer-request-generated or own errors)
    8. CloudFront headers        (Via, X-Cache, X-Amz-Cf-Pop, X-Amz-Cf-Id)

This module decides; it does no HTTP parsing (asgi.py), no IPC (runtime/), no event JSON
(events.py), no freshness arithmetic (cache/). A stage without a function costs one dict lookup.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from edgeproxy.cache import CacheKey, StoredResponse, conditional_request_headers
from edgeproxy.caching import HttpCache, InflightBytes, compresses
from edgeproxy.config_types import Config
from edgeproxy.errors import EdgeProxyError, HookError, OriginError
from edgeproxy.events import EventConfig, RequestUpdate
from edgeproxy.forwarding import finish_origin_headers, origin_query_string, origin_request_headers, via_value
from edgeproxy.logs import log
from edgeproxy.metrics import Metrics
from edgeproxy.models import CustomOrigin, EdgeRequest, EdgeResponse, RequestBody, S3Origin, header_value
from edgeproxy.origin import OriginBodyError, OriginClient, OriginRequest
from edgeproxy.respond import error_response, finish_headers, new_request_id, page_response
from edgeproxy.routing import Route, Router
from edgeproxy.stages import StageRunner
from edgeproxy.types import CacheResult, Stage

_FAILOVER_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNSAFE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
_NO_BODY = RequestBody.of(b"")


class _Flight:
    """One leader's origin fetch for a cache key, which collapsed followers wait on.

    `settle` hands followers the stored object (or None: fetch your own) exactly once. When
    the body streams to the leader, its `_FillStream` settles it at the end
    (`handed_to_stream`). `followers` counts the requests waiting right now: a leader whose
    viewer leaves mid-body keeps reading the origin only for them (spec §10).
    """

    __slots__ = ("_inflight", "_key", "future", "handed_to_stream", "followers")

    def __init__(self, inflight: dict[str, _Flight], key: str, collapse: bool) -> None:
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


class _FillStream:
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
        flight: _Flight,
        request_id: str,
        background: set[asyncio.Task[None]],
    ) -> None:
        self._source: AsyncIterator[bytes] | None = source
        self._close = close
        self._limit = limit
        self._budget = budget
        self._on_complete: Callable[[bytes], None] | None = on_complete
        self._flight: _Flight | None = flight
        self._request_id = request_id
        self._background = background
        self._parts: list[bytes] | None = []
        self._held = 0  # bytes of `_parts`, taken from `budget`
        self._state = "open"  # "open" -> "draining" -> "done", or "open" -> "done"

    def __aiter__(self) -> _FillStream:
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


_VIEWER_CONDITIONALS = frozenset({"range", "if-range", "if-none-match", "if-modified-since", "if-match", "if-unmodified-since"})


@dataclass(slots=True)
class Outcome:
    """A response and how it came to be (which X-Cache, whether viewer-response may run)."""

    response: EdgeResponse
    result: CacheResult
    viewer_response: bool = True  # False: viewer-request-generated, own error, custom error page


@dataclass(slots=True)
class Fetched:
    response: EdgeResponse
    generated: bool  # generated by the origin-request function
    refreshed: bool = False  # a 304 merged into the stored object


class Distribution:
    """One CloudFront distribution: behaviors, origins, functions and the cache."""

    def __init__(
        self,
        config: Config,
        *,
        origins: OriginClient,
        stages: StageRunner | None,
        cache: HttpCache,
        metrics: Metrics | None = None,
        builtin: tuple[str, int] | None = None,
    ) -> None:
        self.config = config
        self.router = Router(config, builtin=builtin)
        self.origins = origins
        self.stages = stages
        self.cache = cache
        self.metrics = metrics or Metrics()
        self.event_config = EventConfig(config.server.domain_name, config.server.distribution_id)
        self._pop = config.server.pop
        self._domain = config.server.domain_name
        self._via = {v: via_value(v, self._domain) for v in ("1.0", "1.1", "2", "2.0", "3")}
        self._inflight: dict[str, _Flight] = {}  # by primary key
        self._background: set[asyncio.Task[None]] = set()
        self._tees: weakref.WeakSet[AsyncIterator[bytes]] = weakref.WeakSet()  # streams that fill the cache

    # -- 1 & 8: the whole request ------------------------------------------------------------

    async def handle(self, request: EdgeRequest) -> EdgeResponse:
        request.request_id = request_id = new_request_id()
        route = self.router.match(request.uri)
        started = time.perf_counter()
        try:
            outcome = await self._serve(route, request)
        except HookError as exc:
            log.warning(
                "request %s: function %s failed: %s (%s %s)",
                request_id, exc.function or "?", exc.message, exc.status, exc.result.value,
            )
            self.metrics.hook_error(exc)
            outcome = Outcome(error_response(exc, request_id), exc.result, viewer_response=False)
        response = outcome.response
        version = request.http_version
        finish_headers(response, outcome.result, request_id, via=self._via.get(version) or via_value(version, self._domain), pop=self._pop)
        self.metrics.request(outcome.result, response.status, time.perf_counter() - started)
        return response

    async def _serve(self, route: Route, request: EdgeRequest) -> Outcome:
        behavior = route.behavior
        if request.method not in behavior.allowed_methods:
            return self._refuse(request, f"method {request.method} is not allowed by behavior {behavior.path_pattern!r}")
        if _has_body(request):
            if request.method in ("GET", "HEAD"):
                return self._refuse(request, f"{request.method} request with a body")
        else:
            request.body = _NO_BODY
        functions = route.functions
        # 2. viewer-request
        function = functions.get(Stage.VIEWER_REQUEST)
        if function is not None:
            assert self.stages is not None
            update = await self.stages.request_stage(Stage.VIEWER_REQUEST, function, request)
            if isinstance(update, EdgeResponse):
                return Outcome(update, CacheResult.LAMBDA_GENERATED, viewer_response=False)
            request = self._applied(request, update)
        # 3–6
        try:
            if route.caching and request.method in behavior.cached_methods:
                outcome = await self._serve_cacheable(route, request)
            else:
                outcome = await self._serve_uncached(route, request)
        except OriginError as exc:
            log.warning("request %s: %s → %s", request.request_id, exc, exc.status)
            self.metrics.origin_error(exc)
            outcome = Outcome(error_response(exc, request.request_id), CacheResult.ERROR, viewer_response=False)
        if route.custom_errors and outcome.response.status in route.custom_errors:
            outcome = await self._custom_error_page(route, request, outcome)
        # 7. viewer-response
        function = functions.get(Stage.VIEWER_RESPONSE)
        if function is not None and outcome.viewer_response and outcome.response.status < 400:
            assert self.stages is not None
            before = outcome.response
            try:
                after = await self.stages.response_stage(Stage.VIEWER_RESPONSE, function, request, before)
            except BaseException:
                self._discard_body(before)
                raise
            if after.body is not None and before.stream is not None:
                self._discard_body(before)
            outcome.response = after
        return outcome

    def _discard_body(self, response: EdgeResponse) -> None:
        """A streamed body the viewer will not get: a body being stored (and awaited by
        collapsed followers) is still read to the end in the background; others are closed."""
        stream = response.stream
        if stream is None:
            return
        response.stream = None
        if stream in self._tees:
            self._tees.discard(stream)
            task = asyncio.ensure_future(_exhaust(stream))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        else:
            response.release()

    def _refuse(self, request: EdgeRequest, why: str) -> Outcome:
        log.info("request %s: 403: %s", request.request_id, why)
        page = page_response(403, "This distribution is not configured to allow the HTTP request method that was used for this request. The distribution supports only cachable requests." if "method" in why else "Bad request.", request.request_id)
        return Outcome(page, CacheResult.ERROR, viewer_response=False)

    @staticmethod
    def _applied(request: EdgeRequest, update: RequestUpdate) -> EdgeRequest:
        new = update.request
        if update.body is not None:
            new.body.replace(update.body)
        return new

    # -- 3: the cache ------------------------------------------------------------------------

    async def _serve_cacheable(self, route: Route, request: EdgeRequest) -> Outcome:
        cache = self.cache
        key = cache.key(route, request)
        stored = cache.lookup(key, request)
        if stored is not None:
            now = cache.now()
            if stored.is_fresh(now):
                return self._hit(stored, route, request)
            if stored.can_serve_stale_while_revalidate(now):
                self._revalidate_in_background(route, request, key, stored)
                return self._hit(stored, route, request)
        elif request.method == "HEAD":
            # Nothing to answer a HEAD from: ask the origin; a HEAD response stores no body.
            return await self._fill(route, request, key, None, collapse=False)
        if route.collapses:
            flight = self._inflight.get(key.primary)
            if flight is not None:
                shared = await flight.join()
                if shared is not None and cache.lookup(key, request) is shared:
                    return self._hit(shared, route, request)
                # The leader's response was not shareable, or is another Vary variant than
                # this request's: fetch our own.
                return await self._fill(route, request, key, stored, collapse=False)
        return await self._fill(route, request, key, stored, collapse=route.collapses)

    def _hit(self, stored: StoredResponse, route: Route, request: EdgeRequest) -> Outcome:
        result = CacheResult.ERROR if stored.status >= 400 else CacheResult.HIT
        return Outcome(self.cache.serve(stored, route, request, hit=True), result)

    async def _fill(
        self, route: Route, request: EdgeRequest, key: CacheKey, stored: StoredResponse | None, *, collapse: bool
    ) -> Outcome:
        """Fetch from the origin as the leader for `key`; collapsed followers wait on the result."""
        flight = _Flight(self._inflight, key.primary, collapse)
        try:
            return await self._fill_as_leader(route, request, key, stored, flight)
        finally:
            if not flight.handed_to_stream:
                flight.settle(None)

    async def _fill_as_leader(
        self,
        route: Route,
        request: EdgeRequest,
        key: CacheKey,
        stored: StoredResponse | None,
        flight: "_Flight",
    ) -> Outcome:
        cache = self.cache
        settle = flight.settle
        request_time = cache.now()
        revalidating = stored if stored is not None and stored.has_validator else None
        try:
            fetched = await self._fetch(route, request, revalidate=revalidating, full_object=True)
        except OriginError as exc:
            if stored is not None and stored.can_serve_stale_on_error(cache.now()):
                log.warning("request %s: %s; serving the stale object", request.request_id, exc)
                stored = self._keep_stale(route, request, key, stored)
                settle(stored)
                return self._hit(stored, route, request)
            raise
        response = fetched.response
        if response.status >= 500 and stored is not None and not fetched.generated and stored.can_serve_stale_on_error(cache.now()):
            response.release()
            log.warning("request %s: origin answered %s; serving the stale object", request.request_id, response.status)
            stored = self._keep_stale(route, request, key, stored)
            settle(stored)
            return self._hit(stored, route, request)
        response_time = cache.now()
        if fetched.generated:
            result = CacheResult.LAMBDA_GENERATED
        elif response.status >= 400:
            result = CacheResult.ERROR
        elif fetched.refreshed:
            result = CacheResult.REFRESH_HIT
        else:
            result = CacheResult.MISS
        custom = route.custom_errors.get(response.status)
        decision = cache.admit(
            route, request, response,
            status_min_ttl=custom.min_ttl if custom is not None else None,
            request_time=request_time, response_time=response_time,
        )
        if decision is None:
            if stored is not None:
                cache.discard(key, request, stored)
            if _wants_range(request, response):
                return await self._range_from_origin(route, request, response)
            return Outcome(response, result)
        if response.body is not None:
            new, kept = await cache.store(key, route, request, response, response.body, decision, generated=fetched.generated)
            if kept:
                settle(new)
            return Outcome(cache.serve(new, route, request, hit=fetched.refreshed), result)
        limit = cache.max_object_bytes
        declared = _content_length(response)
        if declared is not None and declared > limit:
            if _wants_range(request, response):
                return await self._range_from_origin(route, request, response)
            return Outcome(response, result)  # streams through uncached
        if request.method == "HEAD" or cache.needs_whole_body(route, key, request, response):
            # A Range to cut or a body to compress: the whole object first.
            body = await _read_bounded(response, limit, cache.inflight)
            if body is None:
                log.info("request %s: response over max_object_bytes (or in-flight buffers full); not stored", request.request_id)
                if _wants_range(request, response):
                    return await self._range_from_origin(route, request, response)
                return Outcome(response, result)
            try:
                new, kept = await cache.store(key, route, request, response, body, decision, generated=fetched.generated)
            finally:
                cache.inflight.give(len(body))
            if kept:
                settle(new)
            return Outcome(cache.serve(new, route, request, hit=False), result)  # the Range cut, compressed

        def on_complete(body: bytes) -> None:
            settle(cache.store_now(key, request, response, body, decision, generated=fetched.generated))

        flight.handed_to_stream = True  # the stream settles the flight when the body ends
        assert response.stream is not None
        tee = self._tee(response, limit, on_complete, flight, request.request_id)
        response.stream, response.close = tee, tee.viewer_gone
        self._tees.add(tee)
        return Outcome(response, result)

    async def _range_from_origin(self, route: Route, request: EdgeRequest, whole: EdgeResponse) -> Outcome:
        """A Range the cache cannot answer — the whole object turned out not storable, or over
        `max_object_bytes` — goes to the origin as the viewer sent it (issue 4, decided
        details). The origin stages run again for this second fetch."""
        whole.release()
        log.info("request %s: object not storable; Range sent to the origin", request.request_id)
        fetched = await self._fetch(route, request, revalidate=None, full_object=False)
        response = fetched.response
        if fetched.generated:
            return Outcome(response, CacheResult.LAMBDA_GENERATED)
        return Outcome(response, CacheResult.ERROR if response.status >= 400 else CacheResult.MISS)

    def _keep_stale(self, route: Route, request: EdgeRequest, key: CacheKey, stored: StoredResponse) -> StoredResponse:
        """CloudFront keeps serving the expired object for the error-caching TTL (spec §7)."""
        extended = stored.extended(self.cache.now(), route.behavior.error_caching_min_ttl)
        self.cache.put(key, request, extended)
        return extended

    def _tee(
        self,
        response: EdgeResponse,
        limit: int,
        on_complete: Callable[[bytes], None],
        flight: _Flight,
        request_id: str,
    ) -> _FillStream:
        """Relay the origin body to the leader while buffering it for the cache (`_FillStream`:
        only a complete body is stored; a leader leaving mid-body is drained for followers)."""
        assert response.stream is not None
        return _FillStream(
            response.stream, response.close, limit, self.cache.inflight, on_complete, flight, request_id, self._background
        )

    def _revalidate_in_background(self, route: Route, request: EdgeRequest, key: CacheKey, stored: StoredResponse) -> None:
        """stale-while-revalidate: answer now, refresh once (collapsed with any other refresh)."""
        if key.primary in self._inflight:
            return
        copy = request.copy()
        copy.body = _NO_BODY
        copy.headers = [(k, v) for k, v in copy.headers if k not in _VIEWER_CONDITIONALS]

        async def refresh() -> None:
            try:
                outcome = await self._fill(route, copy, key, stored, collapse=True)
                response = outcome.response
                if response.stream is not None:
                    await _exhaust(response.stream)
                response.release()
            except EdgeProxyError as exc:
                log.warning("background revalidation of %s failed: %s", request.uri, exc)

        task = asyncio.ensure_future(refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- 4–6a: origin stages and the fetch ---------------------------------------------------

    async def _serve_uncached(self, route: Route, request: EdgeRequest) -> Outcome:
        fetched = await self._fetch(route, request, revalidate=None, full_object=False)
        response = fetched.response
        if request.method in _UNSAFE_METHODS:
            self.cache.after_unsafe(request, response)
        if fetched.generated:
            return Outcome(response, CacheResult.LAMBDA_GENERATED)
        return Outcome(response, CacheResult.ERROR if response.status >= 400 else CacheResult.MISS)

    async def _fetch(
        self, route: Route, request: EdgeRequest, *, revalidate: StoredResponse | None, full_object: bool
    ) -> Fetched:
        """Steps 4–6a over the behavior's origin (or its group's members, failing over)."""
        members = route.origins
        last = len(members) - 1
        can_fail_over = request.method in _FAILOVER_METHODS
        for index, origin in enumerate(members):
            try_next = can_fail_over and index < last
            try:
                fetched = await self._fetch_one(route, request, origin, revalidate=revalidate, full_object=full_object)
            except OriginError as exc:
                if try_next:
                    log.warning("request %s: origin %s failed (%s); failing over", request.request_id, origin.name or origin.domain_name, exc)
                    continue
                raise
            status = fetched.response.status
            if try_next and not fetched.generated and status in route.failover_status:
                log.warning("request %s: origin %s answered %s; failing over", request.request_id, origin.name or origin.domain_name, status)
                fetched.response.release()
                continue
            return fetched
        raise AssertionError("unreachable: the last member returns or raises")

    async def _fetch_one(
        self,
        route: Route,
        request: EdgeRequest,
        origin: CustomOrigin | S3Origin,
        *,
        revalidate: StoredResponse | None,
        full_object: bool,
    ) -> Fetched:
        compress = compresses(route)
        headers = origin_request_headers(
            request,
            origin,
            route.cache_policy,
            route.origin_request_policy,
            domain_name=self._domain,
            compress=compress,
        )
        if full_object:
            # A cacheable miss fetches the whole object, unconditionally (the viewer's own
            # conditionals and Range are answered from the stored object).
            headers = [(k, v) for k, v in headers if k not in _VIEWER_CONDITIONALS]
            if revalidate is not None:
                headers.extend(conditional_request_headers(revalidate.headers))
        origin_facing = EdgeRequest(
            method=request.method,
            uri=request.uri,
            querystring=origin_query_string(request.querystring, route.cache_policy, route.origin_request_policy),
            headers=headers,
            client_ip=request.client_ip,
            http_version=request.http_version,
            body=request.body,
            request_id=request.request_id,
        )
        # 4. origin-request
        function = route.functions.get(Stage.ORIGIN_REQUEST)
        if function is not None:
            assert self.stages is not None
            update = await self.stages.request_stage(Stage.ORIGIN_REQUEST, function, origin_facing, origin=origin)
            if isinstance(update, EdgeResponse):
                return Fetched(update, generated=True)
            origin_facing = self._applied(origin_facing, update)
            if update.origin is not None:
                origin = update.origin
        # 5. the fetch
        wire = OriginRequest(
            method=origin_facing.method,
            uri=origin_facing.uri,
            querystring=origin_facing.querystring,
            headers=finish_origin_headers(origin_facing.headers, origin, request.request_id),
            body=origin_facing.body if origin_facing.body is not _NO_BODY else None,
        )
        response = await self.origins.fetch(origin, wire)
        refreshed = False
        if revalidate is not None and response.status == 304:
            response.release()
            response = HttpCache.refreshed(revalidate, response.headers)
            refreshed = True
        if not route.forwards_cookies:
            response.headers = [(k, v) for k, v in response.headers if k != "set-cookie"]
        # 6a. origin-response
        function = route.functions.get(Stage.ORIGIN_RESPONSE)
        if function is not None:
            assert self.stages is not None
            before = response
            try:
                response = await self.stages.response_stage(Stage.ORIGIN_RESPONSE, function, origin_facing, response, origin=origin)
            except BaseException:
                before.release()
                raise
            if response.body is not None and before.stream is not None:
                before.release()
        # Transfer-Encoding is shown to origin-response (read-only there), never passed on.
        response.headers = [(k, v) for k, v in response.headers if k != "transfer-encoding"]
        return Fetched(response, generated=False, refreshed=refreshed)

    # -- custom error responses --------------------------------------------------------------

    async def _custom_error_page(self, route: Route, request: EdgeRequest, outcome: Outcome) -> Outcome:
        """Replace an error with the behavior's custom error page (fetched through its own behavior)."""
        custom = route.custom_errors[outcome.response.status]
        if custom.page is None and custom.response_code is None:
            return outcome
        status = custom.response_code or outcome.response.status
        if custom.page is None:
            outcome.response.status = status
            outcome.viewer_response = False
            return outcome
        page_request = EdgeRequest(
            method="GET", uri=custom.page, querystring="", headers=[(k, v) for k, v in request.headers if k not in _VIEWER_CONDITIONALS],
            client_ip=request.client_ip, http_version=request.http_version, body=_NO_BODY, request_id=request.request_id,
        )
        page_route = self.router.match(custom.page)
        try:
            if page_route.caching:
                page = await self._serve_cacheable(page_route, page_request)
            else:
                page = await self._serve_uncached(page_route, page_request)
        except (OriginError, HookError) as exc:
            log.warning("request %s: custom error page %s failed: %s", request.request_id, custom.page, exc)
            return outcome
        if page.response.status >= 400:
            self._discard_body(page.response)
            log.warning("request %s: custom error page %s answered %s; original error returned", request.request_id, custom.page, page.response.status)
            return outcome
        self._discard_body(outcome.response)  # a streamed error is still read (and stored)
        keep = ("content-type", "content-length", "last-modified", "etag", "content-encoding", "date", "server")
        page.response.headers = [(k, v) for k, v in page.response.headers if k in keep]
        page.response.status = status
        return Outcome(page.response, CacheResult.ERROR, viewer_response=False)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


def _has_body(request: EdgeRequest) -> bool:
    for k, v in request.headers:
        if k == "content-length":
            return v.strip() not in ("0", "")
        if k == "transfer-encoding":
            return True
    return False


def _content_length(response: EdgeResponse) -> int | None:
    value = header_value(response.headers, "content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


async def _read_bounded(response: EdgeResponse, limit: int, budget: InflightBytes) -> bytes | None:
    """The whole body if it fits in `limit` and in the in-flight `budget` (the caller gives
    its length back); None (the stream left mid-way, nothing taken) if it does not."""
    assert response.stream is not None
    parts: list[bytes] = []
    size = 0
    stream = response.stream
    try:
        async for chunk in stream:
            parts.append(chunk)
            if size + len(chunk) > limit or not budget.take(len(chunk)):
                budget.give(size)
                size = 0

                async def rest(first: list[bytes] = parts) -> AsyncIterator[bytes]:
                    for part in first:
                        yield part
                    async for more in stream:
                        yield more

                response.stream = rest()
                return None
            size += len(chunk)
    except BaseException:
        budget.give(size)  # cut off mid-body (or cancelled): nothing held any more
        raise
    response.release()
    return b"".join(parts)


def _wants_range(request: EdgeRequest, response: EdgeResponse) -> bool:
    """The viewer asked for a Range of what the origin answered in full (200)."""
    return response.status == 200 and request.method == "GET" and any(k == "range" for k, _ in request.headers)


async def _exhaust(stream: AsyncIterator[bytes]) -> None:
    try:
        async for _ in stream:
            pass
    except OriginError as exc:
        log.warning("%s; nothing stored", exc)
