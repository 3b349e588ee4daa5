"""The cache as the request path uses it: typed requests and responses in, stored objects out.

`cache/` holds the rules (pure, clock passed in) and the byte-bounded store; this module
applies them to `EdgeRequest`/`EdgeResponse` for one behavior (`Route`), so the distribution
reads as a state machine and never touches header arithmetic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from edgeproxy.cache import (
    CacheKey,
    ResponseCache,
    StoreDecision,
    StoredResponse,
    build_stored,
    cache_key,
    choose_encoding,
    compress_body,
    merge_not_modified,
    not_modified_headers,
    serve_range,
    storage_decision,
    vary_for_viewer,
    viewer_not_modified,
)
from edgeproxy.cache.policy import unsafe_invalidation
from edgeproxy.cache.store import StoreStats
from edgeproxy.cache.responses import VariantInfo
from edgeproxy.config_types import CacheConfig
from edgeproxy.logs import log
from edgeproxy.models import EdgeRequest, EdgeResponse, header_value
from edgeproxy.routing import Route

# Bodies above this are compressed in a worker thread, off the event loop.
_COMPRESS_INLINE_BYTES = 256 * 1024

# Cache policies whose Gzip/Brotli settings are off (CloudFront's managed values): with them
# CloudFront neither compresses nor keys on Accept-Encoding, whatever the behavior says
# (ServingCompressedFiles: the cache policy must enable them). User policies cannot turn
# them off: `compress` is a behavior setting here.
_NO_ACCEPT_ENCODING_POLICIES = frozenset({"Managed-CachingOptimizedForUncompressedObjects"})


def compresses(route: Route) -> bool:
    """Whether this behavior compresses at the edge (and keys on normalised Accept-Encoding)."""
    return route.behavior.compress and route.cache_policy.name not in _NO_ACCEPT_ENCODING_POLICIES


class InflightBytes:
    """Bytes held for the cache by responses still arriving: a fill's copy of the body it
    relays, a body read whole to cut a Range or to compress.

    Capped at `max_bytes`: whatever the load (any number of concurrent misses of large
    objects), the cache holds at most `max_bytes` stored plus `max_bytes` in flight. A response
    that would go over streams on to its viewer and is not stored.
    """

    __slots__ = ("limit", "used", "peak")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        self.peak = max(self.peak, self.used)
        return True

    def give(self, n: int) -> None:
        self.used -= n


class HttpCache:
    def __init__(self, config: CacheConfig, *, timer: Callable[[], float] = time.time) -> None:
        self.responses = ResponseCache(config.max_bytes, config.max_object_bytes, timer=timer)
        self.max_object_bytes = config.max_object_bytes
        self.inflight = InflightBytes(config.max_bytes)

    def now(self) -> float:
        return self.responses.now()

    # -- lookup ---------------------------------------------------------------------------

    @staticmethod
    def key(route: Route, request: EdgeRequest) -> CacheKey:
        return cache_key(
            request.method,
            request.uri,
            request.querystring,
            request.headers,
            route.cache_policy,
            compress=compresses(route),
            http_version=request.http_version,
        )

    def lookup(self, key: CacheKey, request: EdgeRequest) -> StoredResponse | None:
        return self.responses.lookup(key, request.method, request.headers)

    # -- storing --------------------------------------------------------------------------

    def admit(
        self,
        route: Route,
        request: EdgeRequest,
        response: EdgeResponse,
        *,
        status_min_ttl: float | None,
        request_time: float,
        response_time: float,
    ) -> StoreDecision | None:
        """Whether (and how) this response is stored; None with the reason logged at debug."""
        behavior = route.behavior
        decision = storage_decision(
            request.method,
            response.status,
            response.headers,
            route.cache_policy,
            behavior.error_caching_min_ttl,
            status_min_ttl,
            request_time,
            response_time,
            orp=route.origin_request_policy,
            cached_methods=behavior.cached_methods,
        )
        if not decision:
            log.debug("request %s: not stored: %s", request.request_id, decision.reason)  # type: ignore[union-attr]
            return None
        return decision  # type: ignore[return-value]

    @staticmethod
    def encoding_for(route: Route, key: CacheKey, request: EdgeRequest, response: EdgeResponse, length: int | None = None) -> str | None:
        """"br"/"gzip" when the behavior compresses and CloudFront would compress this one."""
        if not compresses(route) or not key.accept_encoding:
            return None
        return choose_encoding(key.accept_encoding, request.http_version, response.status, response.headers, length)

    def needs_whole_body(self, route: Route, key: CacheKey, request: EdgeRequest, response: EdgeResponse) -> bool:
        """The response must be read whole before answering: a Range to cut, a body to compress."""
        if any(k == "range" for k, _ in request.headers):
            return True
        return self.encoding_for(route, key, request, response) is not None

    async def store(
        self,
        key: CacheKey,
        route: Route,
        request: EdgeRequest,
        response: EdgeResponse,
        body: bytes,
        decision: StoreDecision,
        *,
        generated: bool,
        encoding: str | None = None,
    ) -> tuple[StoredResponse, bool]:
        """Compress when CloudFront would, and store: the object as it is served, and whether
        the store kept it (it refuses objects over max_object_bytes once headers count)."""
        if encoding is None and decision.method != "HEAD":
            encoding = self.encoding_for(route, key, request, response, len(body))
            if encoding is not None:
                if len(body) > _COMPRESS_INLINE_BYTES:
                    body = await asyncio.to_thread(compress_body, body, encoding)
                else:
                    body = compress_body(body, encoding)
        stored = build_stored(decision, body, reason=response.reason, encoding=encoding, generated_by_lambda=generated)
        return stored, self.put(key, request, stored)

    def store_now(
        self, key: CacheKey, request: EdgeRequest, response: EdgeResponse, body: bytes, decision: StoreDecision, *, generated: bool
    ) -> StoredResponse | None:
        """Store a body exactly as served (no compression): the streamed-through path."""
        stored = build_stored(decision, body, reason=response.reason, generated_by_lambda=generated)
        return stored if self.put(key, request, stored) else None

    def put(self, key: CacheKey, request: EdgeRequest, stored: StoredResponse) -> bool:
        if self.responses.put(key, request.headers, stored):
            return True
        log.info("request %s: object of %d bytes refused by the cache (max_object_bytes / max_bytes)", request.request_id, stored.size)
        return False

    def discard(self, key: CacheKey, request: EdgeRequest, stored: StoredResponse) -> None:
        self.responses.discard(key, request.headers, stored)

    # -- serving --------------------------------------------------------------------------

    def serve(self, stored: StoredResponse, route: Route, request: EdgeRequest, *, hit: bool) -> EdgeResponse:
        """The viewer's answer from a stored object: 304 for a matching conditional, 206/416
        for a Range, `Age` on hits (HEAD bodies are dropped by the writer)."""
        now = self.now()
        headers = stored.header_list()
        status = stored.status
        body = stored.body
        method = request.method
        if hit and viewer_not_modified(method, request.headers, stored.headers, status=status):
            out = not_modified_headers(headers)
            out.append(("age", stored.age_header(now)))
            return EdgeResponse(304, out, body=b"", reason="Not Modified")
        ranged = serve_range(method, request.headers, status, headers, body)
        if ranged is not None:
            status, headers, body = ranged.status, list(ranged.headers), ranged.body
        if stored.vary is not None:
            headers = vary_for_viewer(headers, route.cache_policy, route.origin_request_policy)
        if hit or stored.age(now) >= 1:  # a miss shows Age only when the origin's copy was already old
            headers.append(("age", stored.age_header(now)))
        return EdgeResponse(status, headers, body=body, reason=stored.reason)

    @staticmethod
    def refreshed(stored: StoredResponse, headers_304: list[tuple[str, str]]) -> EdgeResponse:
        """The stored response with a 304's fields merged in: what origin-response sees and
        what is stored again on a revalidation (spec §10)."""
        keep = frozenset({"etag", "vary"}) if stored.encoding else frozenset()
        merged = merge_not_modified(stored.headers, headers_304, keep=keep)
        return EdgeResponse(stored.status, merged, body=stored.body, reason=stored.reason)

    # -- invalidation and introspection ---------------------------------------------------

    def after_unsafe(self, request: EdgeRequest, response: EdgeResponse) -> None:
        """RFC 9111 §4.4: a successful POST/PUT/DELETE/PATCH invalidates what it names."""
        matcher = unsafe_invalidation(
            request.method, response.status, request.uri, header_value(request.headers, "host"), response.headers
        )
        if matcher is not None:
            self.responses.invalidate(matcher)

    def invalidate(self, matcher: Callable[[str], bool]) -> int:
        return self.responses.invalidate(matcher)

    def describe(self, path: str) -> list[VariantInfo]:
        return self.responses.describe(path)

    def stats(self) -> StoreStats:
        return self.responses.stats()
