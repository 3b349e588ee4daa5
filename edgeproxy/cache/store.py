"""Byte-bounded object storage on cachetools. Knows nothing of HTTP.

- Keys are `(primary, variant)` strings; values are opaque (the caller's frozen objects) with
  a size the caller computes once, at insert (`size=`), charged with the key and path lengths
  and a fixed overhead. The total never exceeds `max_bytes`: inserting evicts least recently
  used entries first (cachetools `LRUCache` with `getsizeof`); an entry over
  `max_object_bytes` (or `max_bytes`) is refused (`put` returns False).
- Every entry has an absolute `expires_at` on the injected clock (`timer=`): after it the
  entry is gone (dropped lazily on access and swept on every insert).
- Two indexes stay consistent with the LRU through evictions, expiry, replacement and
  deletes: per primary key its variants (Vary), and per path its keys (invalidation).
- Not thread-safe: one event loop owns a store (as cachetools itself is not thread-safe).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import LRUCache

V = TypeVar("V")
Key = tuple[str, str]

KEY_OVERHEAD = 256  # bytes per entry for the index dicts, heap item and entry object


@dataclass(frozen=True, slots=True)
class Entry(Generic[V]):
    """One stored value and its bookkeeping."""

    primary: str
    variant: str
    value: V
    path: str
    size: int  # as charged, overheads included
    stored_at: float
    expires_at: float

    @property
    def key(self) -> Key:
        return (self.primary, self.variant)


@dataclass(frozen=True, slots=True)
class StoreStats:
    objects: int
    bytes: int
    max_bytes: int
    max_object_bytes: int
    inserts: int
    hits: int
    misses: int
    evictions: int  # dropped to make room (LRU)
    expirations: int  # dropped because their time was up
    invalidations: int  # dropped by `invalidate`
    refused: int  # too large to store


class _LRU(LRUCache):
    """An LRUCache that reports each entry it evicts to make room."""

    def __init__(self, maxsize: int, on_evict: Callable[[Key, Entry], None]) -> None:
        super().__init__(maxsize, getsizeof=lambda entry: entry.size)
        self._on_evict = on_evict

    def popitem(self) -> tuple[Key, Entry]:
        key, entry = super().popitem()
        self._on_evict(key, entry)
        return key, entry


class ObjectStore(Generic[V]):
    """See the module docstring. All methods are O(1) amortised except `invalidate`,
    `describe` (linear in the paths / the path's entries) and `clear`."""

    def __init__(
        self,
        max_bytes: int,
        max_object_bytes: int,
        *,
        timer: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes < 0 or max_object_bytes < 0:
            raise ValueError("max_bytes and max_object_bytes must be non-negative")
        self._max_bytes = max_bytes
        self._max_object_bytes = max_object_bytes
        self._timer = timer
        self._lru: _LRU = _LRU(max_bytes, self._evicted)
        self._variants: dict[str, dict[str, Entry[V]]] = {}
        self._paths: dict[str, set[Key]] = {}
        self._expiry: list[tuple[float, int, Key]] = []
        self._seq = 0
        self._inserts = self._hits = self._misses = 0
        self._evictions = self._expirations = self._invalidations = self._refused = 0

    # ------------------------------------------------------------------ index upkeep

    def _unindex(self, entry: Entry[V]) -> None:
        variants = self._variants.get(entry.primary)
        if variants is not None and variants.get(entry.variant) is entry:
            del variants[entry.variant]
            if not variants:
                del self._variants[entry.primary]
        keys = self._paths.get(entry.path)
        if keys is not None:
            keys.discard(entry.key)
            if not keys:
                del self._paths[entry.path]

    def _evicted(self, key: Key, entry: Entry[V]) -> None:
        self._evictions += 1
        self._unindex(entry)

    def _remove(self, entry: Entry[V]) -> None:
        """Drop `entry` if it is still the stored one for its key."""
        if self._variants.get(entry.primary, {}).get(entry.variant) is not entry:
            return
        del self._lru[entry.key]
        self._unindex(entry)

    # ------------------------------------------------------------------ expiry

    def expire(self) -> int:
        """Drop every entry whose time is up; how many were dropped."""
        now = self._timer()
        dropped = 0
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _, _, key = heapq.heappop(heap)
            entry = self._variants.get(key[0], {}).get(key[1])
            if entry is not None and entry.expires_at <= now:
                self._remove(entry)
                self._expirations += 1
                dropped += 1
        if len(heap) > 2 * len(self._lru) + 64:  # stale heap items of replaced/removed entries
            live = [e for variants in self._variants.values() for e in variants.values()]
            self._expiry = [(e.expires_at, i, e.key) for i, e in enumerate(live)]
            self._seq = len(live)
            heapq.heapify(self._expiry)
        return dropped

    # ------------------------------------------------------------------ access

    def put(self, primary: str, variant: str, value: V, *, path: str, size: int, expires_at: float) -> bool:
        """Store `value` (replacing the same key); False if refused (too large, or already
        expired). Evicts least recently used entries as needed to stay within `max_bytes`."""
        charged = size + len(primary) + len(variant) + len(path) + KEY_OVERHEAD
        if size < 0 or charged > self._max_object_bytes or charged > self._max_bytes:
            self._refused += 1
            return False
        now = self._timer()
        self.expire()
        old = self._variants.get(primary, {}).get(variant)
        if old is not None:
            self._remove(old)
        if expires_at <= now:
            return False
        entry: Entry[V] = Entry(primary, variant, value, path, charged, now, expires_at)
        self._lru[entry.key] = entry  # may evict others through _LRU.popitem
        self._variants.setdefault(primary, {})[variant] = entry
        self._paths.setdefault(path, set()).add(entry.key)
        self._seq += 1
        heapq.heappush(self._expiry, (expires_at, self._seq, entry.key))
        self._inserts += 1
        return True

    def get(self, primary: str, variant: str) -> V | None:
        """The live value for the key (marking it recently used), or None."""
        entry = self._variants.get(primary, {}).get(variant)
        if entry is None:
            self._misses += 1
            return None
        if entry.expires_at <= self._timer():
            self._remove(entry)
            self._expirations += 1
            self._misses += 1
            return None
        self._lru[entry.key]  # touch: most recently used
        self._hits += 1
        return entry.value

    def variants(self, primary: str) -> list[Entry[V]]:
        """The live entries of a primary key (no LRU touch, no hit/miss counted)."""
        now = self._timer()
        return [e for e in self._variants.get(primary, {}).values() if e.expires_at > now]

    def delete(self, primary: str, variant: str) -> bool:
        entry = self._variants.get(primary, {}).get(variant)
        if entry is None:
            return False
        self._remove(entry)
        return True

    def delete_primary(self, primary: str) -> int:
        """Remove every variant of a primary key; how many."""
        entries = list(self._variants.get(primary, {}).values())
        for entry in entries:
            self._remove(entry)
        return len(entries)

    def invalidate(self, matcher: Callable[[str], bool]) -> int:
        """Remove every entry whose path `matcher` accepts (all variants of it); how many."""
        removed = 0
        for path in [p for p in self._paths if matcher(p)]:
            for key in list(self._paths.get(path, ())):
                entry = self._variants.get(key[0], {}).get(key[1])
                if entry is not None:
                    self._remove(entry)
                    removed += 1
        self._invalidations += removed
        return removed

    def describe(self, path: str) -> list[Entry[V]]:
        """The live entries stored under `path` (admin `GET /cache?path=`)."""
        now = self._timer()
        out = []
        for key in sorted(self._paths.get(path, ())):
            entry = self._variants.get(key[0], {}).get(key[1])
            if entry is not None and entry.expires_at > now:
                out.append(entry)
        return out

    def paths(self) -> list[str]:
        return sorted(self._paths)

    def __iter__(self) -> Iterator[Entry[V]]:
        now = self._timer()
        for variants in list(self._variants.values()):
            for entry in list(variants.values()):
                if entry.expires_at > now:
                    yield entry

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def currsize(self) -> int:
        """Bytes charged by the stored entries (always <= max_bytes)."""
        return int(self._lru.currsize)

    def clear(self) -> None:
        self._lru.clear()
        self._variants.clear()
        self._paths.clear()
        self._expiry.clear()

    def stats(self) -> StoreStats:
        return StoreStats(
            objects=len(self._lru),
            bytes=self.currsize,
            max_bytes=self._max_bytes,
            max_object_bytes=self._max_object_bytes,
            inserts=self._inserts,
            hits=self._hits,
            misses=self._misses,
            evictions=self._evictions,
            expirations=self._expirations,
            invalidations=self._invalidations,
            refused=self._refused,
        )
