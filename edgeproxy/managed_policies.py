"""CloudFront's managed cache and origin request policies, as config values.

A behavior may name these exactly as CloudFront's console does (`Managed-CachingOptimized`);
`config.py` merges them into `Config.cache_policies` / `Config.origin_request_policies`, and user
policies may not take a `Managed-` name, so a name always means one thing.

Values are CloudFront's published settings (Developer Guide, "Using the managed cache policies"
and "Using the managed origin request policies"). Where CloudFront's setting cannot be expressed
here it is noted on the entry:

- `CachingOptimized` also puts the normalised `Accept-Encoding` in the key ("cache compressed
  objects"); edgeproxy keys on it whenever the behavior has `compress = true`, so the policy
  itself carries only the TTLs and the (empty) key settings.
- `AllViewerAndCloudFrontHeaders-2022-06` forwards every viewer header plus CloudFront's own
  `CloudFront-*` headers; here it is `all_viewer` (the same as `AllViewer`).
"""

from __future__ import annotations

from edgeproxy.config_types import (
    ALL,
    NONE,
    CachePolicyConfig,
    OriginRequestPolicyConfig,
    Selection,
)

MANAGED_PREFIX = "Managed-"

_ONE_DAY = 86400.0
_ONE_YEAR = 31536000.0


def _cache(name: str, min_ttl: float, default_ttl: float, max_ttl: float, **key: object) -> CachePolicyConfig:
    return CachePolicyConfig(
        name=name, min_ttl=float(min_ttl), default_ttl=float(default_ttl), max_ttl=float(max_ttl), **key  # type: ignore[arg-type]
    )


MANAGED_CACHE_POLICIES: dict[str, CachePolicyConfig] = {
    p.name: p
    for p in (
        # Nothing in the key but the path (and Accept-Encoding when compressing).
        _cache("Managed-CachingOptimized", 1, _ONE_DAY, _ONE_YEAR),
        _cache("Managed-CachingOptimizedForUncompressedObjects", 1, _ONE_DAY, _ONE_YEAR),
        # TTL 0/0/0: nothing is stored, requests are not collapsed.
        _cache("Managed-CachingDisabled", 0, 0, 0),
        # Origin Cache-Control decides; nothing cached without it (default TTL 0).
        _cache(
            "Managed-UseOriginCacheControlHeaders", 0, 0, _ONE_YEAR,
            headers=("host", "origin", "x-http-method-override", "x-http-method", "x-method-override"),
            cookies=ALL,
        ),
        _cache(
            "Managed-UseOriginCacheControlHeaders-QueryStrings", 0, 0, _ONE_YEAR,
            headers=("host", "origin", "x-http-method-override", "x-http-method", "x-method-override"),
            cookies=ALL,
            query_strings=ALL,
        ),
        _cache(
            "Managed-Amplify", 2, 2, 600,
            headers=("authorization", "cloudfront-viewer-country", "host"),
            cookies=ALL,
            query_strings=ALL,
        ),
        _cache(
            "Managed-Elemental-MediaPackage", 0, _ONE_DAY, _ONE_YEAR,
            headers=("origin",),
            query_strings=Selection("whitelist", frozenset({"m", "start", "end", "aws.manifestfilter"})),
        ),
    )
}

_VIEWER_EXCEPT_HOST = Selection("all_viewer_except_host")
_ALL_VIEWER = Selection("all_viewer")


def _headers(*names: str) -> Selection:
    return Selection("whitelist", frozenset(names))


MANAGED_ORIGIN_REQUEST_POLICIES: dict[str, OriginRequestPolicyConfig] = {
    p.name: p
    for p in (
        OriginRequestPolicyConfig("Managed-AllViewer", _ALL_VIEWER, ALL, ALL),
        OriginRequestPolicyConfig("Managed-AllViewerExceptHostHeader", _VIEWER_EXCEPT_HOST, ALL, ALL),
        # Approximation: CloudFront also adds its CloudFront-* headers (module docstring).
        OriginRequestPolicyConfig("Managed-AllViewerAndCloudFrontHeaders-2022-06", _ALL_VIEWER, ALL, ALL),
        OriginRequestPolicyConfig("Managed-CORS-CustomOrigin", _headers("origin"), NONE, NONE),
        OriginRequestPolicyConfig(
            "Managed-CORS-S3Origin",
            _headers("origin", "access-control-request-headers", "access-control-request-method"),
            NONE,
            NONE,
        ),
        OriginRequestPolicyConfig("Managed-HostHeaderOnly", _headers("host"), NONE, NONE),
        # CloudFront's docs: User-Agent and Referer only, no query strings, no cookies.
        OriginRequestPolicyConfig("Managed-UserAgentRefererHeaders", _headers("user-agent", "referer"), NONE, NONE),
        OriginRequestPolicyConfig(
            "Managed-Elemental-MediaTailor-PersonalizedManifests",
            _headers(
                "origin", "access-control-request-headers", "access-control-request-method",
                "user-agent", "x-forwarded-for",
            ),
            NONE,
            ALL,
        ),
    )
}

DEFAULT_CACHE_POLICY = "Managed-CachingDisabled"

# What a behavior with no origin request policy forwards: every viewer header but Host, all
# cookies and query strings. A deliberate deviation (DESIGN §2): CloudFront would forward only
# what the cache key holds, which surprises anyone putting a local app behind the proxy.
DEFAULT_ORIGIN_REQUEST_POLICY = OriginRequestPolicyConfig(
    name="(default)",
    headers=_VIEWER_EXCEPT_HOST,
    cookies=ALL,
    query_strings=ALL,
)
