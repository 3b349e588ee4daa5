"""Shared fixtures: a scriptable origin and a factory for proxies on real uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import ProxyServer, ScriptableOrigin

HOOKMODS = Path(__file__).parent / "hookmods"


@pytest.fixture
def origin() -> Iterator[ScriptableOrigin]:
    server = ScriptableOrigin().start()
    yield server
    server.stop()


@pytest.fixture
def proxy_factory(tmp_path: Path) -> Iterator[Callable[..., ProxyServer]]:
    """`proxy_factory(config_toml)` starts edgeproxy; all are stopped after the test."""
    started: list[ProxyServer] = []

    def start(config_text: str, **kwargs: object) -> ProxyServer:
        server = ProxyServer(config_text, config_dir=tmp_path, **kwargs).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, follow_redirects=False) as c:
        yield c


def simple_config(origin_url: str, *, behavior: str = "", extra: str = "", default: str = "") -> str:
    """A config with one origin `app` and a default behavior to it (plus optional extras)."""
    return f"""
[origins.app]
url = "{origin_url}"
read_timeout_s = 5
connect_timeout_s = 2

{extra}

{behavior}

[default_behavior]
origin = "app"
{default}
"""
