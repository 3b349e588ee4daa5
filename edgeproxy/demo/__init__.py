"""The built-in demo origin (`url = "builtin:demo"`): a small site shipped in the package.

It lets `edgeproxy serve` answer `GET /` on a fresh install with nothing else running. It is a
real HTTP server on an ephemeral loopback port (aiohttp.web, already a dependency), so the
proxy talks to it exactly as to any origin.

Routes: static files from `site/` (with Last-Modified/ETag, Cache-Control max-age=60), and
`/api/time` (max-age=5), `/api/echo` (the request as the origin saw it, no-store),
`/api/status/<code>` (that status).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from aiohttp import web

SITE = Path(__file__).parent / "site"


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.raw_path,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
            "body_bytes": len(body),
        },
        headers={"Cache-Control": "no-store"},
    )


async def _time(request: web.Request) -> web.Response:
    return web.json_response(
        {"epoch": time.time(), "date": formatdate(usegmt=True)}, headers={"Cache-Control": "max-age=5"}
    )


async def _status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return web.Response(status=code, text=f"status {code}\n", headers={"Cache-Control": "max-age=10"})


def demo_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/api/echo", _echo)
    app.router.add_get("/api/time", _time)
    app.router.add_get("/api/status/{code:\\d{3}}", _status)

    @web.middleware
    async def cache_headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        if not request.path.startswith("/api/") and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "max-age=60"
        return response

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(SITE / "index.html")

    app.middlewares.append(cache_headers)
    app.router.add_get("/", index)
    app.router.add_get("/about/", lambda r: web.FileResponse(SITE / "about" / "index.html"))
    app.router.add_static("/", SITE, show_index=False, append_version=False)
    return app


@dataclass
class DemoOrigin:
    runner: web.AppRunner
    host: str
    port: int

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_demo_origin(host: str = "127.0.0.1") -> DemoOrigin:
    runner = web.AppRunner(demo_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return DemoOrigin(runner, host, port)
