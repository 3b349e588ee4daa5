"""Typed models ⇄ the CloudFront event JSON (spec §2), and applying what a function returns (§3).

The one place the Lambda@Edge event is built and read back (besides the worker, which only
moves it). Outbound, `request_event` / `response_event` build the exact record CloudFront sends;
inbound, `apply_request_result` / `apply_response_result` read the function's result back into
models, with every rule checked in `validation.py` (a failure raises `HookInvalidResult`).

Shapes, as CloudFront sends them:

    {"Records": [{"cf": {
        "config":   {distributionDomainName, distributionId, eventType, requestId},
        "request":  {clientIp, headers, method, querystring, uri[, body][, origin]},
        "response": {status: "200", statusDescription, headers}        # response events only
    }}]}

    headers: {lowercase-name: [{"key": "Title-Case", "value": "..."}, ...]}   (repeats grouped)

What a function may not see, it may not touch: disallowed headers (spec §4) are left out of the
event and carried over unchanged after the hook (a function adding one fails validation).

Baselines: the read-only checks compare the result with the *typed* request/response passed in,
not with the event dict, because a handler run in-process (tests) mutates the event it was given.

Decisions where CloudFront's docs are silent (each also stated where it is applied):
- A request-stage result with a `status` key is a generated response; otherwise it is the
  request and must have a `uri` (returning the whole event, a classic slip, fails).
  Response-stage results must have a `status`.
- Fields a function leaves out of a returned request or response keep their values
  (`headers`, `querystring`, `origin`, `statusDescription`); `null` counts as left out.
- `origin` in a result is read at origin-request only (ignored at viewer-request, as CloudFront
  shows none there); a request `body` only when the event exposed one (Include Body).
- Origin fields left out keep the original origin's values (or CloudFront's usual defaults when
  switching custom↔S3). Local deviations: any host, IP or port; a readTimeout outside 4–60 is
  accepted when it is the configured origin's own value.
- A header entry's `key` may differ from its map name (AWS's own examples do it); the map name
  decides. Size limits are inclusive (exactly 40 KB passes). A 204 generated at viewer-request
  fails only with a non-empty body. A replaced request body is measured and cut decoded.
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
from collections.abc import Container
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from edgeproxy import validation as v
from edgeproxy.headers import is_disallowed, title_case
from edgeproxy.models import CustomOrigin, EdgeRequest, EdgeResponse, RequestBody, S3Origin
from edgeproxy.types import HeaderList, Stage, stage_limits

if TYPE_CHECKING:
    from edgeproxy.config_types import ServerConfig

Origin = CustomOrigin | S3Origin

# The example request id of the AWS docs (spec §2), used by the sample events.
SAMPLE_REQUEST_ID = "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="
SAMPLE_CLIENT_IP = "203.0.113.178"


@dataclass(frozen=True, slots=True)
class EventConfig:
    """`cf.config` values that do not change per request."""

    domain_name: str = "d111111abcdef8.cloudfront.net"
    distribution_id: str = "EDFDVBD6EXAMPLE"

    @classmethod
    def from_server(cls, server: ServerConfig) -> EventConfig:
        return cls(server.domain_name, server.distribution_id)


@dataclass(frozen=True, slots=True)
class ExposedBody:
    """The request body prefix shown to a function with Include Body (spec §2, §5)."""

    data: bytes
    truncated: bool


@dataclass(slots=True)
class RequestUpdate:
    """A request stage's function returned the request: what to continue with.

    `body` is the replacement body (already truncated to the stage's limit, spec §10) when the
    function set `body.action = "replace"`, else None; the caller applies it with
    a new `RequestBody.of(body)` — this module changes nothing it was given.
    """

    request: EdgeRequest
    origin: Origin | None
    body: bytes | None = None


# --------------------------------------------------------------------------------------------
# Building events


def header_map(headers: HeaderList) -> dict[str, list[dict[str, str]]]:
    """HeaderList → CloudFront header map; disallowed names are left out (spec §4)."""
    out: dict[str, list[dict[str, str]]] = {}
    for name, value in headers:
        if is_disallowed(name):
            continue
        entries = out.get(name)
        if entries is None:
            out[name] = [{"key": title_case(name), "value": value}]
        else:
            entries.append({"key": title_case(name), "value": value})
    return out


def _seconds(value: float) -> float | int:
    """Timeouts print as ints when whole, as in CloudFront's events (`"readTimeout": 30`)."""
    return int(value) if float(value).is_integer() else value


def origin_dict(origin: Origin) -> dict[str, Any]:
    """`request.origin` exactly as the spec examples show it."""
    if isinstance(origin, CustomOrigin):
        return {
            "custom": {
                "customHeaders": header_map(list(origin.custom_headers)),
                "domainName": origin.domain_name,
                "keepaliveTimeout": _seconds(origin.keepalive_timeout_s),
                "path": origin.path,
                "port": origin.port,
                "protocol": origin.protocol,
                "readTimeout": _seconds(origin.read_timeout_s),
                "sslProtocols": list(origin.ssl_protocols),
            }
        }
    return {
        "s3": {
            "authMethod": origin.auth_method,
            "customHeaders": header_map(list(origin.custom_headers)),
            "domainName": origin.domain_name,
            "path": origin.path,
            "region": origin.region,
        }
    }


def _record(stage: Stage, config: EventConfig, request_id: str, cf_request: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "cf": {
                    "config": {
                        "distributionDomainName": config.domain_name,
                        "distributionId": config.distribution_id,
                        "eventType": stage.value,
                        "requestId": request_id,
                    },
                    "request": cf_request,
                }
            }
        ]
    }


def _cf_request(stage: Stage, request: EdgeRequest, origin: Origin | None) -> dict[str, Any]:
    cf_request: dict[str, Any] = {
        "clientIp": request.client_ip,
        "headers": header_map(request.headers),
        "method": request.method,
        "querystring": request.querystring,
        "uri": request.uri,
    }
    if origin is not None and not stage.is_viewer:
        cf_request["origin"] = origin_dict(origin)
    return cf_request


def request_event(
    stage: Stage,
    request: EdgeRequest,
    config: EventConfig,
    request_id: str,
    *,
    origin: Origin | None = None,
    body: ExposedBody | None = None,
) -> dict[str, Any]:
    """The event for a viewer-request or origin-request function.

    `request` is the request as this stage sees it: the viewer's at viewer-request, the one
    CloudFront will send at origin-request (spec §6) — *without* the origin's custom headers,
    which travel in `origin.customHeaders` and may not repeat a request header. `origin` is shown
    at origin-request only; `body` (Include Body) adds `request.body`.
    """
    if not stage.is_request:
        raise ValueError(f"request_event is for request stages, not {stage}")
    cf_request = _cf_request(stage, request, origin)
    if body is not None:
        cf_request["body"] = {
            "inputTruncated": body.truncated,
            "action": "read-only",
            "encoding": "base64",
            "data": base64.b64encode(body.data).decode("ascii"),
        }
    return _record(stage, config, request_id, cf_request)


def response_event(
    stage: Stage,
    request: EdgeRequest,
    response: EdgeResponse,
    config: EventConfig,
    request_id: str,
    *,
    origin: Origin | None = None,
) -> dict[str, Any]:
    """The event for an origin-response or viewer-response function (no body is exposed)."""
    if stage.is_request:
        raise ValueError(f"response_event is for response stages, not {stage}")
    event = _record(stage, config, request_id, _cf_request(stage, request, origin))
    event["Records"][0]["cf"]["response"] = {
        "status": str(response.status),
        "statusDescription": response.reason or status_phrase(response.status),
        "headers": header_map(response.headers),
    }
    return event


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# --------------------------------------------------------------------------------------------
# Applying results


def _split(headers: HeaderList, watched: frozenset[str]) -> tuple[dict[str, list[str]], HeaderList]:
    """One pass: values of the watched (read-only) names, and the headers hidden from the event."""
    before: dict[str, list[str]] = {}
    hidden: HeaderList = []
    for name, value in headers:
        if name in watched:
            values = before.get(name)
            if values is None:
                before[name] = [value]
            else:
                values.append(value)
        elif is_disallowed(name):
            hidden.append((name, value))
    return before, hidden


def _returned_headers(
    stage: Stage, obj: object, original: HeaderList
) -> tuple[HeaderList, dict[str, list[str]]]:
    """Headers from a returned request/response, checked against `original`.

    Returns the new HeaderList — the function's headers in its order, then the headers the event
    hid, unchanged (the function could not see them, so it cannot have meant to drop them) — and
    the function's name → values map.
    """
    values, keys = v.parse_header_map(obj)
    before, hidden = _split(original, v.WATCHED[stage])
    v.check_header_rules(stage, values, keys, before)
    headers = [(name, value) for name, vals in values.items() for value in vals]
    if hidden:
        headers.extend(hidden)
    return headers, values


def apply_request_result(
    stage: Stage,
    event: dict[str, Any],
    result: object,
    request: EdgeRequest,
    origin: Origin | None,
) -> RequestUpdate | EdgeResponse:
    """Read what a viewer-request / origin-request function returned.

    A result with a `status` key is a generated response (returned as `EdgeResponse` with a
    complete `body`); anything else must be the request (returned as `RequestUpdate`). `request`
    and `origin` are what the event was built from; `event` is the event as built (only used to
    know whether a body was exposed). Raises `HookInvalidResult` on any rule broken.
    """
    if not stage.is_request:
        raise ValueError(f"apply_request_result is for request stages, not {stage}")
    if not isinstance(result, dict):
        raise v.not_an_object()
    if "status" in result:
        return _generated_response(stage, result)

    if "uri" not in result:
        raise v.fail(
            "the result is neither a request (no uri field) nor a response (no status field).",
            "request",
        )
    # Unchanged values came from the viewer and are not re-checked (spec §4: "set by a function").
    uri = result["uri"]
    querystring = result.get("querystring")
    if querystring is None:
        querystring = request.querystring
    if uri != request.uri or querystring != request.querystring:
        uri = v.check_uri(uri)
        querystring = v.check_querystring(querystring)
        v.check_url_length(uri, querystring)
    method = result.get("method")
    if method is not None:
        v.check_read_only_field("method", method, request.method)
    client_ip = result.get("clientIp")
    if client_ip is not None:
        v.check_read_only_field("clientIp", client_ip, request.client_ip)

    returned_headers = result.get("headers")
    names: Container[str] | None = None
    if returned_headers is None:
        headers = request.headers
    else:
        headers, names = _returned_headers(stage, returned_headers, request.headers)

    new_origin = origin
    if stage is Stage.ORIGIN_REQUEST:
        returned_origin = result.get("origin")
        if returned_origin is not None:
            if names is None:
                names = {name for name, _ in headers}
            new_origin = read_origin(returned_origin, origin, names)
        if returned_headers is not None and new_origin is not None and new_origin.custom_headers:
            _check_added_headers(request.headers, names, new_origin)

    new_body: bytes | None = None
    returned_body = result.get("body")
    if returned_body is not None and "body" in event["Records"][0]["cf"]["request"]:
        new_body = _replaced_request_body(stage, returned_body)

    if uri == request.uri and querystring == request.querystring and headers is request.headers:
        new_request = request
    else:
        if headers is request.headers:
            headers = list(headers)  # never share the caller's list
        new_request = dataclasses.replace(request, uri=uri, querystring=querystring, headers=headers)
    return RequestUpdate(request=new_request, origin=new_origin, body=new_body)


def _check_added_headers(original: HeaderList, names: Container[str], origin: Origin) -> None:
    """A request header the function added may not repeat an origin custom header (spec §2)."""
    shown = {name for name, _ in original}
    for name, _ in origin.custom_headers:
        if name in names and name not in shown:
            raise v.custom_header_conflict(name)


def _replaced_request_body(stage: Stage, body: object) -> bytes | None:
    """`request.body` of a result: None unless `action` is `replace` (spec §2).

    A replacement over the stage's limit is truncated, not rejected (spec §10); the limit is on
    the decoded bytes (40 KB text ≈ 53.2 KB base64 at viewer stages, spec §5).
    """
    if not isinstance(body, dict):
        raise v.fail(f"the request body must be an object, got {type(body).__name__}.", "body")
    action = body.get("action", "read-only")
    if action == "read-only":
        return None
    if action != "replace":
        raise v.fail(f"the body action must be read-only or replace, got {action!r}.", "body")
    encoding = body.get("encoding")
    data = v.decode_body(
        body.get("data"),
        "base64" if encoding is None else encoding,
        field="body data",
        encoding_field="body encoding",
    )
    limit = stage_limits(stage)[1]
    return data[:limit] if len(data) > limit else data


def _generated_response(stage: Stage, result: dict[str, Any]) -> EdgeResponse:
    """A response generated at viewer-request / origin-request (spec §3, §4, §10)."""
    status = v.parse_status(result["status"])
    reason = v.parse_status_description(result.get("statusDescription"))
    returned_headers = result.get("headers")
    if returned_headers is None:
        headers: HeaderList = []
    else:
        values, keys = v.parse_header_map(returned_headers)
        v.check_header_rules(stage, values, keys, {}, generated=True)
        headers = [(name, value) for name, vals in values.items() for value in vals]
    body = v.decode_body(
        result.get("body"), result.get("bodyEncoding"), field="body", encoding_field="bodyEncoding"
    )
    if status == 204 and body and stage is Stage.VIEWER_REQUEST:
        raise v.fail("the generated response has status 204 and a body.", "body")
    v.check_response_size(stage, headers, body, stage_limits(stage)[1], "generated response")
    return EdgeResponse(status=status, headers=headers, body=body, reason=reason)


def apply_response_result(
    stage: Stage,
    event: dict[str, Any],
    result: object,
    response: EdgeResponse,
) -> EdgeResponse:
    """Read what an origin-response / viewer-response function returned.

    The function may change `status` (200–599; not at viewer-response, a local reading of the
    docs, spec §10), `statusDescription`, `headers`, and set `body` (+ `bodyEncoding`), which
    replaces the origin body (`""` empties it) within the stage's size limit (headers + body).

    Body ownership: when the body is not replaced the returned response takes over `body`,
    `stream` and `close` from `response` (release only the returned one). When it is replaced the
    returned response has `body=bytes` and no stream, and the caller must `response.release()` the
    input's unread stream. `event` is not read: `response` is the baseline.
    """
    if stage.is_request:
        raise ValueError(f"apply_response_result is for response stages, not {stage}")
    if not isinstance(result, dict):
        raise v.not_an_object()
    if "status" not in result:
        raise v.fail("the returned response has no status field.", "response")
    status = v.parse_status(result["status"], unchanged=response.status)
    if stage is Stage.VIEWER_RESPONSE and status != response.status:
        raise v.fail(
            f"the function tried to change the status of a viewer response : {response.status} -> {status}.",
            "status",
        )
    if result.get("statusDescription") is not None:
        reason = v.parse_status_description(result["statusDescription"])
    else:
        reason = response.reason if status == response.status else ""

    returned_headers = result.get("headers")
    if returned_headers is None:
        headers = response.headers
    else:
        headers, _ = _returned_headers(stage, returned_headers, response.headers)

    returned_body = result.get("body")
    if returned_body is None:
        return EdgeResponse(
            status=status,
            headers=headers,
            body=response.body,
            stream=response.stream,
            reason=reason,
            close=response.close,
        )
    body = v.decode_body(
        returned_body, result.get("bodyEncoding"), field="body", encoding_field="bodyEncoding"
    )
    v.check_response_size(stage, headers, body, stage_limits(stage)[1], "response")
    return EdgeResponse(status=status, headers=headers, body=body, reason=reason)


# --------------------------------------------------------------------------------------------
# Origins


def read_origin(obj: object, original: Origin | None, request_names: Container[str]) -> Origin:
    """`request.origin` returned at origin-request → a model (spec §2).

    The original object comes back when nothing changed, keeping its local-only fields (name,
    connect timeout, attempts, forward_host); with the same domain those fields carry over.
    """
    if not isinstance(obj, dict):
        raise v.origin_fail("Origin", f"The origin must be an object, got {type(obj).__name__}.")
    custom = obj.get("custom")
    s3 = obj.get("s3")
    if (custom is None) == (s3 is None):
        raise v.origin_fail("Origin", "The origin must have exactly one of custom or s3.")
    if custom is not None:
        return _read_custom(custom, original if isinstance(original, CustomOrigin) else None, request_names)
    return _read_s3(s3, original if isinstance(original, S3Origin) else None, request_names)


def _read_custom(
    obj: object, base: CustomOrigin | None, request_names: Container[str]
) -> CustomOrigin:
    if not isinstance(obj, dict):
        raise v.origin_fail("Origin", f"origin.custom must be an object, got {type(obj).__name__}.")
    domain = v.check_domain_name(obj.get("domainName"), s3=False)
    protocol = v.check_protocol(obj["protocol"] if "protocol" in obj else (base.protocol if base else "https"))
    if "port" in obj:
        port = v.check_port(obj["port"])
    else:
        port = base.port if base else (443 if protocol == "https" else 80)
    path = v.check_origin_path(obj.get("path", base.path if base else ""))
    read_timeout = float(
        v.check_timeout(obj["readTimeout"], "ReadTimeout", 4, 60, base.read_timeout_s if base else None)
        if "readTimeout" in obj
        else (base.read_timeout_s if base else 30.0)
    )
    keepalive = float(
        v.check_timeout(
            obj["keepaliveTimeout"], "KeepaliveTimeout", 1, 60, base.keepalive_timeout_s if base else None
        )
        if "keepaliveTimeout" in obj
        else (base.keepalive_timeout_s if base else 5.0)
    )
    if "sslProtocols" in obj:
        ssl_protocols = v.check_ssl_protocols(obj["sslProtocols"])
    else:
        ssl_protocols = base.ssl_protocols if base else ("TLSv1.2",)
    custom_headers = _custom_headers(obj, base.custom_headers if base else (), request_names)
    fields = dict(
        port=port,
        protocol=protocol,
        path=path,
        read_timeout_s=read_timeout,
        keepalive_timeout_s=keepalive,
        ssl_protocols=ssl_protocols,
        custom_headers=custom_headers,
    )
    if base is not None and domain == base.domain_name:
        changed = dataclasses.replace(base, **fields)  # type: ignore[arg-type]
        return base if changed == base else changed
    return CustomOrigin(domain_name=domain, **fields)  # type: ignore[arg-type]


def _read_s3(obj: object, base: S3Origin | None, request_names: Container[str]) -> S3Origin:
    if not isinstance(obj, dict):
        raise v.origin_fail("Origin", f"origin.s3 must be an object, got {type(obj).__name__}.")
    domain = v.check_domain_name(obj.get("domainName"), s3=True)
    auth_method = v.check_auth_method(obj["authMethod"] if "authMethod" in obj else (base.auth_method if base else None))
    region = v.check_region(obj["region"] if "region" in obj else (base.region if base else ""), auth_method)
    path = v.check_origin_path(obj.get("path", base.path if base else ""))
    custom_headers = _custom_headers(obj, base.custom_headers if base else (), request_names)
    fields = dict(path=path, region=region, auth_method=auth_method, custom_headers=custom_headers)
    if base is not None and domain == base.domain_name:
        changed = dataclasses.replace(base, **fields)  # type: ignore[arg-type]
        return base if changed == base else changed
    return S3Origin(domain_name=domain, **fields)  # type: ignore[arg-type]


def _custom_headers(
    obj: dict[str, Any], original: tuple[tuple[str, str], ...], request_names: Container[str]
) -> tuple[tuple[str, str], ...]:
    """`customHeaders` of a returned origin; left out = unchanged.

    Headers handed back as shown are the configured ones, accepted at start-up; only changed
    ones are checked against the request's header names.
    """
    returned = obj.get("customHeaders")
    if returned is None:
        return original
    headers = v.check_custom_headers(returned)
    if headers == original:
        return original
    v.check_custom_header_duplicates(headers, request_names)
    return headers


# --------------------------------------------------------------------------------------------
# Sample models for `edgeproxy events` and tests: realistic values from the AWS docs (spec §2).

VIEWER_HEADERS: HeaderList = [
    ("host", "d111111abcdef8.cloudfront.net"),
    ("user-agent", "curl/7.66.0"),
    ("accept", "*/*"),
]


def sample_request(
    uri: str = "/",
    method: str = "GET",
    querystring: str = "",
    headers: HeaderList | None = None,
    body: bytes = b"",
    client_ip: str = SAMPLE_CLIENT_IP,
) -> EdgeRequest:
    """A viewer request as in the docs' viewer-request example (host, user-agent, accept)."""
    return EdgeRequest(
        method=method,
        uri=uri,
        querystring=querystring,
        headers=list(VIEWER_HEADERS if headers is None else headers),
        client_ip=client_ip,
        body=RequestBody.of(body),
        request_id=SAMPLE_REQUEST_ID,
    )


def sample_origin_request(request: EdgeRequest, origin: Origin | None = None) -> EdgeRequest:
    """`request` as CloudFront sends it to `origin` (the docs' origin-request example):
    X-Forwarded-For, User-Agent `Amazon CloudFront`, Via, Host = the origin's domain, then the
    viewer's other headers except Accept (not forwarded by default, spec §6)."""
    origin = origin or sample_origin()
    headers: HeaderList = [
        ("x-forwarded-for", request.client_ip),
        ("user-agent", "Amazon CloudFront"),
        ("via", "2.0 2afae0d44e2540f472c0635ab62c232b.cloudfront.net (CloudFront)"),
        ("host", origin.domain_name),
    ]
    headers.extend((k, val) for k, val in request.headers if k not in ("host", "user-agent", "accept"))
    return dataclasses.replace(request, headers=headers)


def sample_response(
    status: int = 200,
    headers: HeaderList | None = None,
    body: bytes = b"<!DOCTYPE html><html><body><p>Hello from the origin.</p></body></html>\n",
    now: float | None = None,
) -> EdgeResponse:
    """An origin response as in the docs' origin-response example (date, content-type, length)."""
    if headers is None:
        headers = [
            ("date", email.utils.formatdate(now, usegmt=True)),
            ("content-type", "text/html; charset=utf-8"),
            ("content-length", str(len(body))),
        ]
    return EdgeResponse(status=status, headers=list(headers), body=body, reason=status_phrase(status))


def sample_origin() -> CustomOrigin:
    """The docs' example custom origin: https://example.org, readTimeout 30, keepalive 5."""
    return CustomOrigin(
        domain_name="example.org",
        port=443,
        protocol="https",
        path="",
        read_timeout_s=30.0,
        keepalive_timeout_s=5.0,
        ssl_protocols=("TLSv1", "TLSv1.1", "TLSv1.2"),
    )


def sample_event(
    stage: Stage,
    request: EdgeRequest | None = None,
    *,
    body: bytes | None = None,
    response: EdgeResponse | None = None,
    origin: Origin | None = None,
    config: EventConfig | None = None,
    request_id: str = SAMPLE_REQUEST_ID,
) -> dict[str, Any]:
    """A realistic event of any stage (for `edgeproxy events` / `invoke` and tests).

    `request` is the viewer's (default `sample_request()`); origin-facing stages show its
    origin-facing form (`sample_origin_request`) and `origin` (default `sample_origin()`);
    response stages a `response` (default `sample_response()`). `body` (request stages) is
    exposed as with Include Body, truncated at the stage's limit.
    """
    config = config or EventConfig()
    request = request or sample_request()
    if not stage.is_viewer:
        origin = origin or sample_origin()
        request = sample_origin_request(request, origin)
    if stage.is_request:
        exposed = None
        if body is not None:
            limit = stage_limits(stage)[1]
            exposed = ExposedBody(body[:limit], len(body) > limit)
        return request_event(stage, request, config, request_id, origin=origin, body=exposed)
    return response_event(stage, request, response or sample_response(), config, request_id, origin=origin)
