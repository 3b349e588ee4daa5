"""Ranges cut from stored bodies, and CloudFront edge compression."""

from __future__ import annotations

import gzip

import brotli
import pytest

from edgeproxy.cache import (
    RangeSpec,
    Unsatisfiable,
    choose_encoding,
    compress_body,
    compressed_headers,
    content_range,
    format_http_date,
    if_range_matches,
    parse_range,
    serve_range,
)

BODY = b"0123456789A"


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    "value,length,expected",
    [
        ("bytes=0-1", 11, RangeSpec(((0, 1),))),
        ("bytes=1-", 11, RangeSpec(((1, 10),))),
        ("bytes=-1", 11, RangeSpec(((10, 10),))),
        ("bytes=-50", 11, RangeSpec(((0, 10),))),
        ("bytes=5-500", 11, RangeSpec(((5, 10),))),
        ("BYTES = 2-3", 11, None),  # the unit token is followed directly by "="
        ("Bytes=2-3", 11, RangeSpec(((2, 3),))),
        ("bytes=0-1, 5-6", 11, RangeSpec(((0, 1), (5, 6)))),
        ("bytes=5-6,0-1", 11, None),  # CloudFront: not ascending -> whole object
        ("bytes=0-5,3-8", 11, None),  # overlapping -> whole object
        ("bytes=0-1,20-30", 11, RangeSpec(((0, 1),))),  # unsatisfiable member dropped
        ("bytes=20-30", 11, Unsatisfiable(11)),
        ("bytes=-0", 11, Unsatisfiable(11)),
        ("bytes=0-0", 0, Unsatisfiable(0)),
        ("bytes=3-2", 11, None),
        ("bytes=a-b", 11, None),
        ("bytes=-", 11, None),
        ("bytes=1", 11, None),
        ("items=0-1", 11, None),
        ("bytes=", 11, None),
        ("bytes=--1", 11, None),
        ("bytes=0-1,", 11, RangeSpec(((0, 1),))),
    ],
)
def test_parse_range(value, length, expected):
    assert parse_range(value, length) == expected


def test_single_range_response():
    r = serve_range("GET", [("range", "bytes=-1")], 200, [("content-type", "text/plain"), ("content-length", "11")], BODY)
    assert r.status == 206 and r.body == b"A"
    assert ("content-range", "bytes 10-10/11") in r.headers
    assert ("content-length", "1") in r.headers
    assert ("content-type", "text/plain") in r.headers


def test_multiple_ranges_are_multipart():
    r = serve_range("GET", [("range", "bytes=0-1,5-6")], 200, [("content-type", "text/plain")], BODY, boundary="XYZ")
    assert r.status == 206
    assert ("content-type", "multipart/byteranges; boundary=XYZ") in r.headers
    assert b"Content-Range: bytes 0-1/11\r\n\r\n01\r\n--XYZ" in r.body
    assert b"Content-Range: bytes 5-6/11\r\n\r\n56\r\n--XYZ--" in r.body
    assert ("content-length", str(len(r.body))) in r.headers


def test_unsatisfiable_is_416():
    r = serve_range("GET", [("range", "bytes=50-")], 200, [("content-length", "11")], BODY)
    assert r.status == 416 and r.body == b""
    assert ("content-range", "bytes */11") in r.headers


@pytest.mark.parametrize(
    "method,status,request_headers",
    [
        ("HEAD", 200, [("range", "bytes=0-1")]),
        ("GET", 404, [("range", "bytes=0-1")]),
        ("GET", 200, []),
        ("GET", 200, [("range", "bytes=0-1"), ("range", "bytes=2-3")]),
        ("GET", 200, [("range", "garbage")]),
        ("GET", 200, [("range", "bytes=0-1"), ("if-range", '"old"')]),
    ],
)
def test_range_ignored(method, status, request_headers):
    assert serve_range(method, request_headers, status, [("etag", '"new"')], BODY) is None


def test_if_range():
    lm = format_http_date(1_600_000_000)
    headers = [("etag", '"v1"'), ("last-modified", lm)]
    assert if_range_matches('"v1"', headers)
    assert not if_range_matches('W/"v1"', headers)  # weak never matches
    assert not if_range_matches('"v1"', [("etag", 'W/"v1"')])
    assert if_range_matches(lm, headers)
    assert not if_range_matches(format_http_date(1_600_000_001), headers)
    assert not if_range_matches("garbage", headers)
    r = serve_range("GET", [("range", "bytes=0-1"), ("if-range", '"v1"')], 200, headers, BODY)
    assert r is not None and r.body == b"01"


def test_content_range():
    assert content_range(0, 1, 11) == "bytes 0-1/11"


# --------------------------------------------------------------------------- compression

TEXT = [("content-type", "text/html; charset=utf-8"), ("content-length", "5000")]


@pytest.mark.parametrize(
    "accept,version,status,headers,length,cacheable,expected",
    [
        ("gzip, deflate, br", "1.1", 200, TEXT, None, True, "br"),
        ("gzip", "1.1", 200, TEXT, None, True, "gzip"),
        ("br;q=0, gzip", "1.1", 200, TEXT, None, True, "gzip"),
        ("deflate", "1.1", 200, TEXT, None, True, None),
        (None, "1.1", 200, TEXT, None, True, None),
        ("gzip", "1.0", 200, TEXT, None, True, None),
        ("gzip", "2", 404, TEXT, None, True, "gzip"),
        ("gzip", "1.1", 403, TEXT, None, True, "gzip"),
        ("gzip", "1.1", 500, TEXT, None, True, None),
        ("gzip", "1.1", 206, TEXT, None, True, None),
        ("gzip", "1.1", 200, TEXT + [("content-encoding", "identity")], None, True, None),
        ("gzip", "1.1", 200, [("content-type", "image/png"), ("content-length", "5000")], None, True, None),
        ("gzip", "1.1", 200, [("content-type", "application/json"), ("content-length", "999")], None, True, None),
        ("gzip", "1.1", 200, [("content-type", "application/json"), ("content-length", "1000")], None, True, "gzip"),
        ("gzip", "1.1", 200, [("content-type", "text/css"), ("content-length", "10000001")], None, True, None),
        ("gzip", "1.1", 200, [("content-type", "text/css")], None, True, None),  # no Content-Length
        ("gzip", "1.1", 200, [("content-type", "text/css")], 5000, True, "gzip"),  # caller knows the length
        ("gzip", "1.1", 200, TEXT, None, False, None),  # TTL 0
        ("gzip", "1.1", 200, TEXT + [("cache-control", "no-transform")], None, True, None),
        ("gzip", "1.1", 200, [("content-type", "IMAGE/SVG+XML"), ("content-length", "5000")], None, True, "gzip"),
    ],
)
def test_choose_encoding(accept, version, status, headers, length, cacheable, expected):
    assert choose_encoding(accept, version, status, headers, length, cacheable=cacheable) == expected


def test_compress_roundtrip_and_headers():
    body = b"hello world " * 200
    gz = compress_body(body, "gzip")
    assert gzip.decompress(gz) == body and gz == compress_body(body, "gzip")  # deterministic
    br = compress_body(body, "br")
    assert brotli.decompress(br) == body
    with pytest.raises(ValueError):
        compress_body(body, "zstd")
    headers = compressed_headers(
        [("content-type", "text/plain"), ("content-length", str(len(body))), ("etag", '"abc"'), ("vary", "Origin")],
        "br",
        len(br),
    )
    assert ("content-encoding", "br") in headers
    assert ("content-length", str(len(br))) in headers
    assert ("etag", 'W/"abc"') in headers
    assert [v for k, v in headers if k == "vary"] == ["Origin", "Accept-Encoding"]


@pytest.mark.parametrize("etag,expected", [('"a"', 'W/"a"'), ('W/"a"', 'W/"a"'), ("a", None)])
def test_etag_conversion(etag, expected):
    headers = compressed_headers([("etag", etag), ("vary", "accept-encoding")], "gzip", 10)
    assert [v for k, v in headers if k == "etag"] == ([expected] if expected else [])
    assert [v for k, v in headers if k == "vary"] == ["accept-encoding"]  # not added twice
