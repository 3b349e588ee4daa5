"""Lambda@Edge handlers for the proxy integration tests (tests/test_hooks_proxy.py).

Each is an ordinary handler; behaviour is steered by the request so one module serves many tests.
"""

import base64
import json


def _cf(event):
    return event["Records"][0]["cf"]


def viewer_request(event, context):
    """Steered by the request path:
    /gen...     generated 200 with the event JSON as body
    /redirect   generated 302
    /rewrite... uri rewritten to /rewritten..., query replaced, header added
    /readonly   adds a Via header (read-only at viewer-request -> 502)
    /boom       raises
    else        adds x-vr: 1
    """
    cf = _cf(event)
    request = cf["request"]
    uri = request["uri"]
    if uri.startswith("/gen"):
        return {
            "status": "200",
            "statusDescription": "OK",
            "headers": {"content-type": [{"key": "Content-Type", "value": "application/json"}]},
            "body": json.dumps(event),
        }
    if uri == "/redirect":
        return {"status": 302, "headers": {"location": [{"value": "https://example.com/"}]}}
    if uri.startswith("/rewrite"):
        request["uri"] = "/rewritten" + uri[len("/rewrite"):]
        request["querystring"] = "changed=1"
        request["headers"]["x-vr"] = [{"key": "X-VR", "value": "rewrote"}]
        return request
    if uri == "/readonly":
        request["headers"]["via"] = [{"key": "Via", "value": "1.1 me"}]
        return request
    if uri == "/boom":
        raise ValueError("viewer-request exploded")
    request["headers"]["x-vr"] = [{"key": "X-VR", "value": "1"}]
    return request


def echo_body(event, context):
    """Viewer-request with include_body: /replace replaces the body; otherwise read-only and the
    exposed body is reported in a header."""
    request = _cf(event)["request"]
    body = request.get("body") or {}
    data = base64.b64decode(body.get("data", ""))
    request["headers"]["x-seen-body-len"] = [{"key": "X-Seen-Body-Len", "value": str(len(data))}]
    request["headers"]["x-seen-truncated"] = [{"key": "X-Seen-Truncated", "value": str(body.get("inputTruncated"))}]
    if request["uri"] == "/replace":
        request["body"] = {"action": "replace", "encoding": "text", "data": "replaced!"}
    return request


def origin_request(event, context):
    """Adds x-or; /generated returns a cacheable generated response; a request with header
    x-switch-port switches to that local origin with a custom header; /event returns the event."""
    cf = _cf(event)
    request = cf["request"]
    uri = request["uri"]
    if uri.startswith("/generated"):
        return {
            "status": "200",
            "headers": {
                "cache-control": [{"key": "Cache-Control", "value": "max-age=300"}],
                "content-type": [{"key": "Content-Type", "value": "text/plain"}],
            },
            "body": "generated at origin-request",
        }
    if uri == "/event":
        return {"status": "200", "headers": {"cache-control": [{"value": "no-store"}]}, "body": json.dumps(event)}
    switch = request["headers"].get("x-switch-port")
    if switch:
        port = int(switch[0]["value"])
        request["origin"] = {
            "custom": {
                "domainName": "127.0.0.1",
                "port": port,
                "protocol": "http",
                "path": "",
                "sslProtocols": ["TLSv1.2"],
                "readTimeout": 5,
                "keepaliveTimeout": 5,
                "customHeaders": {"x-from-hook": [{"key": "X-From-Hook", "value": "yes"}]},
            }
        }
        request["headers"]["host"] = [{"key": "Host", "value": "127.0.0.1:%d" % port}]
    request["headers"]["x-or"] = [{"key": "X-OR", "value": request["origin"]["custom"]["domainName"] + ":" + str(request["origin"]["custom"]["port"])}]
    return request


def origin_response(event, context):
    """404 -> 200 with a body; always adds x-ores and max-age=300 (so the result is cached)."""
    response = _cf(event)["response"]
    response["headers"]["x-ores"] = [{"key": "X-ORES", "value": response["status"]}]
    if response["status"] == "404":
        response["status"] = 200
        response["statusDescription"] = "OK"
        response["body"] = "rescued by origin-response"
        response["headers"]["cache-control"] = [{"key": "Cache-Control", "value": "max-age=300"}]
    return response


def viewer_response(event, context):
    """Adds x-vres; /status-change tries to change the status (-> 502)."""
    cf = _cf(event)
    response = cf["response"]
    response["headers"]["x-vres"] = [{"key": "X-VRES", "value": response["status"]}]
    if cf["request"]["uri"] == "/status-change":
        response["status"] = "201"
    return response


def noisy(event, context):
    print("hello from the hook", context.aws_request_id)
    return _cf(event)["request"]
