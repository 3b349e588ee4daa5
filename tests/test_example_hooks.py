"""Ordinary Lambda@Edge handlers run in-process against our events; their results applied.

Two groups: the example hooks shipped in `hooks/`, and the Python examples of the CloudFront
Developer Guide ("Lambda@Edge example functions"), restated here with the same behaviour (the
docs' versions have slips such as `lambda_handler(min, max)`; these are fixed). Both travel
through JSON as they would from a worker, so a handler's edits never touch our event.
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode

import orjson
import pytest

from edgeproxy.events import (
    SAMPLE_REQUEST_ID,
    EventConfig,
    ExposedBody,
    RequestUpdate,
    apply_request_result,
    apply_response_result,
    request_event,
    response_event,
    sample_origin,
    sample_origin_request,
    sample_request,
    sample_response,
)
from edgeproxy.models import CustomOrigin, EdgeRequest, EdgeResponse, S3Origin
from edgeproxy.types import HeaderList, Stage

HOOKS = Path(__file__).resolve().parent.parent / "hooks"
CONFIG = EventConfig()
Handler = Callable[[dict[str, Any], object], Any]


def load(name: str) -> Handler:
    spec = importlib.util.spec_from_file_location(f"example_hook_{name}", HOOKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler  # type: ignore[no-any-return]


def invoke(handler: Handler, event: dict[str, Any]) -> Any:
    return orjson.loads(orjson.dumps(handler(orjson.loads(orjson.dumps(event)), None)))


def run(
    handler: Handler,
    stage: Stage,
    request: EdgeRequest | None = None,
    *,
    response: EdgeResponse | None = None,
    origin: CustomOrigin | S3Origin | None = None,
    body: bytes | None = None,
) -> RequestUpdate | EdgeResponse:
    """Build the stage's event, call `handler`, apply its result as the proxy would."""
    request = request or sample_request()
    if not stage.is_viewer:
        origin = origin or sample_origin()
        request = sample_origin_request(request, origin)
    if stage.is_request:
        exposed = ExposedBody(body, False) if body is not None else None
        event = request_event(stage, request, CONFIG, SAMPLE_REQUEST_ID, origin=origin, body=exposed)
        return apply_request_result(stage, event, invoke(handler, event), request, origin)
    response = response or sample_response(now=0)
    event = response_event(stage, request, response, CONFIG, SAMPLE_REQUEST_ID, origin=origin)
    return apply_response_result(stage, event, invoke(handler, event), response)


def viewer(uri: str = "/", querystring: str = "", extra: HeaderList | None = None, method: str = "GET") -> EdgeRequest:
    headers = [("host", "d111111abcdef8.cloudfront.net"), ("user-agent", "curl/7.66.0"), ("accept", "*/*"), *(extra or [])]
    return sample_request(uri=uri, querystring=querystring, headers=headers, method=method)


def updated(out: RequestUpdate | EdgeResponse) -> RequestUpdate:
    assert isinstance(out, RequestUpdate), out
    return out


def generated(out: RequestUpdate | EdgeResponse) -> EdgeResponse:
    assert isinstance(out, EdgeResponse), out
    return out


def header(headers: HeaderList, name: str) -> list[str]:
    return [v for k, v in headers if k == name]


# --------------------------------------------------------------------------------------------
# hooks/


@pytest.mark.parametrize(
    ("uri", "querystring", "status", "location"),
    [("/old/a/b.html", "x=1", 301, "/new/a/b.html?x=1"), ("/old/", "", 301, "/new/"), ("/promo/summer", "", 302, "/sale/summer")],
)
def test_redirect_hook(uri: str, querystring: str, status: int, location: str) -> None:
    out = generated(run(load("redirect"), Stage.VIEWER_REQUEST, viewer(uri, querystring)))
    assert out.status == status and header(out.headers, "location") == [location]


def test_redirect_hook_passes_other_requests() -> None:
    request = viewer("/older/x")
    out = updated(run(load("redirect"), Stage.VIEWER_REQUEST, request))
    assert (out.request.uri, out.request.headers) == ("/older/x", request.headers)


@pytest.mark.parametrize(
    ("uri", "rewritten"),
    [("/about", "/about.html"), ("/docs/", "/docs/index.html"), ("/", "/index.html"), ("/img/logo.png", "/img/logo.png"), ("/a.b/c", "/a.b/c.html")],
)
def test_rewrite_hook(uri: str, rewritten: str) -> None:
    assert updated(run(load("rewrite"), Stage.VIEWER_REQUEST, viewer(uri))).request.uri == rewritten


@pytest.mark.parametrize(
    ("uri", "extra"), [("/", [("x-backend", "beta")]), ("/beta/page", []), ("/", [("x-backend", "BETA")])]
)
def test_select_origin_hook_switches(uri: str, extra: HeaderList) -> None:
    out = updated(run(load("select_origin"), Stage.ORIGIN_REQUEST, viewer(uri, extra=extra)))
    assert isinstance(out.origin, CustomOrigin)
    assert (out.origin.domain_name, out.origin.port, out.origin.protocol, out.origin.name) == ("localhost", 9001, "http", "")
    assert header(out.request.headers, "host") == ["localhost:9001"]


def test_select_origin_hook_keeps_the_configured_origin_otherwise() -> None:
    configured = sample_origin()
    out = updated(run(load("select_origin"), Stage.ORIGIN_REQUEST, viewer("/x", extra=[("x-backend", "stable")]), origin=configured))
    assert out.origin is configured


def test_cache_control_hook_adds_max_age_when_missing() -> None:
    out = run(load("cache_control"), Stage.ORIGIN_RESPONSE)
    assert isinstance(out, EdgeResponse)
    assert header(out.headers, "cache-control") == ["public, max-age=300"]
    assert out.body == sample_response(now=0).body  # body untouched


@pytest.mark.parametrize(
    "response",
    [
        EdgeResponse(200, [("cache-control", "no-store")]),
        EdgeResponse(404, [("content-type", "text/html")]),
    ],
)
def test_cache_control_hook_leaves_other_responses(response: EdgeResponse) -> None:
    out = run(load("cache_control"), Stage.ORIGIN_RESPONSE, response=response)
    assert isinstance(out, EdgeResponse) and out.headers == response.headers


def test_security_headers_hook() -> None:
    async def stream():  # pragma: no cover - never iterated
        yield b""

    body_stream = stream()
    response = EdgeResponse(200, [("content-type", "text/html"), ("via", "1.1 d111111abcdef8.cloudfront.net (CloudFront)")], stream=body_stream)
    out = run(load("security_headers"), Stage.VIEWER_RESPONSE, response=response)
    assert isinstance(out, EdgeResponse)
    assert out.status == 200 and out.stream is body_stream
    names = {name for name, _ in out.headers}
    assert {
        "strict-transport-security",
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "x-xss-protection",
        "referrer-policy",
        "content-type",
        "via",
    } == names
    assert header(out.headers, "x-frame-options") == ["DENY"]


# --------------------------------------------------------------------------------------------
# The CloudFront Developer Guide's Python examples (restated)


def aws_ab_testing(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    if request["uri"] != "/experiment-pixel.jpg":
        return request
    paths = {"X-Experiment-Name=A": "/experiment-group/control-pixel.jpg", "X-Experiment-Name=B": "/experiment-group/treatment-pixel.jpg"}
    chosen = ""
    for cookie in request["headers"].get("cookie", []):
        chosen = next((path for marker, path in paths.items() if marker in cookie["value"]), "")
        if chosen:
            break
    if not chosen:
        chosen = paths["X-Experiment-Name=A"] if random.random() < 0.75 else paths["X-Experiment-Name=B"]
    request["uri"] = chosen
    return request


def test_aws_ab_testing(monkeypatch: pytest.MonkeyPatch) -> None:
    request = viewer("/experiment-pixel.jpg", extra=[("cookie", "a=1"), ("cookie", "X-Experiment-Name=B")])
    assert updated(run(aws_ab_testing, Stage.VIEWER_REQUEST, request)).request.uri == "/experiment-group/treatment-pixel.jpg"
    monkeypatch.setattr(random, "random", lambda: 0.9)
    assert updated(run(aws_ab_testing, Stage.VIEWER_REQUEST, viewer("/experiment-pixel.jpg"))).request.uri == "/experiment-group/treatment-pixel.jpg"


def aws_override_response_header(event: dict[str, Any], context: object) -> Any:
    response = event["Records"][0]["cf"]["response"]
    headers = response["headers"]
    if headers.get("x-amz-meta-last-modified"):
        headers["last-modified"] = [headers["x-amz-meta-last-modified"][0]]
    return response


def test_aws_override_response_header() -> None:
    response = EdgeResponse(200, [("x-amz-meta-last-modified", "Mon, 13 Jan 2020 20:12:38 GMT"), ("last-modified", "old")])
    out = run(aws_override_response_header, Stage.ORIGIN_RESPONSE, response=response)
    assert isinstance(out, EdgeResponse)
    # The copied entry keeps its key "X-Amz-Meta-Last-Modified": the map name decides the header.
    assert header(out.headers, "last-modified") == ["Mon, 13 Jan 2020 20:12:38 GMT"]


STATIC_PAGE = """
<!DOCTYPE html>
<html lang="en">
  <head><meta charset="utf-8"><title>Simple Lambda@Edge Static Content Response</title></head>
  <body><p>Hello from Lambda@Edge!</p></body>
</html>
"""


def aws_static_content(event: dict[str, Any], context: object) -> Any:
    return {
        "status": "200",
        "statusDescription": "OK",
        "headers": {
            "cache-control": [{"key": "Cache-Control", "value": "max-age=100"}],
            "content-type": [{"key": "Content-Type", "value": "text/html"}],
        },
        "body": STATIC_PAGE,
    }


def aws_gzip_static_content(event: dict[str, Any], context: object) -> Any:
    return {
        "status": "200",
        "statusDescription": "OK",
        "headers": {
            "content-type": [{"key": "Content-Type", "value": "text/html; charset=utf-8"}],
            "content-encoding": [{"key": "Content-Encoding", "value": "gzip"}],
        },
        "body": base64.b64encode(gzip.compress(STATIC_PAGE.encode())).decode(),
        "bodyEncoding": "base64",
    }


def aws_http_redirect(event: dict[str, Any], context: object) -> Any:
    return {
        "status": "302",
        "statusDescription": "Found",
        "headers": {"location": [{"key": "Location", "value": "http://docs.aws.amazon.com/lambda/latest/dg/lambda-edge.html"}]},
    }


@pytest.mark.parametrize("stage", [Stage.VIEWER_REQUEST, Stage.ORIGIN_REQUEST])
def test_aws_generated_responses(stage: Stage) -> None:
    page = generated(run(aws_static_content, stage))
    assert (page.status, page.reason, page.body) == (200, "OK", STATIC_PAGE.encode())
    assert header(page.headers, "cache-control") == ["max-age=100"]
    zipped = generated(run(aws_gzip_static_content, stage))
    assert zipped.body is not None and gzip.decompress(zipped.body) == STATIC_PAGE.encode()
    assert header(zipped.headers, "content-encoding") == ["gzip"]
    redirect = generated(run(aws_http_redirect, stage))
    assert redirect.status == 302 and header(redirect.headers, "location")[0].startswith("http://docs.aws")


def aws_header_from_querystring(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    params = {k: v[0] for k, v in parse_qs(request["querystring"]).items()}
    request["headers"]["auth-header"] = [{"key": "Auth-Header", "value": params["auth"]}]
    del params["auth"]
    request["querystring"] = urlencode(params)
    return request


def test_aws_header_from_querystring() -> None:
    out = updated(run(aws_header_from_querystring, Stage.VIEWER_REQUEST, viewer("/", "auth=token123&size=large")))
    assert out.request.querystring == "size=large"
    assert header(out.request.headers, "auth-header") == ["token123"]


def aws_normalize_querystring(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    params = {k: v[0] for k, v in parse_qs(request["querystring"].lower()).items()}
    request["querystring"] = urlencode(sorted(params.items(), key=lambda item: item[0]))
    return request


def test_aws_normalize_querystring() -> None:
    out = updated(run(aws_normalize_querystring, Stage.VIEWER_REQUEST, viewer("/", "Size=LARGE&color=Red&b=a+b")))
    assert out.request.querystring == "b=a+b&color=red&size=large"


def aws_signin_redirect(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    headers = request["headers"]
    cookies: dict[str, str] = {}
    for part in (headers["cookie"][0]["value"].split(";") if headers.get("cookie") else []):
        if "=" in part:
            name, value = part.split("=", 1)
            cookies[name.strip()] = value.strip()
    if cookies.get("session-id"):
        return request
    target = "https://%s%s?%s" % (headers["host"][0]["value"], request["uri"], request["querystring"])
    return {
        "status": "302",
        "statusDescription": "Found",
        "headers": {"location": [{"key": "Location", "value": "https://www.example.com/signin?redirect_url=" + quote_plus(target)}]},
    }


def test_aws_signin_redirect() -> None:
    assert isinstance(run(aws_signin_redirect, Stage.VIEWER_REQUEST, viewer(extra=[("cookie", "session-id=abc; x=1")])), RequestUpdate)
    out = generated(run(aws_signin_redirect, Stage.VIEWER_REQUEST, viewer("/account", "tab=2")))
    assert out.status == 302
    assert header(out.headers, "location") == [
        "https://www.example.com/signin?redirect_url=https%3A%2F%2Fd111111abcdef8.cloudfront.net%2Faccount%3Ftab%3D2"
    ]


def aws_country_redirect(event: dict[str, Any], context: object) -> Any:
    headers = event["Records"][0]["cf"]["request"]["headers"]
    url = "https://example.com/"
    country = headers.get("cloudfront-viewer-country")
    if country:
        url = {"TW": "https://tw.example.com/", "US": "https://us.example.com/"}.get(country[0]["value"], url)
    return {"status": "302", "statusDescription": "Found", "headers": {"location": [{"key": "Location", "value": url}]}}


def test_aws_country_redirect_at_origin_request() -> None:
    out = generated(run(aws_country_redirect, Stage.ORIGIN_REQUEST, viewer(extra=[("cloudfront-viewer-country", "TW")])))
    assert header(out.headers, "location") == ["https://tw.example.com/"]


def aws_device_versions(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    headers = request["headers"]
    for device in ("desktop", "mobile", "tablet", "smarttv"):
        values = headers.get(f"cloudfront-is-{device}-viewer")
        if values and values[0]["value"] == "true":
            request["uri"] = f"/{device}" + request["uri"]
            break
    return request


def test_aws_device_versions() -> None:
    extra = [("cloudfront-is-desktop-viewer", "false"), ("cloudfront-is-mobile-viewer", "true")]
    assert updated(run(aws_device_versions, Stage.ORIGIN_REQUEST, viewer("/index.html", extra=extra))).request.uri == "/mobile/index.html"


def aws_custom_to_s3(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    params = {k: v[0] for k, v in parse_qs(request["querystring"]).items()}
    if params.get("useS3Origin") == "true":
        domain = "my-bucket.s3.amazonaws.com"
        request["origin"] = {"s3": {"domainName": domain, "region": "", "authMethod": "none", "path": "", "customHeaders": {}}}
        request["headers"]["host"] = [{"key": "host", "value": domain}]
    return request


def test_aws_custom_to_s3() -> None:
    out = updated(run(aws_custom_to_s3, Stage.ORIGIN_REQUEST, viewer("/", "useS3Origin=true")))
    assert out.origin == S3Origin(domain_name="my-bucket.s3.amazonaws.com")
    assert header(out.request.headers, "host") == ["my-bucket.s3.amazonaws.com"]


def aws_s3_region_by_country(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    regions = {"DE": "eu-central-1", "IE": "eu-west-1", "GB": "eu-west-2", "FR": "eu-west-3", "JP": "ap-northeast-1", "IN": "ap-south-1"}
    country = request["headers"].get("cloudfront-viewer-country")
    region = regions.get(country[0]["value"]) if country else None
    if region:
        domain = "my-bucket-in-%s.s3.amazonaws.com" % region
        request["origin"]["s3"]["region"] = region
        request["origin"]["s3"]["domainName"] = domain
        request["headers"]["host"] = [{"key": "host", "value": domain}]
    return request


def test_aws_s3_region_by_country() -> None:
    bucket = S3Origin(domain_name="my-bucket.s3.amazonaws.com", region="us-east-1", auth_method="origin-access-identity", name="site")
    out = updated(run(aws_s3_region_by_country, Stage.ORIGIN_REQUEST, viewer(extra=[("cloudfront-viewer-country", "DE")]), origin=bucket))
    assert out.origin == S3Origin(
        domain_name="my-bucket-in-eu-central-1.s3.amazonaws.com", region="eu-central-1", auth_method="origin-access-identity"
    )
    same = updated(run(aws_s3_region_by_country, Stage.ORIGIN_REQUEST, viewer(extra=[("cloudfront-viewer-country", "US")]), origin=bucket))
    assert same.origin is bucket


def aws_s3_to_custom(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    params = {k: v[0] for k, v in parse_qs(request["querystring"]).items()}
    if params.get("useCustomOrigin") == "true":
        request["origin"] = {
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
        request["headers"]["host"] = [{"key": "host", "value": "www.example.com"}]
    return request


def test_aws_s3_to_custom() -> None:
    bucket = S3Origin(domain_name="my-bucket.s3.amazonaws.com")
    out = updated(run(aws_s3_to_custom, Stage.ORIGIN_REQUEST, viewer("/", "useCustomOrigin=true"), origin=bucket))
    assert out.origin == CustomOrigin(
        domain_name="www.example.com", port=443, protocol="https", read_timeout_s=5.0, keepalive_timeout_s=5.0, ssl_protocols=("TLSv1", "TLSv1.1")
    )


def aws_gradual_transfer(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    if random.randint(1, 100) <= 80:
        domain = "blue-bucket.s3.amazonaws.com"
        request["origin"]["s3"]["domainName"] = domain
        request["headers"]["host"] = [{"key": "host", "value": domain}]
    return request


def test_aws_gradual_transfer(monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = S3Origin(domain_name="green-bucket.s3.amazonaws.com")
    monkeypatch.setattr(random, "randint", lambda a, b: 80)
    out = updated(run(aws_gradual_transfer, Stage.ORIGIN_REQUEST, origin=bucket))
    assert out.origin == S3Origin(domain_name="blue-bucket.s3.amazonaws.com")
    monkeypatch.setattr(random, "randint", lambda a, b: 81)
    assert updated(run(aws_gradual_transfer, Stage.ORIGIN_REQUEST, origin=bucket)).origin is bucket


def aws_domain_by_country(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    country = request["headers"].get("cloudfront-viewer-country")
    if country and country[0]["value"] in ("GB", "DE", "IE"):
        request["origin"]["custom"]["domainName"] = "eu.example.com"
        request["headers"]["host"] = [{"key": "host", "value": "eu.example.com"}]
    return request


def test_aws_domain_by_country() -> None:
    out = updated(run(aws_domain_by_country, Stage.ORIGIN_REQUEST, viewer(extra=[("cloudfront-viewer-country", "IE")])))
    assert isinstance(out.origin, CustomOrigin) and out.origin.domain_name == "eu.example.com"
    assert out.origin.ssl_protocols == sample_origin().ssl_protocols
    assert header(out.request.headers, "host") == ["eu.example.com"]


def aws_error_to_200(event: dict[str, Any], context: object) -> Any:
    response = event["Records"][0]["cf"]["response"]
    if 400 <= int(response["status"]) <= 599:
        response["status"] = 200
        response["statusDescription"] = "OK"
        response["body"] = "Body generation example"
    return response


def aws_error_to_302(event: dict[str, Any], context: object) -> Any:
    response = event["Records"][0]["cf"]["response"]
    request = event["Records"][0]["cf"]["request"]
    if 400 <= int(response["status"]) <= 599:
        response["status"] = 302
        response["statusDescription"] = "Found"
        response["body"] = ""
        response["headers"]["location"] = [{"key": "Location", "value": "/plan-b/path?%s" % request["querystring"]}]
    return response


def test_aws_error_status_updates() -> None:
    error = EdgeResponse(503, [("content-type", "text/html")])
    out = run(aws_error_to_200, Stage.ORIGIN_RESPONSE, response=error)
    assert isinstance(out, EdgeResponse) and (out.status, out.reason, out.body) == (200, "OK", b"Body generation example")
    out = run(aws_error_to_302, Stage.ORIGIN_RESPONSE, viewer("/", "a=1"), response=error)
    assert isinstance(out, EdgeResponse) and (out.status, out.body) == (302, b"")
    assert header(out.headers, "location") == ["/plan-b/path?a=1"]
    ok = run(aws_error_to_200, Stage.ORIGIN_RESPONSE)
    assert isinstance(ok, EdgeResponse) and ok.status == 200 and ok.body == sample_response(now=0).body


def aws_read_form(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    if request["method"] == "POST":
        for key, value in parse_qs(base64.b64decode(request["body"]["data"]).decode()).items():
            print("For %s use submitted %s" % (key, value[0]))
    return request


def aws_modify_form(event: dict[str, Any], context: object) -> Any:
    request = event["Records"][0]["cf"]["request"]
    if request["method"] == "POST":
        params = {k: v[0] for k, v in parse_qs(base64.b64decode(request["body"]["data"]).decode()).items()}
        params["new-param-name"] = "new-param-value"
        request["body"]["action"] = "replace"
        request["body"]["encoding"] = "text"
        request["body"]["data"] = urlencode(params)
    return request


@pytest.mark.parametrize("stage", [Stage.VIEWER_REQUEST, Stage.ORIGIN_REQUEST])
def test_aws_request_body_examples(stage: Stage, capsys: pytest.CaptureFixture[str]) -> None:
    form = b"name1=a&name2=b"
    read = updated(run(aws_read_form, stage, viewer(method="POST"), body=form))
    assert read.body is None and "For name1 use submitted a" in capsys.readouterr().out
    modified = updated(run(aws_modify_form, stage, viewer(method="POST"), body=form))
    assert modified.body == b"name1=a&name2=b&new-param-name=new-param-value"
