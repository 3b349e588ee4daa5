"""Cache behaviors resolved once at start-up, and the per-request match (spec §7).

Each `Route` carries everything the request path needs about its behavior — compiled path
pattern, policies, origins, bound functions — so a request does one pattern scan and no
dictionary lookups by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeproxy.config_types import (
    BehaviorConfig,
    CachePolicyConfig,
    Config,
    CustomErrorResponse,
    FunctionConfig,
    OriginConfig,
    OriginRequestPolicyConfig,
)
from edgeproxy.cache.key import collapsing_allowed, forwards_cookies
from edgeproxy.models import CustomOrigin, S3Origin
from edgeproxy.patterns import PathPattern, compile_path_pattern
from edgeproxy.types import Stage


def origin_from_config(origin: OriginConfig, builtin: tuple[str, int] | None = None) -> CustomOrigin | S3Origin:
    """The typed origin a request is sent to (and shown to functions as `origin`).

    The built-in demo origin (`url = "builtin:demo"`) is a real server on an ephemeral port;
    `builtin` is its address, so hooks and the origin client see a plain http origin.
    """
    if origin.is_s3:
        return S3Origin(
            domain_name=origin.s3,
            path="",
            region=origin.s3_region,
            auth_method="origin-access-identity" if origin.s3_region else "none",
            custom_headers=origin.custom_headers,
            name=origin.name,
        )
    host, port, protocol = origin.host, origin.port, origin.scheme
    if protocol == "builtin":
        if builtin is None:
            raise ValueError(f"origin {origin.name!r} is the built-in demo origin, which is not running")
        (host, port), protocol = builtin, "http"
    return CustomOrigin(
        domain_name=host,
        port=port,
        protocol=protocol,
        path=origin.path,
        read_timeout_s=origin.read_timeout_s,
        keepalive_timeout_s=origin.keepalive_timeout_s,
        connect_timeout_s=origin.connect_timeout_s,
        connection_attempts=origin.connection_attempts,
        custom_headers=origin.custom_headers,
        forward_host=origin.forward_host,
        name=origin.name,
    )


@dataclass(frozen=True, slots=True)
class Route:
    behavior: BehaviorConfig
    pattern: PathPattern
    cache_policy: CachePolicyConfig
    origin_request_policy: OriginRequestPolicyConfig | None  # None: edgeproxy's forward-all default
    origins: tuple[CustomOrigin | S3Origin, ...]  # one origin, or the two members of a group
    failover_status: frozenset[int]
    functions: dict[Stage, FunctionConfig] = field(default_factory=dict)
    custom_errors: dict[int, CustomErrorResponse] = field(default_factory=dict)
    caching: bool = False  # the cache policy stores anything at all
    forwards_cookies: bool = True  # if not, Set-Cookie is stripped from responses
    collapses: bool = False  # concurrent misses for one key share one origin fetch


class Router:
    """First matching behavior in order; the default behavior (`*`) is last."""

    def __init__(self, config: Config, *, builtin: tuple[str, int] | None = None) -> None:
        self._builtin = builtin
        self.routes = tuple(self._resolve(config, b) for b in config.behaviors)
        if not self.routes:
            raise ValueError("config has no behaviors")

    def _resolve(self, config: Config, behavior: BehaviorConfig) -> Route:
        if behavior.origin in config.origin_groups:
            group = config.origin_groups[behavior.origin]
            origins = tuple(origin_from_config(config.origins[m], self._builtin) for m in group.members)
            failover = group.failover_status
        else:
            origins = (origin_from_config(config.origins[behavior.origin], self._builtin),)
            failover = frozenset()
        orp_name = behavior.origin_request_policy
        orp = config.origin_request_policies[orp_name] if orp_name else None
        cache_policy = config.cache_policies[behavior.cache_policy]
        functions = {
            stage: config.functions[name]
            for stage in Stage
            if (name := behavior.function_for(stage)) is not None
        }
        return Route(
            behavior=behavior,
            pattern=compile_path_pattern(behavior.path_pattern),
            cache_policy=cache_policy,
            origin_request_policy=orp,
            origins=origins,
            failover_status=failover,
            functions=functions,
            custom_errors={c.status: c for c in behavior.custom_error_responses},
            caching=not cache_policy.caching_disabled,
            forwards_cookies=forwards_cookies(cache_policy, orp),
            collapses=collapsing_allowed(cache_policy, orp),
        )

    def match(self, uri: str) -> Route:
        for route in self.routes:
            if route.pattern.matches(uri):
                return route
        return self.routes[-1]

