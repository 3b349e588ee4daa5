"""The proxy foundation against a real origin: forwarding, headers, streaming, failures, groups."""

from __future__ import annotations

import hashlib
import os
import socket

import httpx
import pytest

from tests.conftest import simple_config
from tests.servers import Scripted


def test_get_passes_through_with_cloudfront_headers(origin, proxy_factory, client):
    origin.script("/hello", Scripted(headers={"Content-Type": "text/plain", "X-Origin": "yes"}, body=b"hi there"))
    proxy = proxy_factory(simple_config(origin.url))
    r = client.get(proxy.url + "/hello")
    assert r.status_code == 200
    assert r.content == b"hi there"
    assert r.headers["x-origin"] == "yes"
    assert r.headers["x-cache"] == "Miss from cloudfront"
    assert r.headers["via"] == "1.1 d111111abcdef8.cloudfront.net (CloudFront)"
    assert r.headers["x-amz-cf-pop"] == "LOCAL50-C1"
    request_id = r.headers["x-amz-cf-id"]
    assert len(request_id) == 56 and request_id.endswith("==")
    seen = origin.seen[-1]
    assert seen.header("x-amz-cf-id") == request_id
    assert seen.header("via") == "1.1 d111111abcdef8.cloudfront.net (CloudFront)"
    assert seen.header("x-forwarded-for") == "127.0.0.1"
    assert seen.header("host") == f"127.0.0.1:{origin.port}"
    second = client.get(proxy.url + "/hello")
    assert second.headers["x-amz-cf-id"] != request_id


def test_x_forwarded_for_appends_the_peer_and_cannot_be_forged(origin, proxy_factory, client):
    proxy = proxy_factory(simple_config(origin.url))
    client.get(proxy.url + "/", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})
    assert origin.seen[-1].header("x-forwarded-for") == "203.0.113.9, 198.51.100.1, 127.0.0.1"


def test_host_forwarding_option_and_custom_headers(origin, proxy_factory, client):
    config = f"""
[origins.app]
url = "{origin.url}/prefix"
forward_host = true
custom_headers = {{ "X-Origin-Verify" = "s3cret" }}

[default_behavior]
origin = "app"
"""
    proxy = proxy_factory(config)
    client.get(proxy.url + "/page", headers={"Host": "viewer.example"})
    seen = origin.seen[-1]
    assert seen.header("host") == "viewer.example"
    assert seen.header("x-origin-verify") == "s3cret"
    assert seen.path == "/prefix/page"


def test_hop_by_hop_and_always_dropped_headers_are_not_forwarded(origin, proxy_factory, client):
    origin.script(
        "/h",
        Scripted(headers=[("Connection", "X-Secret-Hop"), ("X-Secret-Hop", "1"), ("Keep-Alive", "timeout=5"), ("X-Kept", "1")]),
    )
    proxy = proxy_factory(simple_config(origin.url))
    r = client.get(
        proxy.url + "/h",
        headers={
            "Connection": "keep-alive, X-Viewer-Hop",
            "X-Viewer-Hop": "1",
            "X-Forwarded-Proto": "https",
            "X-Real-IP": "1.2.3.4",
            "Proxy-Authorization": "Basic eA==",
            "X-Edge-Thing": "1",
            "TE": "trailers",
            "X-Normal": "kept",
        },
    )
    seen = origin.seen[-1]
    names = {k.lower() for k, _ in seen.headers}
    for dropped in ("x-viewer-hop", "x-forwarded-proto", "x-real-ip", "proxy-authorization", "x-edge-thing", "te"):
        assert dropped not in names, dropped
    assert seen.header("x-normal") == "kept"
    assert "x-secret-hop" not in r.headers
    assert "keep-alive" not in r.headers
    assert r.headers["x-kept"] == "1"


def test_raw_path_and_query_string_are_byte_exact(origin, proxy_factory, client):
    proxy = proxy_factory(simple_config(origin.url))
    raw = "/a%2Fb/%7Euser/caf%C3%A9?b=2&a=%2f&&x=%E2%82%AC&flag"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(f"GET {raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    seen = origin.seen[-1]
    assert seen.path == "/a%2Fb/%7Euser/caf%C3%A9"
    assert seen.query == "b=2&a=%2f&&x=%E2%82%AC&flag"


def test_binary_bodies_are_byte_exact_both_ways(origin, proxy_factory, client):
    blob = os.urandom(300_000)
    origin.script("/bin", Scripted(headers={"Content-Type": "application/octet-stream"}, body=blob, chunks=7))
    proxy = proxy_factory(simple_config(origin.url))
    r = client.get(proxy.url + "/bin")
    assert r.content == blob
    upload = os.urandom(2_000_000)
    r = client.post(proxy.url + "/upload", content=upload, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200
    assert origin.seen[-1].body == upload
    assert origin.seen[-1].method == "POST"


def test_chunked_upload_streams_through(origin, proxy_factory, client):
    proxy = proxy_factory(simple_config(origin.url))
    parts = [os.urandom(100_000) for _ in range(10)]

    def gen():
        yield from parts

    r = client.put(proxy.url + "/stream", content=gen())
    assert r.status_code == 200
    assert origin.seen[-1].body == b"".join(parts)


def test_large_download_streams(origin, proxy_factory):
    size = 64 * 1024 * 1024
    origin.script("/big", Scripted(total_bytes=size, headers={"Content-Type": "application/octet-stream"}))
    proxy = proxy_factory(simple_config(origin.url))
    digest = hashlib.sha256()
    received = 0
    with httpx.stream("GET", proxy.url + "/big", timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-length"] == str(size)
        for chunk in r.iter_raw():
            received += len(chunk)
            digest.update(chunk)
    assert received == size
    assert digest.hexdigest() == hashlib.sha256(b"x" * size).hexdigest()


def test_origin_refused_is_502_cloudfront_page(proxy_factory, client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxy = proxy_factory(simple_config(f"http://127.0.0.1:{port}"))
    r = client.get(proxy.url + "/x")
    assert r.status_code == 502
    assert r.headers["x-cache"] == "Error from cloudfront"
    assert r.headers["server"] == "CloudFront"
    assert r.headers["content-type"] == "text/html"
    assert "Generated by cloudfront (CloudFront)" in r.text
    assert f"Request ID: {r.headers['x-amz-cf-id']}" in r.text
    assert "502 ERROR" in r.text


def test_origin_read_timeout_is_504(origin, proxy_factory, client):
    origin.script("/slow", Scripted(delay_s=2.5))
    config = f"""
[origins.app]
url = "{origin.url}"
read_timeout_s = 1

[default_behavior]
origin = "app"
"""
    proxy = proxy_factory(config)
    r = client.get(proxy.url + "/slow")
    assert r.status_code == 504
    assert r.headers["x-cache"] == "Error from cloudfront"
    assert "504 ERROR" in r.text
    # The proxy keeps serving others.
    assert client.get(proxy.url + "/fine").status_code == 200


def test_read_timeout_bounds_gaps_not_the_whole_transfer(origin, proxy_factory, client):
    origin.script("/drip", Scripted(body=b"a" * 40, chunks=4, chunk_delay_s=0.6))
    config = f"""
[origins.app]
url = "{origin.url}"
read_timeout_s = 1

[default_behavior]
origin = "app"
"""
    proxy = proxy_factory(config)
    r = client.get(proxy.url + "/drip")  # 2.4 s in all, no gap over 1 s
    assert r.status_code == 200
    assert r.content == b"a" * 40


def test_origin_failing_mid_body_aborts_the_viewer(origin, proxy_factory, client):
    origin.script("/cut", Scripted(body=b"z" * 100_000, cut_after=1000))
    proxy = proxy_factory(simple_config(origin.url))
    with pytest.raises(httpx.HTTPError):
        client.get(proxy.url + "/cut")
    assert client.get(proxy.url + "/ok").status_code == 200


def test_origin_group_fails_over_on_status_and_on_refused(origin, proxy_factory, client):
    from tests.servers import ScriptableOrigin

    secondary = ScriptableOrigin().start()
    try:
        origin.script("/flaky", Scripted(status=503, body=b"primary down"))
        secondary.script("/flaky", Scripted(body=b"from secondary"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        config = f"""
[origins.primary]
url = "{origin.url}"
[origins.secondary]
url = "{secondary.url}"
[origins.dead]
url = "http://127.0.0.1:{dead}"

[origin_groups.group]
members = ["primary", "secondary"]
[origin_groups.deadgroup]
members = ["dead", "secondary"]

[[behaviors]]
path_pattern = "/dead/*"
origin = "deadgroup"

[default_behavior]
origin = "group"
"""
        proxy = proxy_factory(config)
        r = client.get(proxy.url + "/flaky")
        assert r.status_code == 200 and r.content == b"from secondary"
        assert origin.count("/flaky") == 1 and secondary.count("/flaky") == 1
        # POST never fails over.
        r = client.post(proxy.url + "/flaky", content=b"x")
        assert r.status_code == 503
        assert secondary.count("/flaky") == 1
        r = client.get(proxy.url + "/dead/thing")
        assert r.status_code == 200
        assert secondary.count("/dead/thing") == 1
    finally:
        secondary.stop()


def test_behaviors_route_by_path_pattern_on_the_original_uri(origin, proxy_factory, client):
    from tests.servers import ScriptableOrigin

    other = ScriptableOrigin().start()
    try:
        config = f"""
[origins.main]
url = "{origin.url}"
[origins.images]
url = "{other.url}"

[[behaviors]]
path_pattern = "/img/*.png"
origin = "images"

[default_behavior]
origin = "main"
"""
        proxy = proxy_factory(config)
        client.get(proxy.url + "/img/a/b.png?size=2")
        client.get(proxy.url + "/img/a/b.PNG")
        assert other.count("/img/a/b.png") == 1
        assert origin.count("/img/a/b.PNG") == 1  # case-sensitive
    finally:
        other.stop()


def test_disallowed_method_and_get_with_body_are_403(origin, proxy_factory, client):
    proxy = proxy_factory(simple_config(origin.url, default='allowed_methods = ["GET", "HEAD"]'))
    r = client.post(proxy.url + "/x", content=b"data")
    assert r.status_code == 403
    assert r.headers["x-cache"] == "Error from cloudfront"
    r = client.request("GET", proxy.url + "/x", content=b"body")
    assert r.status_code == 403
    assert origin.count("/x") == 0


def test_head_request_has_no_body(origin, proxy_factory, client):
    origin.script("/h", Scripted(body=b"12345"))
    proxy = proxy_factory(simple_config(origin.url))
    r = client.head(proxy.url + "/h")
    assert r.status_code == 200
    assert r.content == b""
    assert origin.seen[-1].method == "HEAD"
