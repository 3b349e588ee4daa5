"""The admin listener: health, Prometheus metrics, function pools, cache contents, invalidations.

It runs on its own address (never on the proxy's port), as a Starlette app on its own uvicorn
server inside the proxy's event loop. A token is required (`Authorization: Bearer <token>`)
whenever one is configured; the config refuses a non-loopback admin host without one.

With `serve --workers N` every worker process binds the admin port with SO_REUSEPORT and also
answers on a private unix socket in a shared run folder; an invalidation (or a metrics
scrape) received by any worker is fanned out to all of them, so every per-process cache is
invalidated (see `fanout.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import socket
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from edgeproxy.config_types import AdminConfig
from edgeproxy.logs import log
from edgeproxy.metrics_text import render_metrics
from edgeproxy.patterns import invalidation_matcher, validate_invalidation_path

if TYPE_CHECKING:
    from edgeproxy.app import Services
    from edgeproxy.config_types import Config

MAX_INVALIDATION_PATHS = 3000  # CloudFront: 3,000 paths in flight


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the main proxy server."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def, override]
        yield


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, default=_default), status_code=status, media_type="application/json")


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def admin_app(services: "Services", token: str) -> Starlette:
    """The admin routes over the running services (also used in-process by tests)."""

    def authorised(request: Request) -> bool:
        if not token:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def guard(handler):  # type: ignore[no-untyped-def]
        async def wrapped(request: Request) -> Response:
            if not authorised(request):
                return JSONResponse({"error": "missing or wrong bearer token"}, 401, headers={"www-authenticate": "Bearer"})
            return await handler(request)

        return wrapped

    async def health(request: Request) -> Response:
        if services.draining or services.distribution is None:
            return _json({"status": "draining" if services.draining else "starting"}, 503)
        return _json({"status": "ok"})

    async def metrics(request: Request) -> Response:
        text = render_metrics(services)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def functions(request: Request) -> Response:
        runtime = services.runtime
        if runtime is None:
            return _json({"functions": {}})
        return _json({"functions": runtime.stats()})

    async def cache(request: Request) -> Response:
        path = request.query_params.get("path")
        if not path or not path.startswith("/"):
            return _json({"error": "give ?path=/some/path"}, 400)
        assert services.cache is not None
        return _json({"path": path, "variants": services.cache.describe(path)})

    async def invalidations(request: Request) -> Response:
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return _json({"error": f"body is not JSON: {exc}"}, 400)
        paths = payload.get("paths") if isinstance(payload, dict) else None
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            return _json({"error": 'expected {"paths": ["/path", "/images/*", ...]} with at least one path'}, 400)
        if len(paths) > MAX_INVALIDATION_PATHS:
            return _json({"error": f"at most {MAX_INVALIDATION_PATHS} paths per invalidation"}, 400)
        problems = []
        for path in paths:
            try:
                validate_invalidation_path(path)
            except ValueError as exc:
                problems.append(f"{path!r}: {exc}")
        if problems:
            return _json({"error": "invalid paths", "problems": problems}, 400)
        removed, processes = await services.invalidate(paths)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        invalidation_id = "I" + uuid.uuid4().hex[:13].upper()
        log.info(
            "invalidation %s: %d paths, %d objects removed in %d process(es)", invalidation_id, len(paths), removed, processes
        )
        body = {
            "Id": invalidation_id,
            "Status": "Completed",
            "CreateTime": created,
            "InvalidationBatch": {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": payload.get("caller_reference", invalidation_id)},
            "ObjectsRemoved": removed,
            "Processes": processes,
        }
        return _json(body, 201)

    routes = [
        Route("/health", guard(health)),
        Route("/metrics", guard(metrics)),
        Route("/functions", guard(functions)),
        Route("/cache", guard(cache)),
        Route("/invalidations", guard(invalidations), methods=["POST"]),
    ]
    return Starlette(routes=routes)


def remove_paths(services: "Services", paths: list[str]) -> int:
    """Invalidate in this process's cache; returns the number of stored objects removed."""
    assert services.cache is not None
    matchers = [invalidation_matcher(p) for p in paths]
    return services.cache.invalidate(lambda target: any(m(target) for m in matchers))


def admin_address(config: "Config", admin_port: int | None) -> AdminConfig | None:
    """Where the admin listener runs: `[admin]`, with `--admin-port` overriding (or enabling)
    it; None when neither is given (no admin listener)."""
    if admin_port is None:
        return config.admin
    base = config.admin or AdminConfig()
    return AdminConfig(host=base.host, port=admin_port, token=base.token)


class AdminBindError(Exception):
    """The configured admin address cannot be bound (fatal: DESIGN §2)."""


def bind_admin_socket(config: AdminConfig, *, reuse_port: bool = False) -> socket.socket:
    """A socket bound to the admin address, or AdminBindError saying why not.

    `serve` calls this once before the server starts, so a taken port is a one-line error and
    exit 2 rather than a failed application start-up with a traceback.
    """
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        raise AdminBindError(f"admin listener cannot bind {config.host}:{config.port}: {exc.strerror}") from exc
    return sock


class AdminServer:
    """The admin app on its own pre-bound socket (a bind failure is fatal, with a clear error)."""

    def __init__(self, config: AdminConfig, services: "Services", *, reuse_port: bool = False) -> None:
        self.config = config
        self.services = services
        self.reuse_port = reuse_port
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = bind_admin_socket(self.config, reuse_port=self.reuse_port)
        sock.listen(128)
        sock.setblocking(False)
        app = admin_app(self.services, self.config.token)
        server = _QuietServer(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
        self._server = server
        self._task = asyncio.ensure_future(server.serve(sockets=[sock]))
        deadline = time.monotonic() + 10
        while not server.started:
            if self._task.done():
                self._task.result()
                raise SystemExit("edgeproxy: admin listener failed to start")
            if time.monotonic() > deadline:
                raise SystemExit("edgeproxy: admin listener did not start in 10 s")
            await asyncio.sleep(0.01)
        log.info("admin listener on http://%s:%d", self.config.host, sock.getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
