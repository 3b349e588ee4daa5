"""The cache key, and what goes to the origin (spec §7 "Cache key", "Origin request policy").

CloudFront's rules, as documented (controlling-the-cache-key, QueryStringParameters, Cookies):

- Key = method class (GET and HEAD share one, OPTIONS has its own) + URL path (the uri after
  viewer-request) + the cache policy's query strings, headers and cookies + the normalised
  `Accept-Encoding` when the behavior compresses.
- Query strings: parameters are split on `&` only; whitelist/all-except select by name; the key
  keeps the selected parameters **in their original order** and byte-exact ("the order of
  parameters matters"; names and values are case-sensitive). Nothing is ever re-encoded.
- Headers: the whitelist by (lowercase) name with the full value; several lines are joined ", ".
- Cookies: the `Cookie` lines split on `;`, each cookie at its first `=` (what CloudFront does;
  `http.cookies.SimpleCookie` drops every cookie after the first one it dislikes, so it is not
  used). CloudFront "sorts the cookies in natural order by cookie name" before forwarding; the
  key uses the same order, so `a=1; b=2` and `b=2; a=1` are one object.
- Accept-Encoding with compression on: `br,gzip`, `gzip` or `br` in the key and to the origin;
  absent from the key when the viewer accepts neither (the origin then gets `identity`) and
  absent everywhere when the viewer sent none. With compression off it is "treated the same as
  any other header": forwarded unchanged when a policy selects it, keyed only if whitelisted.
- Everything in the key is forwarded; the origin request policy adds more without keying on it.
  No origin request policy (None) = edgeproxy's default: all viewer headers but Host, all
  cookies, all query strings (a listed deviation; CloudFront forwards only the key).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from urllib.parse import unquote_plus

from edgeproxy.config_types import CachePolicyConfig, OriginRequestPolicyConfig, Selection
from edgeproxy.types import HeaderList

DEFAULT_ORIGIN_REQUEST_POLICY = OriginRequestPolicyConfig(
    name="edgeproxy-default",
    headers=Selection("all_viewer_except_host"),
    cookies=Selection("all"),
    query_strings=Selection("all"),
)
"""Applied when a behavior names no origin request policy (DESIGN §2 deviation)."""


# --------------------------------------------------------------------------- accept-encoding


def _codings(value: str) -> dict[str, float]:
    """content-coding -> q from an Accept-Encoding value (malformed q = 1, lowercased names)."""
    out: dict[str, float] = {}
    for item in value.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, raw = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(raw.strip())
                except ValueError:
                    q = 1.0
                if q != q:  # NaN
                    q = 0.0
        out.setdefault(name, q)
    return out


def normalise_accept_encoding(values: str | list[str] | None) -> str:
    """CloudFront's normalised Accept-Encoding: "br,gzip", "br", "gzip", or "" (neither).

    `q=0` excludes a coding; other q-values do not matter (CloudFront prefers br regardless).
    """
    if values is None:
        return ""
    joined = values if isinstance(values, str) else ",".join(values)
    codings = _codings(joined)
    accepted = [c for c in ("br", "gzip") if codings.get(c, 0.0) > 0.0]
    return ",".join(accepted)


def _accept_encoding(headers: HeaderList) -> list[str] | None:
    values = [v for k, v in headers if k == "accept-encoding"]
    return values or None


def origin_accept_encoding(headers: HeaderList) -> str | None:
    """The Accept-Encoding CloudFront sends to the origin for these viewer headers:
    the normalised value, `identity` when the viewer accepts neither br nor gzip, None when the
    viewer sent no Accept-Encoding at all."""
    values = _accept_encoding(headers)
    if values is None:
        return None
    return normalise_accept_encoding(values) or "identity"


def _is_http10(http_version: str) -> bool:
    return http_version.strip().upper() in ("1.0", "HTTP/1.0")


# --------------------------------------------------------------------------- query strings


def _param_name(segment: str) -> str:
    return segment.partition("=")[0]


def _selected(selection: Selection, name: str) -> bool:
    if selection.includes(name):
        return True
    if selection.mode in ("whitelist", "all_except"):
        decoded = unquote_plus(name)
        if decoded != name:
            return selection.includes(decoded)
    return False


def select_query(querystring: str, selections: tuple[Selection, ...]) -> str:
    """The parameters any of `selections` includes, as a byte-exact subset of the raw query
    string in the original order (`&`-separated; empty segments dropped)."""
    if not querystring or all(s.mode == "none" for s in selections):
        return ""
    if any(s.mode in ("all", "all_viewer", "all_viewer_except_host") for s in selections):
        return querystring
    kept = [
        seg
        for seg in querystring.split("&")
        if seg and any(_selected(s, _param_name(seg)) for s in selections)
    ]
    return "&".join(kept)


# --------------------------------------------------------------------------- cookies


def parse_cookies(headers: HeaderList) -> list[tuple[str, str | None]]:
    """(name, value) for every cookie in the `Cookie` lines, in order; value None for a bare
    `name` without `=`. Split on `;` then at the first `=`, whitespace stripped."""
    cookies: list[tuple[str, str | None]] = []
    for k, v in headers:
        if k != "cookie":
            continue
        for part in v.split(";"):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not name:
                continue
            cookies.append((name, value.strip() if sep else None))
    return cookies


def _cookie_text(name: str, value: str | None) -> str:
    return name if value is None else f"{name}={value}"


def select_cookies(headers: HeaderList, selections: tuple[Selection, ...]) -> str | None:
    """The `Cookie` value with the cookies any selection includes, sorted by name (stable),
    joined "; "; None when no cookie is selected."""
    if all(s.mode == "none" for s in selections):
        return None
    chosen = [(n, v) for n, v in parse_cookies(headers) if any(s.includes(n) for s in selections)]
    if not chosen:
        return None
    chosen.sort(key=lambda c: c[0])
    return "; ".join(_cookie_text(n, v) for n, v in chosen)


def set_cookie_name(value: str) -> str:
    """The cookie name a `Set-Cookie` value sets."""
    return value.split(";", 1)[0].partition("=")[0].strip()


def strip_set_cookie(headers: HeaderList) -> HeaderList:
    """`headers` without `Set-Cookie` (CloudFront removes it when no cookie is forwarded)."""
    return [(k, v) for k, v in headers if k != "set-cookie"]


# --------------------------------------------------------------------------- forwarding


@dataclass(frozen=True, slots=True)
class Forwarding:
    """What a behavior sends to its origin: the cache policy's key items plus the origin
    request policy's. Each field is the selections whose union applies."""

    headers: tuple[Selection, ...]
    cookies: tuple[Selection, ...]
    query_strings: tuple[Selection, ...]

    def header(self, name: str) -> bool:
        return any(s.includes(name) for s in self.headers)

    def cookie(self, name: str) -> bool:
        return any(s.includes(name) for s in self.cookies)

    @property
    def any_cookies(self) -> bool:
        return any(s.mode != "none" for s in self.cookies)

    @property
    def all_headers(self) -> bool:
        return any(s.mode in ("all", "all_viewer", "all_viewer_except_host") for s in self.headers)


def key_header_selection(policy: CachePolicyConfig) -> Selection:
    if not policy.headers:
        return Selection()
    return Selection("whitelist", frozenset(h.lower() for h in policy.headers))


@functools.lru_cache(maxsize=256)  # policies are frozen and few: computed once, not per request
def forwarding(policy: CachePolicyConfig, orp: OriginRequestPolicyConfig | None) -> Forwarding:
    """The union of `policy` (the key) and `orp` (None = edgeproxy's default policy)."""
    request_policy = DEFAULT_ORIGIN_REQUEST_POLICY if orp is None else orp
    return Forwarding(
        headers=(key_header_selection(policy), request_policy.headers),
        cookies=(policy.cookies, request_policy.cookies),
        query_strings=(policy.query_strings, request_policy.query_strings),
    )


def origin_request_headers(
    policy: CachePolicyConfig,
    orp: OriginRequestPolicyConfig | None,
    viewer_headers: HeaderList,
    *,
    compress: bool = False,
    http_version: str = "1.1",
) -> HeaderList:
    """The viewer headers the origin receives, in viewer order: those in the key or the origin
    request policy, the selected cookies as one sorted `Cookie` header (where the first Cookie
    line was), and — when the behavior compresses — Accept-Encoding normalised (always sent).

    Hop-by-hop and CloudFront's always-dropped headers, Host, Via, X-Forwarded-For and
    CloudFront-* headers are the caller's business (origin.py / distribution.py).
    An HTTP/1.0 viewer's Accept-Encoding is removed (ServingCompressedFiles).
    """
    if _is_http10(http_version):
        viewer_headers = [(k, v) for k, v in viewer_headers if k != "accept-encoding"]
    fwd = forwarding(policy, orp)
    cookie_value = select_cookies(viewer_headers, fwd.cookies)
    ae_value = origin_accept_encoding(viewer_headers) if compress else None
    out: HeaderList = []
    cookie_done = ae_done = False
    for name, value in viewer_headers:
        if name == "cookie":
            if cookie_value is not None and not cookie_done:
                out.append(("cookie", cookie_value))
            cookie_done = True
        elif name == "accept-encoding" and compress:
            if ae_value is not None and not ae_done:
                out.append(("accept-encoding", ae_value))
            ae_done = True
        elif fwd.header(name):
            out.append((name, value))
    return out


def origin_query_string(
    policy: CachePolicyConfig, orp: OriginRequestPolicyConfig | None, querystring: str
) -> str:
    """The query string the origin receives: a byte-exact subset of `querystring` in the
    original order (the whole string when either policy forwards all)."""
    return select_query(querystring, forwarding(policy, orp).query_strings)


def forwards_cookies(policy: CachePolicyConfig, orp: OriginRequestPolicyConfig | None) -> bool:
    """Whether the behavior forwards any cookie (if not, `Set-Cookie` is stripped)."""
    return forwarding(policy, orp).any_cookies


def collapsing_allowed(policy: CachePolicyConfig, orp: OriginRequestPolicyConfig | None) -> bool:
    """Whether concurrent misses for one key may share one origin fetch (spec §7, §10).

    Not with caching disabled, nor when the cache policy or an explicitly configured origin
    request policy forwards cookies or all viewer headers. `orp=None` (edgeproxy's forward-all
    default, a local convenience) does not disable collapsing: CloudFront with no origin request
    policy forwards only the key, and collapses. Per object, followers may share the leader's
    response only if it was stored (`storage_decision` said so).
    """
    if policy.caching_disabled:
        return False
    sources = [policy.cookies] if orp is None else [policy.cookies, orp.cookies]
    if any(s.mode != "none" for s in sources):
        return False
    if orp is not None and orp.headers.mode in ("all", "all_viewer", "all_viewer_except_host"):
        return False
    return True


def vary_for_viewer(
    headers: HeaderList, policy: CachePolicyConfig, orp: OriginRequestPolicyConfig | None
) -> HeaderList:
    """`headers` with each `Vary` reduced to Accept-Encoding, Cookie and forwarded header names
    (spec §6); a Vary left empty is dropped."""
    fwd = forwarding(policy, orp)
    out: HeaderList = []
    for name, value in headers:
        if name != "vary":
            out.append((name, value))
            continue
        names = [n.strip() for n in value.split(",") if n.strip()]
        kept = [n for n in names if n.lower() in ("accept-encoding", "cookie", "*") or fwd.header(n.lower())]
        if kept:
            out.append((name, ", ".join(kept)))
    return out


# --------------------------------------------------------------------------- the key


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Where a response lives in the cache.

    `primary` identifies the object (all Vary variants share it); `path` is what invalidation
    paths are matched against: the uri, plus `?<keyed query>` when query strings are in the
    key (CloudFront: "include the query strings when invalidating"); `method_class` is "GET"
    (GET and HEAD) or the method itself.
    """

    primary: str
    path: str
    method_class: str
    accept_encoding: str = ""  # the normalised value in the key ("" when not keyed)
    compress: bool = False  # the behavior compresses: the origin sees normalised Accept-Encoding


def method_class(method: str) -> str:
    method = method.upper()
    return "GET" if method in ("GET", "HEAD") else method


def cache_key(
    method: str,
    uri: str,
    querystring: str,
    headers: HeaderList,
    policy: CachePolicyConfig,
    *,
    compress: bool = False,
    http_version: str = "1.1",
) -> CacheKey:
    """The cache key for a request after viewer-request (spec §7). HTTP/1.0 requests never get
    compressed objects: their Accept-Encoding is dropped, as CloudFront does."""
    cls = method_class(method)
    query = select_query(querystring, (policy.query_strings,))
    # Parts are joined with control characters, which no request line, header value or
    # cookie may carry (servers reject them; validation rejects them from functions): the
    # key is unambiguous without the cost of serialising a structure on every request.
    parts = [cls, uri, query]
    if policy.headers:
        for name in sorted({h.lower() for h in policy.headers}):
            values = [v for k, v in headers if k == name]
            if values:
                parts.append(f"h\x01{name}\x01{', '.join(values)}")
    if policy.cookies.mode != "none":
        cookies = select_cookies(headers, (policy.cookies,))
        if cookies is not None:
            parts.append(f"c\x01{cookies}")
    ae = normalise_accept_encoding(_accept_encoding(headers)) if compress and not _is_http10(http_version) else ""
    if ae:
        parts.append(f"ae\x01{ae}")
    primary = "\x00".join(parts)
    path = f"{uri}?{query}" if query else uri
    return CacheKey(primary=primary, path=path, method_class=cls, accept_encoding=ae, compress=compress)


# --------------------------------------------------------------------------- Vary


def _normalised_field(name: str, headers: HeaderList, compress: bool) -> str | None:
    values = [v for k, v in headers if k == name]
    if not values:
        return None
    if name == "accept-encoding" and compress:
        return normalise_accept_encoding(values)
    members = [m.strip(" \t") for m in ",".join(values).split(",")]
    return ",".join(" ".join(m.split()) for m in members)


def variant_key(vary: tuple[str, ...] | None, request_headers: HeaderList, *, compress: bool = False) -> str:
    """The secondary key (RFC 9111 §4.1) of a response with this Vary for this request.

    Values are normalised: lines combined, whitespace around commas and runs of spaces
    collapsed; with `compress` (the origin only ever saw CloudFront's normalised value)
    Accept-Encoding is reduced to it. An absent header differs from an empty one. A response
    without Vary has the key "".
    """
    if not vary:
        return ""
    fields = [[n, _normalised_field(n, request_headers, compress)] for n in vary]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
