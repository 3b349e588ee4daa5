"""Lambda@Edge stages through the running proxy: real workers, real origin, real HTTP.

Spec §1 (when each stage runs), §3 (what a result may do), §4 (errors), DESIGN §2 (X-Cache).
"""

from __future__ import annotations

import json

from tests.conftest import HOOKMODS
from tests.servers import ScriptableOrigin, Scripted

STAGES = HOOKMODS / "stages.py"


def functions_toml(**handlers: str) -> str:
    out = []
    for name, attr in handlers.items():
        out.append(f'[functions.{name}]\nhandler = "{STAGES}:{attr}"\n')
    return "\n".join(out)


def hooked_config(origin_url: str, *, cache_policy: str = "Managed-CachingOptimized", stages: dict[str, str], extra: str = "", behavior: str = "") -> str:
    functions = functions_toml(**{name: name for name in set(stages.values())})
    bindings = "\n".join(f'{stage} = "{name}"' for stage, name in stages.items())
    return f"""
[origins.app]
url = "{origin_url}"
read_timeout_s = 5

{functions}
{extra}
{behavior}
[default_behavior]
origin = "app"
cache_policy = "{cache_policy}"
{bindings}
"""


def echo_body_config(origin_url: str) -> str:
    """The echo_body function (Include Body) at viewer-request in front of `origin_url`."""
    return f"""
[origins.app]
url = "{origin_url}"

[functions.echo_body]
handler = "{STAGES}:echo_body"
include_body = true

[default_behavior]
origin = "app"
viewer_request = "echo_body"
"""


def invocations(proxy, name: str) -> int:
    return proxy.services.runtime.stats().functions[name].invocations


def test_viewer_request_generated_response_goes_straight_back_uncached(origin, proxy_factory, client):
    proxy = proxy_factory(hooked_config(origin.url, stages={"viewer_request": "viewer_request", "viewer_response": "viewer_response"}))
    r = client.get(proxy.url + "/gen?x=1", headers={"X-Custom": "abc"})
    assert r.status_code == 200
    assert r.headers["x-cache"] == "LambdaGeneratedResponse from cloudfront"
    assert "x-vres" not in r.headers  # viewer-response does not run for viewer-request responses
    event = json.loads(r.content)
    cf = event["Records"][0]["cf"]
    assert cf["config"]["eventType"] == "viewer-request"
    assert cf["config"]["requestId"] == r.headers["x-amz-cf-id"]
    assert cf["config"]["distributionId"] == "EDFDVBD6EXAMPLE"
    request = cf["request"]
    assert request["clientIp"] == "127.0.0.1"
    assert request["method"] == "GET" and request["uri"] == "/gen" and request["querystring"] == "x=1"
    assert request["headers"]["x-custom"] == [{"key": "X-Custom", "value": "abc"}]
    assert request["headers"]["host"][0]["value"] == f"127.0.0.1:{proxy.port}"
    assert "origin" not in request
    client.get(proxy.url + "/gen?x=1")
    assert origin.count("/gen") == 0
    assert invocations(proxy, "viewer_request") == 2  # not cached: the function ran again


def test_viewer_request_rewrite_changes_what_the_origin_gets(origin, proxy_factory, client):
    proxy = proxy_factory(hooked_config(origin.url, cache_policy="Managed-CachingDisabled", stages={"viewer_request": "viewer_request"}))
    r = client.get(proxy.url + "/rewrite/page?orig=1")
    assert r.status_code == 200
    assert r.headers["x-cache"] == "Miss from cloudfront"
    seen = origin.seen[-1]
    assert seen.path == "/rewritten/page"
    assert seen.query == "changed=1"
    assert seen.header("x-vr") == "rewrote"


def test_origin_request_event_shows_the_request_as_sent_and_may_switch_origin(origin, proxy_factory, client):
    other = ScriptableOrigin().start()
    try:
        proxy = proxy_factory(hooked_config(origin.url, cache_policy="Managed-CachingDisabled", stages={"origin_request": "origin_request"}))
        r = client.get(proxy.url + "/event", headers={"User-Agent": "tester/1"})
        cf = json.loads(r.content)["Records"][0]["cf"]
        assert cf["config"]["eventType"] == "origin-request"
        headers = cf["request"]["headers"]
        assert headers["host"][0]["value"] == f"127.0.0.1:{origin.port}"
        assert headers["x-forwarded-for"][0]["value"] == "127.0.0.1"
        assert headers["via"][0]["value"].endswith("(CloudFront)")
        assert "x-amz-cf-id" not in headers  # disallowed headers are hidden from functions
        custom = cf["request"]["origin"]["custom"]
        assert custom["domainName"] == "127.0.0.1" and custom["port"] == origin.port and custom["protocol"] == "http"
        assert r.headers["x-cache"] == "LambdaGeneratedResponse from cloudfront"

        client.get(proxy.url + "/plain")
        assert origin.seen[-1].header("x-or") == f"127.0.0.1:{origin.port}"

        r = client.get(proxy.url + "/switched", headers={"X-Switch-Port": str(other.port)})
        assert r.status_code == 200
        assert origin.count("/switched") == 0 and other.count("/switched") == 1
        seen = other.seen[-1]
        assert seen.header("x-from-hook") == "yes"
        assert seen.header("host") == f"127.0.0.1:{other.port}"
        assert seen.header("x-amz-cf-id") == r.headers["x-amz-cf-id"]
    finally:
        other.stop()


def test_origin_request_generated_response_is_cached(origin, proxy_factory, client):
    proxy = proxy_factory(hooked_config(origin.url, stages={"origin_request": "origin_request", "origin_response": "origin_response", "viewer_response": "viewer_response"}))
    first = client.get(proxy.url + "/generated")
    assert first.status_code == 200 and first.text == "generated at origin-request"
    assert first.headers["x-cache"] == "LambdaGeneratedResponse from cloudfront"
    assert "x-ores" not in first.headers  # origin-response skips generated responses
    assert first.headers["x-vres"] == "200"  # viewer-response runs for them (spec §10 reading)
    second = client.get(proxy.url + "/generated")
    assert second.headers["x-cache"] == "Hit from cloudfront"
    assert second.text == "generated at origin-request"
    assert second.headers["x-vres"] == "200"
    assert invocations(proxy, "origin_request") == 1
    assert origin.count("/generated") == 0


def test_origin_response_runs_on_errors_and_its_result_is_cached(origin, proxy_factory, client):
    origin.script("/missing", Scripted(status=404, body=b"nope"))
    proxy = proxy_factory(hooked_config(origin.url, stages={"origin_response": "origin_response", "viewer_response": "viewer_response"}))
    r = client.get(proxy.url + "/missing")
    assert r.status_code == 200 and r.text == "rescued by origin-response"
    assert r.headers["x-ores"] == "404"
    assert r.headers["content-length"] == str(len("rescued by origin-response"))
    assert r.headers["x-vres"] == "200"
    again = client.get(proxy.url + "/missing")
    assert again.headers["x-cache"] == "Hit from cloudfront"
    assert again.text == "rescued by origin-response"
    assert origin.count("/missing") == 1
    assert invocations(proxy, "origin_response") == 1  # not on a hit
    assert invocations(proxy, "viewer_response") == 2  # on hit and miss


def test_viewer_response_skipped_for_origin_errors(origin, proxy_factory, client):
    origin.script("/err", Scripted(status=500, body=b"bad"))
    proxy = proxy_factory(hooked_config(origin.url, stages={"viewer_response": "viewer_response"}))
    r = client.get(proxy.url + "/err")
    assert r.status_code == 500
    assert r.headers["x-cache"] == "Error from cloudfront"
    assert "x-vres" not in r.headers


def test_viewer_response_may_not_change_status(origin, proxy_factory, client, capfd):
    proxy = proxy_factory(hooked_config(origin.url, stages={"viewer_response": "viewer_response"}))
    r = client.get(proxy.url + "/status-change")
    assert r.status_code == 502
    assert r.headers["x-cache"] == "LambdaValidationError from cloudfront"
    assert "The Lambda function result failed validation" in r.text
    assert r.headers["x-amz-cf-id"] in r.text


def test_read_only_header_at_viewer_request_is_502_with_log_line(origin, proxy_factory, client, capfd):
    proxy = proxy_factory(hooked_config(origin.url, stages={"viewer_request": "viewer_request"}))
    r = client.get(proxy.url + "/readonly")
    assert r.status_code == 502
    assert r.headers["x-cache"] == "LambdaValidationError from cloudfront"
    err = capfd.readouterr().err
    assert "read-only header" in err and "Via" in err
    assert origin.count("/readonly") == 0


def test_exception_is_503_execution_error_with_traceback_in_log(origin, proxy_factory, client, capfd):
    proxy = proxy_factory(hooked_config(origin.url, stages={"viewer_request": "viewer_request"}))
    r = client.get(proxy.url + "/boom")
    assert r.status_code == 503
    assert r.headers["x-cache"] == "LambdaExecutionError from cloudfront"
    assert "503 ERROR" in r.text
    err = capfd.readouterr().err
    assert "viewer-request exploded" in err
    assert "stages.py" in err
    # Other requests are unaffected.
    assert client.get(proxy.url + "/fine").status_code == 200


def test_throttled_at_reserved_concurrency_zero(origin, proxy_factory, client):
    config = hooked_config(origin.url, stages={"viewer_request": "viewer_request"}).replace(
        f'handler = "{STAGES}:viewer_request"', f'handler = "{STAGES}:viewer_request"\nreserved_concurrency = 0'
    )
    proxy = proxy_factory(config)
    r = client.get(proxy.url + "/x")
    assert r.status_code == 503
    assert r.headers["x-cache"] == "LambdaLimitExceeded from cloudfront"
    assert "throttled" in r.text


def test_include_body_read_only_keeps_the_full_body_and_replace_replaces_it(origin, proxy_factory, client):
    proxy = proxy_factory(echo_body_config(origin.url))
    big = bytes(range(256)) * 400  # 102,400 bytes: over the 40 KB viewer limit
    r = client.post(proxy.url + "/keep", content=big)
    assert r.status_code == 200
    seen = origin.seen[-1]
    assert seen.body == big  # the origin still gets the whole original body
    assert seen.header("x-seen-body-len") == str(40 * 1024)
    assert seen.header("x-seen-truncated") == "True"
    r = client.post(proxy.url + "/replace", content=b"original")
    seen = origin.seen[-1]
    assert seen.body == b"replaced!"
    assert seen.header("content-length") == "9"
    assert seen.header("x-seen-truncated") == "False"


def test_origin_group_runs_origin_request_once_per_member(origin, proxy_factory, client):
    secondary = ScriptableOrigin().start()
    try:
        origin.script("/fo", Scripted(status=503))
        config = f"""
[origins.primary]
url = "{origin.url}"
[origins.secondary]
url = "{secondary.url}"
[origin_groups.group]
members = ["primary", "secondary"]

{functions_toml(origin_request="origin_request")}

[default_behavior]
origin = "group"
origin_request = "origin_request"
"""
        proxy = proxy_factory(config)
        r = client.get(proxy.url + "/fo")
        assert r.status_code == 200
        assert origin.seen[-1].header("x-or") == f"127.0.0.1:{origin.port}"
        assert secondary.seen[-1].header("x-or") == f"127.0.0.1:{secondary.port}"
        assert invocations(proxy, "origin_request") == 2
    finally:
        secondary.stop()


def test_function_output_reaches_the_log_with_request_ids(origin, proxy_factory, client, capfd):
    proxy = proxy_factory(hooked_config(origin.url, cache_policy="Managed-CachingDisabled", stages={"viewer_request": "noisy"}))
    r = client.get(proxy.url + "/p")
    assert r.status_code == 200
    err = capfd.readouterr().err
    assert "hello from the hook" in err
    assert "START RequestId:" in err and "REPORT RequestId:" in err
    assert r.headers["x-amz-cf-id"] in err


MISBEHAVE = HOOKMODS / "misbehave.py"
BEHAVE = HOOKMODS / "behave.py"


import pytest  # noqa: E402


@pytest.mark.parametrize(
    ("handler", "settings", "status", "result", "log_fragment"),
    [
        (f"{MISBEHAVE}:sleep", "timeout_s = 0.5", 503, "LambdaExecutionError", "Task timed out after 0.50 seconds"),
        (f"{MISBEHAVE}:exit3", "", 503, "LambdaExecutionError", "Runtime exited"),
        (f"{MISBEHAVE}:segfault", "", 503, "LambdaExecutionError", "signal"),
        (f"{MISBEHAVE}:allocate_hold", "", 503, "LambdaExecutionError", "memory"),
        (f"{MISBEHAVE}:return_bytes", "", 503, "LambdaExecutionError", "MarshalError"),
        (f"{BEHAVE}:return_list", "", 502, "LambdaValidationError", "The JSON output must be an object type"),
        (f"{BEHAVE}:return_none", "", 502, "LambdaValidationError", "The JSON output must be an object type"),
    ],
)
def test_broken_functions_fail_as_cloudfront_and_the_proxy_carries_on(
    origin, proxy_factory, client, capfd, handler, settings, status, result, log_fragment
):
    config = f"""
[origins.app]
url = "{origin.url}"

[functions.broken]
handler = "{handler}"
{settings}

[[behaviors]]
path_pattern = "/broken/*"
origin = "app"
viewer_request = "broken"

[default_behavior]
origin = "app"
"""
    proxy = proxy_factory(config)
    r = client.get(proxy.url + "/broken/x")
    assert r.status_code == status
    assert r.headers["x-cache"] == f"{result} from cloudfront"
    assert r.headers["server"] == "CloudFront"
    assert f"Request ID: {r.headers['x-amz-cf-id']}" in r.text
    assert log_fragment in capfd.readouterr().err
    assert origin.count("/broken/x") == 0
    # The proxy keeps serving, and the function's worker is replaced for the next request.
    assert client.get(proxy.url + "/other").status_code == 200
    again = client.get(proxy.url + "/broken/y")
    assert again.status_code == status


def test_a_replaced_body_does_not_leak_into_later_requests_without_one(origin, proxy_factory, client):
    proxy = proxy_factory(echo_body_config(origin.url))
    client.post(proxy.url + "/replace")  # no body of its own; the hook replaces it
    assert origin.seen[-1].body == b"replaced!"
    client.post(proxy.url + "/keep")
    assert origin.seen[-1].body == b""
    assert origin.seen[-1].header("x-seen-body-len") == "0"
