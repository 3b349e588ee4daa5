"""Validation: revalidating a stored object with the origin, and answering viewer conditionals.

- Toward the origin (RFC 9111 §4.3.1): an expired object is revalidated with `If-None-Match`
  (its ETag) and `If-Modified-Since` (its Last-Modified). A 304 updates the stored fields
  (RFC 9111 §3.2 / §4.3.4) and restarts its clock (`RefreshHit`).
- Toward the viewer (RFC 9110 §13.2.2): on a stored object, `If-None-Match` (weak comparison,
  `*`, lists) decides; `If-Modified-Since` only counts when there is no If-None-Match, and only
  for GET and HEAD. A match is answered 304 with `not_modified_headers`.
"""

from __future__ import annotations

import dataclasses

from edgeproxy.cache.cachecontrol import first_value, parse_http_date, split_list
from edgeproxy.cache.policy import NotStored, build_stored, storage_decision
from edgeproxy.headers import HOP_BY_HOP
from edgeproxy.cache.stored import StoredResponse
from edgeproxy.config_types import CachePolicyConfig, OriginRequestPolicyConfig
from edgeproxy.types import HeaderList

# Fields a 304 never overwrites: hop-by-hop ones (§3.1), Content-Length (§3.2), and what the
# stored body depends on (its coding and range framing).
NOT_UPDATED_BY_304 = HOP_BY_HOP | {"age", "content-length", "content-encoding", "content-range"}


def _quoted(etag: str) -> str:
    """An entity-tag in its wire form: unquoted opaque tags get quotes (what origins expect)."""
    tag = etag.strip()
    if tag.startswith('"') or tag[:2] in ("W/", "w/"):
        return tag
    return f'"{tag}"'


def conditional_request_headers(stored_headers: HeaderList | tuple[tuple[str, str], ...]) -> HeaderList:
    """The validators to add to the origin request that revalidates a stored object
    (empty when it has none: the refresh is then a plain request)."""
    out: HeaderList = []
    etag = first_value(list(stored_headers), "etag")
    if etag and etag.strip():
        out.append(("if-none-match", _quoted(etag)))
    last_modified = first_value(list(stored_headers), "last-modified")
    if last_modified and parse_http_date(last_modified) is not None:
        out.append(("if-modified-since", last_modified.strip()))
    return out


def merge_not_modified(
    stored_headers: HeaderList | tuple[tuple[str, str], ...],
    headers_304: HeaderList,
    *,
    keep: frozenset[str] = frozenset(),
) -> HeaderList:
    """The stored fields updated from a 304 (RFC 9111 §3.2): every field the 304 carries
    replaces all stored lines of that name, except `NOT_UPDATED_BY_304` and `keep`; stored
    fields the 304 omits stay. Stored order is kept; new fields are appended."""
    protected = NOT_UPDATED_BY_304 | keep
    for k, v in headers_304:
        if k == "connection":
            protected = protected | {n.strip().lower() for n in v.split(",") if n.strip()}
    updates: dict[str, list[str]] = {}
    for k, v in headers_304:
        if k not in protected:
            updates.setdefault(k, []).append(v)
    out: HeaderList = []
    placed: set[str] = set()
    for k, v in stored_headers:
        if k in updates:
            if k not in placed:
                out.extend((k, nv) for nv in updates[k])
                placed.add(k)
            continue
        out.append((k, v))
    for k, values in updates.items():
        if k not in placed:
            out.extend((k, nv) for nv in values)
    return out


def revalidated(
    stored: StoredResponse,
    headers_304: HeaderList,
    policy: CachePolicyConfig,
    error_caching_min_ttl: float,
    status_min_ttl: float | None,
    request_time: float,
    response_time: float,
    *,
    orp: OriginRequestPolicyConfig | None = None,
    cached_methods: frozenset[str] = frozenset({"GET", "HEAD"}),
) -> StoredResponse | NotStored:
    """The stored object refreshed by a 304: merged fields, a new clock and TTL from them.

    NotStored when the merged response may no longer be stored (e.g. the 304 says no-store):
    the caller serves the merged response (`dataclasses.replace(stored, headers=...)`) once and
    drops the stored object. An object edgeproxy compressed keeps its own ETag and Vary.
    """
    keep = frozenset({"etag", "vary"}) if stored.encoding else frozenset()
    merged = merge_not_modified(stored.headers, headers_304, keep=keep)
    method = "HEAD" if stored.head_only else "GET"
    decision = storage_decision(
        method,
        stored.status,
        merged,
        policy,
        error_caching_min_ttl,
        status_min_ttl,
        request_time,
        response_time,
        orp=orp,
        cached_methods=cached_methods,
    )
    if not decision:
        return decision
    return build_stored(
        decision,
        stored.body,
        reason=stored.reason,
        encoding=stored.encoding,
        generated_by_lambda=stored.generated_by_lambda,
    )


def with_headers(stored: StoredResponse, headers: HeaderList) -> StoredResponse:
    """A copy of `stored` with other header fields (for serving a merged 304 once)."""
    return dataclasses.replace(stored, headers=tuple(headers))


# --------------------------------------------------------------------------- viewer conditionals


def _opaque(tag: str) -> str:
    """An entity-tag for weak comparison: `W/` dropped, quotes dropped (lenient with unquoted
    tags, which some origins send)."""
    tag = tag.strip()
    if tag[:2] in ("W/", "w/"):
        tag = tag[2:]
    if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"':
        tag = tag[1:-1]
    return tag


def etag_matches(if_none_match: str, etag: str | None) -> bool:
    """If-None-Match evaluation (RFC 9110 §13.1.2): `*` matches any current representation;
    otherwise weak comparison against each listed tag."""
    members = split_list(if_none_match)
    if "*" in members:
        return True
    if etag is None or not etag.strip():
        return False
    current = _opaque(etag)
    return any(_opaque(m) == current for m in members)


def viewer_not_modified(
    method: str,
    request_headers: HeaderList,
    stored_headers: HeaderList | tuple[tuple[str, str], ...],
    *,
    status: int = 200,
) -> bool:
    """Whether a viewer's conditional GET/HEAD is answered 304 from this stored response.

    Only a 2xx response is ever replaced by a 304 (RFC 9110 §13.2.1: preconditions are
    ignored when the unconditional answer would not be 2xx)."""
    if method.upper() not in ("GET", "HEAD") or not 200 <= status < 300:
        return False
    stored = list(stored_headers)
    inm = [v for k, v in request_headers if k == "if-none-match"]
    if inm:
        return etag_matches(",".join(inm), first_value(stored, "etag"))
    ims = parse_http_date(first_value(request_headers, "if-modified-since"))
    if ims is None:
        return False
    last_modified = parse_http_date(first_value(stored, "last-modified"))
    if last_modified is None:
        return False
    return last_modified <= ims


_REPRESENTATION_FIELDS = frozenset(
    {
        "content-length",
        "content-type",
        "content-encoding",
        "content-language",
        "content-range",
        "content-md5",
        "transfer-encoding",
    }
)


def not_modified_headers(headers: HeaderList | tuple[tuple[str, str], ...]) -> HeaderList:
    """The fields of a 304 answering a viewer (RFC 9110 §15.4.5): the response's fields
    without representation metadata (Content-Type, Content-Length, ...); ETag, Cache-Control,
    Expires, Vary, Date, Last-Modified and the rest are kept."""
    return [(k, v) for k, v in headers if k not in _REPRESENTATION_FIELDS]
