"""The `edgeproxy` command as a user runs it: subprocesses, real ports, real signals."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import Scripted

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgeproxy", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def start_serve(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """`edgeproxy serve --port 0 ...`; returns the process and its base URL once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeproxy", "serve", "--port", "0", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"Uvicorn running on (http://\S+)", line)
        if match:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep draining
            return proc, match.group(1)
    proc.kill()
    raise AssertionError("serve did not start:\n" + "".join(lines))


def test_check_reports_every_problem_with_key_and_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(
        """[server]
port = "eighty"

[origins.app]
url = "http://127.0.0.1:9000"
read_timeot_s = 3

[default_behavior]
origin = "nope"
"""
    )
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 2
    err = result.stderr
    assert "Traceback" not in err
    assert f"{config}:2" in err and "server.port" in err
    assert "read_timeot_s" in err and "did you mean 'read_timeout_s'" in err and f"{config}:6" in err
    assert "default_behavior.origin" in err and f"{config}:9" in err


def test_check_malformed_toml_is_exit_2_with_line(tmp_path):
    config = tmp_path / "broken.toml"
    config.write_text("[server]\nport = 80\n[origins.app\n")
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 2
    assert f"{config}:3" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_ok_on_the_example_config():
    result = run_cli("check", "--config", str(REPO / "config.example.toml"), cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_serve_with_no_config_serves_the_demo_origin(tmp_path):
    proc, url = start_serve(cwd=tmp_path)
    try:
        r = httpx.get(url + "/", timeout=10)
        assert r.status_code == 200
        assert "edgeproxy demo origin" in r.text
        assert r.headers["x-cache"] in ("Miss from cloudfront", "Hit from cloudfront")
    finally:
        proc.terminate()
        proc.wait(20)


def test_sigterm_lets_in_flight_requests_finish(origin, tmp_path):
    origin.script("/slow", Scripted(delay_s=1.0, body=b"done"))
    config = tmp_path / "c.toml"
    config.write_text(f'[origins.app]\nurl = "{origin.url}"\n[default_behavior]\norigin = "app"\n')
    proc, url = start_serve("--config", str(config), cwd=tmp_path)
    result: dict[str, object] = {}

    def fetch() -> None:
        try:
            result["response"] = httpx.get(url + "/slow", timeout=20)
        except httpx.HTTPError as exc:  # pragma: no cover - the failure we test against
            result["error"] = exc

    thread = threading.Thread(target=fetch)
    thread.start()
    deadline = time.monotonic() + 10
    while origin.count("/slow") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    thread.join(20)
    response = result.get("response")
    assert isinstance(response, httpx.Response), result
    assert response.status_code == 200 and response.content == b"done"
    # uvicorn re-raises the signal it handled once shutdown is complete.
    assert proc.wait(20) in (0, -signal.SIGTERM)


def test_events_prints_json_only(tmp_path):
    import json

    result = run_cli("events", "origin-request", "--uri", "/x", "--querystring", "a=1", "--header", "X-Test: yes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stdout)
    cf = event["Records"][0]["cf"]
    assert cf["config"]["eventType"] == "origin-request"
    assert cf["request"]["uri"] == "/x" and cf["request"]["querystring"] == "a=1"
    assert cf["request"]["headers"]["x-test"] == [{"key": "X-Test", "value": "yes"}]
    assert "custom" in cf["request"]["origin"]


@pytest.mark.parametrize("stage", ["viewer-request", "origin-request", "origin-response", "viewer-response"])
def test_events_every_stage_is_valid_json(stage, tmp_path):
    import json

    result = run_cli("events", stage, cwd=tmp_path)
    assert result.returncode == 0
    cf = json.loads(result.stdout)["Records"][0]["cf"]
    assert cf["config"]["eventType"] == stage
    assert ("response" in cf) == stage.endswith("response")
    assert ("origin" in cf["request"]) == stage.startswith("origin")


def test_unknown_command_is_usage_error():
    result = run_cli("frobnicate")
    assert result.returncode == 2


STAGES_HOOKS = REPO / "tests" / "hookmods" / "stages.py"


def test_invoke_prints_the_result_json_only_and_exits_0(tmp_path):
    import json

    result = run_cli(
        "invoke", f"{REPO}/hooks/redirect.py:handler", "--event-type", "viewer-request",
        "--uri", "/old/page", "--querystring", "a=1", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    generated = json.loads(result.stdout)
    assert generated["status"] == "301"
    assert generated["headers"]["location"][0]["value"] == "/new/page?a=1"
    assert "REPORT RequestId:" in result.stderr and "Init Duration:" in result.stderr


def test_invoke_exit_codes_for_execution_and_validation_failures(tmp_path):
    failed = run_cli("invoke", f"{STAGES_HOOKS}:viewer_request", "--event-type", "viewer-request", "--uri", "/boom", cwd=tmp_path)
    assert failed.returncode == 3
    assert "viewer-request exploded" in failed.stderr
    assert failed.stdout == ""
    invalid = run_cli("invoke", f"{STAGES_HOOKS}:viewer_request", "--event-type", "viewer-request", "--uri", "/readonly", cwd=tmp_path)
    assert invalid.returncode == 4
    assert "read-only header" in invalid.stderr and "Via" in invalid.stderr
    usage = run_cli("invoke", "no-colon-here", "--event-type", "viewer-request", cwd=tmp_path)
    assert usage.returncode == 2


def test_invoke_with_an_event_file_and_the_configured_function(tmp_path):
    import json

    event = run_cli("events", "origin-response", "--status", "404", cwd=tmp_path)
    event_file = tmp_path / "event.json"
    event_file.write_text(event.stdout)
    result = run_cli(
        "invoke", "--config", str(REPO / "config.example.toml"), "--function", "cache_control",
        "--event-type", "origin-response", "--event", str(event_file), cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["status"] == "404"
    assert "cache-control" not in response["headers"]  # errors keep CloudFront's error caching
    mismatch = run_cli("invoke", f"{REPO}/hooks/rewrite.py:handler", "--event-type", "viewer-request", "--event", str(event_file), cwd=tmp_path)
    assert mismatch.returncode == 2
    assert "eventType" in mismatch.stderr


def test_workers_2_serve_and_an_invalidation_reaches_every_process(tmp_path):
    import socket as _socket

    with _socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        admin_port = s.getsockname()[1]
    config = tmp_path / "w.toml"
    config.write_text('[origins.demo]\nurl = "builtin:demo"\n[default_behavior]\norigin = "demo"\ncache_policy = "Managed-CachingOptimized"\n')
    proc, url = start_serve("--config", str(config), "--workers", "2", "--admin-port", str(admin_port), cwd=tmp_path)
    try:
        admin = f"http://127.0.0.1:{admin_port}"
        deadline = time.monotonic() + 30
        while True:  # each worker binds the admin port once its app has started
            try:
                if httpx.get(admin + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "admin listener did not come up"
            time.sleep(0.05)
        for _ in range(20):
            assert httpx.get(url + "/", timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        while True:  # both workers have registered their control socket
            r = httpx.post(admin + "/invalidations", json={"paths": ["/*"]}, timeout=10)
            assert r.status_code == 201
            if r.json()["Processes"] == 2:
                break
            assert time.monotonic() < deadline, r.json()
            time.sleep(0.1)
        assert httpx.get(url + "/", timeout=10).headers["x-cache"] == "Miss from cloudfront"
    finally:
        proc.terminate()
        proc.wait(30)
