"""Header vocabulary: which names are hop-by-hop, hidden from functions, read-only, or dropped.

One place for the name lists so the proxy (what it forwards), the event builder (what a function
sees) and the validator (what a function may return) agree. All names here are lowercase, as
`HeaderList` carries them.

Sources: RFC 9110 §7.6.1 (hop-by-hop), spec §4 (disallowed and read-only names per stage),
spec §6 (what CloudFront never forwards to an origin).
"""

from __future__ import annotations

from edgeproxy.types import HeaderList, Stage

# RFC 9110 §7.6.1: meaningful for one connection only; never forwarded by a proxy.
# (`keep-alive` and `proxy-connection` are not in the RFC list but are hop-by-hop in practice.)
HOP_BY_HOP: frozenset[str] = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)


def connection_listed(headers: HeaderList) -> set[str]:
    """Names a `Connection` header lists: hop-by-hop for this message (RFC 9110 §7.6.1)."""
    listed: set[str] = set()
    for name, value in headers:
        if name == "connection":
            for token in value.split(","):
                token = token.strip().lower()
                if token:
                    listed.add(token)
    return listed


def strip_hop_by_hop(headers: HeaderList) -> HeaderList:
    """`headers` without hop-by-hop fields and without the names `Connection` lists."""
    listed = connection_listed(headers)
    if listed:
        drop = HOP_BY_HOP | listed
        return [(k, v) for k, v in headers if k not in drop]
    return [(k, v) for k, v in headers if k not in HOP_BY_HOP]


# Spec §6: CloudFront never forwards these to an origin, whatever the origin request policy says.
ALWAYS_DROPPED_TO_ORIGIN: frozenset[str] = frozenset(
    {"expect", "te", "trailer", "upgrade", "x-forwarded-proto", "x-real-ip"}
)
_DROPPED_PREFIXES = ("proxy-", "x-edge-")


def is_dropped_to_origin(name: str) -> bool:
    """True when CloudFront never sends header `name` (lowercase) to an origin (spec §6)."""
    return name in ALWAYS_DROPPED_TO_ORIGIN or name.startswith(_DROPPED_PREFIXES)


# Spec §4: headers CloudFront keeps to itself. They are not shown to functions, and a function
# that adds one fails validation ("tried to add a blacklisted header"). The current docs' list;
# the 2021 docs had the broader `X-Amzn-*`.
DISALLOWED: frozenset[str] = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "trailer",
        "upgrade",
        "x-accel-buffering",
        "x-accel-charset",
        "x-accel-limit-rate",
        "x-accel-redirect",
        "x-amzn-auth",
        "x-amzn-cf-billing",
        "x-amzn-cf-id",
        "x-amzn-cf-xff",
        "x-amzn-errortype",
        "x-amzn-fle-profile",
        "x-amzn-header-count",
        "x-amzn-header-order",
        "x-amzn-lambda-integration-tag",
        "x-amzn-requestid",
        "x-cache",
        "x-forwarded-proto",
        "x-real-ip",
    }
)
DISALLOWED_PREFIXES = ("x-amz-cf-", "x-edge-")


def is_disallowed(name: str) -> bool:
    """True when header `name` (lowercase) is hidden from functions and may not be added by one."""
    return name in DISALLOWED or name.startswith(DISALLOWED_PREFIXES)


# Spec §4: a function may not add, change or delete these (per stage). `via` is read-only at
# every stage. The 2021 docs also listed Content-Encoding/Content-Length/Transfer-Encoding at
# viewer-response; the current list (used here) has only Warning and Via.
READ_ONLY: dict[Stage, frozenset[str]] = {
    Stage.VIEWER_REQUEST: frozenset({"content-length", "host", "transfer-encoding", "via"}),
    Stage.ORIGIN_REQUEST: frozenset(
        {
            "accept-encoding",
            "content-length",
            "if-modified-since",
            "if-none-match",
            "if-range",
            "if-unmodified-since",
            "transfer-encoding",
            "via",
        }
    ),
    Stage.ORIGIN_RESPONSE: frozenset({"transfer-encoding", "via"}),
    Stage.VIEWER_RESPONSE: frozenset({"warning", "via"}),
}

# Spec §4: CloudFront adds this after viewer-request; a viewer-request function adding it fails.
VIEWER_COUNTRY = "cloudfront-viewer-country"


# Title-Casing runs for every header of every event, so results are cached. The cache is bounded
# because names come from viewers: an attacker sending endless distinct names must not grow it.
_TITLE_CACHE: dict[str, str] = {}
_TITLE_CACHE_MAX = 4096


def title_case(name: str) -> str:
    """`user-agent` → `User-Agent`: what CloudFront fills in for a missing header `key`."""
    cached = _TITLE_CACHE.get(name)
    if cached is not None:
        return cached
    titled = "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))
    if len(_TITLE_CACHE) < _TITLE_CACHE_MAX:
        _TITLE_CACHE[name] = titled
    return titled
