"""Whether and for how long a response is stored: CloudFront's rules, RFC 9111 where they are
silent. Pure functions; times are passed in (see `stored.py`).

Decision table (`storage_decision`), in order:

| case | result |
|---|---|
| method not GET/HEAD (OPTIONS only if the behavior caches OPTIONS) | not stored |
| cache policy with caching disabled (min = default = max = 0) | not stored (errors neither) |
| 1xx, 206, 304, 416 | not stored (only complete responses are stored; ranges are cut from them) |
| `Vary: *` | not stored |
| 404 414 500 501 502 503 504 | stored for max(error-caching min TTL or the custom error response's `min_ttl`, s-maxage / max-age) — whatever else Cache-Control says |
| 400 403 405 412 415 | as above, but only if s-maxage or max-age is present |
| 410 | the normal rules below (CloudFront caches it like a 200) |
| any other status >= 400 | not stored |
| `no-store`, `no-cache`, `private` (unqualified) | not stored when Min TTL = 0, else stored for Min TTL |
| 307, 308 without a Cache-Control header | not stored (CloudFront: "only when you include the Cache-Control header") |
| s-maxage > max-age > Expires present | TTL = clamp(value, Min, Max); invalid value = 0 (stale); Expires relative to Date |
| no explicit freshness: 200 203 204 300 301 410, or `public`, or 307/308 with Cache-Control | TTL = max(Default, Min) |
| no explicit freshness, other status (201, 302, 303, ...) | not stored |
| TTL 0 and no stale-while-revalidate / stale-if-error window | not stored |

Statuses cacheable by default are CloudFront's documented ones (200, 203, 300, 301, 410) plus
204 (RFC 9110 heuristically cacheable; CloudFront silent). 308 is RFC-heuristic but CloudFront
requires a Cache-Control header. 302/303 need explicit freshness (RFC 9111 §3).

Stored header fields (RFC 9111 §3.1, §5.2.2.4, §5.2.2.7; CloudFront Cookies doc): without
hop-by-hop fields and those listed in `Connection`, without `Age` (recomputed on every serve),
without the fields named by a qualified `no-cache="..."` / `private="..."`, and `Set-Cookie`
only when the behavior forwards cookies — then only for cookie names it forwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from edgeproxy.headers import HOP_BY_HOP
from edgeproxy.cache.cachecontrol import (
    DELTA_SECONDS_MAX,
    CacheControl,
    first_value,
    parse_age,
    parse_cache_control,
    parse_http_date,
    parse_vary,
)
from edgeproxy.cache.compress import compressed_headers
from edgeproxy.cache.key import Forwarding, forwarding, set_cookie_name
from edgeproxy.cache.stored import StoredResponse
from edgeproxy.config_types import CachePolicyConfig, OriginRequestPolicyConfig
from edgeproxy.types import HeaderList

DEFAULT_CACHEABLE = frozenset({200, 203, 204, 300, 301, 410})
ALWAYS_CACHED_ERRORS = frozenset({404, 414, 500, 501, 502, 503, 504})
ERRORS_CACHED_WITH_MAX_AGE = frozenset({400, 403, 405, 412, 415})
NEED_CACHE_CONTROL = frozenset({307, 308})
NEVER_STORED = frozenset({206, 304, 416})
GET_HEAD = frozenset({"GET", "HEAD"})

STALE_RETENTION_S = 86400.0
"""How long an expired object is kept for revalidation (RefreshHit) and for CloudFront's
serve-stale-on-origin-error, unless something shorter applies. LRU eviction may drop it sooner."""

NOT_STORED_FIELDS = HOP_BY_HOP | {"age"}


@dataclass(frozen=True, slots=True)
class NotStored:
    """The response is not stored; `reason` is for the log. Falsy."""

    reason: str

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class StoreDecision:
    """The response is stored, with these values (`build_stored` makes the object). Truthy."""

    method: str
    status: int
    headers: tuple[tuple[str, str], ...]  # the fields to store
    ttl: float
    corrected_initial_age: float
    request_time: float
    response_time: float
    stale_while_revalidate: float | None
    stale_if_error: float | None
    must_revalidate: bool
    vary: tuple[str, ...] | None
    retention: float
    reason: str  # which rule set the TTL, for the log

    def __bool__(self) -> bool:
        return True


# --------------------------------------------------------------------------- freshness


def corrected_initial_age(headers: HeaderList, request_time: float, response_time: float) -> float:
    """RFC 9111 §4.2.3: max(apparent_age, Age + response_delay); malformed Date/Age count as
    absent."""
    date = parse_http_date(first_value(headers, "date"))
    apparent_age = max(0.0, response_time - date) if date is not None else 0.0
    response_delay = max(0.0, response_time - request_time)
    corrected_age_value = (parse_age(headers) or 0) + response_delay
    return max(apparent_age, corrected_age_value)


def explicit_lifetime(headers: HeaderList, cc: CacheControl, response_time: float) -> tuple[float | None, str]:
    """(freshness lifetime, source) from s-maxage > max-age > Expires (RFC 9111 §4.2.1 for a
    shared cache; CloudFront: Expires is ignored when max-age is present). (None, "none")
    when there is no explicit freshness. An invalid Expires means already expired."""
    s_maxage = cc.seconds("s-maxage")
    if s_maxage is not None:
        return float(s_maxage), "s-maxage"
    max_age = cc.seconds("max-age")
    if max_age is not None:
        return float(max_age), "max-age"
    expires_raw = first_value(headers, "expires")
    if expires_raw is None:
        return None, "none"
    expires = parse_http_date(expires_raw)
    if expires is None:
        return 0.0, "expires"
    date = parse_http_date(first_value(headers, "date"))
    base = date if date is not None else response_time
    return float(min(max(0.0, expires - base), DELTA_SECONDS_MAX)), "expires"


def clamp_ttl(value: float, policy: CachePolicyConfig) -> float:
    """CloudFront: explicit freshness is clamped to [Min TTL, Max TTL]."""
    return min(max(value, policy.min_ttl), max(policy.max_ttl, policy.min_ttl))


def default_ttl(policy: CachePolicyConfig) -> float:
    """CloudFront: without explicit freshness, Default TTL (at least Min TTL)."""
    return max(policy.default_ttl, policy.min_ttl)


# --------------------------------------------------------------------------- stored fields


def storable_headers(headers: HeaderList, cc: CacheControl, fwd: Forwarding) -> HeaderList:
    """The fields a shared cache may store from `headers` (see the module docstring)."""
    excluded = set(NOT_STORED_FIELDS)
    for k, v in headers:
        if k == "connection":
            excluded.update(n.strip().lower() for n in v.split(",") if n.strip())
    excluded.update(cc.field_names("no-cache") or ())
    excluded.update(cc.field_names("private") or ())
    out: HeaderList = []
    for k, v in headers:
        if k in excluded:
            continue
        if k == "set-cookie" and not (fwd.any_cookies and fwd.cookie(set_cookie_name(v))):
            continue
        out.append((k, v))
    return out


def retention(
    ttl: float,
    age: float,
    swr: float | None,
    sie: float | None,
    must_revalidate: bool,
    has_validator: bool,
) -> float:
    """Seconds after the response arrived that keeping it can still serve someone: while
    fresh, then the longest applicable stale window (stale-while-revalidate, stale-if-error or
    CloudFront's default serve-stale-on-error, revalidation when it has a validator)."""
    extra = 0.0
    if swr:
        extra = max(extra, float(swr))
    if sie is not None:
        extra = max(extra, float(sie))
    elif not must_revalidate:
        extra = max(extra, STALE_RETENTION_S)
    if has_validator:
        extra = max(extra, STALE_RETENTION_S)
    return ttl - age + extra


# --------------------------------------------------------------------------- the decision


def _applies_to_whole(cc: CacheControl, directive: str) -> bool:
    """no-store, or an unqualified no-cache / private (a qualified one names fields only)."""
    if not cc.has(directive):
        return False
    return directive == "no-store" or cc.field_names(directive) is None


def _method_cacheable(method: str, cached_methods: frozenset[str]) -> bool:
    return method in GET_HEAD or (method == "OPTIONS" and "OPTIONS" in cached_methods)


def storage_decision(
    method: str,
    status: int,
    response_headers: HeaderList,
    policy: CachePolicyConfig,
    error_caching_min_ttl: float,
    status_min_ttl: float | None,
    request_time: float,
    response_time: float,
    *,
    orp: OriginRequestPolicyConfig | None = None,
    cached_methods: frozenset[str] = GET_HEAD,
) -> StoreDecision | NotStored:
    """Whether the response to `method` is stored, and how (module docstring table).

    `response_headers` are the final ones (after origin-response); `status_min_ttl` is the
    custom error response's `min_ttl` for this status (overrides `error_caching_min_ttl`);
    `orp` is the behavior's origin request policy (None = edgeproxy's default, which forwards
    all cookies) and only matters for which `Set-Cookie` fields are stored.
    """
    method = method.upper()
    if not _method_cacheable(method, cached_methods):
        return NotStored(f"{method} responses are not cached")
    if policy.caching_disabled:
        return NotStored("caching disabled by the cache policy")
    if status < 200 or status in NEVER_STORED:
        return NotStored(f"status {status} is never stored")
    vary = parse_vary(response_headers)
    if vary == ("*",):
        return NotStored("Vary: *")

    cc = parse_cache_control(response_headers)
    age = corrected_initial_age(response_headers, request_time, response_time)
    swr = cc.optional_seconds("stale-while-revalidate")
    sie = cc.optional_seconds("stale-if-error")
    must_revalidate = cc.has("must-revalidate") or cc.has("proxy-revalidate") or cc.has("s-maxage")
    cc_lifetime = cc.seconds("s-maxage")
    if cc_lifetime is None:
        cc_lifetime = cc.seconds("max-age")

    if status >= 400 and status not in DEFAULT_CACHEABLE:  # 410 Gone follows the normal rules
        if status not in ALWAYS_CACHED_ERRORS and status not in ERRORS_CACHED_WITH_MAX_AGE:
            return NotStored(f"status {status} is not cached")
        if status in ERRORS_CACHED_WITH_MAX_AGE and cc_lifetime is None:
            return NotStored(f"status {status} is cached only with max-age or s-maxage")
        floor = error_caching_min_ttl if status_min_ttl is None else status_min_ttl
        ttl = max(float(floor), float(cc_lifetime or 0))
        why = "error caching"
    else:
        whole = next((d for d in ("no-store", "no-cache", "private") if _applies_to_whole(cc, d)), None)
        if whole is not None:
            if policy.min_ttl <= 0:
                return NotStored(f"Cache-Control: {whole}")
            ttl = float(policy.min_ttl)
            why = f"{whole} with Min TTL"
        elif status in NEED_CACHE_CONTROL and not cc.directives:
            return NotStored(f"status {status} is cached only with a Cache-Control header")
        else:
            lifetime, source = explicit_lifetime(response_headers, cc, response_time)
            if lifetime is not None:
                ttl = clamp_ttl(lifetime, policy)
                why = source
            elif status in DEFAULT_CACHEABLE or status in NEED_CACHE_CONTROL or cc.has("public"):
                ttl = default_ttl(policy)
                why = "default TTL"
            else:
                return NotStored(f"status {status} without explicit freshness")

    if ttl <= 0 and not swr and not sie:
        return NotStored(f"TTL 0 ({why})")
    headers = storable_headers(response_headers, cc, forwarding(policy, orp))
    has_validator = any(k in ("etag", "last-modified") for k, _ in headers)
    keep = retention(ttl, age, swr, sie, must_revalidate, has_validator)
    if keep <= 0:
        return NotStored("already stale, nothing to serve it for")
    return StoreDecision(
        method=method,
        status=status,
        headers=tuple(headers),
        ttl=ttl,
        corrected_initial_age=age,
        request_time=request_time,
        response_time=response_time,
        stale_while_revalidate=None if swr is None else float(swr),
        stale_if_error=None if sie is None else float(sie),
        must_revalidate=must_revalidate,
        vary=vary,
        retention=keep,
        reason=why,
    )


def build_stored(
    decision: StoreDecision,
    body: bytes,
    *,
    reason: str = "",
    encoding: str | None = None,
    generated_by_lambda: bool = False,
) -> StoredResponse:
    """The object to store. `body` is the complete body as it will be served (already
    compressed when `encoding` is set: see `compress.compress_body`). A HEAD response is kept
    as a head-only object with its headers untouched; otherwise Content-Length is made exact."""
    head_only = decision.method == "HEAD"
    headers: HeaderList = list(decision.headers)
    if encoding is not None and not head_only:
        headers = compressed_headers(headers, encoding, len(body))
    elif not head_only and decision.status not in (204, 304):
        headers = [(k, v) for k, v in headers if k != "content-length"] + [("content-length", str(len(body)))]
    return StoredResponse(
        status=decision.status,
        reason=reason,
        headers=tuple(headers),
        body=b"" if head_only else body,
        request_time=decision.request_time,
        response_time=decision.response_time,
        corrected_initial_age=decision.corrected_initial_age,
        ttl=decision.ttl,
        stale_while_revalidate=decision.stale_while_revalidate,
        stale_if_error=decision.stale_if_error,
        must_revalidate=decision.must_revalidate,
        vary=decision.vary,
        generated_by_lambda=generated_by_lambda,
        encoding=None if head_only else encoding,
        head_only=head_only,
        retention=decision.retention,
    )


# --------------------------------------------------------------------------- unsafe methods

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def unsafe_invalidation(
    method: str,
    status: int,
    uri: str,
    request_host: str | None,
    response_headers: HeaderList,
) -> Callable[[str], bool] | None:
    """RFC 9111 §4.4 (CloudFront is silent): a non-error (2xx/3xx) response to an unsafe
    method invalidates the target URI, and the `Location` / `Content-Location` URIs when they
    are on the same host. Returns a matcher for `ResponseCache.invalidate` (every stored path
    of those URIs, whatever its keyed query), or None when nothing is invalidated."""
    if method.upper() in SAFE_METHODS or not 200 <= status < 400:
        return None
    targets = {uri}
    for name in ("location", "content-location"):
        for k, v in response_headers:
            if k != name:
                continue
            try:
                parts = urlsplit(urljoin(uri, v.strip()))
            except ValueError:
                continue
            if parts.netloc and (request_host is None or parts.netloc.lower() != request_host.lower()):
                continue
            if parts.path.startswith("/"):
                targets.add(parts.path)

    def matcher(path: str) -> bool:
        return path.split("?", 1)[0] in targets

    return matcher
