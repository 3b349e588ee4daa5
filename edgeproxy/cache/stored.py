"""A stored response and its clock arithmetic (RFC 9111 §4.2, RFC 5861), all pure.

`now`, `request_time` and `response_time` are POSIX seconds from one clock (`time.time()`:
wall-clock, because `Date`/`Expires` are wall-clock). Nothing here reads a clock.

A `StoredResponse` is frozen and never mutated: the store sizes it once at insert, and a
changed object (revalidated, extended after an origin error) is a new value put back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from edgeproxy.types import HeaderList

ENTRY_OVERHEAD = 512  # bytes charged per stored response beyond its body and headers
HEADER_OVERHEAD = 64  # bytes charged per header pair (tuple + two str objects)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response in the cache, with what is needed to age it and decide how to serve it.

    - `ttl`: freshness lifetime in seconds after CloudFront's clamping (fresh while
      `age(now) < ttl`, RFC 9111 §4.2).
    - `corrected_initial_age`: RFC 9111 §4.2.3, fixed when stored.
    - `stale_while_revalidate` / `stale_if_error`: the RFC 5861 windows in seconds, None when
      the origin sent no such directive.
    - `must_revalidate`: must-revalidate, proxy-revalidate or s-maxage was present (no stale
      serving unless an explicit stale-* window allows it).
    - `vary`: the response's Vary field names (lowercase), None without Vary.
    - `encoding`: "br"/"gzip" when edgeproxy compressed the body, else None.
    - `head_only`: stored from a HEAD response: no body, usable only for HEAD requests.
    """

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    request_time: float
    response_time: float
    corrected_initial_age: float
    ttl: float
    stale_while_revalidate: float | None = None
    stale_if_error: float | None = None
    must_revalidate: bool = False
    vary: tuple[str, ...] | None = None
    generated_by_lambda: bool = False
    encoding: str | None = None
    head_only: bool = False
    retention: float = 0.0  # seconds after response_time the store keeps it (see `policy.retention`)

    # ------------------------------------------------------------------ derived values

    @property
    def size(self) -> int:
        """Bytes charged against the cache budget (computed from immutable fields)."""
        return (
            len(self.body)
            + sum(len(k) + len(v) + HEADER_OVERHEAD for k, v in self.headers)
            + len(self.reason)
            + ENTRY_OVERHEAD
        )

    def header_list(self) -> HeaderList:
        """A fresh, mutable copy of the stored headers."""
        return list(self.headers)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def has_validator(self) -> bool:
        return any(k in ("etag", "last-modified") for k, _ in self.headers)

    # ------------------------------------------------------------------ clock arithmetic

    def age(self, now: float) -> float:
        """current_age = corrected_initial_age + resident_time (RFC 9111 §4.2.3)."""
        return self.corrected_initial_age + max(0.0, now - self.response_time)

    def age_header(self, now: float) -> str:
        """The `Age` field value to send: whole seconds, never negative."""
        return str(max(0, int(self.age(now))))

    def remaining_ttl(self, now: float) -> float:
        """Seconds of freshness left (negative once stale)."""
        return self.ttl - self.age(now)

    def is_fresh(self, now: float) -> bool:
        return self.age(now) < self.ttl

    def staleness(self, now: float) -> float:
        """Seconds past expiry (0 while fresh)."""
        return max(0.0, self.age(now) - self.ttl)

    def can_serve_stale_while_revalidate(self, now: float) -> bool:
        """Stale, but inside an explicit stale-while-revalidate window (serve it, refresh in
        the background)."""
        if self.is_fresh(now) or not self.stale_while_revalidate:
            return False
        return self.staleness(now) <= self.stale_while_revalidate

    def can_serve_stale_on_error(self, now: float) -> bool:
        """May this (stale) object answer when the origin failed (5xx, unreachable)?

        An explicit `stale-if-error=N` decides (N=0: never). Without one, CloudFront keeps
        serving an expired object when the origin answers 5xx or does not answer (spec §7) —
        unless must-revalidate / proxy-revalidate / s-maxage forbid serving stale
        (RFC 9111 §4.2.4; CloudFront's docs are silent on these directives).

        A stored *error* (a cached 404 or 5xx) is never kept in place of the origin's new
        answer: serving an old error instead of a current one helps nobody, and would hide
        a changed error from the viewer for another error-caching TTL.
        """
        if self.status >= 400:
            return False
        if self.stale_if_error is not None:
            return self.staleness(now) <= self.stale_if_error
        return not self.must_revalidate

    def retain_until(self) -> float:
        """Absolute time after which the store may drop this object."""
        return self.response_time + self.retention

    def extended(self, now: float, seconds: float) -> StoredResponse:
        """A copy that is fresh for `seconds` from `now` (CloudFront keeps serving an expired
        object for the error-caching TTL after the origin failed, spec §7)."""
        ttl = self.age(now) + seconds
        retention = max(self.retention, (now - self.response_time) + seconds)
        return dataclasses.replace(self, ttl=ttl, retention=retention)
