"""Reaching every process of `serve --workers N`: invalidations must empty every worker's cache.

Each uvicorn worker process has its own cache and pools. `serve` makes one run folder for the
whole server; each worker listens there on a unix socket `worker-<pid>.sock` for control
messages (one JSON line in, one JSON line out). Whichever worker's admin listener receives an
invalidation (they share the admin port with SO_REUSEPORT) sends it to every socket in the
folder, itself included, and answers with the total.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from edgeproxy.logs import log

RUN_DIR_ENV = "EDGEPROXY_RUN_DIR"
_TIMEOUT_S = 10.0


class ControlServer:
    """This process's control socket; `handler` maps a message to its reply."""

    def __init__(self, run_dir: Path, handler: Callable[[dict], Awaitable[dict]]) -> None:
        self.path = run_dir / f"worker-{os.getpid()}.sock"
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), _TIMEOUT_S)
            try:
                message = orjson.loads(line)
                reply = await self._handler(message) if isinstance(message, dict) else {"error": "not an object"}
            except orjson.JSONDecodeError as exc:
                reply = {"error": f"bad JSON: {exc}"}
            writer.write(orjson.dumps(reply) + b"\n")
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError) as exc:
            log.warning("control socket: %s", exc)
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


async def broadcast(run_dir: Path, message: dict) -> list[dict]:
    """Send `message` to every worker's control socket; the replies of those that answered."""

    async def one(path: Path) -> dict | None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), _TIMEOUT_S)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a worker that died without cleaning up
            return None
        except (OSError, asyncio.TimeoutError) as exc:
            log.warning("control socket %s unreachable: %s", path.name, exc)
            return None
        try:
            writer.write(orjson.dumps(message) + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), _TIMEOUT_S)
            reply = orjson.loads(line) if line else None
            return reply if isinstance(reply, dict) else None
        except (OSError, asyncio.TimeoutError, orjson.JSONDecodeError) as exc:
            log.warning("control socket %s failed: %s", path.name, exc)
            return None
        finally:
            writer.close()

    replies = await asyncio.gather(*(one(p) for p in sorted(run_dir.glob("worker-*.sock"))))
    return [r for r in replies if r is not None]
