"""`ResponseCache`: stored responses by cache key and Vary variant, over an `ObjectStore`.

Secondary keys (RFC 9111 §4.1): a response with `Vary` is stored under the primary key plus
the request's normalised values of the named fields; a lookup tries each stored variant's own
Vary against the new request. A newer response whose Vary lists other fields replaces the
variants stored under the old list.

HEAD: a response to HEAD has no body, so it is stored as a *head-only* variant that only later
HEADs use; a HEAD prefers a full GET object; storing a GET object drops head-only variants.

Times come from one clock, `ResponseCache.now()` (the store's timer, `time.time` by default):
use it for `request_time`, `response_time` and every `now` given to policy functions, so the
store's expiry and the objects' ages agree.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from edgeproxy.cache.key import CacheKey, variant_key
from edgeproxy.cache.store import ObjectStore, StoreStats
from edgeproxy.cache.stored import StoredResponse
from edgeproxy.types import HeaderList

_HEAD_PREFIX = "HEAD|"


@dataclass(frozen=True, slots=True)
class VariantInfo:
    """One stored variant, as the admin `GET /cache?path=` shows it."""

    path: str
    primary: str
    variant: str
    status: int
    vary: tuple[str, ...] | None
    encoding: str | None
    head_only: bool
    generated_by_lambda: bool
    size: int
    age: float
    ttl: float
    remaining_ttl: float
    fresh: bool
    stored_at: float
    expires_at: float


class ResponseCache:
    """The cache the distribution talks to. Not thread-safe (one event loop)."""

    def __init__(self, max_bytes: int, max_object_bytes: int, *, timer: Callable[[], float] = time.time) -> None:
        self._timer = timer
        self._store: ObjectStore[StoredResponse] = ObjectStore(max_bytes, max_object_bytes, timer=timer)
        self._hits = 0
        self._misses = 0

    @property
    def store(self) -> ObjectStore[StoredResponse]:
        return self._store

    def now(self) -> float:
        return self._timer()

    def _variant(self, key: CacheKey, stored: StoredResponse, request_headers: HeaderList) -> str:
        prefix = _HEAD_PREFIX if stored.head_only else ""
        return prefix + variant_key(stored.vary, request_headers, compress=key.compress)

    def _find(self, key: CacheKey, request_headers: HeaderList, head_only: bool) -> str | None:
        for entry in self._store.variants(key.primary):
            stored = entry.value
            if stored.head_only == head_only and entry.variant == self._variant(key, stored, request_headers):
                return entry.variant
        return None

    def lookup(self, key: CacheKey, method: str, request_headers: HeaderList) -> StoredResponse | None:
        """The stored response matching this request (fresh or not: the caller decides with
        `is_fresh(now)` & co.), or None."""
        variant = self._find(key, request_headers, head_only=False)
        if variant is None and method.upper() == "HEAD":
            variant = self._find(key, request_headers, head_only=True)
        found = self._store.get(key.primary, variant) if variant is not None else None
        if found is None:
            self._misses += 1
        else:
            self._hits += 1
        return found

    def put(self, key: CacheKey, request_headers: HeaderList, stored: StoredResponse) -> bool:
        """Store `stored` for this request (its Vary variant); False if refused (too large)."""
        for entry in self._store.variants(key.primary):
            other = entry.value
            superseded = other.head_only and not stored.head_only
            same_kind_new_vary = other.head_only == stored.head_only and other.vary != stored.vary
            if superseded or same_kind_new_vary:
                self._store.delete(key.primary, entry.variant)
        return self._store.put(
            key.primary,
            self._variant(key, stored, request_headers),
            stored,
            path=key.path,
            size=stored.size,
            expires_at=stored.retain_until(),
        )

    def discard(self, key: CacheKey, request_headers: HeaderList, stored: StoredResponse) -> bool:
        """Remove the variant `stored` occupies for this request (e.g. the origin now says
        no-store, or a refresh returned something not storable)."""
        return self._store.delete(key.primary, self._variant(key, stored, request_headers))

    def invalidate(self, matcher: Callable[[str], bool]) -> int:
        """Remove every variant of every path `matcher` accepts (paths are the uri, with
        `?query` when query strings are in the key); how many objects."""
        return self._store.invalidate(matcher)

    def describe(self, path: str) -> list[VariantInfo]:
        now = self._timer()
        out = []
        for entry in self._store.describe(path):
            s = entry.value
            out.append(
                VariantInfo(
                    path=entry.path,
                    primary=entry.primary,
                    variant=entry.variant,
                    status=s.status,
                    vary=s.vary,
                    encoding=s.encoding,
                    head_only=s.head_only,
                    generated_by_lambda=s.generated_by_lambda,
                    size=entry.size,
                    age=s.age(now),
                    ttl=s.ttl,
                    remaining_ttl=s.remaining_ttl(now),
                    fresh=s.is_fresh(now),
                    stored_at=entry.stored_at,
                    expires_at=entry.expires_at,
                )
            )
        return out

    def stats(self) -> StoreStats:
        """Store statistics; hits/misses count `lookup` results."""
        return dataclasses.replace(self._store.stats(), hits=self._hits, misses=self._misses)
