"""Every rule of spec §3/§4/§5/§10 for what a function returns, one table row per case.

Each row takes the stage's realistic event, edits the result as a function would, and asserts
either acceptance or `HookInvalidResult` with a fragment of the log message.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from edgeproxy.errors import HookInvalidResult, error_sentence
from edgeproxy.events import (
    SAMPLE_REQUEST_ID,
    EventConfig,
    ExposedBody,
    apply_request_result,
    apply_response_result,
    request_event,
    response_event,
    sample_origin,
    sample_origin_request,
    sample_request,
)
from edgeproxy.models import CustomOrigin, EdgeRequest, EdgeResponse, S3Origin
from edgeproxy.types import CacheResult, Stage
from edgeproxy.validation import INVALID_JSON, READ_ONLY_SENTENCE

VR, OR, ORS, VRS = Stage.VIEWER_REQUEST, Stage.ORIGIN_REQUEST, Stage.ORIGIN_RESPONSE, Stage.VIEWER_RESPONSE
CONFIG = EventConfig()
KB = 1024

Mutator = Callable[[Any], Any]


def via_json(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


# --------------------------------------------------------------------------------------------
# Edits a function might make (each returns the result to hand back)


def hdr(name: str, *values: Any, key: Any = "default", target: str = "headers") -> Mutator:
    def edit(r: Any) -> Any:
        entries = []
        for value in values:
            entry = {"value": value}
            if key == "default":
                entry["key"] = "-".join(p.capitalize() for p in name.split("-"))
            elif key is not None:
                entry["key"] = key
            entries.append(entry)
        r[target][name] = entries
        return r

    return edit


def raw_headers(headers: Any) -> Mutator:
    def edit(r: Any) -> Any:
        r["headers"] = headers
        return r

    return edit


def drop(name: str) -> Mutator:
    def edit(r: Any) -> Any:
        del r["headers"][name]
        return r

    return edit


def empty(name: str) -> Mutator:
    def edit(r: Any) -> Any:
        r["headers"][name] = []
        return r

    return edit


def field(**values: Any) -> Mutator:
    def edit(r: Any) -> Any:
        r.update(values)
        return r

    return edit


def without(*names: str) -> Mutator:
    def edit(r: Any) -> Any:
        for name in names:
            del r[name]
        return r

    return edit


def returns(value: Any) -> Mutator:
    return lambda r: value


def custom(**values: Any) -> Mutator:
    def edit(r: Any) -> Any:
        r["origin"]["custom"].update(values)
        return r

    return edit


def origin(value: Any) -> Mutator:
    def edit(r: Any) -> Any:
        r["origin"] = value
        return r

    return edit


def body(value: Any) -> Mutator:
    def edit(r: Any) -> Any:
        r["body"] = value
        return r

    return edit


# --------------------------------------------------------------------------------------------
# The stage's event, the function's edit, the apply


def request_for(stage: Stage) -> EdgeRequest:
    if stage is VR:
        return sample_request(headers=[("host", "d111111abcdef8.cloudfront.net"), ("user-agent", "curl/8"), ("accept", "*/*")])
    request = sample_origin_request(sample_request())
    request.headers += [("accept-encoding", "gzip"), ("if-none-match", '"v1"'), ("if-none-match", '"v2"')]
    return request


def run_request(stage: Stage, edit: Mutator, *, the_origin: CustomOrigin | S3Origin | None = None) -> object:
    request = request_for(stage)
    used_origin = (the_origin or sample_origin()) if stage is OR else None
    event = request_event(stage, request, CONFIG, SAMPLE_REQUEST_ID, origin=used_origin, body=ExposedBody(b"a=1", False))
    result = edit(via_json(event["Records"][0]["cf"]["request"]))
    return apply_request_result(stage, event, via_json(result), request, used_origin)


def response_for(stage: Stage) -> EdgeResponse:
    headers = [("date", "Mon, 13 Jan 2020 20:12:38 GMT"), ("content-type", "text/html"), ("content-length", "9593")]
    if stage is ORS:
        headers += [("transfer-encoding", "chunked"), ("via", "1.1 varnish")]
    else:
        headers += [("via", "1.1 d111111abcdef8.cloudfront.net (CloudFront)")]
    return EdgeResponse(200, headers)


def run_response(stage: Stage, edit: Mutator) -> EdgeResponse:
    response = response_for(stage)
    event = response_event(stage, sample_request(), response, CONFIG, SAMPLE_REQUEST_ID)
    result = edit(via_json(event["Records"][0]["cf"]["response"]))
    return apply_response_result(stage, event, via_json(result), response)


def check(run: Callable[[], object], fragment: str | None) -> HookInvalidResult | None:
    if fragment is None:
        run()
        return None
    with pytest.raises(HookInvalidResult) as info:
        run()
    assert fragment in info.value.message, info.value.message
    assert info.value.status == 502
    assert info.value.result is CacheResult.LAMBDA_VALIDATION_ERROR
    return info.value


# --------------------------------------------------------------------------------------------
# Request results: headers

REQUEST_HEADER_CASES = [
    # read-only, per stage (add / change / delete)
    (VR, hdr("host", "evil.example"), "tried to change read-only header, headerName : Host"),
    (VR, drop("host"), "tried to delete read-only header, headerName : Host"),
    (VR, empty("host"), "tried to delete read-only header, headerName : Host"),
    (VR, hdr("content-length", "10"), "tried to add read-only header, headerName : Content-Length"),
    (VR, hdr("transfer-encoding", "chunked"), "tried to add read-only header, headerName : Transfer-Encoding"),
    (VR, hdr("via", "1.1 me"), "tried to add read-only header, headerName : Via"),
    (VR, hdr("cloudfront-viewer-country", "US", key="CloudFront-Viewer-Country"), "add read-only header, headerName : CloudFront-Viewer-Country"),
    (VR, hdr("host", "d111111abcdef8.cloudfront.net", key="host"), None),  # key case is no change
    (VR, hdr("cloudfront-is-mobile-viewer", "true"), None),
    (VR, hdr("accept-encoding", "br"), None),  # read-only only at origin-request
    (OR, hdr("accept-encoding", "identity"), "change read-only header, headerName : Accept-Encoding"),
    (OR, drop("accept-encoding"), "delete read-only header, headerName : Accept-Encoding"),
    (OR, hdr("if-none-match", '"v1"'), "change read-only header, headerName : If-None-Match"),
    (OR, hdr("if-none-match", '"v2"', '"v1"'), None),  # same values, other order
    (OR, hdr("if-modified-since", "Mon, 13 Jan 2020 20:12:38 GMT"), "add read-only header, headerName : If-Modified-Since"),
    (OR, hdr("if-range", "x"), "add read-only header, headerName : If-Range"),
    (OR, hdr("if-unmodified-since", "x"), "add read-only header, headerName : If-Unmodified-Since"),
    (OR, hdr("content-length", "1"), "add read-only header, headerName : Content-Length"),
    (OR, drop("via"), "delete read-only header, headerName : Via"),
    (OR, hdr("host", "other.example"), None),  # Host is writable at origin-request
    (OR, hdr("cloudfront-viewer-country", "TW"), None),
    # disallowed ("blacklisted")
    (VR, hdr("x-amz-cf-id", "x"), "tried to add a blacklisted header, headerName : X-Amz-Cf-Id"),
    (VR, hdr("x-amz-cf-pop", "x"), "blacklisted header, headerName : X-Amz-Cf-Pop"),
    (VR, hdr("x-edge-location", "x"), "blacklisted header, headerName : X-Edge-Location"),
    (VR, hdr("connection", "close"), "blacklisted header, headerName : Connection"),
    (VR, hdr("x-forwarded-proto", "http"), "blacklisted header, headerName : X-Forwarded-Proto"),
    (OR, hdr("x-real-ip", "1.1.1.1"), "blacklisted header, headerName : X-Real-Ip"),
    (OR, hdr("x-cache", "Hit", key="X-Cache"), "blacklisted header, headerName : X-Cache"),
    (OR, hdr("x-accel-redirect", "/x"), "blacklisted header, headerName : X-Accel-Redirect"),
    (OR, hdr("x-amzn-requestid", "1"), "blacklisted header, headerName : X-Amzn-Requestid"),
    (OR, hdr("upgrade", "websocket"), "blacklisted header, headerName : Upgrade"),
    (VR, empty("x-cache"), None),  # an empty list adds nothing
    # shapes and values
    (VR, hdr("x-n", 5), "header values must be strings"),
    (VR, hdr("x-n", None), "header values must be strings"),
    (VR, hdr("x-n", True), "header values must be strings"),
    (VR, hdr("location", "/a\r\nSet-Cookie: x=1"), "invalid character : '%0D' in header value, headerName : Location"),
    (VR, hdr("x-n", "a\nb"), "invalid character : '%0A' in header value, headerName : X-N"),
    (VR, hdr("x-n", "a\x00b"), "invalid character : '%00' in header value"),
    (VR, hdr("x-n", "tab\tis fine, so is h\u00e9"), None),
    (VR, hdr("x-n", "1", key="X-Other"), None),  # the map name decides (AWS's own examples do this)
    (VR, hdr("x-n", "1", key=5), "header keys must be strings"),
    (VR, hdr("x-n", "1", key=None), None),  # key is optional
    (VR, hdr("X-Frame-Options", "DENY"), None),  # map names are case-insensitive
    (VR, hdr("bad name", "1"), "invalid header name : 'bad name'"),
    (VR, hdr("", "1"), "invalid header name : ''"),
    (VR, hdr("x\u00e9", "1"), "invalid header name"),
    (VR, raw_headers([]), "the headers field must be an object, got array"),
    (VR, raw_headers("host: x"), "the headers field must be an object, got string"),
    (VR, raw_headers({"x-n": {"key": "X-N", "value": "1"}}), "the value of a header must be an array, got object"),
    (VR, raw_headers({"host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}], "x-n": ["1"]}), "each header entry must be an object"),
    (VR, raw_headers({"host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}], "x-n": [{"key": "X-N"}]}), "the header has no value, headerName : X-N"),
]


@pytest.mark.parametrize(("stage", "edit", "fragment"), REQUEST_HEADER_CASES)
def test_request_header_rules(stage: Stage, edit: Mutator, fragment: str | None) -> None:
    check(lambda: run_request(stage, edit), fragment)


# --------------------------------------------------------------------------------------------
# Request results: fields, body, result type

REQUEST_FIELD_CASES = [
    (VR, field(uri="index.html"), "the uri must begin with a slash"),
    (VR, field(uri=""), "the uri must begin with a slash"),
    (VR, field(uri=5), "the uri must be a string"),
    (VR, field(uri="/a b"), "invalid character : '%20' in uri"),
    (VR, field(uri="/caf%C3%A9/\u00e9"), None),
    (VR, field(querystring="a=1 2"), "invalid character : '%20' in querystring"),
    (VR, field(querystring="a=1#frag"), "invalid character : '%23' in querystring"),
    (VR, field(querystring="a=\x01"), "invalid character : '%01' in querystring"),
    (VR, field(querystring=7), "the querystring must be a string"),
    (VR, field(querystring="a=%20&b=/?x"), None),
    (OR, field(uri="/" + "a" * 8191), "the uri and querystring are 8192 characters, the limit is 8191"),
    (OR, field(uri="/" + "a" * 8190), None),
    (OR, field(uri="/" + "a" * 4000, querystring="q" * 4190), "the uri and querystring are"),
    (VR, field(method="POST"), "tried to change read-only field method"),
    (OR, field(clientIp="198.51.100.1"), "tried to change read-only field clientIp"),
    (VR, field(method="GET", clientIp="203.0.113.178"), None),
    (VR, without("method", "clientIp", "querystring", "headers"), None),
    (VR, without("uri"), "neither a request (no uri field) nor a response (no status field)"),
    (VR, returns({"Records": []}), "neither a request"),
    (VR, body({"action": "replace", "encoding": "base64", "data": "not base64!"}), "the body data is not valid base64"),
    (VR, body({"action": "replace", "encoding": "gzip", "data": "x"}), "the body encoding must be text or base64"),
    (VR, body({"action": "replace", "encoding": "text", "data": 5}), "the body data must be a string"),
    (OR, body({"action": "overwrite", "data": ""}), "the body action must be read-only or replace"),
    (OR, body("a=2"), "the request body must be an object"),
    (OR, body({"action": "replace", "encoding": "text", "data": "x" * (2 * KB * KB)}), None),  # truncated
]


@pytest.mark.parametrize(("stage", "edit", "fragment"), REQUEST_FIELD_CASES)
def test_request_field_rules(stage: Stage, edit: Mutator, fragment: str | None) -> None:
    check(lambda: run_request(stage, edit), fragment)


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("result", [None, [], ["x"], "request", 5, True])
def test_a_non_object_result_is_invalid_json(stage: Stage, result: object) -> None:
    run = (lambda: run_request(stage, returns(result))) if stage.is_request else (lambda: run_response(stage, returns(result)))
    error = check(run, INVALID_JSON)
    assert error is not None and error.message == INVALID_JSON
    assert error_sentence(error) == INVALID_JSON


# --------------------------------------------------------------------------------------------
# Generated responses (viewer-request and origin-request)


def headers_of(size: int) -> dict[str, Any]:
    return {"x-pad": [{"key": "X-Pad", "value": "p" * size}]}


GENERATED_CASES = [
    (VR, {"status": "302"}, None),
    (VR, {"status": 302}, None),
    (VR, {"status": "200", "statusDescription": "Anything at all"}, None),
    (VR, {"status": "199"}, "the status must be between 200 and 599, got 199"),
    (OR, {"status": 600}, "the status must be between 200 and 599, got 600"),
    (VR, {"status": "abc"}, "the status must be a number or a numeric string"),
    (VR, {"status": ""}, "the status must be a number or a numeric string"),
    (VR, {"status": None}, "the status must be a number or a numeric string"),
    (VR, {"status": True}, "the status must be a number or a numeric string"),
    (VR, {"status": 200.5}, "the status must be a number or a numeric string"),
    (VR, {"status": "200", "statusDescription": 5}, "the statusDescription must be a string"),
    (VR, {"status": "200", "statusDescription": "OK\r\nX: y"}, "invalid character : '%0D' in statusDescription"),
    (VR, {"status": "200", "headers": {"content-length": [{"key": "Content-Length", "value": "5"}]}, "body": "hello"}, "tried to add read-only header, headerName : Content-Length"),
    (OR, {"status": "200", "headers": {"content-length": [{"value": "5"}]}, "body": "hello"}, "tried to add read-only header, headerName : Content-Length"),
    (VR, {"status": "200", "headers": {"host": [{"value": "x"}]}}, "tried to add read-only header, headerName : Host"),
    (VR, {"status": "200", "headers": {"transfer-encoding": [{"value": "chunked"}]}}, "headerName : Transfer-Encoding"),
    (VR, {"status": "200", "headers": {"x-cache": [{"value": "Hit"}]}}, "tried to add a blacklisted header, headerName : X-Cache"),
    (OR, {"status": "200", "headers": {"x-amz-cf-id": [{"value": "x"}]}}, "blacklisted header, headerName : X-Amz-Cf-Id"),
    (VR, {"status": "200", "headers": {"cloudfront-viewer-country": [{"value": "US"}]}}, None),
    (VR, {"status": "302", "headers": {"location": [{"key": "Location", "value": "/x\r"}]}}, "invalid character : '%0D' in header value, headerName : Location"),
    (VR, {"status": "200", "headers": []}, "the headers field must be an object"),
    (VR, {"status": "200", "body": "%%%", "bodyEncoding": "base64"}, "the body is not valid base64"),
    (VR, {"status": "200", "body": "aGk", "bodyEncoding": "base64"}, "the body is not valid base64"),
    (VR, {"status": "200", "body": "aGk=", "bodyEncoding": "gzip"}, "the bodyEncoding must be text or base64"),
    (VR, {"status": "200", "body": {"data": "x"}}, "the body must be a string"),
    (VR, {"status": "204", "body": "not allowed"}, "status 204 and a body"),
    (VR, {"status": 204, "body": "aGk=", "bodyEncoding": "base64"}, "status 204 and a body"),
    (OR, {"status": "204", "body": "allowed at origin-request"}, None),
    (VR, {"status": "200", "body": "x" * (40 * KB - 200)}, None),
    (VR, {"status": "200", "body": "x" * (40 * KB + 1)}, "over the 40960-byte limit at viewer-request"),
    (VR, {"status": "200", "headers": headers_of(30 * KB), "body": "x" * (11 * KB)}, "(headers and body), over the 40960-byte limit"),
    (VR, {"status": "200", "body": base64.b64encode(b"x" * (39 * KB)).decode(), "bodyEncoding": "base64"}, None),
    (OR, {"status": "200", "body": "x" * (512 * KB)}, None),
    (OR, {"status": "200", "body": "x" * (KB * KB + 1)}, "over the 1048576-byte limit at origin-request"),
]


@pytest.mark.parametrize(("stage", "result", "fragment"), GENERATED_CASES)
def test_generated_response_rules(stage: Stage, result: dict[str, Any], fragment: str | None) -> None:
    check(lambda: run_request(stage, returns(result)), fragment)


def test_generated_read_only_header_shows_the_read_only_sentence() -> None:
    error = check(lambda: run_request(VR, returns({"status": "200", "headers": {"content-length": [{"value": "1"}]}})), "Content-Length")
    assert error is not None and error_sentence(error) == READ_ONLY_SENTENCE


def test_blacklisted_header_sentence() -> None:
    error = check(lambda: run_request(VR, hdr("x-edge-foo", "1")), "blacklisted")
    assert error is not None
    assert error_sentence(error) == "The Lambda function result failed validation: The function tried to add a blacklisted header."


# --------------------------------------------------------------------------------------------
# Origin returned at origin-request

ORIGIN_CASES = [
    (custom(domainName="example.org:8080"), "The value of DomainName is invalid."),
    (custom(domainName="http://example.org"), "The value of DomainName is invalid."),
    (custom(domainName=""), "The value of DomainName is invalid."),
    (custom(domainName=None), "The value of DomainName is invalid."),
    (custom(domainName="a" * 254), "The value of DomainName is invalid."),
    (custom(domainName="-bad-.example"), "The value of DomainName is invalid."),
    (custom(domainName="eu.example.com"), None),
    (custom(domainName="localhost", port=9001, protocol="http"), None),  # local deviation
    (custom(domainName="10.0.0.5"), None),  # local deviation (CloudFront: no IPv4)
    (custom(port=0), "The value of Port is invalid."),
    (custom(port=65536), "The value of Port is invalid."),
    (custom(port="https"), "The value of Port is invalid."),
    (custom(port=80.5), "The value of Port is invalid."),
    (custom(port=True), "The value of Port is invalid."),
    (custom(port=8080), None),  # local deviation: any port
    (custom(port="8443"), None),
    (custom(protocol="ftp"), "The value of Protocol is invalid."),
    (custom(protocol="HTTPS"), "The value of Protocol is invalid."),
    (custom(path="v2"), "The value of Path is invalid."),
    (custom(path="/v2/"), "The value of Path is invalid."),
    (custom(path="/a b"), "The value of Path is invalid."),
    (custom(path="/" + "a" * 255), "The value of Path is invalid."),
    (custom(path="/v2/api"), None),
    (custom(readTimeout=3), "The value of ReadTimeout is invalid."),
    (custom(readTimeout=61), "The value of ReadTimeout is invalid."),
    (custom(readTimeout="x"), "The value of ReadTimeout is invalid."),
    (custom(readTimeout=4), None),
    (custom(readTimeout=60), None),
    (custom(keepaliveTimeout=0), "The value of KeepaliveTimeout is invalid."),
    (custom(keepaliveTimeout=61), "The value of KeepaliveTimeout is invalid."),
    (custom(keepaliveTimeout=1), None),
    (custom(sslProtocols=["TLSv1.3"]), "The value of SslProtocols is invalid."),
    (custom(sslProtocols=[]), "The value of SslProtocols is invalid."),
    (custom(sslProtocols="TLSv1.2"), "The value of SslProtocols is invalid."),
    (custom(sslProtocols=["SSLv3", "TLSv1.2"]), None),
    (custom(customHeaders={"x-amz-cf-id": [{"key": "X-Amz-Cf-Id", "value": "1"}]}), "blacklisted header, headerName : X-Amz-Cf-Id"),
    (custom(customHeaders={"user-agent": [{"key": "User-Agent", "value": "me"}]}), "One or more HeaderName or HeaderValue values are invalid."),
    (custom(customHeaders={"x-secret": [{"key": "X-Secret", "value": "s"}]}), None),
    (custom(customHeaders={"x-secret": [{"value": "a\nb"}]}), "invalid character : '%0A'"),
    (custom(customHeaders={"x-secret": [{"value": "v" * 1784}]}), "One or more HeaderName or HeaderValue values are invalid."),
    (origin({"custom": {"domainName": "a.example"}, "s3": {"domainName": "b.s3.amazonaws.com"}}), "exactly one of custom or s3"),
    (origin({}), "exactly one of custom or s3"),
    (origin([]), "The origin must be an object"),
    (origin({"custom": "example.org"}), "origin.custom must be an object"),
    (origin({"s3": {"domainName": "My-Bucket.s3.amazonaws.com"}}), "The value of DomainName is invalid."),
    (origin({"s3": {"domainName": "b" * 129}}), "The value of DomainName is invalid."),
    (origin({"s3": {"domainName": "b.s3.amazonaws.com", "authMethod": "oac"}}), "The value of AuthMethod is invalid."),
    (origin({"s3": {"domainName": "b.s3.amazonaws.com", "authMethod": "origin-access-identity"}}), "The value of Region is invalid."),
    (origin({"s3": {"domainName": "b.s3.amazonaws.com", "authMethod": "origin-access-identity", "region": "us-east-1"}}), None),
    (origin({"s3": {"domainName": "b.s3.amazonaws.com", "path": "/p/"}}), "The value of Path is invalid."),
    (origin({"s3": {"domainName": "b.s3.amazonaws.com", "customHeaders": {"host": [{"value": "x"}]}}}), "The custom header Host is also in request.headers"),
    (origin({"s3": {"domainName": "b.s3.amazonaws.com"}}), None),
    (origin({"custom": {"domainName": "minimal.example"}}), None),
    (origin(None), None),  # null = unchanged
]


@pytest.mark.parametrize(("edit", "fragment"), ORIGIN_CASES)
def test_origin_rules(edit: Mutator, fragment: str | None) -> None:
    check(lambda: run_request(OR, edit), fragment)


def test_origin_error_page_names_the_field() -> None:
    error = check(lambda: run_request(OR, custom(domainName="bad:name")), "DomainName")
    assert error is not None
    assert error_sentence(error) == "The Lambda function returned an invalid origin configuration: The value of DomainName is invalid."


def test_configured_read_timeout_outside_4_to_60_passes_when_unchanged() -> None:
    configured = CustomOrigin(domain_name="app.internal", port=9000, protocol="http", read_timeout_s=2.0)
    assert run_request(OR, lambda r: r, the_origin=configured).origin is configured  # type: ignore[attr-defined]
    check(lambda: run_request(OR, custom(readTimeout=3), the_origin=configured), "The value of ReadTimeout is invalid.")


def test_a_request_header_added_may_not_repeat_an_origin_custom_header() -> None:
    configured = CustomOrigin(domain_name="app.internal", port=9000, protocol="http", custom_headers=(("x-origin-verify", "s"),))
    check(lambda: run_request(OR, hdr("x-origin-verify", "forged"), the_origin=configured), "The custom header X-Origin-Verify is also in request.headers")
    check(lambda: run_request(OR, hdr("x-other", "fine"), the_origin=configured), None)


def test_configured_custom_headers_handed_back_pass() -> None:
    configured = CustomOrigin(domain_name="app.internal", port=9000, protocol="http", custom_headers=(("user-agent", "x"),))
    assert run_request(OR, lambda r: r, the_origin=configured).origin is configured  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# Response results (origin-response and viewer-response)

RESPONSE_CASES = [
    (ORS, field(status=404), None),
    (ORS, field(status="301", statusDescription="Moved"), None),
    (ORS, field(status=600), "the status must be between 200 and 599"),
    (ORS, field(status="1xx"), "the status must be a number"),
    (ORS, without("status"), "the returned response has no status field"),
    (VRS, without("status"), "the returned response has no status field"),
    (VRS, field(status=200), None),
    (VRS, field(status="404"), "tried to change the status of a viewer response : 200 -> 404"),
    (VRS, field(statusDescription="Fine"), None),
    (ORS, drop("transfer-encoding"), "tried to delete read-only header, headerName : Transfer-Encoding"),
    (ORS, hdr("transfer-encoding", "gzip, chunked"), "change read-only header, headerName : Transfer-Encoding"),
    (ORS, hdr("via", "1.1 other"), "change read-only header, headerName : Via"),
    (ORS, hdr("content-length", "1"), None),
    (ORS, hdr("warning", "199 - x"), None),
    (VRS, hdr("warning", "199 - x"), "tried to add read-only header, headerName : Warning"),
    (VRS, drop("via"), "delete read-only header, headerName : Via"),
    (VRS, drop("content-length"), None),  # current docs: writable at viewer-response
    (VRS, hdr("transfer-encoding", "chunked"), None),
    (VRS, hdr("x-cache", "x"), "blacklisted header, headerName : X-Cache"),
    (ORS, hdr("x-amz-cf-pop", "x"), "blacklisted header, headerName : X-Amz-Cf-Pop"),
    (VRS, hdr("set-cookie", "a=1\r\n"), "invalid character : '%0D' in header value, headerName : Set-Cookie"),
    (ORS, raw_headers(None), None),  # null = unchanged
    (ORS, field(body="x" * (KB * KB - 500)), None),
    (ORS, field(body="x" * (KB * KB)), "over the 1048576-byte limit at origin-response"),
    (VRS, field(body="x" * (40 * KB)), "over the 40960-byte limit at viewer-response"),
    (VRS, field(body="x" * (30 * KB)), None),
    (ORS, field(body="!!", bodyEncoding="base64"), "the body is not valid base64"),
    (ORS, field(body="x", bodyEncoding="binary"), "the bodyEncoding must be text or base64"),
    (ORS, field(body=["x"]), "the body must be a string"),
]


@pytest.mark.parametrize(("stage", "edit", "fragment"), RESPONSE_CASES)
def test_response_rules(stage: Stage, edit: Mutator, fragment: str | None) -> None:
    check(lambda: run_response(stage, edit), fragment)


def test_an_odd_origin_status_handed_back_unchanged_passes() -> None:
    response = EdgeResponse(999, [("content-type", "text/plain")])
    event = response_event(ORS, sample_request(), response, CONFIG, SAMPLE_REQUEST_ID)
    result = via_json(event["Records"][0]["cf"]["response"])
    assert apply_response_result(ORS, event, result, response).status == 999
    result["status"] = 998
    check(lambda: apply_response_result(ORS, event, result, response), "the status must be between 200 and 599, got 998")


# --------------------------------------------------------------------------------------------
# Exact messages CloudFront is seen to log (spec §4)


def test_exact_message_for_deleting_a_read_only_header() -> None:
    error = check(lambda: run_response(ORS, drop("transfer-encoding")), "Transfer-Encoding")
    assert error is not None
    assert error.message == (
        "Lambda function result failed validation, the function tried to delete read-only header, "
        "headerName : Transfer-Encoding."
    )
    assert error_sentence(error) == READ_ONLY_SENTENCE


def test_exact_message_for_a_carriage_return() -> None:
    error = check(lambda: run_request(VR, returns({"status": "302", "headers": {"location": [{"key": "Location", "value": "/a\rb"}]}})), "%0D")
    assert error is not None
    assert error.message == (  # as CloudWatch showed it (aws-ia/cloudformation-aws-marketplace-saas#54)
        "Lambda function result validation failed, the function returned an invalid header, "
        "invalid character : '%0D' in header value, headerName : Location."
    )


def test_braces_in_a_function_value_do_not_break_the_error_page() -> None:
    error = check(lambda: run_request(VR, hdr("x-{0}", "1")), "invalid header name")
    assert error is not None
    assert "{" not in error_sentence(error)
