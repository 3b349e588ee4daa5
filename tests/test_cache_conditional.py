"""Revalidation with the origin (304 merge) and viewer conditionals."""

from __future__ import annotations

import pytest

from edgeproxy.cache import (
    NotStored,
    build_stored,
    conditional_request_headers,
    format_http_date,
    merge_not_modified,
    not_modified_headers,
    revalidated,
    storage_decision,
    viewer_not_modified,
)
from edgeproxy.cache.compress import compress_body
from edgeproxy.config_types import CachePolicyConfig

T0 = 1_700_000_000.0
CF = CachePolicyConfig("cf")
LM = format_http_date(T0 - 86400)


def stored_with(headers, body=b"hello", encoding=None, method="GET"):
    d = storage_decision(method, 200, headers, CF, 10, None, T0, T0)
    assert d, d
    return build_stored(d, body, encoding=encoding)


def test_conditional_request_headers_from_validators():
    assert conditional_request_headers((("etag", '"v1"'), ("last-modified", LM))) == [
        ("if-none-match", '"v1"'),
        ("if-modified-since", LM),
    ]
    assert conditional_request_headers((("etag", "W/\"v1\""),)) == [("if-none-match", 'W/"v1"')]
    assert conditional_request_headers((("etag", "abc"),)) == [("if-none-match", '"abc"')]  # quoted
    assert conditional_request_headers((("last-modified", "garbage"),)) == []
    assert conditional_request_headers(()) == []


def test_merge_not_modified_updates_all_but_framing():
    stored = [
        ("content-type", "text/plain"),
        ("content-length", "5"),
        ("x-a", "1"),
        ("set-cookie", "a=b"),
        ("set-cookie", "c=d"),
        ("cache-control", "max-age=1"),
        ("etag", '"v1"'),
    ]
    r304 = [
        ("cache-control", "max-age=3600"),
        ("content-length", "0"),
        ("x-a", "2"),
        ("set-cookie", "a=c"),
        ("x-new", "n"),
        ("transfer-encoding", "chunked"),
        ("content-type", "text/plain;charset=utf-8"),
    ]
    assert merge_not_modified(stored, r304) == [
        ("content-type", "text/plain;charset=utf-8"),
        ("content-length", "5"),
        ("x-a", "2"),
        ("set-cookie", "a=c"),
        ("cache-control", "max-age=3600"),
        ("etag", '"v1"'),
        ("x-new", "n"),
    ]


def test_304_refresh_restarts_the_clock_with_new_freshness():
    stored = stored_with([("date", format_http_date(T0)), ("cache-control", "max-age=1"), ("etag", '"v1"'), ("x-h", "A")])
    assert not stored.is_fresh(T0 + 100)
    t = T0 + 100
    refreshed = revalidated(
        stored,
        [("date", format_http_date(t)), ("cache-control", "max-age=3600"), ("x-h", "B")],
        CF,
        10,
        None,
        t - 0.5,
        t,
    )
    assert not isinstance(refreshed, NotStored)
    assert refreshed.is_fresh(t + 3599) and not refreshed.is_fresh(t + 3601)
    assert refreshed.header("x-h") == "B"
    assert refreshed.body == b"hello"
    assert stored.header("x-h") == "A"  # the old object is unchanged


def test_304_with_no_store_is_not_stored():
    stored = stored_with([("cache-control", "max-age=1"), ("etag", '"v1"')])
    result = revalidated(stored, [("cache-control", "no-store")], CF, 10, None, T0 + 5, T0 + 5)
    assert isinstance(result, NotStored)


def test_304_keeps_edge_compression_framing():
    body = compress_body(b"x" * 2000, "gzip")
    stored = stored_with([("cache-control", "max-age=1"), ("etag", '"v1"'), ("content-type", "text/plain")], body, "gzip")
    assert stored.header("etag") == 'W/"v1"'
    refreshed = revalidated(stored, [("cache-control", "max-age=60"), ("etag", '"v1"'), ("content-encoding", "identity")], CF, 10, None, T0 + 5, T0 + 5)
    assert refreshed.header("etag") == 'W/"v1"'
    assert refreshed.header("content-encoding") == "gzip"
    assert refreshed.header("content-length") == str(len(body))
    assert refreshed.encoding == "gzip"


@pytest.mark.parametrize(
    "request_headers,stored_headers,expected",
    [
        ([("if-none-match", '"abc"')], [("etag", '"abc"')], True),
        ([("if-none-match", 'W/"abc"')], [("etag", '"abc"')], True),  # weak comparison
        ([("if-none-match", '"abc"')], [("etag", 'W/"abc"')], True),
        ([("if-none-match", '"x", "abc", "y"')], [("etag", '"abc"')], True),
        ([("if-none-match", '"x"'), ("if-none-match", '"abc"')], [("etag", '"abc"')], True),
        ([("if-none-match", '"x"')], [("etag", '"abc"')], False),
        ([("if-none-match", "*")], [("etag", '"abc"')], True),
        ([("if-none-match", "*")], [], True),
        ([("if-none-match", '"abc"')], [], False),
        ([("if-none-match", "abc")], [("etag", '"abc"')], True),  # lenient with unquoted tags
        ([("if-none-match", '"abc,def"')], [("etag", '"abc,def"')], True),
        # If-Modified-Since only without If-None-Match
        ([("if-modified-since", format_http_date(T0))], [("last-modified", LM)], True),
        ([("if-modified-since", format_http_date(T0 - 2 * 86400))], [("last-modified", LM)], False),
        ([("if-modified-since", LM)], [("last-modified", LM)], True),
        ([("if-modified-since", "garbage")], [("last-modified", LM)], False),
        ([("if-modified-since", format_http_date(T0))], [], False),
        ([("if-none-match", '"x"'), ("if-modified-since", format_http_date(T0))], [("etag", '"abc"'), ("last-modified", LM)], False),
        ([], [("etag", '"abc"')], False),
    ],
)
def test_viewer_not_modified(request_headers, stored_headers, expected):
    assert viewer_not_modified("GET", request_headers, stored_headers) is expected


def test_viewer_conditionals_only_for_get_head_and_2xx():
    headers = [("if-none-match", '"abc"')]
    assert viewer_not_modified("HEAD", headers, [("etag", '"abc"')])
    assert not viewer_not_modified("POST", headers, [("etag", '"abc"')])
    assert not viewer_not_modified("GET", headers, [("etag", '"abc"')], status=404)


def test_not_modified_headers_drop_representation_metadata():
    headers = [
        ("content-type", "text/html"),
        ("content-length", "10"),
        ("etag", '"a"'),
        ("cache-control", "max-age=60"),
        ("vary", "Accept-Encoding"),
        ("content-encoding", "gzip"),
        ("x-extra", "1"),
        ("content-location", "/x"),
    ]
    assert not_modified_headers(headers) == [
        ("etag", '"a"'),
        ("cache-control", "max-age=60"),
        ("vary", "Accept-Encoding"),
        ("x-extra", "1"),
        ("content-location", "/x"),
    ]


def test_distribution_flow_miss_hit_refresh_and_stale_on_error():
    """The calls distribution.py makes, in order, on one clock."""
    from edgeproxy.cache import ResponseCache, cache_key, choose_encoding, compress_body

    clock = [T0]
    cache = ResponseCache(10**6, 10**5, timer=lambda: clock[0])
    viewer = [("accept-encoding", "gzip, br"), ("user-agent", "t")]
    key = cache_key("GET", "/page", "", viewer, CF, compress=True)
    assert cache.lookup(key, "GET", viewer) is None  # miss

    origin_headers = [
        ("date", format_http_date(clock[0])),
        ("cache-control", "max-age=60"),
        ("etag", '"v1"'),
        ("content-type", "text/html"),
        ("content-length", "3000"),
    ]
    decision = storage_decision("GET", 200, origin_headers, CF, 10, None, clock[0], clock[0])
    encoding = choose_encoding(key.accept_encoding, "1.1", 200, origin_headers, cacheable=bool(decision))
    assert encoding == "br"
    body = compress_body(b"<p>hi</p>" * 333 + b"xxx", encoding)
    assert cache.put(key, viewer, build_stored(decision, body, reason="OK", encoding=encoding))

    clock[0] += 30
    hit = cache.lookup(key, "GET", [("accept-encoding", "br,gzip")])
    assert hit is not None and hit.is_fresh(clock[0]) and hit.age_header(clock[0]) == "30"
    assert viewer_not_modified("GET", [("if-none-match", 'W/"v1"')], hit.headers)

    clock[0] += 60  # expired: refresh with the validators
    stale = cache.lookup(key, "GET", viewer)
    assert not stale.is_fresh(clock[0])
    assert conditional_request_headers(stale.headers) == [("if-none-match", 'W/"v1"')]
    refreshed = revalidated(stale, [("date", format_http_date(clock[0])), ("cache-control", "max-age=60")], CF, 10, None, clock[0], clock[0])
    assert cache.put(key, viewer, refreshed)
    assert cache.lookup(key, "GET", viewer).is_fresh(clock[0] + 59)

    clock[0] += 120  # expired again; the origin answers 503: serve stale for the error TTL
    again = cache.lookup(key, "GET", viewer)
    assert again.can_serve_stale_on_error(clock[0])
    cache.put(key, viewer, again.extended(clock[0], 10))
    assert cache.lookup(key, "GET", viewer).is_fresh(clock[0] + 9)
    assert not cache.lookup(key, "GET", viewer).is_fresh(clock[0] + 10)
