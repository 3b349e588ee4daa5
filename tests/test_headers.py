"""Header vocabulary: hop-by-hop, dropped-to-origin, disallowed and read-only names."""

from __future__ import annotations

import pytest

from edgeproxy.headers import (
    HOP_BY_HOP,
    READ_ONLY,
    connection_listed,
    is_disallowed,
    is_dropped_to_origin,
    strip_hop_by_hop,
    title_case,
)
from edgeproxy.types import Stage


def test_hop_by_hop_is_rfc_9110_list() -> None:
    assert HOP_BY_HOP == {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }


def test_connection_listed_reads_every_connection_header() -> None:
    headers = [("connection", "keep-alive, X-Private"), ("connection", " close ,,"), ("x-private", "1")]
    assert connection_listed(headers) == {"keep-alive", "x-private", "close"}


def test_strip_hop_by_hop_drops_fixed_and_listed_names_and_keeps_order() -> None:
    headers = [
        ("host", "a"),
        ("connection", "x-secret"),
        ("x-secret", "s"),
        ("transfer-encoding", "chunked"),
        ("accept", "*/*"),
        ("keep-alive", "timeout=5"),
        ("accept", "text/html"),
    ]
    assert strip_hop_by_hop(headers) == [("host", "a"), ("accept", "*/*"), ("accept", "text/html")]
    assert strip_hop_by_hop([("te", "trailers"), ("via", "1.1 x")]) == [("via", "1.1 x")]


@pytest.mark.parametrize(
    ("name", "dropped"),
    [
        ("expect", True),
        ("proxy-authorization", True),
        ("proxy-anything", True),
        ("te", True),
        ("trailer", True),
        ("upgrade", True),
        ("x-forwarded-proto", True),
        ("x-real-ip", True),
        ("x-edge-location", True),
        ("x-forwarded-for", False),
        ("accept", False),
        ("cookie", False),
    ],
)
def test_is_dropped_to_origin(name: str, dropped: bool) -> None:
    assert is_dropped_to_origin(name) is dropped


@pytest.mark.parametrize(
    "name",
    [
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "trailer",
        "upgrade",
        "x-accel-buffering",
        "x-accel-charset",
        "x-accel-limit-rate",
        "x-accel-redirect",
        "x-amz-cf-id",
        "x-amz-cf-pop",
        "x-amz-cf-anything",
        "x-amzn-auth",
        "x-amzn-cf-billing",
        "x-amzn-cf-id",
        "x-amzn-cf-xff",
        "x-amzn-errortype",
        "x-amzn-fle-profile",
        "x-amzn-header-count",
        "x-amzn-header-order",
        "x-amzn-lambda-integration-tag",
        "x-amzn-requestid",
        "x-cache",
        "x-edge-location",
        "x-forwarded-proto",
        "x-real-ip",
    ],
)
def test_disallowed_names(name: str) -> None:
    assert is_disallowed(name)


@pytest.mark.parametrize(
    "name",
    ["host", "via", "x-amzn-trace-id", "x-amz-meta-foo", "te", "transfer-encoding", "cloudfront-viewer-country", "x-cache-status"],
)
def test_allowed_names(name: str) -> None:
    # The current docs list X-Amzn-* names one by one (the 2021 docs had the X-Amzn-* prefix).
    assert not is_disallowed(name)


def test_read_only_per_stage() -> None:
    assert READ_ONLY[Stage.VIEWER_REQUEST] == {"content-length", "host", "transfer-encoding", "via"}
    assert READ_ONLY[Stage.ORIGIN_REQUEST] == {
        "accept-encoding",
        "content-length",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "transfer-encoding",
        "via",
    }
    assert READ_ONLY[Stage.ORIGIN_RESPONSE] == {"transfer-encoding", "via"}
    assert READ_ONLY[Stage.VIEWER_RESPONSE] == {"warning", "via"}


@pytest.mark.parametrize(
    ("name", "titled"),
    [
        ("user-agent", "User-Agent"),
        ("host", "Host"),
        ("x-amz-cf-id", "X-Amz-Cf-Id"),
        ("cloudfront-is-mobile-viewer", "Cloudfront-Is-Mobile-Viewer"),
        ("CONTENT-TYPE", "Content-Type"),
        ("etag", "Etag"),
        ("a--b", "A--B"),
    ],
)
def test_title_case(name: str, titled: str) -> None:
    assert title_case(name) == titled
    assert title_case(name) == titled  # cached path gives the same answer
