"""`create_app(config)`: the ASGI application uvicorn serves.

The Starlette app is the shell: its lifespan starts and stops everything with a lifetime (the
origin session, the demo origin, the function worker pools, the admin listener). Proxied
requests skip Starlette's routing and Request/Response objects and go straight to the raw ASGI
endpoint in `asgi.py` — that saves ~75 µs a request (DESIGN §1).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from edgeproxy.admin import AdminServer, admin_address
from edgeproxy.asgi import ProxyEndpoint, Receive, Scope, Send
from edgeproxy.caching import HttpCache
from edgeproxy.config_types import Config
from edgeproxy.distribution import Distribution
from edgeproxy.events import EventConfig
from edgeproxy.logs import log, set_function_log_dir, setup_logging
from edgeproxy.metrics import Metrics
from edgeproxy.origin import OriginClient
from edgeproxy.stages import StageRunner

CONFIG_ENV = "EDGEPROXY_CONFIG"  # how `serve --workers N` hands the config to each process
ADMIN_PORT_ENV = "EDGEPROXY_ADMIN_PORT"


@dataclass
class Services:
    """Everything the lifespan starts; the admin listener reads from here."""

    config: Config
    metrics: Metrics = field(default_factory=Metrics)
    distribution: Distribution | None = None
    runtime: Any = None  # edgeproxy.runtime.FunctionRuntime when functions are configured
    cache: HttpCache | None = None
    draining: bool = False
    run_dir: Path | None = None  # set under `serve --workers N`: every worker's control socket

    async def invalidate(self, paths: list[str]) -> tuple[int, int]:
        """Remove every stored variant under `paths` (CloudFront invalidation rules), in every
        worker process of the server: (objects removed, processes reached)."""
        from edgeproxy.admin import remove_paths

        if self.run_dir is None:
            return remove_paths(self, paths), 1
        from edgeproxy.fanout import broadcast

        replies = await broadcast(self.run_dir, {"op": "invalidate", "paths": paths})
        return sum(int(r.get("removed", 0)) for r in replies), len(replies)

    async def control(self, message: dict[str, Any]) -> dict[str, Any]:
        """A control message from another worker process (see `fanout.py`)."""
        from edgeproxy.admin import remove_paths

        if message.get("op") == "invalidate" and isinstance(message.get("paths"), list):
            return {"removed": remove_paths(self, [str(p) for p in message["paths"]]), "pid": os.getpid()}
        return {"error": f"unknown control message {message.get('op')!r}"}


class EdgeApp:
    """The outer ASGI callable: HTTP goes to the proxy endpoint, lifespan to the Starlette shell."""

    def __init__(
        self,
        config: Config,
        *,
        admin_port: int | None = None,
        clock: Callable[[], float] | None = None,
        run_dir: Path | None = None,
    ) -> None:
        self.services = Services(config, run_dir=run_dir)
        self._admin_port = admin_port
        self._clock = clock  # the cache's clock (time.time); tests pass a fake one to age objects
        self._proxy: ProxyEndpoint | None = None
        self.shell = Starlette(lifespan=self._lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        proxy = self._proxy
        if proxy is not None and scope["type"] == "http":
            await proxy(scope, receive, send)
        else:
            await self.shell(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        services = self.services
        config = services.config
        setup_logging()
        set_function_log_dir(config.runtime.function_logs)
        async with contextlib.AsyncExitStack() as stack:
            builtin: tuple[str, int] | None = None
            origins = OriginClient(s3_buckets=config.s3_buckets)
            stack.push_async_callback(origins.close)
            if any(o.scheme == "builtin" for o in config.origins.values()):
                from edgeproxy.demo import start_demo_origin

                demo = await start_demo_origin()
                stack.push_async_callback(demo.close)
                builtin = (demo.host, demo.port)
                log.info("built-in demo origin on http://%s:%d", demo.host, demo.port)
            stages = None
            if config.functions:
                from edgeproxy.runtime import FunctionRuntime

                runtime = FunctionRuntime(config.functions, config.runtime)
                stack.push_async_callback(runtime.close)
                await runtime.start()  # provisioned workers are warm before traffic
                services.runtime = runtime
                stages = StageRunner(runtime, EventConfig(config.server.domain_name, config.server.distribution_id))
            services.cache = HttpCache(config.cache) if self._clock is None else HttpCache(config.cache, timer=self._clock)
            distribution = Distribution(
                config, origins=origins, stages=stages, cache=services.cache, metrics=services.metrics, builtin=builtin
            )
            stack.push_async_callback(distribution.close)
            services.distribution = distribution
            admin_config = admin_address(config, self._admin_port)
            if services.run_dir is not None:
                from edgeproxy.fanout import ControlServer

                control = ControlServer(services.run_dir, services.control)
                await control.start()
                stack.push_async_callback(control.close)
            if admin_config is not None:
                # Under --workers N every worker binds the admin port (SO_REUSEPORT); any of
                # them fans an invalidation out to all.
                admin = AdminServer(admin_config, services, reuse_port=services.run_dir is not None)
                await admin.start()  # a port that cannot be bound is fatal
                stack.push_async_callback(admin.stop)
            self._proxy = ProxyEndpoint(distribution)
            log.info("edgeproxy ready (distribution %s, %d behaviors)", config.server.distribution_id, len(config.behaviors))
            try:
                yield
            finally:
                services.draining = True
                self._proxy = None


def uvicorn_options() -> dict[str, Any]:
    """How edgeproxy runs uvicorn, the same for `serve` and the test servers.

    No proxy headers (the TCP peer is the client: nobody can forge clientIp or the last
    X-Forwarded-For hop); no Server/Date of uvicorn's own (responses carry the origin's or
    CloudFront's); httptools and uvloop for speed; no access log on the hot path.
    """
    return {
        "proxy_headers": False,
        "server_header": False,
        "date_header": False,
        "access_log": False,
        "http": "httptools",
        "loop": "uvloop",
        "lifespan": "on",
        "timeout_graceful_shutdown": 30,
    }


def create_app(
    config: Config,
    *,
    admin_port: int | None = None,
    clock: Callable[[], float] | None = None,
    run_dir: Path | None = None,
) -> EdgeApp:
    """The app for one server process; `run_dir` joins it to the others of `serve --workers N`."""
    return EdgeApp(config, admin_port=admin_port, clock=clock, run_dir=run_dir)


def create_app_from_env() -> EdgeApp:
    """Factory for `uvicorn --factory` in each worker process of `serve --workers N`."""
    from edgeproxy.config import load_config

    from edgeproxy.fanout import RUN_DIR_ENV

    config = load_config(Path(os.environ[CONFIG_ENV]))
    admin_port = os.environ.get(ADMIN_PORT_ENV)
    run_dir = os.environ.get(RUN_DIR_ENV)
    return create_app(
        config, admin_port=int(admin_port) if admin_port else None, run_dir=Path(run_dir) if run_dir else None
    )
