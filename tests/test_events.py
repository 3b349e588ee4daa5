"""Event shapes against the AWS docs' examples (spec §2) and results read back into models (§3).

Results travel through JSON as they do from a worker (`via_json`), so a handler's in-place
edits never touch the event the parent built.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest

from edgeproxy.errors import HookInvalidResult
from edgeproxy.events import (
    SAMPLE_REQUEST_ID,
    EventConfig,
    ExposedBody,
    RequestUpdate,
    apply_request_result,
    apply_response_result,
    origin_dict,
    request_event,
    response_event,
    sample_event,
    sample_origin,
    sample_origin_request,
    sample_request,
    sample_response,
)
from edgeproxy.models import CustomOrigin, EdgeRequest, EdgeResponse, RequestBody, S3Origin
from edgeproxy.types import Stage

RID = SAMPLE_REQUEST_ID
CONFIG = EventConfig("d111111abcdef8.cloudfront.net", "EDFDVBD6EXAMPLE")


def via_json(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def cf(event: dict[str, Any]) -> dict[str, Any]:
    return event["Records"][0]["cf"]


# The four examples of spec §2 (AWS docs), verbatim but for one thing: edgeproxy's header `key`s
# are Title-Case (ASGI lowercases names), so the viewer's `"key": "accept"` reads `"Accept"`.
VIEWER_REQUEST = """{"Records":[{"cf":{"config":{"distributionDomainName":"d111111abcdef8.cloudfront.net","distributionId":"EDFDVBD6EXAMPLE","eventType":"viewer-request","requestId":"RID"},
 "request":{"clientIp":"203.0.113.178","method":"GET","querystring":"","uri":"/","headers":{
  "host":[{"key":"Host","value":"d111111abcdef8.cloudfront.net"}],"user-agent":[{"key":"User-Agent","value":"curl/7.66.0"}],"accept":[{"key":"Accept","value":"*/*"}]}}}}]}"""

ORIGIN_REQUEST = """{"Records":[{"cf":{"config":{"distributionDomainName":"d111111abcdef8.cloudfront.net","distributionId":"EDFDVBD6EXAMPLE","eventType":"origin-request","requestId":"RID"},
 "request":{"clientIp":"203.0.113.178","method":"GET","querystring":"","uri":"/","headers":{
  "x-forwarded-for":[{"key":"X-Forwarded-For","value":"203.0.113.178"}],"user-agent":[{"key":"User-Agent","value":"Amazon CloudFront"}],
  "via":[{"key":"Via","value":"2.0 2afae0d44e2540f472c0635ab62c232b.cloudfront.net (CloudFront)"}],"host":[{"key":"Host","value":"example.org"}],
  "cache-control":[{"key":"Cache-Control","value":"no-cache, cf-no-cache"}]},
  "origin":{"custom":{"customHeaders":{},"domainName":"example.org","keepaliveTimeout":5,"path":"","port":443,"protocol":"https","readTimeout":30,"sslProtocols":["TLSv1","TLSv1.1","TLSv1.2"]}}}}}]}"""

ORIGIN_RESPONSE = """{"Records":[{"cf":{"config":{"distributionDomainName":"d111111abcdef8.cloudfront.net","distributionId":"EDFDVBD6EXAMPLE","eventType":"origin-response","requestId":"RID"},
 "request":{"clientIp":"203.0.113.178","method":"GET","querystring":"","uri":"/","headers":{
  "x-forwarded-for":[{"key":"X-Forwarded-For","value":"203.0.113.178"}],"user-agent":[{"key":"User-Agent","value":"Amazon CloudFront"}],
  "via":[{"key":"Via","value":"2.0 8f22423015641505b8c857a37450d6c0.cloudfront.net (CloudFront)"}],"host":[{"key":"Host","value":"example.org"}]},
  "origin":{"custom":{"customHeaders":{},"domainName":"example.org","keepaliveTimeout":5,"path":"","port":443,"protocol":"https","readTimeout":30,"sslProtocols":["TLSv1","TLSv1.1","TLSv1.2"]}}},
 "response":{"status":"200","statusDescription":"OK","headers":{
  "date":[{"key":"Date","value":"Mon, 13 Jan 2020 20:12:38 GMT"}],
  "content-type":[{"key":"Content-Type","value":"text/html; charset=utf-8"}],"content-length":[{"key":"Content-Length","value":"9593"}]}}}}]}"""

VIEWER_RESPONSE = """{"Records":[{"cf":{"config":{"distributionDomainName":"d111111abcdef8.cloudfront.net","distributionId":"EDFDVBD6EXAMPLE","eventType":"viewer-response","requestId":"RID"},
 "request":{"clientIp":"203.0.113.178","method":"GET","querystring":"","uri":"/","headers":{
  "host":[{"key":"Host","value":"d111111abcdef8.cloudfront.net"}],"user-agent":[{"key":"User-Agent","value":"curl/7.66.0"}],"accept":[{"key":"Accept","value":"*/*"}]}},
 "response":{"status":"200","statusDescription":"OK","headers":{
  "date":[{"key":"Date","value":"Mon, 13 Jan 2020 20:14:56 GMT"}],
  "age":[{"key":"Age","value":"2402"}],"content-type":[{"key":"Content-Type","value":"text/html; charset=utf-8"}],
  "content-length":[{"key":"Content-Length","value":"9593"}]}}}}]}"""


def expected(text: str) -> dict[str, Any]:
    return json.loads(text.replace('"RID"', f'"{RID}"'))


def viewer_request() -> EdgeRequest:
    return EdgeRequest(
        method="GET",
        uri="/",
        querystring="",
        headers=[("host", "d111111abcdef8.cloudfront.net"), ("user-agent", "curl/7.66.0"), ("accept", "*/*")],
        client_ip="203.0.113.178",
    )


def origin_request(via: str = "2afae0d44e2540f472c0635ab62c232b") -> EdgeRequest:
    return EdgeRequest(
        method="GET",
        uri="/",
        querystring="",
        headers=[
            ("x-forwarded-for", "203.0.113.178"),
            ("user-agent", "Amazon CloudFront"),
            ("via", f"2.0 {via}.cloudfront.net (CloudFront)"),
            ("host", "example.org"),
        ],
        client_ip="203.0.113.178",
    )


# --------------------------------------------------------------------------------------------
# Building events: the docs' examples, exactly


def test_viewer_request_event_matches_docs_example() -> None:
    event = request_event(Stage.VIEWER_REQUEST, viewer_request(), CONFIG, RID)
    assert event == expected(VIEWER_REQUEST)
    assert via_json(event) == event  # plain JSON types only


def test_origin_request_event_matches_docs_example() -> None:
    request = origin_request()
    request.headers.append(("cache-control", "no-cache, cf-no-cache"))
    event = request_event(Stage.ORIGIN_REQUEST, request, CONFIG, RID, origin=sample_origin())
    assert event == expected(ORIGIN_REQUEST)
    custom = cf(event)["request"]["origin"]["custom"]
    assert type(custom["readTimeout"]) is int and type(custom["keepaliveTimeout"]) is int


def test_origin_response_event_matches_docs_example() -> None:
    response = EdgeResponse(
        status=200,
        headers=[
            ("date", "Mon, 13 Jan 2020 20:12:38 GMT"),
            ("content-type", "text/html; charset=utf-8"),
            ("content-length", "9593"),
        ],
    )
    event = response_event(
        Stage.ORIGIN_RESPONSE, origin_request("8f22423015641505b8c857a37450d6c0"), response, CONFIG, RID, origin=sample_origin()
    )
    assert event == expected(ORIGIN_RESPONSE)


def test_viewer_response_event_matches_docs_example() -> None:
    response = EdgeResponse(
        status=200,
        headers=[
            ("date", "Mon, 13 Jan 2020 20:14:56 GMT"),
            ("age", "2402"),
            ("content-type", "text/html; charset=utf-8"),
            ("content-length", "9593"),
        ],
        reason="OK",
    )
    # An origin passed by mistake is not shown at a viewer stage.
    event = response_event(Stage.VIEWER_RESPONSE, viewer_request(), response, CONFIG, RID, origin=sample_origin())
    assert event == expected(VIEWER_RESPONSE)


def test_s3_origin_shape_matches_real_events() -> None:
    origin = S3Origin(domain_name="demo.s3.amazonaws.com", region="us-east-1", auth_method="origin-access-identity")
    assert origin_dict(origin) == {
        "s3": {
            "authMethod": "origin-access-identity",
            "customHeaders": {},
            "domainName": "demo.s3.amazonaws.com",
            "path": "",
            "region": "us-east-1",
        }
    }


def test_custom_origin_custom_headers_and_fractional_timeouts() -> None:
    origin = CustomOrigin(
        domain_name="example.com",
        port=8443,
        protocol="https",
        path="/custom_path",
        read_timeout_s=4.5,
        keepalive_timeout_s=5.0,
        custom_headers=(("my-origin-custom-header", "Test"),),
        ssl_protocols=("TLSv1", "TLSv1.1"),
    )
    assert origin_dict(origin) == {
        "custom": {
            "customHeaders": {"my-origin-custom-header": [{"key": "My-Origin-Custom-Header", "value": "Test"}]},
            "domainName": "example.com",
            "keepaliveTimeout": 5,
            "path": "/custom_path",
            "port": 8443,
            "protocol": "https",
            "readTimeout": 4.5,
            "sslProtocols": ["TLSv1", "TLSv1.1"],
        }
    }


def test_include_body_shape() -> None:
    event = request_event(
        Stage.VIEWER_REQUEST, viewer_request(), CONFIG, RID, body=ExposedBody(b'{"user":"x"}', truncated=False)
    )
    assert cf(event)["request"]["body"] == {
        "action": "read-only",
        "data": base64.b64encode(b'{"user":"x"}').decode(),
        "encoding": "base64",
        "inputTruncated": False,
    }
    truncated = request_event(Stage.VIEWER_REQUEST, viewer_request(), CONFIG, RID, body=ExposedBody(b"", True))
    assert cf(truncated)["request"]["body"]["inputTruncated"] is True


def test_repeated_headers_grouped_in_order_and_disallowed_hidden() -> None:
    request = viewer_request()
    request.headers[1:1] = [
        ("cookie", "a=1"),
        ("x-forwarded-proto", "https"),
        ("connection", "keep-alive"),
        ("cookie", "b=2"),
        ("x-amz-cf-id", "abc=="),
        ("x-edge-location", "x"),
        ("x-real-ip", "1.2.3.4"),
    ]
    headers = cf(request_event(Stage.VIEWER_REQUEST, request, CONFIG, RID))["request"]["headers"]
    assert list(headers) == ["host", "cookie", "user-agent", "accept"]
    assert headers["cookie"] == [{"key": "Cookie", "value": "a=1"}, {"key": "Cookie", "value": "b=2"}]


def test_response_headers_hide_disallowed_and_status_is_a_string() -> None:
    response = EdgeResponse(
        status=404,
        headers=[("x-cache", "Miss from cloudfront"), ("set-cookie", "a=1"), ("set-cookie", "b=2"), ("keep-alive", "timeout=5")],
    )
    shown = cf(response_event(Stage.ORIGIN_RESPONSE, origin_request(), response, CONFIG, RID))["response"]
    assert shown == {
        "status": "404",
        "statusDescription": "Not Found",
        "headers": {"set-cookie": [{"key": "Set-Cookie", "value": "a=1"}, {"key": "Set-Cookie", "value": "b=2"}]},
    }


@pytest.mark.parametrize(("status", "reason", "shown"), [(200, "", "OK"), (200, "Fine", "Fine"), (299, "", ""), (418, "", "I'm a Teapot")])
def test_status_description_is_the_reason_or_the_standard_phrase(status: int, reason: str, shown: str) -> None:
    event = response_event(Stage.VIEWER_RESPONSE, viewer_request(), EdgeResponse(status, [], reason=reason), CONFIG, RID)
    assert cf(event)["response"]["statusDescription"] == shown


def test_config_record() -> None:
    event = request_event(Stage.ORIGIN_REQUEST, origin_request(), EventConfig("dx.cloudfront.net", "E1"), "id==")
    assert cf(event)["config"] == {
        "distributionDomainName": "dx.cloudfront.net",
        "distributionId": "E1",
        "eventType": "origin-request",
        "requestId": "id==",
    }
    assert "origin" not in cf(event)["request"]  # none passed


def test_builders_refuse_the_wrong_stage_kind() -> None:
    with pytest.raises(ValueError):
        request_event(Stage.VIEWER_RESPONSE, viewer_request(), CONFIG, RID)
    with pytest.raises(ValueError):
        response_event(Stage.ORIGIN_REQUEST, viewer_request(), EdgeResponse(200, []), CONFIG, RID)
    event = request_event(Stage.VIEWER_REQUEST, viewer_request(), CONFIG, RID)
    with pytest.raises(ValueError):
        apply_request_result(Stage.ORIGIN_RESPONSE, event, {}, viewer_request(), None)
    with pytest.raises(ValueError):
        apply_response_result(Stage.VIEWER_REQUEST, event, {}, EdgeResponse(200, []))


# --------------------------------------------------------------------------------------------
# Samples (`edgeproxy events`)


def test_samples_are_realistic_for_every_stage() -> None:
    for stage in Stage:
        record = cf(sample_event(stage))
        request = record["request"]
        assert request["method"] == "GET" and request["uri"] == "/" and request["querystring"] == ""
        assert {"host", "user-agent"} <= set(request["headers"])
        assert ("origin" in request) is (not stage.is_viewer)
        assert ("response" in record) is (not stage.is_request)
        if not stage.is_viewer:
            assert request["origin"]["custom"]["domainName"] == "example.org"
            assert request["headers"]["host"] == [{"key": "Host", "value": "example.org"}]
            assert request["headers"]["user-agent"][0]["value"] == "Amazon CloudFront"
        if not stage.is_request:
            assert set(record["response"]["headers"]) == {"date", "content-type", "content-length"}


def test_sample_event_viewer_request_equals_the_docs_example() -> None:
    assert sample_event(Stage.VIEWER_REQUEST) == expected(VIEWER_REQUEST)


def test_sample_event_body_and_custom_values() -> None:
    request = sample_request(uri="/form", method="POST", querystring="a=1", headers=[("host", "h")], body=b"x=1")
    record = cf(sample_event(Stage.VIEWER_REQUEST, request, body=b"x=1"))
    assert record["request"]["method"] == "POST"
    assert record["request"]["body"]["data"] == base64.b64encode(b"x=1").decode()
    big = b"a" * (40 * 1024 + 1)
    record = cf(sample_event(Stage.VIEWER_REQUEST, sample_request(body=big), body=big))
    assert record["request"]["body"]["inputTruncated"] is True
    assert len(base64.b64decode(record["request"]["body"]["data"])) == 40 * 1024


def test_sample_response_date_uses_the_given_clock() -> None:
    response = sample_response(now=1578946358.0)
    assert ("date", "Mon, 13 Jan 2020 20:12:38 GMT") in response.headers
    assert ("content-length", str(len(response.body or b""))) in response.headers


def test_sample_origin_request_keeps_other_viewer_headers() -> None:
    viewer = sample_request(headers=[("host", "d.example"), ("accept", "*/*"), ("cookie", "a=1")])
    headers = sample_origin_request(viewer, sample_origin()).headers
    assert ("host", "example.org") in headers and ("cookie", "a=1") in headers
    assert all(name != "accept" for name, _ in headers)


# --------------------------------------------------------------------------------------------
# Applying results: pass-through and round trips


@pytest.mark.parametrize("stage", [Stage.VIEWER_REQUEST, Stage.ORIGIN_REQUEST])
def test_request_returned_unchanged_round_trips(stage: Stage) -> None:
    origin = sample_origin() if stage is Stage.ORIGIN_REQUEST else None
    request = sample_request(querystring="size=large&b=%20", headers=[("host", "h"), ("cookie", "a"), ("cookie", "b")])
    event = request_event(stage, request, CONFIG, RID, origin=origin)
    update = apply_request_result(stage, event, via_json(cf(event)["request"]), request, origin)
    assert isinstance(update, RequestUpdate)
    assert update.request.uri == request.uri
    assert update.request.querystring == request.querystring
    assert update.request.headers == request.headers
    assert update.request.body is request.body
    assert update.origin is origin  # the very object: local-only fields kept
    assert update.body is None


@pytest.mark.parametrize("stage", [Stage.ORIGIN_RESPONSE, Stage.VIEWER_RESPONSE])
def test_response_returned_unchanged_keeps_stream_and_close(stage: Stage) -> None:
    async def stream():  # pragma: no cover - never iterated
        yield b""

    closed: list[bool] = []
    body_stream = stream()
    response = EdgeResponse(200, [("content-type", "text/plain"), ("set-cookie", "a")], stream=body_stream, close=lambda: closed.append(True))
    event = response_event(stage, sample_request(), response, CONFIG, RID)
    out = apply_response_result(stage, event, via_json(cf(event)["response"]), response)
    assert (out.status, out.headers, out.reason) == (200, response.headers, "OK")
    assert out.stream is body_stream and out.body is None
    out.release()
    assert closed == [True]


def test_hidden_headers_survive_a_header_change() -> None:
    request = EdgeRequest(
        method="GET",
        uri="/",
        querystring="",
        headers=[("host", "h"), ("x-forwarded-proto", "https"), ("accept", "*/*"), ("x-amz-cf-id", "id==")],
        client_ip="192.0.2.1",
    )
    event = request_event(Stage.VIEWER_REQUEST, request, CONFIG, RID)
    result = via_json(cf(event)["request"])
    del result["headers"]["accept"]
    result["headers"]["x-new"] = [{"key": "X-New", "value": "1"}]
    update = apply_request_result(Stage.VIEWER_REQUEST, event, result, request, None)
    assert isinstance(update, RequestUpdate)
    assert update.request.headers == [("host", "h"), ("x-new", "1"), ("x-forwarded-proto", "https"), ("x-amz-cf-id", "id==")]
    assert request.headers[2] == ("accept", "*/*")  # the input is not changed


def test_missing_key_is_filled_and_names_are_lowercased() -> None:
    request = sample_request()
    event = request_event(Stage.VIEWER_REQUEST, request, CONFIG, RID)
    result = via_json(cf(event)["request"])
    result["headers"]["content-type"] = [{"value": "text/html;charset=UTF-8"}]
    result["headers"]["X-Frame-Options"] = [{"key": "X-Frame-Options", "value": "DENY"}]
    update = apply_request_result(Stage.VIEWER_REQUEST, event, result, request, None)
    assert isinstance(update, RequestUpdate)
    assert ("content-type", "text/html;charset=UTF-8") in update.request.headers
    assert ("x-frame-options", "DENY") in update.request.headers


def test_left_out_fields_keep_their_values() -> None:
    request = sample_request(querystring="a=1")
    event = request_event(Stage.VIEWER_REQUEST, request, CONFIG, RID)
    update = apply_request_result(Stage.VIEWER_REQUEST, event, {"uri": "/x"}, request, None)
    assert isinstance(update, RequestUpdate)
    assert (update.request.uri, update.request.querystring, update.request.headers) == ("/x", "a=1", request.headers)


def test_uri_and_querystring_changes_apply() -> None:
    request = sample_request(uri="/a", querystring="B=2&a=1")
    event = request_event(Stage.ORIGIN_REQUEST, request, CONFIG, RID, origin=sample_origin())
    result = via_json(cf(event)["request"])
    result.update(uri="/b/index.html", querystring="")
    update = apply_request_result(Stage.ORIGIN_REQUEST, event, result, request, sample_origin())
    assert isinstance(update, RequestUpdate)
    assert update.request.target == "/b/index.html"
    assert request.target == "/a?B=2&a=1"


# --------------------------------------------------------------------------------------------
# Request body (Include Body)


def body_event(stage: Stage, data: bytes = b"a=1&b=2") -> tuple[EdgeRequest, dict[str, Any]]:
    request = sample_request(method="POST", body=data)
    return request, request_event(stage, request, CONFIG, RID, body=ExposedBody(data, False))


@pytest.mark.parametrize(
    ("body", "replaced"),
    [
        ({"action": "replace", "encoding": "text", "data": "new=1"}, b"new=1"),
        ({"action": "replace", "encoding": "base64", "data": base64.b64encode(b"\x00\xff").decode()}, b"\x00\xff"),
        ({"action": "replace", "data": base64.b64encode(b"default is base64").decode()}, b"default is base64"),
        ({"action": "replace", "encoding": "text", "data": "h\u00e9"}, "h\u00e9".encode()),
        ({"action": "replace", "encoding": "text", "data": ""}, b""),
        ({"action": "read-only", "encoding": "text", "data": "ignored"}, None),
        ({"encoding": "text", "data": "ignored: read-only is the default"}, None),
    ],
)
def test_body_replacement(body: dict[str, Any], replaced: bytes | None) -> None:
    request, event = body_event(Stage.VIEWER_REQUEST)
    result = via_json(cf(event)["request"])
    result["body"] = body
    update = apply_request_result(Stage.VIEWER_REQUEST, event, result, request, None)
    assert isinstance(update, RequestUpdate)
    assert update.body == replaced


@pytest.mark.parametrize(("stage", "limit"), [(Stage.VIEWER_REQUEST, 40 * 1024), (Stage.ORIGIN_REQUEST, 1024 * 1024)])
def test_replaced_body_over_the_limit_is_truncated_not_rejected(stage: Stage, limit: int) -> None:
    request, event = body_event(stage)
    result = via_json(cf(event)["request"])
    big = bytes(range(256)) * (limit // 256 + 10)
    result["body"] = {"action": "replace", "encoding": "base64", "data": base64.b64encode(big).decode()}
    update = apply_request_result(stage, event, result, request, sample_origin() if stage is Stage.ORIGIN_REQUEST else None)
    assert isinstance(update, RequestUpdate)
    assert update.body == big[:limit]


def test_body_in_result_is_ignored_without_include_body() -> None:
    request = sample_request(method="POST", body=b"x")
    event = request_event(Stage.VIEWER_REQUEST, request, CONFIG, RID)
    result = via_json(cf(event)["request"])
    result["body"] = {"action": "replace", "encoding": "text", "data": "y"}
    update = apply_request_result(Stage.VIEWER_REQUEST, event, result, request, None)
    assert isinstance(update, RequestUpdate) and update.body is None


# --------------------------------------------------------------------------------------------
# Origin switching (origin-request)


def configured_origin() -> CustomOrigin:
    return CustomOrigin(
        domain_name="app.internal",
        port=9000,
        protocol="http",
        read_timeout_s=2.0,  # allowed in config (1–60), outside the event's 4–60
        keepalive_timeout_s=5.0,
        connect_timeout_s=3.0,
        connection_attempts=2,
        forward_host=True,
        custom_headers=(("x-origin-verify", "secret"),),
        name="app",
    )


def origin_result(origin: CustomOrigin | S3Origin, request: EdgeRequest | None = None) -> tuple[EdgeRequest, dict[str, Any], dict[str, Any]]:
    request = request or sample_origin_request(sample_request())
    event = request_event(Stage.ORIGIN_REQUEST, request, CONFIG, RID, origin=origin)
    return request, event, via_json(cf(event)["request"])


def test_unchanged_origin_is_the_original_object() -> None:
    origin = configured_origin()
    request, event, result = origin_result(origin)
    update = apply_request_result(Stage.ORIGIN_REQUEST, event, result, request, origin)
    assert isinstance(update, RequestUpdate) and update.origin is origin


def test_same_domain_change_keeps_local_only_fields() -> None:
    origin = configured_origin()
    request, event, result = origin_result(origin)
    result["origin"]["custom"]["path"] = "/v2"
    result["origin"]["custom"]["readTimeout"] = 10
    update = apply_request_result(Stage.ORIGIN_REQUEST, event, result, request, origin)
    assert isinstance(update, RequestUpdate)
    new = update.origin
    assert isinstance(new, CustomOrigin)
    assert (new.path, new.read_timeout_s) == ("/v2", 10.0)
    assert (new.name, new.connect_timeout_s, new.connection_attempts, new.forward_host) == ("app", 3.0, 2, True)
    assert new.custom_headers == (("x-origin-verify", "secret"),)


def test_other_domain_is_a_new_origin_without_the_configured_name() -> None:
    origin = configured_origin()
    request, event, result = origin_result(origin)
    result["origin"]["custom"]["domainName"] = "eu.example.com"
    result["headers"]["host"] = [{"key": "host", "value": "eu.example.com"}]
    update = apply_request_result(Stage.ORIGIN_REQUEST, event, result, request, origin)
    assert isinstance(update, RequestUpdate)
    new = update.origin
    assert isinstance(new, CustomOrigin)
    assert (new.domain_name, new.port, new.protocol, new.name, new.forward_host) == ("eu.example.com", 9000, "http", "", False)
    assert ("host", "eu.example.com") in update.request.headers


def test_switch_custom_to_s3_and_back() -> None:
    origin = sample_origin()
    request, event, result = origin_result(origin)
    result["origin"] = {"s3": {"domainName": "my-bucket.s3.amazonaws.com", "region": "", "authMethod": "none", "path": "", "customHeaders": {}}}
    update = apply_request_result(Stage.ORIGIN_REQUEST, event, result, request, origin)
    assert isinstance(update, RequestUpdate)
    assert update.origin == S3Origin(domain_name="my-bucket.s3.amazonaws.com")

    s3 = S3Origin(domain_name="demo.s3.amazonaws.com", region="us-east-1", auth_method="origin-access-identity", name="site")
    request, event, result = origin_result(s3)
    assert apply_request_result(Stage.ORIGIN_REQUEST, event, via_json(result), request, s3).origin is s3  # type: ignore[union-attr]
    result["origin"] = {
        "custom": {
            "domainName": "www.example.com",
            "port": 443,
            "protocol": "https",
            "path": "",
            "sslProtocols": ["TLSv1", "TLSv1.1"],
            "readTimeout": 5,
            "keepaliveTimeout": 5,
            "customHeaders": {},
        }
    }
    update = apply_request_result(Stage.ORIGIN_REQUEST, event, result, request, s3)
    assert isinstance(update, RequestUpdate)
    assert update.origin == CustomOrigin(
        domain_name="www.example.com", port=443, protocol="https", read_timeout_s=5.0, ssl_protocols=("TLSv1", "TLSv1.1")
    )


def test_s3_region_change_keeps_the_rest() -> None:
    s3 = S3Origin(domain_name="my-bucket.s3.amazonaws.com", auth_method="none", name="site")
    request, event, result = origin_result(s3)
    result["origin"]["s3"]["region"] = "eu-west-1"
    update = apply_request_result(Stage.ORIGIN_REQUEST, event, result, request, s3)
    assert isinstance(update, RequestUpdate)
    assert update.origin == S3Origin(domain_name="my-bucket.s3.amazonaws.com", region="eu-west-1", name="site")


def test_origin_is_ignored_at_viewer_request() -> None:
    request = sample_request()
    event = request_event(Stage.VIEWER_REQUEST, request, CONFIG, RID)
    result = via_json(cf(event)["request"])
    result["origin"] = {"custom": {"domainName": "bad:name"}}
    update = apply_request_result(Stage.VIEWER_REQUEST, event, result, request, None)
    assert isinstance(update, RequestUpdate) and update.origin is None


def test_local_origins_are_a_documented_deviation() -> None:
    origin = sample_origin()
    request, event, result = origin_result(origin)
    for domain, port in (("localhost", 9001), ("127.0.0.1", 1), ("::1", 8080)):
        result["origin"]["custom"].update(domainName=domain, port=port, protocol="http")
        update = apply_request_result(Stage.ORIGIN_REQUEST, event, via_json(result), request, origin)
        assert isinstance(update, RequestUpdate)
        assert isinstance(update.origin, CustomOrigin) and (update.origin.domain_name, update.origin.port) == (domain, port)


# --------------------------------------------------------------------------------------------
# Generated responses


def generated(stage: Stage, result: Any) -> EdgeResponse:
    request = sample_request()
    event = request_event(stage, request, CONFIG, RID)
    out = apply_request_result(stage, event, via_json(result), request, None)
    assert isinstance(out, EdgeResponse)
    return out


def test_generated_redirect() -> None:
    out = generated(
        Stage.VIEWER_REQUEST,
        {"status": "302", "statusDescription": "Found", "headers": {"location": [{"key": "Location", "value": "https://example.com/"}]}},
    )
    assert (out.status, out.reason, out.headers, out.body, out.stream) == (302, "Found", [("location", "https://example.com/")], b"", None)


@pytest.mark.parametrize("status", [200, "200", 200.0])
def test_generated_status_may_be_an_int(status: object) -> None:
    assert generated(Stage.ORIGIN_REQUEST, {"status": status}).status == 200


def test_generated_bodies_text_and_base64() -> None:
    assert generated(Stage.VIEWER_REQUEST, {"status": "200", "body": "<p>h\u00e9</p>"}).body == "<p>h\u00e9</p>".encode()
    assert generated(Stage.VIEWER_REQUEST, {"status": "200", "body": "aGk=", "bodyEncoding": "base64"}).body == b"hi"
    assert generated(Stage.VIEWER_REQUEST, {"status": "200", "body": "aGk=", "bodyEncoding": "text"}).body == b"aGk="


def test_generated_204_without_body_and_204_with_body_at_origin_request() -> None:
    assert generated(Stage.VIEWER_REQUEST, {"status": 204}).status == 204
    assert generated(Stage.VIEWER_REQUEST, {"status": 204, "body": ""}).body == b""
    assert generated(Stage.ORIGIN_REQUEST, {"status": 204, "body": "x"}).body == b"x"


# --------------------------------------------------------------------------------------------
# Responses returned at origin-response / viewer-response


def response_result(stage: Stage, response: EdgeResponse) -> tuple[dict[str, Any], dict[str, Any]]:
    event = response_event(stage, origin_request(), response, CONFIG, RID, origin=sample_origin())
    return event, via_json(cf(event)["response"])


def test_origin_response_turns_an_error_into_200_with_a_body() -> None:
    closed: list[bool] = []
    response = EdgeResponse(404, [("content-type", "text/html"), ("content-length", "10"), ("x-cache", "Miss")], close=lambda: closed.append(True))
    event, result = response_result(Stage.ORIGIN_RESPONSE, response)
    result.update(status=200, statusDescription="OK", body="Body generation example")
    out = apply_response_result(Stage.ORIGIN_RESPONSE, event, result, response)
    assert (out.status, out.reason, out.body, out.stream, out.close) == (200, "OK", b"Body generation example", None, None)
    assert ("x-cache", "Miss") in out.headers  # hidden, carried over
    assert closed == []  # the caller releases the replaced stream
    response.release()
    assert closed == [True]


def test_status_change_without_description_drops_the_old_reason() -> None:
    response = EdgeResponse(404, [], reason="Not Found")
    event, result = response_result(Stage.ORIGIN_RESPONSE, response)
    del result["statusDescription"]
    result["status"] = "302"
    out = apply_response_result(Stage.ORIGIN_RESPONSE, event, result, response)
    assert (out.status, out.reason) == (302, "")


def test_empty_body_empties_the_response() -> None:
    response = EdgeResponse(500, [])
    event, result = response_result(Stage.ORIGIN_RESPONSE, response)
    result.update(status=302, body="", headers={"location": [{"key": "Location", "value": "/plan-b/path?"}]})
    out = apply_response_result(Stage.ORIGIN_RESPONSE, event, result, response)
    assert (out.status, out.body, out.headers) == (302, b"", [("location", "/plan-b/path?")])


def test_viewer_response_body_replacement_and_base64() -> None:
    response = EdgeResponse(200, [("content-type", "application/octet-stream")], body=b"old")
    event, result = response_result(Stage.VIEWER_RESPONSE, response)
    result.update(body=base64.b64encode(b"\x01\x02").decode(), bodyEncoding="base64")
    out = apply_response_result(Stage.VIEWER_RESPONSE, event, result, response)
    assert out.body == b"\x01\x02" and out.status == 200


def test_hidden_response_header_cannot_be_added_back_by_the_hook() -> None:
    response = EdgeResponse(200, [("x-cache", "Hit from upstream")])
    event, result = response_result(Stage.ORIGIN_RESPONSE, response)
    result["headers"]["x-cache"] = [{"key": "X-Cache", "value": "forged"}]
    with pytest.raises(HookInvalidResult, match="blacklisted header, headerName : X-Cache"):
        apply_response_result(Stage.ORIGIN_RESPONSE, event, result, response)


def test_request_body_model_is_not_consumed() -> None:
    request = EdgeRequest("POST", "/", "", [("host", "h")], "192.0.2.1", body=RequestBody.of(b"abc"))
    event = request_event(Stage.VIEWER_REQUEST, request, CONFIG, RID, body=ExposedBody(b"abc", False))
    update = apply_request_result(Stage.VIEWER_REQUEST, event, via_json(cf(event)["request"]), request, None)
    assert isinstance(update, RequestUpdate)
    assert update.request.body is request.body and request.body.known_length() == 3
