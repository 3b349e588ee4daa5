"""`[origins.*]` and `[origin_groups.*]` → OriginConfig / OriginGroupConfig (DESIGN §2).

An origin is a custom origin (`url`: http, https, or `builtin:demo`; a path part is the prefix
sent before every request path, without its trailing slash; the port defaults to 80 / 443) or an
S3 origin (`s3`: the bucket's domain name, served locally as `[s3_buckets]` says). Timeouts and
attempts use CloudFront's ranges; custom headers CloudFront's deny list and size quotas. An
origin group has exactly two origins (primary, secondary) and shares the origins' namespace.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from edgeproxy.config_read import HEADER_NAME, Document, Table, describe, suggestion
from edgeproxy.config_types import DEFAULT_FAILOVER, FAILOVER_STATUSES, OriginConfig, OriginGroupConfig

BUILTIN_ORIGINS = frozenset({"demo"})
ORIGIN_KEYS = (
    "url", "s3", "s3_region", "connect_timeout_s", "read_timeout_s", "connection_attempts",
    "keepalive_timeout_s", "forward_host", "custom_headers",
)
ORIGIN_GROUP_KEYS = ("members", "failover_status")

# Developer Guide, "Custom headers that CloudFront can't add to origin requests", and quotas.
CUSTOM_HEADER_DENYLIST = frozenset({
    "cache-control", "connection", "content-length", "cookie", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "max-forwards",
    "pragma", "proxy-authorization", "proxy-connection", "range", "request-range", "te",
    "trailer", "transfer-encoding", "upgrade", "via", "x-real-ip",
})
CUSTOM_HEADER_DENIED_PREFIXES = ("x-amz-", "x-edge-")
CUSTOM_HEADER_NAME_MAX, CUSTOM_HEADER_VALUE_MAX, CUSTOM_HEADERS_TOTAL_MAX = 256, 1783, 10240
ORIGIN_PATH_MAX = 255

_S3_DOMAIN = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_RANGE = " seconds (CloudFront's range)"


def read_origins(doc: Document) -> dict[str, OriginConfig]:
    origins: dict[str, OriginConfig] = {}
    for name, data, path in doc.named_tables("origins"):
        t = Table(doc.problems, data, path, ORIGIN_KEYS)
        origin = _origin(name, t)
        t.done()
        if origin is not None:
            origins[name] = origin
    return origins


def _origin(name: str, t: Table) -> OriginConfig | None:
    d = OriginConfig(name=name)
    common = dict(
        name=name,
        connect_timeout_s=t.number("connect_timeout_s", d.connect_timeout_s, lo=1, hi=10, why=_RANGE),
        read_timeout_s=t.number("read_timeout_s", d.read_timeout_s, lo=1, hi=60, why=_RANGE),
        connection_attempts=t.integer("connection_attempts", d.connection_attempts, lo=1, hi=3, why=" (CloudFront's range)"),
        keepalive_timeout_s=t.number("keepalive_timeout_s", d.keepalive_timeout_s, lo=1, hi=60, why=_RANGE),
        forward_host=t.boolean("forward_host", d.forward_host),
        custom_headers=_custom_headers(t),
    )
    url = t.optional_string("url")
    s3 = t.optional_string("s3")
    s3_region = t.string("s3_region", "")
    if t.has("url") == t.has("s3"):
        has = "both 'url' and 's3'" if t.has("url") else "neither 'url' nor 's3'"
        t.error(None, f"origin {name!r} has {has}: set url (a custom origin) or s3 (an S3 bucket), not both")
        return None
    if s3 is not None:
        if not _s3_domain_ok(t, s3):
            return None
        if common["forward_host"]:
            t.error("forward_host", "applies to custom origins only (CloudFront never forwards Host to S3)")
        return OriginConfig(s3=s3, s3_region=s3_region, **common)  # type: ignore[arg-type]
    if url is None:  # the wrong type was reported already
        return None
    if s3_region:
        t.error("s3_region", "applies to S3 origins only (set with 's3', not 'url')")
    parsed = _parse_url(t, url)
    if parsed is None:
        return None
    scheme, host, port, prefix = parsed
    return OriginConfig(url=url, scheme=scheme, host=host, port=port, path=prefix, **common)  # type: ignore[arg-type]


def _parse_url(t: Table, url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path prefix) of an origin URL; `builtin:<name>` → ("builtin", name, 80, "")."""
    if url.startswith("builtin:"):
        builtin = url.removeprefix("builtin:")
        if builtin not in BUILTIN_ORIGINS:
            known = ", ".join(f"'builtin:{b}'" for b in sorted(BUILTIN_ORIGINS))
            t.error("url", f"unknown built-in origin {url!r}; built-in origins: {known}")
            return None
        return "builtin", builtin, 80, ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        t.error("url", f"{url!r} is not a valid URL: {exc}")
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        t.error("url", f"{url!r} must be an http:// or https:// URL (or 'builtin:demo')")
    elif not parts.hostname:
        t.error("url", f"{url!r} has no host name")
    elif parts.username is not None or parts.password is not None:
        t.error("url", "may not contain user:password@; send credentials with custom_headers")
    elif parts.query or parts.fragment or url.endswith(("?", "#")):
        t.error("url", "may not contain a query string or fragment; only a path prefix")
    elif len(parts.path.rstrip("/")) > ORIGIN_PATH_MAX:
        t.error("url", f"the origin path is longer than {ORIGIN_PATH_MAX} characters (CloudFront's limit)")
    else:
        return scheme, parts.hostname, port or (443 if scheme == "https" else 80), parts.path.rstrip("/")
    return None


def _s3_domain_ok(t: Table, domain: str) -> bool:
    if "://" in domain or "/" in domain:
        t.error("s3", f"expected the bucket's domain name (e.g. 'my-bucket.s3.amazonaws.com'), got {domain!r}")
    elif domain != domain.lower():
        t.error("s3", f"S3 bucket domain names are lowercase, got {domain!r}")
    elif len(domain) > 128 or not _S3_DOMAIN.fullmatch(domain):
        t.error("s3", f"{domain!r} is not a bucket domain name (letters, digits, '.', '-'; at most 128)")
    else:
        return True
    return False


def _custom_headers(t: Table) -> tuple[tuple[str, str], ...]:
    table = t.table("custom_headers")
    if table is None:
        return ()
    headers: list[tuple[str, str]] = []
    total = 0
    for name, value in table.items():
        path = t.key("custom_headers") + (name,)
        lower = name.lower()
        if not HEADER_NAME.fullmatch(name):
            t.problems.error(path, f"{name!r} is not a valid header name")
        elif lower in CUSTOM_HEADER_DENYLIST or lower.startswith(CUSTOM_HEADER_DENIED_PREFIXES):
            t.problems.error(path, f"CloudFront can't add {name!r} as an origin custom header")
        elif len(name) > CUSTOM_HEADER_NAME_MAX:
            t.problems.error(path, f"header names may be at most {CUSTOM_HEADER_NAME_MAX} characters")
        elif not isinstance(value, str):
            t.problems.error(path, f"expected a string value, got {describe(value)}")
        elif len(value) > CUSTOM_HEADER_VALUE_MAX:
            t.problems.error(path, f"header values may be at most {CUSTOM_HEADER_VALUE_MAX} characters")
        elif "\r" in value or "\n" in value:
            t.problems.error(path, "header values may not contain CR or LF")
        else:
            headers.append((lower, value))
            total += len(name) + len(value)
    if total > CUSTOM_HEADERS_TOTAL_MAX:
        t.error("custom_headers", f"names and values total {total} characters; CloudFront allows {CUSTOM_HEADERS_TOTAL_MAX}")
    return tuple(headers)


def read_origin_groups(doc: Document, origins: dict[str, OriginConfig]) -> dict[str, OriginGroupConfig]:
    groups: dict[str, OriginGroupConfig] = {}
    written_origins = doc.written_names("origins")
    written_groups = doc.written_names("origin_groups")
    for name, data, path in doc.named_tables("origin_groups"):
        t = Table(doc.problems, data, path, ORIGIN_GROUP_KEYS)
        ok = True
        if name in written_origins:
            t.error(None, f"{name!r} is already an origin; origins and origin groups share one namespace")
            ok = False
        members = _members(t, origins, written_origins, written_groups)
        statuses = _failover_status(t)
        t.done()
        if ok and members is not None and statuses is not None:
            groups[name] = OriginGroupConfig(name, members, statuses)
    return groups


def _members(
    t: Table, origins: dict[str, OriginConfig], written_origins: set[str], written_groups: set[str]
) -> tuple[str, str] | None:
    members = t.strings("members")
    if members is None:
        if not t.has("members"):
            t.error(None, "missing required key 'members' (the primary and the secondary origin)")
        return None
    if len(members) != 2:
        t.error("members", f"an origin group has exactly 2 members (primary, secondary), got {len(members)}")
        return None
    ok = True
    for i, member in enumerate(members):
        path = t.key("members") + (i,)
        if member in written_groups:
            t.problems.error(path, f"{member!r} is an origin group; members must be origins")
            ok = False
        elif member not in origins:
            if member not in written_origins:  # a broken origin was reported already
                t.problems.error(path, f"unknown origin {member!r}{suggestion(member, origins)}")
            ok = False
    if members[0] == members[1]:
        t.error("members", f"the two members must differ, got {members[0]!r} twice")
        ok = False
    return (members[0], members[1]) if ok else None


def _failover_status(t: Table) -> frozenset[int] | None:
    if not t.has("failover_status"):
        return DEFAULT_FAILOVER
    codes = t.integers("failover_status")
    if codes is None:
        return None
    if not codes:
        t.error("failover_status", "needs at least one status code")
        return None
    allowed = " ".join(str(c) for c in sorted(FAILOVER_STATUSES))
    bad = [(i, code) for i, code in enumerate(codes) if code not in FAILOVER_STATUSES]
    for i, code in bad:
        t.problems.error(t.key("failover_status") + (i,), f"CloudFront fails over only on {allowed}; got {code}")
    return None if bad else frozenset(codes)
