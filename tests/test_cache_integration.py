"""The edge cache end to end: real uvicorn in front of a real scriptable origin (issue 4).

Time is a fake clock handed to the cache (`create_app(..., clock=)`): a test ages stored objects
with `clock.advance(s)`, never by sleeping. The scriptable origin stamps `Date` from the same
clock (`answer(...)`), as an origin and an edge sharing one wall clock would. Real time is
used only where real concurrency is the point (collapsing, background refreshes), with small
delays and generous deadlines.
"""

from __future__ import annotations

import dataclasses
import gc
import gzip
import itertools
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from typing import NamedTuple

import brotli
import httpx
import pytest

from edgeproxy.cache import StoredResponse
from tests.conftest import simple_config
from tests.servers import ProxyServer, Scripted, ScriptableOrigin, SeenRequest

HIT = "Hit from cloudfront"
MISS = "Miss from cloudfront"
REFRESH_HIT = "RefreshHit from cloudfront"
ERROR = "Error from cloudfront"

POLICIES = """
[cache_policies.short]
min_ttl = 0
default_ttl = 60
max_ttl = 600

[cache_policies.floor]
min_ttl = 30
default_ttl = 60
max_ttl = 100
"""


class FakeClock:
    """The cache's clock; starts at the real time so origin `Date`s and ours agree."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def http_date(self, offset: float = 0) -> str:
        return formatdate(self.now + offset, usegmt=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def answer(
    clock: FakeClock,
    status: int = 200,
    headers: dict[str, str] | None = None,
    body: bytes = b"hello",
    **kwargs: object,
) -> Callable[[SeenRequest], Scripted]:
    """A scripted answer whose `Date` is the fake clock's time at the moment of the request."""

    def respond(_seen: SeenRequest) -> Scripted:
        fields = dict(headers or {})
        fields.setdefault("Date", clock.http_date())
        return Scripted(status=status, headers=fields, body=body, **kwargs)  # type: ignore[arg-type]

    return respond


class Edge:
    """A proxy under test plus a client: `edge.get(path, headers)`; paths get `prefix`."""

    def __init__(self, proxy: ProxyServer, client: httpx.Client, prefix: str = "") -> None:
        self.proxy = proxy
        self.client = client
        self.prefix = prefix

    @property
    def url(self) -> str:
        return self.proxy.url + self.prefix

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
        return self.client.request(method, self.url + path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", path, headers)

    def raw(self, path: str, headers: dict[str, str] | None = None) -> tuple[httpx.Response, bytes]:
        """The response and its body as sent (httpx would decode gzip/br in `.content`)."""
        with self.client.stream("GET", self.url + path, headers=headers) as response:
            return response, b"".join(response.iter_raw())

    def stats(self):  # type: ignore[no-untyped-def]
        return self.proxy.services.cache.stats()


@pytest.fixture
def edge_factory(origin: ScriptableOrigin, proxy_factory, client: httpx.Client, clock: FakeClock):  # type: ignore[no-untyped-def]
    """`edge_factory(default='cache_policy = "short"', extra=..., behavior=...)` -> Edge."""

    def start(default: str = 'cache_policy = "short"', *, extra: str = "", behavior: str = "", **kwargs: object) -> Edge:
        text = simple_config(origin.url, behavior=behavior, extra=POLICIES + extra, default=default)
        return Edge(proxy_factory(text, clock=clock, **kwargs), client)

    return start


@pytest.fixture
def edge(edge_factory) -> Edge:  # type: ignore[no-untyped-def]
    """The default behavior with the `short` policy (min 0, default 60, max 600)."""
    return edge_factory()


# -- lanes: many tests share one proxy, each under its own path prefix (starting and stopping
#    a uvicorn server costs ~0.2 s; a lane costs nothing). A lane's objects, origin scripts and
#    seen requests are its own; the clock is shared, so lanes age only their own objects.

_SHARED = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=32))  # thread-safe pool

LANE_BEHAVIORS = """
[[behaviors]]
path_pattern = "/t*/floor/*"
origin = "app"
cache_policy = "floor"

[[behaviors]]
path_pattern = "/t*/gz/*"
origin = "app"
cache_policy = "short"
compress = true
"""


class OriginView:
    """The shared origin as one lane sees it: its paths without the lane prefix."""

    def __init__(self, origin: ScriptableOrigin, prefix: str) -> None:
        self._origin = origin
        self.prefix = prefix
        self.port = origin.port

    def script(self, path: str, respond: Scripted | Callable[[SeenRequest], Scripted]) -> None:
        if callable(respond):
            inner = respond
            self._origin.script(self.prefix + path, lambda seen: inner(self._strip(seen)))
        else:
            self._origin.script(self.prefix + path, respond)

    def _strip(self, seen: SeenRequest) -> SeenRequest:
        return dataclasses.replace(seen, path=seen.path[len(self.prefix):])

    def count(self, path: str) -> int:
        return self._origin.count(self.prefix + path)

    @property
    def seen(self) -> list[SeenRequest]:
        return [self._strip(r) for r in list(self._origin.seen) if r.path.startswith(self.prefix + "/")]


class Lane(NamedTuple):
    edge: Edge
    origin: OriginView
    clock: FakeClock


@pytest.fixture(scope="module")
def lanes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyServer, ScriptableOrigin, FakeClock, itertools.count[int]]]:
    origin = ScriptableOrigin().start()
    clock = FakeClock()
    config = simple_config(origin.url, behavior=LANE_BEHAVIORS, extra=POLICIES, default='cache_policy = "short"')
    proxy = ProxyServer(config, config_dir=tmp_path_factory.mktemp("lanes"), clock=clock).start()
    yield proxy, origin, clock, itertools.count(1)
    proxy.stop()
    origin.stop()


@pytest.fixture
def lane(lanes) -> Lane:  # type: ignore[no-untyped-def]
    """The default behavior (policy `short`) on a shared proxy, under a fresh prefix `/t<n>`.
    `/floor/...` paths use the `floor` policy; `/gz/...` paths compress."""
    proxy, origin, clock, numbers = lanes
    prefix = f"/t{next(numbers)}"
    return Lane(Edge(proxy, _SHARED, prefix), OriginView(origin, prefix), clock)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def counter_body(clock: FakeClock, headers: dict[str, str], **kwargs: object) -> Callable[[SeenRequest], Scripted]:
    """An answer whose body is `v<n>` for the n-th request to that script."""
    calls = [0]

    def respond(seen: SeenRequest) -> Scripted:
        calls[0] += 1
        return answer(clock, headers=headers, body=f"v{calls[0]}".encode(), **kwargs)(seen)

    return respond


# --------------------------------------------------------------------------- Hit / Miss / Age


def test_miss_then_hit_with_age_from_the_clock(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/a", answer(clock, headers={"Cache-Control": "max-age=60", "Content-Type": "text/plain"}, body=b"A" * 10))
    first = edge.get("/a")
    assert first.status_code == 200
    assert first.headers["x-cache"] == MISS
    assert first.content == b"A" * 10
    assert first.headers["content-length"] == "10"
    assert "age" not in first.headers  # fetched just now, no Age from the origin
    second = edge.get("/a")
    assert second.headers["x-cache"] == HIT
    assert second.headers["age"] == "0"
    assert second.content == b"A" * 10
    assert second.headers["content-length"] == "10"
    assert second.headers["content-type"] == "text/plain"
    clock.advance(42)
    third = edge.get("/a")
    assert third.headers["x-cache"] == HIT
    assert third.headers["age"] == "42"
    assert origin.count("/a") == 1


def test_age_counts_the_origin_age_and_limits_freshness(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/aged", answer(clock, headers={"Cache-Control": "max-age=300", "Age": "100"}))
    first = edge.get("/aged")
    assert first.headers["x-cache"] == MISS
    assert first.headers["age"] == "100"  # RFC 9111 §4.2.3: the origin's Age carries over
    clock.advance(50)
    hit = edge.get("/aged")
    assert (hit.headers["x-cache"], hit.headers["age"]) == (HIT, "150")
    clock.advance(149)  # age 299 < 300: still fresh
    assert edge.get("/aged").headers["x-cache"] == HIT
    assert origin.count("/aged") == 1
    clock.advance(2)  # age 301: expired
    again = edge.get("/aged")
    assert again.headers["x-cache"] == MISS
    assert origin.count("/aged") == 2


def test_age_counts_a_date_in_the_past(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/old", lambda seen: answer(clock, headers={"Cache-Control": "max-age=60", "Date": clock.http_date(-20)})(seen))
    assert edge.get("/old").headers["x-cache"] == MISS
    assert edge.get("/old").headers["age"] == "20"  # apparent age: now - Date
    clock.advance(39)
    hit = edge.get("/old")
    assert (hit.headers["x-cache"], hit.headers["age"]) == (HIT, "59")
    clock.advance(2)
    assert edge.get("/old").headers["x-cache"] == MISS


@pytest.mark.parametrize(
    ("policy", "cache_control", "expires_in", "fresh_at", "stale_at"),
    [
        ("short", "s-maxage=100, max-age=10", 1000, 99, 101),  # s-maxage wins
        ("short", "max-age=10", 1000, 9, 11),  # max-age wins over Expires
        ("short", None, 30, 29, 31),  # Expires - Date
        ("short", None, None, 59, 61),  # default_ttl
        ("floor", "max-age=5", None, 29, 31),  # raised to min_ttl 30
        ("floor", "max-age=1000", None, 99, 101),  # cut to max_ttl 100
        ("floor", "s-maxage=1000", None, 99, 101),
        ("floor", None, 5, 29, 31),  # Expires clamped too
        ("short", "max-age=700", None, 599, 601),  # max_ttl 600
    ],
)
def test_ttl_precedence_and_policy_clamp(
    lane: Lane, policy: str, cache_control: str | None, expires_in: int | None, fresh_at: int, stale_at: int
) -> None:
    edge, origin, clock = lane
    path = "/floor/t" if policy == "floor" else "/t"
    headers = {}
    if cache_control:
        headers["Cache-Control"] = cache_control
    if expires_in is not None:
        headers["Expires"] = clock.http_date(expires_in)
    origin.script(path, answer(clock, headers=headers))
    start = clock.now
    assert edge.get(path).headers["x-cache"] == MISS
    clock.now = start + fresh_at
    assert edge.get(path).headers["x-cache"] == HIT
    assert origin.count(path) == 1
    clock.now = start + stale_at
    assert edge.get(path).headers["x-cache"] == MISS
    assert origin.count(path) == 2


def test_invalid_expires_means_already_expired(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/bad-expires", answer(clock, headers={"Expires": "0"}))
    assert edge.get("/bad-expires").headers["x-cache"] == MISS
    assert edge.get("/bad-expires").headers["x-cache"] == MISS
    assert origin.count("/bad-expires") == 2


@pytest.mark.parametrize("directive", ["no-store", "no-cache", "private", "no-cache, max-age=60", "private, max-age=60"])
def test_no_store_no_cache_private_not_stored_with_min_ttl_0(
    lane: Lane, directive: str
) -> None:
    edge, origin, clock = lane
    origin.script("/p", counter_body(clock, {"Cache-Control": directive}))
    first, second = edge.get("/p"), edge.get("/p")
    assert [r.headers["x-cache"] for r in (first, second)] == [MISS, MISS]
    assert [r.content for r in (first, second)] == [b"v1", b"v2"]
    assert origin.count("/p") == 2


@pytest.mark.parametrize("directive", ["no-store", "no-cache", "private"])
def test_no_store_no_cache_private_stored_for_min_ttl(lane: Lane, directive: str) -> None:
    edge, origin, clock = lane  # /floor/...: min_ttl 30
    origin.script("/floor/p", counter_body(clock, {"Cache-Control": directive}))
    assert edge.get("/floor/p").headers["x-cache"] == MISS
    clock.advance(29)
    hit = edge.get("/floor/p")
    assert (hit.headers["x-cache"], hit.content) == (HIT, b"v1")
    clock.advance(2)
    again = edge.get("/floor/p")
    assert (again.headers["x-cache"], again.content) == (MISS, b"v2")


@pytest.mark.parametrize("viewer", [{"Cache-Control": "no-cache"}, {"Pragma": "no-cache"}, {"Cache-Control": "max-age=0"}])
def test_viewer_cannot_force_a_refetch(lane: Lane, viewer: dict[str, str]) -> None:
    edge, origin, clock = lane
    origin.script("/v", answer(clock, headers={"Cache-Control": "max-age=60"}))
    assert edge.get("/v").headers["x-cache"] == MISS
    again = edge.get("/v", viewer)
    assert again.headers["x-cache"] == HIT
    assert origin.count("/v") == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "OPTIONS"])
def test_only_get_and_head_are_cached(lane: Lane, method: str) -> None:
    edge, origin, clock = lane
    origin.script("/m", answer(clock, headers={"Cache-Control": "max-age=60"}))
    for _ in range(2):
        response = edge.request(method, "/m", content=b"x" if method != "OPTIONS" else None)
        assert response.status_code == 200
        assert response.headers["x-cache"] == MISS
    assert [r.method for r in origin.seen] == [method, method]


def test_head_answered_from_a_stored_get(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/h", answer(clock, headers={"Cache-Control": "max-age=60", "Content-Type": "text/plain"}, body=b"x" * 123))
    assert edge.get("/h").headers["x-cache"] == MISS
    head = edge.request("HEAD", "/h")
    assert head.status_code == 200
    assert head.headers["x-cache"] == HIT
    assert head.headers["content-length"] == "123"
    assert head.content == b""
    assert [r.method for r in origin.seen] == ["GET"]


def test_head_miss_goes_to_the_origin_and_does_not_answer_a_get(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/h", answer(clock, headers={"Cache-Control": "max-age=60"}, body=b"y" * 50))
    head = edge.request("HEAD", "/h")
    assert (head.status_code, head.headers["x-cache"], head.content) == (200, MISS, b"")
    assert head.headers["content-length"] == "50"
    second_head = edge.request("HEAD", "/h")
    assert second_head.headers["x-cache"] == HIT
    get = edge.get("/h")
    assert (get.headers["x-cache"], get.content) == (MISS, b"y" * 50)  # a stored HEAD has no body
    assert [r.method for r in origin.seen] == ["HEAD", "GET"]
    assert edge.request("HEAD", "/h").headers["x-cache"] == HIT
    assert len(origin.seen) == 2


# --------------------------------------------------------------------------- Vary, cookies, keys


def test_vary_stores_one_variant_per_value(lane: Lane) -> None:
    edge, origin, clock = lane
    def respond(seen: SeenRequest) -> Scripted:
        lang = seen.header("accept-language") or "none"
        return answer(clock, headers={"Cache-Control": "max-age=60", "Vary": "Accept-Language"}, body=lang.encode())(seen)

    origin.script("/vary", respond)
    en = edge.get("/vary", {"Accept-Language": "en"})
    assert (en.headers["x-cache"], en.content) == (MISS, b"en")
    assert "accept-language" in en.headers["vary"].lower()  # forwarded header names stay in Vary
    fr = edge.get("/vary", {"Accept-Language": "fr"})
    assert (fr.headers["x-cache"], fr.content) == (MISS, b"fr")
    en2 = edge.get("/vary", {"Accept-Language": "en"})
    assert (en2.headers["x-cache"], en2.content) == (HIT, b"en")
    fr2 = edge.get("/vary", {"Accept-Language": "fr"})
    assert (fr2.headers["x-cache"], fr2.content) == (HIT, b"fr")
    assert origin.count("/vary") == 2


def test_vary_star_is_never_reused(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/star", counter_body(clock, {"Cache-Control": "max-age=60", "Vary": "*"}))
    bodies = [edge.get("/star") for _ in range(3)]
    assert [r.headers["x-cache"] for r in bodies] == [MISS, MISS, MISS]
    assert [r.content for r in bodies] == [b"v1", b"v2", b"v3"]


def test_set_cookie_removed_when_cookies_are_not_forwarded(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory('cache_policy = "short"\norigin_request_policy = "Managed-CORS-S3Origin"')
    origin.script("/c", answer(clock, headers={"Cache-Control": "max-age=60", "Set-Cookie": "session=abc"}))
    miss = edge.get("/c", {"Cookie": "session=viewer"})
    assert miss.headers["x-cache"] == MISS
    assert "set-cookie" not in miss.headers
    hit = edge.get("/c")
    assert hit.headers["x-cache"] == HIT
    assert "set-cookie" not in hit.headers
    assert origin.seen[0].header("cookie") is None  # and the viewer's cookie was not forwarded


def test_set_cookie_stored_when_cookies_are_forwarded(lane: Lane) -> None:
    edge, origin, clock = lane
    # No origin request policy: edgeproxy forwards all cookies (a listed deviation).
    origin.script("/c", answer(clock, headers={"Cache-Control": "max-age=60", "Set-Cookie": "session=abc"}))
    assert edge.get("/c", {"Cookie": "a=1"}).headers["set-cookie"] == "session=abc"
    hit = edge.get("/c")
    assert (hit.headers["x-cache"], hit.headers.get("set-cookie")) == (HIT, "session=abc")
    assert origin.seen[0].header("cookie") == "a=1"
    # ... unless the origin says no-cache="Set-Cookie"
    origin.script("/nc", answer(clock, headers={"Cache-Control": 'max-age=60, no-cache="Set-Cookie"', "Set-Cookie": "s=1"}))
    assert edge.get("/nc").headers["set-cookie"] == "s=1"
    hit = edge.get("/nc")
    assert hit.headers["x-cache"] == HIT
    assert "set-cookie" not in hit.headers


KEYED = """
[cache_policies.keyed]
default_ttl = 60
headers = ["X-Version"]
cookies = ["session"]
query_strings = ["v"]

[origin_request_policies.extra]
headers = ["X-Extra"]
cookies = "none"
query_strings = ["utm"]
"""


def test_cache_key_and_what_the_origin_receives(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory('cache_policy = "keyed"\norigin_request_policy = "extra"', extra=KEYED)
    origin.script("/k", counter_body(clock, {"Cache-Control": "max-age=60"}))
    base = {"X-Version": "1", "X-Extra": "e", "X-Other": "o", "Cookie": "session=s1; other=o1"}
    first = edge.request("GET", "/k?v=1&utm=a&junk=j", base)
    assert (first.headers["x-cache"], first.content) == (MISS, b"v1")
    seen = origin.seen[-1]
    assert seen.query == "v=1&utm=a"  # the key's query string plus the policy's; junk dropped
    assert seen.header("x-version") == "1"
    assert seen.header("x-extra") == "e"
    assert seen.header("x-other") is None
    assert seen.header("cookie") == "session=s1"  # only the keyed cookie
    # Not in the key: the origin request policy's items and anything else.
    for query, headers in [
        ("v=1&utm=b", base),
        ("v=1&junk=zz", base),
        ("v=1", {**base, "X-Extra": "other", "X-Other": "x"}),
        ("v=1", {**base, "Cookie": "session=s1; other=o2"}),
    ]:
        hit = edge.request("GET", f"/k?{query}", headers)
        assert (hit.headers["x-cache"], hit.content) == (HIT, b"v1"), (query, headers)
    # In the key: each change is a new object.
    for n, (query, headers) in enumerate(
        [
            ("v=2", base),
            ("v=1", {**base, "X-Version": "2"}),
            ("v=1", {**base, "Cookie": "session=s2"}),
        ],
        start=2,
    ):
        miss = edge.request("GET", f"/k?{query}", headers)
        assert (miss.headers["x-cache"], miss.content) == (MISS, f"v{n}".encode()), (query, headers)
    assert origin.count("/k") == 4


def test_no_origin_request_policy_forwards_everything_but_host(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/f", answer(clock, headers={"Cache-Control": "max-age=60"}))
    edge.request("GET", "/f?a=1&b=2", {"X-Anything": "1", "Cookie": "z=1; a=2", "Accept-Language": "de"})
    seen = origin.seen[-1]
    assert seen.query == "a=1&b=2"
    assert seen.header("x-anything") == "1"
    assert seen.header("accept-language") == "de"
    assert seen.header("cookie") == "a=2; z=1"  # CloudFront sorts forwarded cookies by name
    assert seen.header("host") == f"127.0.0.1:{origin.port}"
    # ... but only the path is in the key (the short policy keys on nothing else)
    hit = edge.request("GET", "/f?a=9", {"X-Anything": "2", "Cookie": "z=2"})
    assert hit.headers["x-cache"] == HIT


def test_managed_policies_by_name(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    behaviors = """
[[behaviors]]
path_pattern = "/optimized/*"
origin = "app"
cache_policy = "Managed-CachingOptimized"
origin_request_policy = "Managed-UserAgentRefererHeaders"

[[behaviors]]
path_pattern = "/disabled/*"
origin = "app"
cache_policy = "Managed-CachingDisabled"
origin_request_policy = "Managed-AllViewerExceptHostHeader"

[[behaviors]]
path_pattern = "/unnamed/*"
origin = "app"
"""
    edge = edge_factory(behavior=behaviors)
    # CachingOptimized: min 1, default 86400, max 31536000; nothing but the path in the key.
    origin.script("/optimized/a", answer(clock, headers={}))
    assert edge.request("GET", "/optimized/a?q=1", {"User-Agent": "UA", "Referer": "R", "X-No": "1", "Cookie": "c=1"}).headers["x-cache"] == MISS
    seen = origin.seen[-1]
    assert (seen.header("user-agent"), seen.header("referer")) == ("UA", "R")
    assert (seen.header("x-no"), seen.header("cookie"), seen.query) == (None, None, "")
    clock.advance(86399)
    assert edge.get("/optimized/a?q=2").headers["x-cache"] == HIT
    clock.advance(2)
    assert edge.get("/optimized/a").headers["x-cache"] == MISS
    # min_ttl 1: even no-store is kept for a second
    origin.script("/optimized/ns", counter_body(clock, {"Cache-Control": "no-store"}))
    assert edge.get("/optimized/ns").content == b"v1"
    assert edge.get("/optimized/ns").headers["x-cache"] == HIT
    clock.advance(1.5)
    assert edge.get("/optimized/ns").content == b"v2"
    # CachingDisabled (named, or by default): nothing stored, whatever the origin says
    for path in ("/disabled/a", "/unnamed/a"):
        origin.script(path, counter_body(clock, {"Cache-Control": "max-age=600"}))
        responses = [edge.get(path) for _ in range(2)]
        assert [r.headers["x-cache"] for r in responses] == [MISS, MISS]
        assert [r.content for r in responses] == [b"v1", b"v2"]
    assert origin.seen[-1].header("host") == f"127.0.0.1:{origin.port}"


# --------------------------------------------------------------------------- revalidation and stale


def validating_origin(clock: FakeClock, validator: str, value: str, *, max_age: int = 10) -> Callable[[SeenRequest], Scripted]:
    """200 with a validator; 304 (with a new max-age and X-Refresh header) when it matches."""
    conditional = "if-none-match" if validator == "ETag" else "if-modified-since"

    def respond(seen: SeenRequest) -> Scripted:
        if seen.header(conditional) == value:
            return answer(clock, 304, {"Cache-Control": "max-age=20", "X-Refresh": "yes", validator: value}, b"")(seen)
        return answer(
            clock, headers={"Cache-Control": f"max-age={max_age}", validator: value, "Content-Type": "text/plain"}, body=b"original"
        )(seen)

    return respond


@pytest.mark.parametrize(("validator", "value"), [("ETag", '"v1"'), ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")])
def test_expired_object_revalidated_with_a_304_is_a_refresh_hit(
    lane: Lane, validator: str, value: str
) -> None:
    edge, origin, clock = lane
    origin.script("/r", validating_origin(clock, validator, value))
    assert edge.get("/r").headers["x-cache"] == MISS
    clock.advance(11)
    refreshed = edge.get("/r")
    assert refreshed.status_code == 200
    assert refreshed.headers["x-cache"] == REFRESH_HIT
    assert refreshed.content == b"original"
    assert refreshed.headers["content-length"] == "8"
    assert refreshed.headers["x-refresh"] == "yes"  # the 304's fields are merged into the stored ones
    assert refreshed.headers["cache-control"] == "max-age=20"
    assert origin.seen[-1].header("if-none-match" if validator == "ETag" else "if-modified-since") == value
    clock.advance(19)  # fresh for the 304's max-age=20 from the refresh
    hit = edge.get("/r")
    assert (hit.headers["x-cache"], hit.headers["age"], hit.headers["x-refresh"]) == (HIT, "19", "yes")
    assert origin.count("/r") == 2


def test_expired_object_replaced_when_the_origin_answers_200(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/r", counter_body(clock, {"Cache-Control": "max-age=10", "ETag": '"x"'}))
    assert edge.get("/r").content == b"v1"
    clock.advance(11)
    second = edge.get("/r")
    assert (second.headers["x-cache"], second.content) == (MISS, b"v2")
    assert origin.seen[-1].header("if-none-match") == '"x"'
    assert edge.get("/r").content == b"v2"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_expired_object_served_stale_when_the_origin_fails(lane: Lane, status: int) -> None:
    edge, origin, clock = lane
    origin.script("/s", answer(clock, headers={"Cache-Control": "max-age=10"}, body=b"good"))
    assert edge.get("/s").content == b"good"
    clock.advance(11)
    origin.script("/s", answer(clock, status, {}, b"broken"))
    stale = edge.get("/s")
    assert (stale.status_code, stale.headers["x-cache"], stale.content) == (200, HIT, b"good")
    assert origin.count("/s") == 2
    # CloudFront keeps serving it for the error-caching minimum TTL (10 s) without asking again
    clock.advance(9)
    assert edge.get("/s").content == b"good"
    assert origin.count("/s") == 2
    clock.advance(2)
    assert edge.get("/s").content == b"good"
    assert origin.count("/s") == 3


def test_expired_object_served_stale_when_the_origin_is_unreachable(proxy_factory, client: httpx.Client, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    own = ScriptableOrigin().start()
    own.script("/s", answer(clock, headers={"Cache-Control": "max-age=10"}, body=b"good"))
    edge = Edge(proxy_factory(simple_config(own.url, extra=POLICIES, default='cache_policy = "short"'), clock=clock), client)
    try:
        assert edge.get("/s").headers["x-cache"] == MISS
    finally:
        own.stop()
    clock.advance(11)
    stale = edge.get("/s")
    assert (stale.status_code, stale.headers["x-cache"], stale.content) == (200, HIT, b"good")
    gone = edge.get("/never-stored")
    assert (gone.status_code, gone.headers["x-cache"]) == (502, ERROR)


def test_origin_4xx_on_an_expired_object_is_returned(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/gone", answer(clock, headers={"Cache-Control": "max-age=10"}, body=b"good"))
    edge.get("/gone")
    clock.advance(11)
    origin.script("/gone", answer(clock, 404, {}, b"not here"))
    response = edge.get("/gone")
    assert (response.status_code, response.headers["x-cache"], response.content) == (404, ERROR, b"not here")


def test_stale_while_revalidate_serves_stale_and_refreshes_once(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/swr", counter_body(clock, {"Cache-Control": "max-age=10, stale-while-revalidate=30"}, delay_s=0.2))
    assert edge.get("/swr").content == b"v1"
    clock.advance(15)
    stale = [edge.get("/swr") for _ in range(3)]  # answered at once from the stale object
    assert (stale[0].headers["x-cache"], stale[0].content, stale[0].headers["age"]) == (HIT, b"v1", "15")
    assert all(r.headers["x-cache"] == HIT for r in stale)
    wait_for(lambda: edge.get("/swr").content == b"v2")
    assert origin.count("/swr") == 2  # one background refresh for the three stale answers
    fresh = edge.get("/swr")
    assert (fresh.headers["x-cache"], fresh.content, fresh.headers["age"]) == (HIT, b"v2", "0")


def test_stale_while_revalidate_window_ends(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/swr", counter_body(clock, {"Cache-Control": "max-age=10, stale-while-revalidate=30"}))
    edge.get("/swr")
    clock.advance(41)  # past max-age + stale-while-revalidate: a normal (blocking) refresh
    late = edge.get("/swr")
    assert (late.headers["x-cache"], late.content) == (MISS, b"v2")


def test_stale_if_error_window(lane: Lane) -> None:
    edge, origin, clock = lane
    for path in ("/inside", "/outside"):
        origin.script(path, answer(clock, headers={"Cache-Control": "max-age=10, stale-if-error=5"}, body=b"good"))
        edge.get(path)
    clock.advance(12)  # 2 s stale: inside the 5 s window
    origin.script("/inside", answer(clock, 500, {}, b"broken"))
    inside = edge.get("/inside")
    assert (inside.status_code, inside.headers["x-cache"], inside.content) == (200, HIT, b"good")
    clock.advance(5)  # /outside is 7 s stale: past its window
    origin.script("/outside", answer(clock, 500, {}, b"broken"))
    outside = edge.get("/outside")
    assert (outside.status_code, outside.headers["x-cache"], outside.content) == (500, ERROR, b"broken")


def test_stale_if_error_zero_never_serves_stale(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/sie0", answer(clock, headers={"Cache-Control": "max-age=10, stale-if-error=0"}, body=b"good"))
    edge.get("/sie0")
    clock.advance(11)
    origin.script("/sie0", answer(clock, 503, {}, b"down"))
    assert edge.get("/sie0").status_code == 503


@pytest.mark.parametrize("directive", ["must-revalidate", "proxy-revalidate"])
def test_must_revalidate_blocks_stale(lane: Lane, directive: str) -> None:
    edge, origin, clock = lane
    origin.script("/mr", answer(clock, headers={"Cache-Control": f"max-age=10, {directive}"}, body=b"good"))
    edge.get("/mr")
    clock.advance(11)
    origin.script("/mr", answer(clock, 502, {}, b"bad gateway"))
    response = edge.get("/mr")
    assert (response.status_code, response.headers["x-cache"], response.content) == (502, ERROR, b"bad gateway")


# --------------------------------------------------------------------------- error caching


@pytest.mark.parametrize("status", [404, 414, 500, 501, 502, 503, 504])
def test_errors_cached_for_error_caching_min_ttl(lane: Lane, status: int) -> None:
    edge, origin, clock = lane
    origin.script("/e", counter_body(clock, {}, status=status))
    first = edge.get("/e")
    assert (first.status_code, first.headers["x-cache"], first.content) == (status, ERROR, b"v1")
    clock.advance(9)
    cached = edge.get("/e")
    assert (cached.status_code, cached.headers["x-cache"], cached.content) == (status, ERROR, b"v1")
    assert cached.headers["age"] == "9"
    clock.advance(2)
    assert edge.get("/e").content == b"v2"
    assert origin.count("/e") == 2


def test_error_cached_for_the_origin_max_age_when_longer(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/e", counter_body(clock, {"Cache-Control": "max-age=60"}, status=404))
    edge.get("/e")
    clock.advance(59)
    assert edge.get("/e").content == b"v1"
    clock.advance(2)
    assert edge.get("/e").content == b"v2"


def test_error_cached_at_least_error_caching_min_ttl_despite_a_shorter_max_age(
    lane: Lane
) -> None:
    edge, origin, clock = lane
    origin.script("/e", counter_body(clock, {"Cache-Control": "max-age=2"}, status=503))
    edge.get("/e")
    clock.advance(9)
    assert edge.get("/e").content == b"v1"


def test_error_caching_min_ttl_per_behavior(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory('cache_policy = "short"\nerror_caching_min_ttl = 0')
    origin.script("/e", counter_body(clock, {}, status=404))
    assert [edge.get("/e").content for _ in range(2)] == [b"v1", b"v2"]
    edge30 = edge_factory('cache_policy = "short"\nerror_caching_min_ttl = 30')
    origin.script("/e30", counter_body(clock, {}, status=500))
    edge30.get("/e30")
    clock.advance(29)
    assert edge30.get("/e30").content == b"v1"


@pytest.mark.parametrize("status", [400, 403, 405, 412, 415])
def test_some_errors_cached_only_with_max_age(lane: Lane, status: int) -> None:
    edge, origin, clock = lane
    origin.script("/plain", counter_body(clock, {}, status=status))
    assert [edge.get("/plain").content for _ in range(2)] == [b"v1", b"v2"]
    origin.script("/maxage", counter_body(clock, {"Cache-Control": "max-age=30"}, status=status))
    first, second = edge.get("/maxage"), edge.get("/maxage")
    assert (second.status_code, second.headers["x-cache"], second.content) == (status, ERROR, b"v1")
    assert first.headers["x-cache"] == ERROR


def test_other_errors_not_cached(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/418", counter_body(clock, {"Cache-Control": "max-age=60"}, status=418))
    assert [edge.get("/418").content for _ in range(2)] == [b"v1", b"v2"]
    origin.script("/416", counter_body(clock, {"Cache-Control": "max-age=60"}, status=416))
    assert [edge.get("/416").content for _ in range(2)] == [b"v1", b"v2"]


CUSTOM_ERRORS = """
[[behaviors]]
path_pattern = "/errors/*"
origin = "app"
cache_policy = "short"
"""


def test_custom_error_response_page_code_and_min_ttl(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory(
        'cache_policy = "short"\n'
        'custom_error_responses = [{ status = 404, page = "/errors/404.html", response_code = 200, min_ttl = 5 },'
        ' { status = 503, page = "/errors/503.html", response_code = 503 }, { status = 416, page = "/errors/416.html", response_code = 416 }]',
        behavior=CUSTOM_ERRORS,
    )
    origin.script("/missing", counter_body(clock, {"Content-Type": "text/plain"}, status=404))
    origin.script("/errors/404.html", answer(clock, headers={"Content-Type": "text/html", "Cache-Control": "max-age=600"}, body=b"<h1>nope</h1>"))
    page = edge.get("/missing")
    assert page.status_code == 200  # response_code
    assert page.content == b"<h1>nope</h1>"
    assert page.headers["content-type"] == "text/html"
    assert page.headers["content-length"] == str(len(b"<h1>nope</h1>"))
    assert page.headers["x-cache"] == ERROR
    clock.advance(4)  # the 404 is cached for the custom min_ttl 5 (not error_caching_min_ttl 10)
    assert edge.get("/missing").content == b"<h1>nope</h1>"
    assert origin.count("/missing") == 1
    clock.advance(2)
    assert edge.get("/missing").status_code == 200
    assert origin.count("/missing") == 2
    assert origin.count("/errors/404.html") == 1  # the page itself is cached by its own behavior
    # The same status, another body
    origin.script("/down", answer(clock, 503, {}, b"down"))
    origin.script("/errors/503.html", answer(clock, headers={"Cache-Control": "max-age=600"}, body=b"maintenance"))
    down = edge.get("/down")
    assert (down.status_code, down.content, down.headers["x-cache"]) == (503, b"maintenance", ERROR)
    # 416 is never cached, page or not
    origin.script("/range", counter_body(clock, {}, status=416))
    origin.script("/errors/416.html", answer(clock, headers={"Cache-Control": "max-age=600"}, body=b"bad range"))
    assert [edge.get("/range").status_code for _ in range(2)] == [416, 416]
    assert origin.count("/range") == 2


def test_custom_error_page_that_fails_returns_the_original_error(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory(
        'cache_policy = "short"\ncustom_error_responses = [{ status = 500, page = "/errors/500.html", response_code = 200 }]',
        behavior=CUSTOM_ERRORS,
    )
    origin.script("/boom", answer(clock, 500, {}, b"origin error"))
    origin.script("/errors/500.html", answer(clock, 404, {}, b"no page"))
    response = edge.get("/boom")
    assert (response.status_code, response.content) == (500, b"origin error")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_unsafe_methods_invalidate_the_uri(lane: Lane, method: str) -> None:
    edge, origin, clock = lane
    def respond(seen: SeenRequest) -> Scripted:
        if seen.method != "GET":
            return answer(clock, 200 if seen.path == "/u" else 500, {}, b"done")(seen)
        return answer(clock, headers={"Cache-Control": "max-age=600"}, body=f"get{origin.count(seen.path)}".encode())(seen)

    origin.script("/u", respond)
    origin.script("/kept", respond)
    for path in ("/u", "/kept"):
        assert edge.get(path).content == b"get1"
        assert edge.get(path).headers["x-cache"] == HIT
        assert edge.request(method, path, content=b"data").headers["x-cache"] in (MISS, ERROR)
    after = edge.get("/u")
    assert (after.headers["x-cache"], after.content) == (MISS, b"get3")
    kept = edge.get("/kept")  # an unsafe request that failed (500) invalidates nothing
    assert (kept.headers["x-cache"], kept.content) == (HIT, b"get1")


# --------------------------------------------------------------------------- request collapsing


def concurrent_gets(url: str, n: int, headers: dict[str, str] | None = None) -> list[httpx.Response]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: _SHARED.get(url, headers=headers), range(n)))


def inflight(edge: Edge) -> dict:  # type: ignore[type-arg]
    """The distribution's fetches in flight by key (a synchronisation point for tests)."""
    return edge.proxy.services.distribution._inflight  # type: ignore[no-any-return]


def test_concurrent_misses_collapse_into_one_origin_request(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/slow", counter_body(clock, {"Cache-Control": "max-age=60", "Content-Type": "text/plain"}, delay_s=0.3))
    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(edge.get, "/slow")
        wait_for(lambda: origin.count("/slow") == 1)
        followers = concurrent_gets(edge.url + "/slow", 6)
        first = leader.result()
    assert (first.status_code, first.headers["x-cache"], first.content) == (200, MISS, b"v1")
    assert [(r.status_code, r.headers["x-cache"], r.content) for r in followers] == [(200, HIT, b"v1")] * 6
    assert all(r.headers["content-length"] == "2" for r in followers)
    assert origin.count("/slow") == 1


def test_collapsed_followers_of_an_error_share_it(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/slow404", counter_body(clock, {}, status=404, delay_s=0.3))
    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(edge.get, "/slow404")
        wait_for(lambda: origin.count("/slow404") == 1)
        followers = concurrent_gets(edge.url + "/slow404", 4)
        assert leader.result().status_code == 404
    assert [(r.status_code, r.headers["x-cache"], r.content) for r in followers] == [(404, ERROR, b"v1")] * 4
    assert origin.count("/slow404") == 1


def test_collapsed_followers_of_another_vary_variant_fetch_their_own(lane: Lane) -> None:
    edge, origin, clock = lane
    def respond(seen: SeenRequest) -> Scripted:
        lang = (seen.header("accept-language") or "-").encode()
        return answer(clock, headers={"Cache-Control": "max-age=60", "Vary": "Accept-Language"}, body=lang, delay_s=0.3)(seen)

    origin.script("/lang", respond)
    with ThreadPoolExecutor(4) as pool:
        leader = pool.submit(edge.get, "/lang", {"Accept-Language": "en"})
        wait_for(lambda: origin.count("/lang") == 1)
        same = pool.submit(edge.get, "/lang", {"Accept-Language": "en"})
        other = [pool.submit(edge.get, "/lang", {"Accept-Language": "fr"}) for _ in range(2)]
        assert leader.result().content == b"en"
        assert (same.result().headers["x-cache"], same.result().content) == (HIT, b"en")
        assert [f.result().content for f in other] == [b"fr", b"fr"]
    assert edge.get("/lang", {"Accept-Language": "fr"}).headers["x-cache"] == HIT


def test_uncacheable_responses_are_not_shared(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/private", counter_body(clock, {"Cache-Control": "private"}, delay_s=0.2))
    responses = concurrent_gets(edge.url + "/private", 4)
    assert sorted(r.content for r in responses) == [b"v1", b"v2", b"v3", b"v4"]  # each got its own
    assert all(r.headers["x-cache"] == MISS for r in responses)
    assert origin.count("/private") == 4


@pytest.mark.parametrize(
    ("default", "extra"),
    [
        ('cache_policy = "Managed-CachingDisabled"', ""),
        ('cache_policy = "short"\norigin_request_policy = "Managed-AllViewer"', ""),  # all viewer headers
        ('cache_policy = "cookies"', '[cache_policies.cookies]\ndefault_ttl = 60\ncookies = "all"\n'),
    ],
    ids=["caching-disabled", "all-headers-forwarded", "cookies-forwarded"],
)
def test_no_collapsing_when_disabled(edge_factory, origin: ScriptableOrigin, clock: FakeClock, default: str, extra: str) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory(default, extra=extra)
    arrivals: list[float] = []

    def respond(seen: SeenRequest) -> Scripted:
        arrivals.append(time.monotonic())
        return answer(clock, headers={"Cache-Control": "max-age=60"}, body=f"v{len(arrivals)}".encode(), delay_s=0.3)(seen)

    origin.script("/nc", respond)
    responses = concurrent_gets(edge.url + "/nc", 4)
    assert sorted(r.content for r in responses) == [b"v1", b"v2", b"v3", b"v4"]
    assert origin.count("/nc") == 4
    assert max(arrivals) - min(arrivals) < 0.28  # all went to the origin at once, none waited for another


def read_head_and_some_body(sock: socket.socket, want: int) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def start_raw_get(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def test_leader_viewer_leaving_mid_body_still_serves_followers(edge: Edge, origin: ScriptableOrigin, clock: FakeClock) -> None:
    body = bytes(range(256)) * 80  # 20,480 bytes in 20 slow chunks
    origin.script("/big", answer(clock, headers={"Cache-Control": "max-age=60"}, body=body, chunks=20, chunk_delay_s=0.015))
    leader = start_raw_get(edge.proxy.port, "/big")
    try:
        wait_for(lambda: origin.count("/big") == 1)
        with ThreadPoolExecutor(3) as pool:
            followers = [pool.submit(edge.get, "/big") for _ in range(3)]
            wait_for(lambda: sum(f.followers for f in inflight(edge).values()) == 3)
            head = read_head_and_some_body(leader, 1)
            assert head.startswith(b"HTTP/1.1 200")
            leader.close()  # the leader's viewer goes away mid-body
            results = [f.result() for f in followers]
    finally:
        leader.close()
    assert [(r.status_code, r.headers["x-cache"]) for r in results] == [(200, HIT)] * 3
    assert all(r.content == body for r in results)
    again = edge.get("/big")
    assert (again.headers["x-cache"], again.content) == (HIT, body)
    assert origin.count("/big") == 1


def test_response_to_a_viewer_that_left_alone_is_not_stored(edge: Edge, origin: ScriptableOrigin, clock: FakeClock) -> None:
    body = b"z" * 20000  # 10 chunks: asgi.py watches for a viewer leaving from the second chunk on
    origin.script("/left", answer(clock, headers={"Cache-Control": "max-age=60"}, body=body, chunks=10, chunk_delay_s=0.03))
    leader = start_raw_get(edge.proxy.port, "/left")
    head = read_head_and_some_body(leader, 1)
    assert head.startswith(b"HTTP/1.1 200")
    leader.close()
    wait_for(lambda: not inflight(edge))
    after = edge.get("/left")
    assert (after.headers["x-cache"], after.content) == (MISS, body)
    assert origin.count("/left") == 2


# --------------------------------------------------------------------------- storage


def test_cache_stays_within_max_bytes(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory(extra="[cache]\nmax_bytes = 100000\nmax_object_bytes = 20000\n")
    for i in range(30):
        origin.script(f"/o{i}", answer(clock, headers={"Cache-Control": "max-age=600"}, body=bytes([65 + i % 26]) * 8000))
        assert edge.get(f"/o{i}").content == bytes([65 + i % 26]) * 8000
        assert edge.stats().bytes <= 100000
    stats = edge.stats()
    assert stats.evictions > 0
    assert 8 <= stats.objects < 30
    assert edge.get("/o29").headers["x-cache"] == HIT  # the most recent ones stay
    first = edge.get("/o0")  # the oldest went first (LRU)
    assert (first.headers["x-cache"], first.content) == (MISS, b"A" * 8000)
    assert edge.stats().bytes <= 100000


def test_bytes_buffered_in_flight_stay_within_max_bytes(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    """Three concurrent 40 KB misses against max_bytes 100 KB: the third cannot be buffered
    for the cache beside the other two, so it streams through unstored (no eviction needed)."""
    edge = edge_factory(extra="[cache]\nmax_bytes = 100000\nmax_object_bytes = 60000\n")
    body = b"i" * 40000
    paths = ["/if1", "/if2", "/if3"]
    for path in paths:
        origin.script(path, answer(clock, headers={"Cache-Control": "max-age=600"}, body=body, chunks=2, chunk_delay_s=0.3))
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(_SHARED.get, edge.url + path) for path in paths]
        responses = [f.result() for f in futures]
    assert [(r.status_code, r.content == body) for r in responses] == [(200, True)] * 3
    cache = edge.proxy.services.cache
    assert cache.inflight.used == 0
    assert cache.inflight.peak <= 100000
    stats = edge.stats()
    assert (stats.objects, stats.evictions) == (2, 0)


def test_evicted_objects_are_freed_without_waiting_for_the_garbage_collector(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    """Memory stays near max_bytes under load only if nothing on the miss path keeps a stored
    object alive in a reference cycle: with the cyclic GC off, evicted objects must be gone."""
    edge = edge_factory(extra="[cache]\nmax_bytes = 60000\nmax_object_bytes = 20000\n")
    for i in range(30):
        origin.script(f"/gc{i}", answer(clock, headers={"Cache-Control": "max-age=600"}, body=b"gc-test" * 1500))
    edge.get("/gc0")
    gc.collect()
    gc.disable()
    try:
        for i in range(1, 30):
            assert edge.get(f"/gc{i}").headers["x-cache"] == MISS
        alive = sum(1 for o in gc.get_objects() if type(o) is StoredResponse and o.body == b"gc-test" * 1500)
    finally:
        gc.enable()
    stats = edge.stats()
    assert stats.evictions >= 20
    assert alive <= stats.objects + 2, (alive, stats.objects)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_objects_over_max_object_bytes_stream_through_uncached(
    edge_factory, origin: ScriptableOrigin, clock: FakeClock, declared: bool  # type: ignore[no-untyped-def]
) -> None:
    edge = edge_factory(extra="[cache]\nmax_bytes = 1000000\nmax_object_bytes = 20000\n")
    body = b"q" * 30000
    origin.script("/large", answer(clock, headers={"Cache-Control": "max-age=600"}, body=body, chunks=1 if declared else 5))
    for _ in range(2):
        response = edge.get("/large")
        assert (response.status_code, response.headers["x-cache"], response.content) == (200, MISS, body)
    assert origin.count("/large") == 2
    assert edge.stats().objects == 0


def test_body_cut_off_mid_transfer_is_never_stored(lane: Lane) -> None:
    edge, origin, clock = lane
    body = b"c" * 5000
    origin.script("/cut", answer(clock, headers={"Cache-Control": "max-age=600"}, body=body, cut_after=1000))
    with pytest.raises(httpx.HTTPError):  # the viewer connection is aborted, no fake status
        edge.get("/cut").read()
    origin.script("/cut", answer(clock, headers={"Cache-Control": "max-age=600"}, body=body))
    whole = edge.get("/cut")
    assert (whole.headers["x-cache"], whole.content) == (MISS, body)
    assert origin.count("/cut") == 2
    assert edge.get("/cut").headers["x-cache"] == HIT


def test_body_cut_off_with_a_range_request_is_not_stored(lane: Lane) -> None:
    edge, origin, clock = lane
    body = b"r" * 5000
    origin.script("/cutr", answer(clock, headers={"Cache-Control": "max-age=600"}, body=body, cut_after=1000))
    failed = edge.get("/cutr", {"Range": "bytes=0-9"})
    assert failed.status_code == 502
    assert failed.headers["x-cache"] == ERROR
    origin.script("/cutr", answer(clock, headers={"Cache-Control": "max-age=600"}, body=body))
    assert edge.get("/cutr").headers["x-cache"] == MISS
    assert edge.proxy.services.cache.inflight.used == 0  # what the cut body had buffered is given back


BODY = bytes(range(256)) * 4  # 1,024 bytes


def test_range_answered_from_a_stored_object(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/file", answer(clock, headers={"Cache-Control": "max-age=600", "Content-Type": "application/octet-stream"}, body=BODY))
    edge.get("/file")
    part = edge.get("/file", {"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.headers["x-cache"] == HIT
    assert part.headers["content-range"] == "bytes 10-19/1024"
    assert part.headers["content-length"] == "10"
    assert part.content == BODY[10:20]
    suffix = edge.get("/file", {"Range": "bytes=-4"})
    assert (suffix.status_code, suffix.headers["content-range"], suffix.content) == (206, "bytes 1020-1023/1024", BODY[-4:])
    unsatisfiable = edge.get("/file", {"Range": "bytes=5000-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == "bytes */1024"
    ignored = edge.get("/file", {"Range": "bytes=oops"})
    assert (ignored.status_code, ignored.content) == (200, BODY)
    assert origin.count("/file") == 1


def test_range_on_a_miss_fetches_the_whole_object(lane: Lane) -> None:
    edge, origin, clock = lane
    origin.script("/file", answer(clock, headers={"Cache-Control": "max-age=600"}, body=BODY))
    part = edge.get("/file", {"Range": "bytes=100-199"})
    assert (part.status_code, part.headers["x-cache"]) == (206, MISS)
    assert part.headers["content-range"] == "bytes 100-199/1024"
    assert part.content == BODY[100:200]
    assert origin.seen[-1].header("range") is None  # the origin was asked for the whole object
    whole = edge.get("/file")
    assert (whole.status_code, whole.headers["x-cache"], whole.content) == (200, HIT, BODY)
    assert origin.count("/file") == 1


def test_range_goes_to_the_origin_when_not_caching(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory('cache_policy = "Managed-CachingDisabled"')

    def respond(seen: SeenRequest) -> Scripted:
        assert seen.header("range") == "bytes=0-3"
        return answer(clock, 206, {"Content-Range": "bytes 0-3/1024"}, BODY[:4])(seen)

    origin.script("/file", respond)
    part = edge.get("/file", {"Range": "bytes=0-3"})
    assert (part.status_code, part.headers["content-range"], part.content) == (206, "bytes 0-3/1024", BODY[:4])


@pytest.mark.parametrize(
    ("headers", "extra"),
    [({"Cache-Control": "private"}, ""), ({"Cache-Control": "max-age=600"}, "[cache]\nmax_object_bytes = 1000\n")],
    ids=["not-storable", "over-max-object-bytes"],
)
def test_range_goes_to_the_origin_when_the_object_cannot_be_stored(
    edge_factory, origin: ScriptableOrigin, clock: FakeClock, headers: dict[str, str], extra: str  # type: ignore[no-untyped-def]
) -> None:
    edge = edge_factory(extra=extra)

    def respond(seen: SeenRequest) -> Scripted:
        if seen.header("range") == "bytes=0-3":
            return answer(clock, 206, {**headers, "Content-Range": "bytes 0-3/1024"}, BODY[:4])(seen)
        return answer(clock, 200, headers, BODY)(seen)

    origin.script("/file", respond)
    part = edge.get("/file", {"Range": "bytes=0-3"})
    assert (part.status_code, part.headers["content-range"], part.content) == (206, "bytes 0-3/1024", BODY[:4])
    assert origin.seen[-1].header("range") == "bytes=0-3"
    assert edge.stats().objects == 0


def test_viewer_conditionals_on_a_fresh_object_answered_304(lane: Lane) -> None:
    edge, origin, clock = lane
    last_modified = "Mon, 01 Jan 2024 00:00:00 GMT"
    origin.script("/cond", answer(clock, headers={"Cache-Control": "max-age=600", "ETag": '"e1"', "Last-Modified": last_modified}, body=BODY))
    edge.get("/cond")
    for headers in ({"If-None-Match": '"e1"'}, {"If-None-Match": 'W/"e1", "e2"'}, {"If-Modified-Since": last_modified}):
        not_modified = edge.get("/cond", headers)
        assert not_modified.status_code == 304, headers
        assert not_modified.headers["x-cache"] == HIT
        assert not_modified.headers["etag"] == '"e1"'
        assert not_modified.content == b""
    for headers in ({"If-None-Match": '"other"'}, {"If-Modified-Since": "Sun, 31 Dec 2023 00:00:00 GMT"}):
        full = edge.get("/cond", headers)
        assert (full.status_code, full.content) == (200, BODY), headers
    assert origin.count("/cond") == 1
    assert all(r.header("if-none-match") is None for r in origin.seen)


# --------------------------------------------------------------------------- compression


def text(size: int) -> bytes:
    return (b"edge cache compression test " * (size // 28 + 1))[:size]


def test_compression_br_preferred_gzip_and_identity_variants(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory('cache_policy = "short"\ncompress = true')
    body = text(5000)
    origin.script("/page", answer(clock, headers={"Cache-Control": "max-age=600", "Content-Type": "text/html; charset=utf-8", "ETag": '"p1"'}, body=body))
    br, raw = edge.raw("/page", {"Accept-Encoding": "gzip, deflate, br"})
    assert (br.status_code, br.headers["x-cache"], br.headers["content-encoding"]) == (200, MISS, "br")
    assert int(br.headers["content-length"]) == len(raw) < len(body)
    assert brotli.decompress(raw) == body
    assert "accept-encoding" in br.headers["vary"].lower()
    assert br.headers["etag"] == 'W/"p1"'
    assert origin.seen[-1].header("accept-encoding") == "br,gzip"  # normalised toward the origin
    gz, raw = edge.raw("/page", {"Accept-Encoding": "gzip"})
    assert (gz.headers["x-cache"], gz.headers["content-encoding"]) == (MISS, "gzip")
    assert gzip.decompress(raw) == body
    assert origin.seen[-1].header("accept-encoding") == "gzip"
    plain, raw = edge.raw("/page", {"Accept-Encoding": "identity"})
    assert plain.headers["x-cache"] == MISS
    assert "content-encoding" not in plain.headers
    assert raw == body
    assert origin.seen[-1].header("accept-encoding") == "identity"
    assert origin.count("/page") == 3
    # Each is its own stored variant, found again by the normalised value
    for accept, coding in (("br;q=0.5, gzip", "br"), ("gzip, deflate", "gzip"), ("deflate", None), ("gzip;q=0", None)):
        again, raw = edge.raw("/page", {"Accept-Encoding": accept})
        assert again.headers["x-cache"] == HIT, accept
        assert again.headers.get("content-encoding") == coding, accept
        assert again.headers["content-length"] == str(len(raw))
    assert origin.count("/page") == 3
    # CloudFront's normalised values are "br,gzip", "gzip" and "br": a br-only viewer is a fourth key
    br_only, raw = edge.raw("/page", {"Accept-Encoding": "br"})
    assert (br_only.headers["x-cache"], br_only.headers["content-encoding"]) == (MISS, "br")
    assert brotli.decompress(raw) == body
    assert origin.seen[-1].header("accept-encoding") == "br"


@pytest.mark.parametrize(
    ("size", "content_type", "status", "extra", "compressed"),
    [
        (999, "text/plain", 200, {}, False),
        (1000, "text/plain", 200, {}, True),
        (10_000_000, "application/javascript", 200, {}, True),
        (10_000_001, "text/plain", 200, {}, False),
        (5000, "application/json", 200, {}, True),
        (5000, "image/svg+xml", 200, {}, True),
        (5000, "image/png", 200, {}, False),
        (5000, "application/octet-stream", 200, {}, False),
        (5000, "text/css", 404, {}, True),
        (5000, "text/css", 403, {"Cache-Control": "max-age=60"}, True),
        (5000, "text/css", 500, {}, False),
        (5000, "text/css", 200, {"Content-Encoding": "identity"}, False),
        (5000, "text/css", 200, {"Cache-Control": "max-age=60, no-transform"}, False),
    ],
)
def test_compression_rules(
    lane: Lane, size: int, content_type: str, status: int, extra: dict[str, str], compressed: bool
) -> None:
    edge, origin, clock = lane  # /gz/...: compress = true, max_object_bytes 10 MiB
    headers = {"Content-Type": content_type, **extra}
    if size > 100_000:
        origin.script("/gz/c", answer(clock, status, headers, total_bytes=size))
    else:
        origin.script("/gz/c", answer(clock, status, headers, text(size)))
    response, raw = edge.raw("/gz/c", {"Accept-Encoding": "gzip"})
    assert response.status_code == status
    if compressed:
        assert response.headers["content-encoding"] == "gzip"
        assert len(gzip.decompress(raw)) == size
    else:
        assert response.headers.get("content-encoding", "identity") == extra.get("Content-Encoding", "identity")
        assert len(raw) == size
    assert response.headers["content-length"] == str(len(raw))


def test_http10_viewer_never_gets_compressed_content(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory('cache_policy = "short"\ncompress = true')
    body = text(5000)
    origin.script("/old", answer(clock, headers={"Content-Type": "text/html"}, body=body))
    with socket.create_connection(("127.0.0.1", edge.proxy.port), timeout=10) as sock:
        sock.sendall(b"GET /old HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")
    assert b"content-encoding" not in head.lower()
    assert payload == body


def test_uncompressed_objects_policy_compresses_nothing(edge_factory, origin: ScriptableOrigin, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    edge = edge_factory('cache_policy = "Managed-CachingOptimizedForUncompressedObjects"\ncompress = true')
    origin.script("/u", answer(clock, headers={"Content-Type": "text/html"}, body=text(5000)))
    response, raw = edge.raw("/u", {"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in response.headers
    assert raw == text(5000)
    assert edge.get("/u", {"Accept-Encoding": "identity"}).headers["x-cache"] == HIT  # one object for all
