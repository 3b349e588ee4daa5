"""What each benchmark row runs against: the scenarios, and the servers and configs behind them.

One proxy per row, started fresh with a generated config that holds exactly that row's behavior
(and only the functions it binds), so a row's CPU and RSS belong to that workload alone and no
row inherits another's cache or worker pools.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.procs import HOST, Service, free_port, python_env

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

# The four stages, each bound to its own trivial function (as four real functions would be).
STAGE_FUNCTIONS = {
    "viewer_request": ("vreq", "passthrough_request.py"),
    "origin_request": ("oreq", "passthrough_request.py"),
    "origin_response": ("ores", "passthrough_response.py"),
    "viewer_response": ("vres", "passthrough_response.py"),
}
VIEWER_HOOKS = ("viewer_request", "viewer_response")
ALL_HOOKS = tuple(STAGE_FUNCTIONS)


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    label: str
    kind: str  # "load" | "stream" | "roundtrip" | "cold"
    server: str = "proxy"  # "hello" | "origin" | "minproxy" | "proxy" | "default" (packaged default config)
    path: str = "/small"
    caching: bool = False
    hooks: tuple[str, ...] = ()
    unique: bool = False  # a fresh path per request: every request a cache miss
    scale: bool = False  # runs with --scale-workers instead of --workers
    expect: str = ""  # the X-Cache word a probe must see ("" = no X-Cache: not a proxy)


def scenarios(body_label: str) -> list[Scenario]:
    """Every row, in table order; the first is the reference the ratios are taken against."""
    return [
        Scenario("hello", f"bare Starlette hello {body_label} (ceiling)", "load", server="hello"),
        Scenario("direct", f"direct to origin {body_label} (floor)", "load", server="origin"),
        Scenario("ref_proxy", f"reference: minimal aiohttp proxy {body_label}", "load", server="minproxy"),
        Scenario("pass_small", f"pass-through {body_label}", "load", expect="Miss"),
        Scenario("pass_large", "pass-through 100 KB", "load", path="/large", expect="Miss"),
        Scenario("hit", f"cache hit {body_label}, no hooks", "load", caching=True, expect="Hit"),
        Scenario("hit_hooks", "cache hit + viewer-req/resp hooks", "load", caching=True, hooks=VIEWER_HOOKS, expect="Hit"),
        Scenario("miss_hooks", "cache miss + all four hooks", "load", caching=True, hooks=ALL_HOOKS, unique=True, expect="Miss"),
        Scenario("default_config", "packaged default config, GET /", "load", server="default", path="/", expect="Hit"),
        Scenario("hit_scaled", "cache hit, no hooks", "load", caching=True, scale=True, expect="Hit"),
        Scenario("pass_scaled", f"pass-through {body_label}", "load", scale=True, expect="Miss"),
        Scenario("stream", "1 GB streamed download", "stream", path="/huge"),
        Scenario("roundtrip", "hook round trip alone", "roundtrip", server="none"),
        Scenario("cold", "cold start", "cold"),
    ]


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_proxy_config(
    folder: Path, port: int, origin_port: int, *, caching: bool, hooks: tuple[str, ...], runtime: dict[str, int] | None = None
) -> Path:
    """A config with one (default) behavior: the row's cache policy and functions, nothing else.
    `runtime` sets [runtime] keys (e.g. max_workers) for experiments; by default none are set."""
    lines = [
        "[server]", f"host = {_toml_str(HOST)}", f"port = {port}", "",
        "[origins.bench]", f"url = {_toml_str(f'http://{HOST}:{origin_port}')}", "",
    ]
    if runtime:
        lines += ["[runtime]", *(f"{k} = {v}" for k, v in runtime.items()), ""]
    binding = []
    if hooks:
        (folder / "hooks").mkdir(exist_ok=True)
    for stage in hooks:
        name, source = STAGE_FUNCTIONS[stage]
        shutil.copy(BENCH / "hooks" / source, folder / "hooks" / source)
        lines += [f"[functions.{name}]", f"handler = {_toml_str(f'hooks/{source}:handler')}", ""]
        binding.append(f"{stage} = {_toml_str(name)}")
    policy = "Managed-CachingOptimized" if caching else "Managed-CachingDisabled"
    lines += ["[default_behavior]", 'origin = "bench"', f"cache_policy = {_toml_str(policy)}", *binding, ""]
    path = folder / "edgeproxy.toml"
    path.write_text("\n".join(lines))
    return path


def write_cold_config(folder: Path, port: int, origin_port: int, count: int) -> Path:
    """`count` functions, none provisioned, each the viewer-request hook of its own behavior
    `/c<i>/*`: the first request under each prefix meets a function with no warm worker."""
    (folder / "hooks").mkdir(exist_ok=True)
    shutil.copy(BENCH / "hooks" / "passthrough_request.py", folder / "hooks" / "passthrough_request.py")
    lines = [
        "[server]", f"host = {_toml_str(HOST)}", f"port = {port}", "",
        "[origins.bench]", f"url = {_toml_str(f'http://{HOST}:{origin_port}')}", "",
    ]
    for i in range(count):
        lines += [f"[functions.cold{i}]", 'handler = "hooks/passthrough_request.py:handler"', ""]
    for i in range(count):
        lines += ["[[behaviors]]", f'path_pattern = "/c{i}/*"', 'origin = "bench"', f'viewer_request = "cold{i}"', ""]
    lines += ["[default_behavior]", 'origin = "bench"', ""]
    path = folder / "edgeproxy.toml"
    path.write_text("\n".join(lines))
    return path


def start_origin(folder: Path, body_size: int) -> Service:
    port = free_port()
    argv = [sys.executable, str(BENCH / "origin.py"), "--host", HOST, "--port", str(port), "--small-bytes", str(body_size)]
    service = Service("origin", argv, port=port, log=folder / "origin.log", env=python_env(REPO))
    service.wait_ready()
    return service


def _start_uvicorn_app(name: str, app: str, folder: Path, workers: int, env: dict[str, str]) -> Service:
    """`app` (a module in bench/) on uvicorn with the proxy's settings (DESIGN §2 `serve`:
    httptools, uvloop, no access log, no Server/Date header, no proxy headers)."""
    port = free_port()
    argv = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), app, "--host", HOST, "--port", str(port),
        "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--no-server-header", "--no-date-header",
        "--no-proxy-headers", "--log-level", "warning", "--workers", str(workers),
    ]
    service = Service(name, argv, port=port, log=folder / f"{name}.log", env=env)
    service.wait_ready()
    return service


def start_hello(folder: Path, body_size: int, workers: int) -> Service:
    """Starlette hello: the ceiling every row is compared with."""
    return _start_uvicorn_app("starlette-hello", "hello:app", folder, workers, python_env(REPO, BENCH_BODY_SIZE=str(body_size)))


def start_minproxy(folder: Path, origin_port: int, workers: int) -> Service:
    """bench/minproxy.py: raw ASGI + aiohttp and nothing else, with the same uvicorn settings."""
    env = python_env(REPO, BENCH_ORIGIN=f"http://{HOST}:{origin_port}")
    return _start_uvicorn_app("minproxy", "minproxy:app", folder, workers, env)


def start_proxy(folder: Path, config: Path | None, workers: int, *, name: str = "edgeproxy") -> Service:
    """`python -m edgeproxy serve` as a user runs it; no --config means the packaged default
    (run in `folder`, which holds no config.example.toml)."""
    port = free_port()
    argv = [sys.executable, "-m", "edgeproxy", "serve", "--port", str(port), "--workers", str(workers)]
    if config is not None:
        argv += ["--config", str(config)]
    service = Service(name, argv, port=port, log=folder / f"{name}.log", cwd=folder, env=python_env(REPO))
    service.wait_ready(timeout_s=60)
    return service
