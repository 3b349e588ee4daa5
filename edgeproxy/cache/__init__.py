"""The HTTP cache: CloudFront's caching rules (RFC 9111 where CloudFront is silent) as pure
functions with `now` passed in, over byte-bounded storage that knows no HTTP.

Public API the distribution uses (one clock for all times: `ResponseCache.now()`):

| call | what for |
|---|---|
| `cache_key(method, uri, querystring, headers, policy, *, compress, http_version) -> CacheKey` | key (+ invalidation path) for a request after viewer-request |
| `ResponseCache(max_bytes, max_object_bytes, *, timer)` | `.lookup(key, method, headers)`, `.put(key, headers, stored)`, `.discard(...)`, `.invalidate(matcher)`, `.describe(path)`, `.stats()`, `.now()` |
| `StoredResponse` | `.age(now)`, `.age_header(now)`, `.is_fresh(now)`, `.remaining_ttl(now)`, `.can_serve_stale_while_revalidate(now)`, `.can_serve_stale_on_error(now)`, `.extended(now, s)`, `.header_list()` |
| `storage_decision(method, status, headers, policy, error_caching_min_ttl, status_min_ttl, request_time, response_time, *, orp, cached_methods) -> StoreDecision \\| NotStored` | on every origin (or origin-request-generated) response; falsy NotStored has `.reason` |
| `build_stored(decision, body, *, reason, encoding, generated_by_lambda) -> StoredResponse` | the object to `put` |
| `conditional_request_headers(stored.headers) -> HeaderList` | validators for refreshing an expired object |
| `revalidated(stored, headers_304, policy, ecmt, status_min_ttl, request_time, response_time, *, orp) -> StoredResponse \\| NotStored` | a 304 refresh (RefreshHit); `merge_not_modified` is the field merge |
| `viewer_not_modified(method, request_headers, stored_headers, *, status) -> bool` + `not_modified_headers(headers)` | answer a viewer's If-None-Match / If-Modified-Since with 304 |
| `serve_range(method, request_headers, status, headers, body) -> RangedResponse \\| None` | 206 / 416 from a complete body (`parse_range`, `content_range`, `if_range_matches`) |
| `choose_encoding(accept_encoding, http_version, status, headers, length, *, cacheable) -> "br" \\| "gzip" \\| None` | edge compression (caller checks `behavior.compress`) |
| `compress_body(body, encoding)`, `compressed_headers(headers, encoding, length)` | do it (CPU-bound: a thread for big bodies) |
| `origin_request_headers(policy, orp, viewer_headers, *, compress, http_version) -> HeaderList` | viewer headers / cookies / Accept-Encoding the origin gets |
| `origin_query_string(policy, orp, querystring) -> str` | byte-exact subset of the raw query string |
| `forwards_cookies(policy, orp)`, `strip_set_cookie(headers)` | no cookie forwarded: strip Set-Cookie from every response |
| `collapsing_allowed(policy, orp) -> bool` | whether concurrent misses may share one origin fetch |
| `vary_for_viewer(headers, policy, orp)` | Vary to viewers keeps Accept-Encoding, Cookie, forwarded names |
| `unsafe_invalidation(method, status, uri, host, response_headers) -> matcher \\| None` | RFC 9111 §4.4: a successful POST/PUT/DELETE/... invalidates its URI (+ Location / Content-Location) |

`orp=None` everywhere means edgeproxy's default origin request policy (all viewer headers but
Host, all cookies, all query strings): `DEFAULT_ORIGIN_REQUEST_POLICY`.

Nothing here is thread-safe: one event loop owns a `ResponseCache` (as cachetools). Modules:
`cachecontrol` (header parsing), `key` (key, forwarding, Vary keys), `policy` (store or not,
TTL), `stored` (the object and its clock), `conditional` (304s both ways), `ranges`,
`compress`, `store` (bytes-bounded LRU + indexes), `responses` (the façade).
"""

from __future__ import annotations

from edgeproxy.cache.cachecontrol import (
    CacheControl,
    format_http_date,
    parse_age,
    parse_cache_control,
    parse_http_date,
    parse_vary,
)
from edgeproxy.cache.compress import (
    COMPRESSIBLE_TYPES,
    choose_encoding,
    compress_body,
    compressed_headers,
    weak_etag,
)
from edgeproxy.cache.conditional import (
    conditional_request_headers,
    etag_matches,
    merge_not_modified,
    not_modified_headers,
    revalidated,
    viewer_not_modified,
    with_headers,
)
from edgeproxy.cache.key import (
    DEFAULT_ORIGIN_REQUEST_POLICY,
    CacheKey,
    Forwarding,
    cache_key,
    collapsing_allowed,
    forwarding,
    forwards_cookies,
    normalise_accept_encoding,
    origin_accept_encoding,
    origin_query_string,
    origin_request_headers,
    parse_cookies,
    strip_set_cookie,
    variant_key,
    vary_for_viewer,
)
from edgeproxy.cache.policy import (
    NotStored,
    StoreDecision,
    build_stored,
    corrected_initial_age,
    storage_decision,
    unsafe_invalidation,
)
from edgeproxy.cache.ranges import (
    RangedResponse,
    RangeSpec,
    Unsatisfiable,
    content_range,
    if_range_matches,
    parse_range,
    serve_range,
    unsatisfied_content_range,
)
from edgeproxy.cache.responses import ResponseCache, VariantInfo
from edgeproxy.cache.store import Entry, ObjectStore, StoreStats
from edgeproxy.cache.stored import StoredResponse

__all__ = [
    "COMPRESSIBLE_TYPES",
    "DEFAULT_ORIGIN_REQUEST_POLICY",
    "CacheControl",
    "CacheKey",
    "Entry",
    "Forwarding",
    "NotStored",
    "ObjectStore",
    "RangeSpec",
    "RangedResponse",
    "ResponseCache",
    "StoreDecision",
    "StoreStats",
    "StoredResponse",
    "Unsatisfiable",
    "VariantInfo",
    "build_stored",
    "cache_key",
    "choose_encoding",
    "collapsing_allowed",
    "compress_body",
    "compressed_headers",
    "conditional_request_headers",
    "content_range",
    "corrected_initial_age",
    "etag_matches",
    "format_http_date",
    "forwarding",
    "forwards_cookies",
    "if_range_matches",
    "merge_not_modified",
    "normalise_accept_encoding",
    "not_modified_headers",
    "origin_accept_encoding",
    "origin_query_string",
    "origin_request_headers",
    "parse_age",
    "parse_cache_control",
    "parse_cookies",
    "parse_http_date",
    "parse_range",
    "parse_vary",
    "revalidated",
    "serve_range",
    "storage_decision",
    "strip_set_cookie",
    "unsafe_invalidation",
    "unsatisfied_content_range",
    "variant_key",
    "vary_for_viewer",
    "viewer_not_modified",
    "weak_etag",
    "with_headers",
]
