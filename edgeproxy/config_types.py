"""Typed, frozen config objects (DESIGN §2). `config.py` parses TOML into these.

Everything here is a plain picklable value, so a config can be handed to uvicorn worker
processes and hook workers as-is (two-phase config, as uvicorn does it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edgeproxy.errors import ConfigProblem
from edgeproxy.types import Stage

ALL_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
FAILOVER_STATUSES = frozenset({400, 403, 404, 416, 500, 502, 503, 504})
DEFAULT_FAILOVER = frozenset({500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Selection:
    """Which headers / cookies / query strings a policy keys on or forwards.

    mode: "none" | "all" | "whitelist" | "all_except" | "all_viewer" | "all_viewer_except_host"
    (the last two only for origin request policy headers). `names` are lowercase for headers,
    exact for cookies and query strings.
    """

    mode: Literal["none", "all", "whitelist", "all_except", "all_viewer", "all_viewer_except_host"] = "none"
    names: frozenset[str] = frozenset()

    def includes(self, name: str) -> bool:
        if self.mode == "none":
            return False
        if self.mode in ("all", "all_viewer"):
            return True
        if self.mode == "all_viewer_except_host":
            return name != "host"
        if self.mode == "whitelist":
            return name in self.names
        return name not in self.names  # all_except


NONE = Selection()
ALL = Selection("all")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    domain_name: str = "d111111abcdef8.cloudfront.net"
    distribution_id: str = "EDFDVBD6EXAMPLE"
    pop: str = "LOCAL50-C1"


@dataclass(frozen=True, slots=True)
class AdminConfig:
    host: str = "127.0.0.1"
    port: int = 9901
    token: str = ""


@dataclass(frozen=True, slots=True)
class CacheConfig:
    max_bytes: int = 268435456
    max_object_bytes: int = 10485760


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    max_workers: int = 0  # 0 = max(8, 4 x cores), resolved by `effective_max_workers`
    idle_timeout_s: float = 300.0
    function_logs: Path | None = None

    def effective_max_workers(self) -> int:
        import os

        return self.max_workers or max(8, 4 * (os.cpu_count() or 1))


@dataclass(frozen=True, slots=True)
class OriginConfig:
    """A configured origin: custom (`url`) or S3 (`s3` = bucket domain)."""

    name: str
    url: str = ""  # custom origins: "http://host:port/path"; "builtin:demo" = the packaged demo site
    scheme: str = "http"  # "http" | "https" | "builtin"
    host: str = ""
    port: int = 80
    path: str = ""  # "" or "/prefix" (no trailing slash)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    connection_attempts: int = 1
    keepalive_timeout_s: float = 5.0
    forward_host: bool = False
    custom_headers: tuple[tuple[str, str], ...] = ()  # (lowercase name, value)
    s3: str = ""  # S3 origins: bucket domain name
    s3_region: str = ""

    @property
    def is_s3(self) -> bool:
        return bool(self.s3)


@dataclass(frozen=True, slots=True)
class OriginGroupConfig:
    name: str
    members: tuple[str, str]
    failover_status: frozenset[int] = DEFAULT_FAILOVER


@dataclass(frozen=True, slots=True)
class CachePolicyConfig:
    name: str
    min_ttl: float = 0.0
    default_ttl: float = 86400.0
    max_ttl: float = 31536000.0
    headers: tuple[str, ...] = ()  # lowercase names in the cache key
    cookies: Selection = NONE
    query_strings: Selection = NONE

    @property
    def caching_disabled(self) -> bool:
        return self.max_ttl == 0 and self.default_ttl == 0 and self.min_ttl == 0


@dataclass(frozen=True, slots=True)
class OriginRequestPolicyConfig:
    name: str
    headers: Selection = NONE
    cookies: Selection = NONE
    query_strings: Selection = NONE


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    name: str
    handler: str  # as written: "path/file.py:attr" or "module:attr"
    base_dir: Path  # the config file's folder: relative handler paths and layers resolve here
    memory_mb: int = 128
    timeout_s: float | None = None  # None: 5 at viewer stages, 30 at origin stages
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0
    include_body: bool = False
    layers: tuple[Path, ...] = ()

    def timeout_for(self, stage: Stage) -> float:
        if self.timeout_s is not None:
            return self.timeout_s
        return 5.0 if stage.is_viewer else 30.0


@dataclass(frozen=True, slots=True)
class CustomErrorResponse:
    status: int
    page: str | None = None  # ResponsePagePath, fetched through its own behavior
    response_code: int | None = None
    min_ttl: float | None = None  # error caching minimum TTL for this status


@dataclass(frozen=True, slots=True)
class BehaviorConfig:
    path_pattern: str  # "*" for the default behavior
    origin: str  # an origin or origin group name
    cache_policy: str = "Managed-CachingDisabled"
    origin_request_policy: str | None = None  # None: all viewer headers but Host, all cookies/qs
    allowed_methods: frozenset[str] = frozenset(ALL_METHODS)
    cached_methods: frozenset[str] = frozenset({"GET", "HEAD"})
    compress: bool = False
    error_caching_min_ttl: float = 10.0
    custom_error_responses: tuple[CustomErrorResponse, ...] = ()
    viewer_request: str | None = None
    origin_request: str | None = None
    origin_response: str | None = None
    viewer_response: str | None = None

    def function_for(self, stage: Stage) -> str | None:
        return getattr(self, stage.config_key)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated config. `behaviors` ends with the default behavior ("*")."""

    source: Path | None = None
    server: ServerConfig = field(default_factory=ServerConfig)
    admin: AdminConfig | None = None
    cache: CacheConfig = field(default_factory=CacheConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    origins: dict[str, OriginConfig] = field(default_factory=dict)
    origin_groups: dict[str, OriginGroupConfig] = field(default_factory=dict)
    cache_policies: dict[str, CachePolicyConfig] = field(default_factory=dict)  # managed ones included
    origin_request_policies: dict[str, OriginRequestPolicyConfig] = field(default_factory=dict)  # managed included
    functions: dict[str, FunctionConfig] = field(default_factory=dict)
    s3_buckets: dict[str, str] = field(default_factory=dict)  # bucket domain -> folder path or http(s) URL
    behaviors: tuple[BehaviorConfig, ...] = ()
    # Not errors, but worth telling the user at start-up and in `edgeproxy check` (e.g. an S3
    # origin whose bucket has no [s3_buckets] entry: its requests will get 502).
    warnings: tuple[ConfigProblem, ...] = ()
