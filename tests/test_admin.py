"""The admin listener over real sockets: health, Prometheus metrics, invalidations, cache
contents, the bearer token, and when there is (or cannot be) a listener at all."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest

from edgeproxy.config import load_config_text
from edgeproxy.errors import ConfigError
from tests.conftest import simple_config
from tests.servers import ProxyServer, Scripted, ScriptableOrigin, SeenRequest

POLICY = """
[cache_policies.short]
default_ttl = 60
max_ttl = 600
query_strings = "all"
"""


class FakeClock:
    def __init__(self) -> None:
        import time

        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Admin:
    def __init__(self, proxy: ProxyServer, port: int, client: httpx.Client, token: str = "") -> None:
        self.proxy = proxy
        self.url = f"http://127.0.0.1:{port}"
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str) -> httpx.Response:
        return self.client.get(self.url + path, headers=self.auth)

    def invalidate(self, paths: object) -> httpx.Response:
        return self.client.post(self.url + "/invalidations", json={"paths": paths}, headers=self.auth)

    def edge(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.get(self.proxy.url + path, headers=headers)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def admin(origin: ScriptableOrigin, proxy_factory, client: httpx.Client, clock: FakeClock) -> Admin:  # type: ignore[no-untyped-def]
    """A proxy started with `--admin-port` (no [admin] table), caching with the `short` policy."""
    port = free_port()
    proxy = proxy_factory(simple_config(origin.url, extra=POLICY, default='cache_policy = "short"\ncompress = true'), admin_port=port, clock=clock)
    return Admin(proxy, port, client)


def cacheable(clock: FakeClock, body: bytes = b"body", **headers: str) -> Callable[[SeenRequest], Scripted]:
    def respond(seen: SeenRequest) -> Scripted:
        return Scripted(headers={"Cache-Control": "max-age=60", "Date": formatdate(clock(), usegmt=True), **headers}, body=body)

    return respond


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    line = f"{name}{{{wanted}}} " if labels else f"{name} "
    for row in metrics.splitlines():
        if row.startswith(line):
            return float(row[len(line):])
    return 0.0


def test_health(admin: Admin) -> None:
    response = admin.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_metrics_are_prometheus_text_and_counters_move(admin: Admin, origin: ScriptableOrigin, clock: FakeClock) -> None:
    origin.script("/m", cacheable(clock, b"x" * 100))
    before = admin.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
    series = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? -?[0-9.e+Inf]+$')
    for row in before.text.splitlines():
        assert row.startswith("# HELP ") or row.startswith("# TYPE ") or series.match(row), row
    assert sample(before.text, "edgeproxy_cache_objects") == 0
    assert sample(before.text, "edgeproxy_cache_max_bytes") == 268435456
    assert admin.edge("/m").headers["x-cache"] == "Miss from cloudfront"
    assert admin.edge("/m").headers["x-cache"] == "Hit from cloudfront"
    assert admin.edge("/m").headers["x-cache"] == "Hit from cloudfront"
    origin.script("/missing", lambda seen: Scripted(status=404, body=b"no"))
    assert admin.edge("/missing").status_code == 404
    text = admin.get("/metrics").text
    assert sample(text, "edgeproxy_requests_total", result="Miss", status="2xx") == 1
    assert sample(text, "edgeproxy_requests_total", result="Hit", status="2xx") == 2
    assert sample(text, "edgeproxy_requests_total", result="Error", status="4xx") == 1
    assert sample(text, "edgeproxy_request_duration_seconds_count") == 4
    assert sample(text, "edgeproxy_request_duration_seconds_bucket", le="+Inf") == 4
    assert sample(text, "edgeproxy_cache_objects") == 2  # the page and the cached 404
    assert 100 < sample(text, "edgeproxy_cache_bytes") < 268435456


def test_metrics_count_origin_errors(proxy_factory, client: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    unreachable = f"http://127.0.0.1:{free_port()}"
    proxy = proxy_factory(simple_config(unreachable), admin_port=port)
    assert client.get(proxy.url + "/x").status_code == 502
    text = client.get(f"http://127.0.0.1:{port}/metrics").text
    assert sample(text, "edgeproxy_origin_errors_total", status="502") == 1
    assert sample(text, "edgeproxy_requests_total", result="Error", status="5xx") == 1


def test_metrics_show_the_cache_within_max_bytes(origin: ScriptableOrigin, proxy_factory, client: httpx.Client, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    config = simple_config(origin.url, extra=POLICY + "[cache]\nmax_bytes = 50000\nmax_object_bytes = 10000\n", default='cache_policy = "short"')
    proxy = proxy_factory(config, admin_port=port, clock=clock)
    for i in range(20):
        origin.script(f"/f{i}", cacheable(clock, b"f" * 5000))
        assert client.get(f"{proxy.url}/f{i}").status_code == 200
    text = client.get(f"http://127.0.0.1:{port}/metrics").text
    assert sample(text, "edgeproxy_cache_max_bytes") == 50000
    assert 0 < sample(text, "edgeproxy_cache_bytes") <= 50000
    assert sample(text, "edgeproxy_cache_evictions_total") > 0
    assert sample(text, "edgeproxy_cache_objects") < 20


def test_invalidation_removes_every_variant_under_a_wildcard(admin: Admin, origin: ScriptableOrigin, clock: FakeClock) -> None:
    def by_language(seen: SeenRequest) -> Scripted:
        return cacheable(clock, (seen.header("accept-language") or "-").encode() * 500, Vary="Accept-Language", **{"Content-Type": "text/html"})(seen)

    origin.script("/images/a.png", by_language)
    origin.script("/images/b.png", cacheable(clock))
    origin.script("/other", cacheable(clock))
    stored = [
        ("/images/a.png", {"Accept-Language": "en"}),
        ("/images/a.png", {"Accept-Language": "fr"}),
        ("/images/a.png", {"Accept-Language": "en", "Accept-Encoding": "gzip"}),  # a compressed variant
        ("/images/b.png", {}),
        ("/images/b.png?v=2", {}),  # query strings are in this policy's key
        ("/other", {}),
    ]
    for path, headers in stored:
        assert admin.edge(path, headers).headers["x-cache"] == "Miss from cloudfront", path
        assert admin.edge(path, headers).headers["x-cache"] == "Hit from cloudfront", path
    response = admin.invalidate(["/images/*"])
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"I[0-9A-Z]+", body["Id"])
    assert body["InvalidationBatch"]["Paths"] == {"Quantity": 1, "Items": ["/images/*"]}
    assert body["Status"] == "Completed"
    for path, headers in stored[:-1]:
        assert admin.edge(path, headers).headers["x-cache"] == "Miss from cloudfront", (path, headers)
    assert admin.edge("/other").headers["x-cache"] == "Hit from cloudfront"


def test_invalidation_of_exact_paths_and_prefixes(admin: Admin, origin: ScriptableOrigin, clock: FakeClock) -> None:
    for path in ("/a", "/ab", "/b", "/B", "/q"):
        origin.script(path, cacheable(clock))
    for path in ("/a", "/ab", "/b", "/B", "/q?x=1", "/q?x=2"):
        admin.edge(path)

    def state() -> dict[str, str]:
        return {p: admin.edge(p).headers["x-cache"].split()[0] for p in ("/a", "/ab", "/b", "/B", "/q?x=1", "/q?x=2")}

    assert set(state().values()) == {"Hit"}
    assert admin.invalidate(["/a", "/b", "/q?x=1"]).status_code == 201  # exact, case-sensitive
    assert state() == {"/a": "Miss", "/ab": "Hit", "/b": "Miss", "/B": "Hit", "/q?x=1": "Miss", "/q?x=2": "Hit"}
    assert admin.invalidate(["/a*"]).status_code == 201  # a trailing * is a prefix
    assert state() == {"/a": "Miss", "/ab": "Miss", "/b": "Hit", "/B": "Hit", "/q?x=1": "Hit", "/q?x=2": "Hit"}
    assert admin.invalidate(["/*"]).status_code == 201
    assert set(state().values()) == {"Miss"}


@pytest.mark.parametrize(
    ("paths", "problem"),
    [
        (["images/a.png"], "must start with '/'"),
        (["/images/*.png"], "may only be the last character"),
        (["/a b"], "URL-encode"),
        ([""], "may not be empty"),
    ],
)
def test_invalid_invalidation_paths_are_refused_with_reasons(admin: Admin, paths: list[str], problem: str) -> None:
    response = admin.invalidate(["/fine", *paths])
    assert response.status_code == 400
    body = response.json()
    assert len(body["problems"]) == 1
    assert problem in body["problems"][0]


@pytest.mark.parametrize("payload", [b"not json", b'{"paths": []}', b'{"paths": "/a"}', b"[]", b'{"paths": [1]}'])
def test_malformed_invalidation_requests(admin: Admin, payload: bytes) -> None:
    response = admin.client.post(admin.url + "/invalidations", content=payload)
    assert response.status_code == 400
    assert "error" in response.json()


def test_cache_listing_shows_variants_and_remaining_ttl(admin: Admin, origin: ScriptableOrigin, clock: FakeClock) -> None:
    origin.script("/page", cacheable(clock, b"p" * 2000, **{"Content-Type": "text/html"}))
    admin.edge("/page", {"Accept-Encoding": "identity"})
    admin.edge("/page", {"Accept-Encoding": "gzip"})
    clock.now += 15
    response = admin.get("/cache?path=/page")
    assert response.status_code == 200
    body = response.json()
    assert body["path"] == "/page"
    variants = body["variants"]
    assert len(variants) == 2
    assert sorted(str(v["encoding"]) for v in variants) == ["None", "gzip"]
    for variant in variants:
        assert variant["status"] == 200
        assert variant["ttl"] == 60
        assert variant["remaining_ttl"] == pytest.approx(45)
        assert variant["fresh"] is True
    assert admin.get("/cache?path=/nothing").json()["variants"] == []
    assert admin.get("/cache").status_code == 400


def test_token_required_when_configured(origin: ScriptableOrigin, proxy_factory, client: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    proxy_factory(simple_config(origin.url, extra=f'[admin]\nport = {port}\ntoken = "s3cret"\n'))
    url = f"http://127.0.0.1:{port}"
    for path in ("/health", "/metrics", "/cache?path=/a"):
        assert client.get(url + path).status_code == 401
        assert client.get(url + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(url + path, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    denied = client.post(url + "/invalidations", json={"paths": ["/a"]})
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"] == "Bearer"
    assert client.post(url + "/invalidations", json={"paths": ["/a"]}, headers={"Authorization": "Bearer s3cret"}).status_code == 201


def test_non_loopback_admin_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="token is required"):
        load_config_text('[admin]\nhost = "0.0.0.0"\n[origins.app]\nurl = "http://127.0.0.1:1"\n[default_behavior]\norigin = "app"\n')


def test_admin_listener_on_the_configured_address(origin: ScriptableOrigin, proxy_factory, client: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    proxy = proxy_factory(simple_config(origin.url, extra=f"[admin]\nport = {port}\n"))
    assert client.get(f"http://127.0.0.1:{port}/health").status_code == 200
    assert client.get(f"{proxy.url}/health").headers["x-cache"]  # the proxy's port proxies, it is not admin
    assert origin.count("/health") == 1


def _listening_ports() -> set[int]:
    """TCP ports this test process listens on (the origin and the proxy run in-process)."""
    import psutil

    return {c.laddr.port for c in psutil.Process().net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}


def test_no_admin_listener_without_admin_table_or_port(origin: ScriptableOrigin, proxy_factory) -> None:  # type: ignore[no-untyped-def]
    before = _listening_ports()
    proxy = proxy_factory(simple_config(origin.url))
    assert _listening_ports() - before == {proxy.port}  # the proxy's port, and no other listener


def test_serve_exits_with_a_clear_message_when_the_admin_port_is_taken(origin: ScriptableOrigin, tmp_path: Path) -> None:
    config = tmp_path / "edgeproxy.toml"
    config.write_text(simple_config(origin.url))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "edgeproxy", "serve", "--config", str(config), "--port", "0", "--admin-port", str(port)],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    assert done.returncode != 0
    assert f"admin listener cannot bind 127.0.0.1:{port}" in done.stderr


def test_metrics_of_functions(origin: ScriptableOrigin, proxy_factory, client: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    handler = Path(__file__).parent / "hookmods" / "stages.py"
    extra = f'[functions.vr]\nhandler = "{handler}:viewer_request"\n'
    proxy = proxy_factory(simple_config(origin.url, extra=extra, default='viewer_request = "vr"'), admin_port=port)
    assert client.get(proxy.url + "/fine").status_code == 200
    assert client.get(proxy.url + "/fine").status_code == 200
    boom = client.get(proxy.url + "/boom")
    assert (boom.status_code, boom.headers["x-cache"]) == (503, "LambdaExecutionError from cloudfront")
    text = client.get(f"http://127.0.0.1:{port}/metrics").text
    assert sample(text, "edgeproxy_function_invocations_total", function="vr") == 3
    assert sample(text, "edgeproxy_function_invocation_errors_total", function="vr", kind="exception") == 1
    assert sample(text, "edgeproxy_function_errors_total", function="vr", kind="exception") == 1
    assert sample(text, "edgeproxy_function_throttles_total", function="vr") == 0
    assert sample(text, "edgeproxy_function_duration_milliseconds_count", function="vr") >= 2
    assert sample(text, "edgeproxy_function_init_duration_milliseconds_count", function="vr") >= 1
    assert sample(text, "edgeproxy_workers_live") >= 1
    assert sample(text, "edgeproxy_requests_total", result="LambdaExecutionError", status="5xx") == 1
    functions = client.get(f"http://127.0.0.1:{port}/functions").json()["functions"]
    assert functions["functions"]["vr"]["invocations"] == 3
