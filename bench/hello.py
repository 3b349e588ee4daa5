"""The ceiling: a bare Starlette "hello" (the same body size the proxy rows serve) on uvicorn.

    python -m uvicorn --app-dir bench hello:app --http httptools --loop uvloop ...

`bench/run.py` starts it with the proxy's own uvicorn settings (httptools, uvloop, no access
log, no Server/Date header, one worker unless `--workers`), so the only difference between this
row and a proxy row is what the proxy does per request. The body is `BENCH_BODY_SIZE` bytes.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b"h" * int(os.environ.get("BENCH_BODY_SIZE", "1024"))


async def hello(request: Request) -> Response:
    return Response(BODY, media_type="text/plain")


app = Starlette(routes=[Route("/small", hello)])
