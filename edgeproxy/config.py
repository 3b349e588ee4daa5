"""TOML → typed, validated `Config` (DESIGN §2). Every problem names file, key and line.

    find_config(explicit)       --config, else ./config.example.toml, else the packaged default
    load_config(path)           read + parse + validate; raises ConfigError
    load_config_text(text, source)

The loader never stops at the first problem: it reads the whole document, records every problem
(`config_read.Problems`), then raises one `ConfigError` listing them all in file order. Problem
keys are dotted paths (`behaviors[2].origin`, `origins.app.read_timeout_s`; behaviors counted
from 0 in file order); lines come from `config_locate.KeyLocator`, falling back to the enclosing
table's header. Malformed TOML is one problem at tomllib's line.

Sections are read in dependency order, names before references, each by its own module:
`config_origins` (origins, origin groups), `config_policies` (cache and origin request policies),
`config_functions`, `config_behaviors` (behaviors and function associations). The simple tables
(`[server]`, `[admin]`, `[cache]`, `[runtime]`, `[s3_buckets]`) are read here.

Warnings (not errors) land in `Config.warnings`: an S3 origin whose bucket has no `[s3_buckets]`
entry (its requests answer 502 with a log line, and a hook may still switch them elsewhere), an
`[s3_buckets]` folder that does not exist yet.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from edgeproxy.config_behaviors import Names, read_behaviors
from edgeproxy.config_functions import read_functions
from edgeproxy.config_locate import KeyLocator
from edgeproxy.config_origins import read_origin_groups, read_origins
from edgeproxy.config_policies import read_cache_policies, read_origin_request_policies
from edgeproxy.config_read import Document, Problems, Table, describe
from edgeproxy.config_types import AdminConfig, CacheConfig, Config, RuntimeConfig, ServerConfig
from edgeproxy.errors import ConfigError, ConfigProblem
from edgeproxy.managed_policies import MANAGED_CACHE_POLICIES, MANAGED_ORIGIN_REQUEST_POLICIES

EXAMPLE_CONFIG_NAME = "config.example.toml"

TOP_KEYS = (
    "server", "admin", "cache", "runtime", "origins", "origin_groups", "cache_policies",
    "origin_request_policies", "functions", "s3_buckets", "behaviors", "default_behavior",
)
SERVER_KEYS = ("host", "port", "domain_name", "distribution_id", "pop")
ADMIN_KEYS = ("host", "port", "token")
CACHE_KEYS = ("max_bytes", "max_object_bytes")
RUNTIME_KEYS = ("max_workers", "idle_timeout_s", "function_logs")

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


# -- finding and reading ----------------------------------------------------------------------


def packaged_default_path() -> Path:
    """The config shipped inside the package: one built-in demo origin, nothing else."""
    return Path(__file__).resolve().parent / "defaults" / "default.toml"


def find_config(explicit: Path | None) -> Path:
    """`--config` if given; else `./config.example.toml` if present; else the packaged default.

    The fallbacks make a fresh clone (or a bare `pip install`) serve something with no setup.
    """
    if explicit is not None:
        return explicit
    local = Path.cwd() / EXAMPLE_CONFIG_NAME
    if local.is_file():
        return local
    return packaged_default_path()


def load_config(path: Path) -> Config:
    """Read and validate the config file at `path`; raises ConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM some editors add is not TOML
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), "", None, "config file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), "", None, f"cannot read the config file: {exc}")]) from exc
    return load_config_text(text, path)


def load_config_text(text: str, source: Path | None = None) -> Config:
    """Validate config TOML `text`; `source` names the file and anchors relative paths."""
    file = str(source) if source is not None else "<config>"
    base_dir = (source.parent if source is not None else Path.cwd()).resolve()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        line = int(position.group(1)) if position else None
        raise ConfigError([ConfigProblem(file, "", line, f"invalid TOML: {message}")]) from None
    problems = Problems(file, KeyLocator(text))
    config = _load(Document(data, problems, base_dir), source)
    if problems.errors:
        raise ConfigError(_in_file_order(problems.errors))
    return config


def _in_file_order(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


# -- the document ---------------------------------------------------------------------------


def _load(doc: Document, source: Path | None) -> Config:
    Table(doc.problems, doc.data, (), TOP_KEYS).done(hint=f"; top-level tables are {', '.join(TOP_KEYS)}")
    server, admin, cache, runtime = _server(doc), _admin(doc), _cache(doc), _runtime(doc)
    s3_buckets = _s3_buckets(doc)
    origins = read_origins(doc)
    if not doc.data.get("origins"):
        doc.problems.error(("origins",), "no origins configured: add an [origins.<name>] table")
    groups = read_origin_groups(doc, origins)
    cache_policies = {**MANAGED_CACHE_POLICIES, **read_cache_policies(doc)}
    request_policies = {**MANAGED_ORIGIN_REQUEST_POLICIES, **read_origin_request_policies(doc)}
    functions = read_functions(doc)
    names = Names(
        origins, groups, cache_policies, request_policies, functions,
        written_origins=frozenset(doc.written_names("origins")),
        written_groups=frozenset(doc.written_names("origin_groups")),
        written_functions=frozenset(doc.written_names("functions")),
    )
    behaviors = read_behaviors(doc, names)
    for origin in origins.values():
        if origin.is_s3 and origin.s3 not in s3_buckets:
            doc.problems.warn(
                ("origins", origin.name, "s3"),
                f"bucket {origin.s3!r} has no entry in [s3_buckets]; requests to origin "
                f"{origin.name!r} will get 502 until one maps it to a folder or URL",
            )
    return Config(
        source=source,
        server=server,
        admin=admin,
        cache=cache,
        runtime=runtime,
        origins=origins,
        origin_groups=groups,
        cache_policies=cache_policies,
        origin_request_policies=request_policies,
        functions=functions,
        s3_buckets=s3_buckets,
        behaviors=behaviors,
        warnings=tuple(doc.problems.warnings),
    )


def _server(doc: Document) -> ServerConfig:
    d = ServerConfig()
    t = doc.section("server", SERVER_KEYS)
    if t is None:
        return d
    server = ServerConfig(
        host=t.string("host", d.host, non_empty=True),
        port=t.integer("port", d.port, lo=0, hi=65535),
        domain_name=t.string("domain_name", d.domain_name, non_empty=True),
        distribution_id=t.string("distribution_id", d.distribution_id, non_empty=True),
        pop=t.string("pop", d.pop, non_empty=True),
    )
    t.done()
    return server


def _admin(doc: Document) -> AdminConfig | None:
    t = doc.section("admin", ADMIN_KEYS)
    if t is None:
        return None
    d = AdminConfig()
    admin = AdminConfig(
        host=t.string("host", d.host, non_empty=True),
        port=t.integer("port", d.port, lo=0, hi=65535),
        token=t.string("token", d.token),
    )
    if not admin.token and not _is_loopback(admin.host):
        t.error(
            "token",
            f"a token is required when the admin listener binds {admin.host!r}, which is not a "
            "loopback address (clients then send 'Authorization: Bearer <token>')",
        )
    t.done()
    return admin


def _cache(doc: Document) -> CacheConfig:
    d = CacheConfig()
    t = doc.section("cache", CACHE_KEYS)
    if t is None:
        return d
    max_bytes = t.integer("max_bytes", d.max_bytes, lo=1)
    max_object = t.integer("max_object_bytes", min(d.max_object_bytes, max_bytes), lo=1)
    if max_object > max_bytes:
        t.error("max_object_bytes", f"must not exceed max_bytes ({max_bytes}), got {max_object}")
    t.done()
    return CacheConfig(max_bytes=max_bytes, max_object_bytes=max_object)


def _runtime(doc: Document) -> RuntimeConfig:
    d = RuntimeConfig()
    t = doc.section("runtime", RUNTIME_KEYS)
    if t is None:
        return d
    logs = t.string("function_logs", "")
    runtime = RuntimeConfig(
        max_workers=t.integer("max_workers", d.max_workers, lo=0, why=" (0 = max(8, 4 × cores))"),
        idle_timeout_s=t.number("idle_timeout_s", d.idle_timeout_s, above=0),
        function_logs=doc.path(logs) if logs else None,
    )
    t.done()
    return runtime


def _s3_buckets(doc: Document) -> dict[str, str]:
    """Bucket domain → absolute folder (relative to the config file) or http(s) URL."""
    t = doc.section("s3_buckets", ())
    if t is None:
        return {}
    buckets: dict[str, str] = {}
    for bucket, target in t.data.items():
        path = ("s3_buckets", bucket)
        if not isinstance(target, str) or not target.strip():
            doc.problems.error(path, f"expected a folder path or an http(s) URL, got {describe(target)}")
        elif "://" in target:
            parts = urlsplit(target)
            if parts.scheme in ("http", "https") and parts.netloc:
                buckets[bucket] = target.rstrip("/")
            else:
                doc.problems.error(path, f"{target!r} is not an http:// or https:// URL")
        else:
            folder = doc.path(target)
            if not folder.is_dir():
                doc.problems.warn(path, f"folder {str(folder)!r} does not exist (yet); its requests will get 404")
            buckets[bucket] = str(folder)
    return buckets


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
