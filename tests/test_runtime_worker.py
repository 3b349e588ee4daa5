"""A warm worker seen through `FunctionRuntime`: Init, the handler's environment, results, errors, logs.

Real worker processes throughout; handlers live in `tests/hookmods`.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path

import pytest

from edgeproxy.config_types import FunctionConfig
from edgeproxy.errors import HookFailed, HookInitError
from tests.runtime_support import (
    HOOKMODS,
    UUID_RE,
    FakeClock,
    LogRecorder,
    event,
    function_logs,  # noqa: F401  (fixture)
    hook,
    running,
    worker_pids,
)

TIMEOUT = 10.0  # generous: these handlers are fast, the machine may not be


async def test_warm_reuse_keeps_globals_and_reports_init_duration_once(function_logs: LogRecorder) -> None:
    async with running(hook("count", "behave.py:counter")) as runtime:
        results = [await runtime.invoke("count", event(), request_id=f"cf-{i}", timeout_s=TIMEOUT) for i in range(3)]
    assert [r["invocations"] for r in results] == [1, 2, 3]  # type: ignore[index]
    assert len({r["pid"] for r in results}) == 1  # type: ignore[index]
    reports = function_logs.reports()
    assert len(reports) == 3
    assert reports[0]["init"] is not None and float(reports[0]["init"]) > 0
    assert reports[1]["init"] is None and reports[2]["init"] is None
    assert all(r["size"] == "128" and int(r["used"]) > 0 for r in reports)
    assert all(int(r["billed"]) >= max(1, float(r["duration"])) for r in reports)


async def test_start_end_report_lines_per_invocation(function_logs: LogRecorder) -> None:
    async with running(hook("echo", "behave.py:echo_request")) as runtime:
        for cf_id in ("cf-a", "cf-b"):
            await runtime.invoke("echo", event(), request_id=cf_id, timeout_s=TIMEOUT)
    ids = set()
    for cf_id in ("cf-a", "cf-b"):
        start, end, report = function_logs.lines(cf_id)
        aws_id = re.fullmatch(rf"START RequestId: ({UUID_RE}) Version: 1", start)[1]  # type: ignore[index]
        assert end == f"END RequestId: {aws_id}"
        assert report.startswith(f"REPORT RequestId: {aws_id}\tDuration: ")
        ids.add(aws_id)
    assert len(ids) == 2  # a fresh aws request id per invocation
    assert {function for function, _, _ in function_logs.records} == {"echo"}


async def test_handler_output_is_logged_in_order_between_start_and_end(function_logs: LogRecorder) -> None:
    async with running(hook("logs", "behave.py:logs")) as runtime:
        assert await runtime.invoke("logs", event(), request_id="cf-1", timeout_s=TIMEOUT) == {"ok": True}
    lines = function_logs.lines("cf-1")
    aws_id = lines[0].split()[2]
    assert lines[1:3] == ["printed line", "to stderr"]
    assert re.fullmatch(rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{aws_id}\tinfo from logging", lines[3])
    assert re.fullmatch(rf"\[WARNING\]\t\S+Z\t{aws_id}\twarning from a child logger", lines[4])
    assert lines[5] == "via context.log"
    assert lines[6] == f"END RequestId: {aws_id}"
    assert lines[7].startswith("REPORT")
    assert not any("not shown" in line for line in lines)


async def test_context_object(function_logs: LogRecorder) -> None:
    async with running(hook("ctx", "behave.py:context_dump", memory_mb=256)) as runtime:
        first = await runtime.invoke("ctx", event(), request_id="cf-1", timeout_s=3.0)
        second = await runtime.invoke("ctx", event(), request_id="cf-2", timeout_s=3.0)
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["function_name"] == "us-east-1.ctx"
    assert first["function_version"] == "1" and first["version_type"] == "str"
    assert first["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:us-east-1.ctx:1"
    assert first["memory_limit_in_mb"] == "256" and first["memory_limit_type"] == "str"
    assert first["log_group_name"] == "/aws/lambda/us-east-1.ctx"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[1\][0-9a-f]{32}", first["log_stream_name"])
    assert first["identity_id"] is None and first["identity_pool_id"] is None
    assert first["client_context"] is None
    assert 0 < first["remaining_ms"] <= 3000
    assert re.fullmatch(UUID_RE, first["aws_request_id"])
    assert first["aws_request_id"] != second["aws_request_id"]
    assert f"START RequestId: {first['aws_request_id']} Version: 1" in function_logs.lines("cf-1")


async def test_environment_cwd_and_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPROXY_LEAK_PROBE", "from the proxy")
    monkeypatch.setenv("PYTHONPATH", "/should/not/leak")
    async with running(hook("env", "behave.py:context_dump")) as runtime:
        result = await runtime.invoke("env", event(), request_id="cf", timeout_s=TIMEOUT)
    assert isinstance(result, dict)
    env = result["environ"]
    allowed = {
        "_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
        "TZ", "LANG", "PATH", "PYTHONUNBUFFERED", "LD_LIBRARY_PATH", "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "LC_CTYPE",  # set by Python itself (PEP 538) where the en_US.UTF-8 locale is not installed
    }  # fmt: skip
    assert set(env) <= allowed, set(env) - allowed
    assert env["_HANDLER"] == "hookmods/behave.py:context_dump"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "us-east-1.env"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["TZ"] == ":UTC"
    assert env["LAMBDA_TASK_ROOT"] == str(HOOKMODS)
    assert result["cwd"] == str(HOOKMODS)
    assert result["sys_path"][0] == str(HOOKMODS)
    assert "/should/not/leak" not in result["sys_path"]
    assert not any(p.rstrip("/").endswith("/edgeproxy") for p in result["sys_path"])


async def test_module_handler_with_layers(tmp_path: Path) -> None:
    layer = tmp_path / "layer" / "python"
    layer.mkdir(parents=True)
    (layer / "shared_helper.py").write_text("GREETING = 'from a layer'\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "handlers.py").write_text(
        "import os, sys\nimport shared_helper\n"
        "def handler(event, context):\n"
        "    return {'greeting': shared_helper.GREETING, 'path': sys.path[:3], 'cwd': os.getcwd()}\n"
    )
    config = FunctionConfig(name="mod", handler="app.handlers:handler", base_dir=tmp_path, layers=(Path("layer"),))
    async with running(config) as runtime:
        result = await runtime.invoke("mod", event(), request_id="cf", timeout_s=TIMEOUT)
    assert result == {
        "greeting": "from a layer",
        "path": [str(tmp_path), str(layer), str(tmp_path / "layer")],
        "cwd": str(tmp_path),
    }


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        ("behave.py:bound", {"greeting": "hello from a bound method"}),
        ("behave.py:greeter.handle", {"greeting": "hello from a bound method"}),
        ("behave.py:callable_object", {"called": "callable object"}),
        ("behave.py:add_header", None),
    ],
)
async def test_any_callable_attribute_is_a_handler(handler: str, expected: object) -> None:
    async with running(hook("h", handler)) as runtime:
        result = await runtime.invoke("h", event(), request_id="cf", timeout_s=TIMEOUT)
    if expected is None:
        assert result["headers"]["x-hook"] == [{"key": "X-Hook", "value": "added"}]  # type: ignore[index]
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        ("return_none", None),
        ("return_list", [1, "two", {"three": 3}]),
        ("return_str", "just a string"),
        ("return_decimal", {"price": 1.5, "7": "int key"}),  # as Lambda's json.dumps marshals them
        ("return_tuple", {"pair": [1, 2]}),
    ],
)
async def test_results_are_any_json_value(handler: str, expected: object) -> None:
    async with running(hook("r", f"behave.py:{handler}")) as runtime:
        assert await runtime.invoke("r", event(), request_id="cf", timeout_s=TIMEOUT) == expected


async def test_exception_is_hook_failed_with_the_traceback_cut_at_the_handler(function_logs: LogRecorder) -> None:
    async with running(hook("boom", "misbehave.py:raise_error")) as runtime:
        with pytest.raises(HookFailed) as caught:
            await runtime.invoke("boom", event(), request_id="cf-1", timeout_s=TIMEOUT)
        pid = worker_pids(runtime, "boom")
        with pytest.raises(HookFailed):
            await runtime.invoke("boom", event(), request_id="cf-2", timeout_s=TIMEOUT)
        assert worker_pids(runtime, "boom") == pid  # a handled exception keeps the environment
        assert runtime.stats().functions["boom"].errors == {"exception": 2}
    assert caught.value.message == "ValueError: bad value: 42"
    assert caught.value.function == "boom"
    lines = function_logs.lines("cf-1")
    error_at = lines.index("[ERROR] ValueError: bad value: 42")
    trace = lines[error_at + 1 : lines.index(next(line for line in lines if line.startswith("END ")))]
    assert trace[0] == "Traceback (most recent call last):"
    frames = [line for line in trace if line.startswith("  File ")]
    assert len(frames) == 2
    assert f'File "{HOOKMODS / "misbehave.py"}"' in frames[0] and frames[0].endswith("in raise_error")
    assert "in _inner_helper" in frames[1]
    assert not any("edgeproxy" in line for line in trace)


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ("return_bytes", "Runtime.MarshalError: Unable to marshal response: Object of type bytes is not JSON serializable"),
        ("return_cyclic", "Runtime.MarshalError: Unable to marshal response: Circular reference detected"),
        ("return_datetime", "Runtime.MarshalError: Unable to marshal response: Object of type datetime is not JSON serializable"),
        ("return_huge", "Function.ResponseSizeTooLarge: Response payload size ("),
    ],
)
async def test_unmarshallable_results_fail_and_keep_the_worker(handler: str, message: str) -> None:
    async with running(hook("bad", f"misbehave.py:{handler}")) as runtime:
        with pytest.raises(HookFailed) as caught:
            await runtime.invoke("bad", event(), request_id="cf", timeout_s=TIMEOUT)
        [pid] = worker_pids(runtime, "bad")
        assert runtime.stats().functions["bad"].idle_workers == 1
        with pytest.raises(HookFailed):
            await runtime.invoke("bad", event(), request_id="cf", timeout_s=TIMEOUT)
        assert worker_pids(runtime, "bad") == [pid]  # the same warm worker, still healthy
    assert caught.value.message.startswith(message)


async def test_print_flood_neither_blocks_the_loop_nor_breaks_the_worker(function_logs: LogRecorder) -> None:
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async with running(hook("flood", "misbehave.py:print_flood"), hook("count", "behave.py:counter")) as runtime:
        await runtime.invoke("count", event(), request_id="warm", timeout_s=TIMEOUT)
        tick = asyncio.create_task(ticker())
        result = await runtime.invoke("flood", event(lines=100_000), request_id="cf-flood", timeout_s=30.0)
        after = await runtime.invoke("flood", event(lines=2), request_id="cf-after", timeout_s=TIMEOUT)
        tick.cancel()
    assert result == {"printed": 100_000}
    assert after == {"printed": 2}
    flood = function_logs.lines("cf-flood")
    printed = [line for line in flood if line.startswith("flood line ")]
    assert len(printed) == 100_000
    assert printed[0] == "flood line 0" and printed[-1] == "flood line 99999"
    assert flood[-2].startswith("END ") and flood[-1].startswith("REPORT ")  # every print before END
    assert function_logs.lines("cf-after")[1:3] == ["flood line 0", "flood line 1"]
    assert gaps and max(gaps) < 1.0, f"event loop stalled for {max(gaps):.2f} s"


async def test_a_line_without_newline_is_cut_not_buffered_forever(function_logs: LogRecorder) -> None:
    async with running(hook("long", "misbehave.py:print_no_newline")) as runtime:
        await runtime.invoke("long", event(), request_id="cf", timeout_s=TIMEOUT)
    pieces = [line for line in function_logs.lines("cf") if line.startswith("y")]
    assert [len(p) for p in pieces] == [256 * 1024, 256 * 1024, 600 * 1024 - 512 * 1024]


def _syntax_error_file(tmp_path: Path) -> FunctionConfig:
    (tmp_path / "broken.py").write_text("def handler(event, context)\n    return {}\n")
    return FunctionConfig(name="f", handler="broken.py:handler", base_dir=tmp_path)


INIT_FAILURES = [
    (hook("f", "import_fail.py:handler"), "RuntimeError: settings file is missing"),
    (
        hook("f", "import_missing.py:handler"),
        "Runtime.ImportModuleError: Unable to import module 'import_missing': No module named 'edgeproxy_no_such_dependency'",
    ),
    (hook("f", "behave.py:nope"), "Runtime.HandlerNotFound: Handler 'nope' missing on module 'behave'"),
    (hook("f", "behave.py:no_args"), "Runtime.InvalidHandler: Handler 'no_args' on module 'behave' cannot be called as handler(event, context)"),
    (hook("f", "behave.py:not_callable"), "Runtime.InvalidHandler: Handler 'not_callable' on module 'behave' is not callable"),
    (hook("f", "no_such_file.py:handler"), "Runtime.ImportModuleError: Unable to import module 'no_such_file': No module named 'no_such_file'"),
    (hook("f", "import_exit.py:handler"), "Runtime.ExitError: Runtime exited with error: exit status 4"),
    (FunctionConfig(name="f", handler="handler", base_dir=HOOKMODS), "Runtime.MalformedHandlerName: Bad handler 'handler'"),
    (FunctionConfig(name="f", handler="builtins:print", base_dir=HOOKMODS), "Runtime.BuiltInModuleConflict"),
    (None, "Runtime.UserCodeSyntaxError: Syntax error in module 'broken': expected ':' (broken.py, line 1)"),
]


@pytest.mark.parametrize(("config", "message"), INIT_FAILURES, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(INIT_FAILURES)])
async def test_init_failures(config: FunctionConfig | None, message: str, tmp_path: Path, function_logs: LogRecorder) -> None:
    config = config or _syntax_error_file(tmp_path)
    async with running(config) as runtime:
        with pytest.raises(HookInitError) as caught:
            await runtime.invoke("f", event(), request_id="cf", timeout_s=TIMEOUT)
        assert caught.value.message.startswith(message), caught.value.message
        assert caught.value.function == "f"
        assert await runtime.check("f") is not None
        assert runtime.stats().functions["f"].live_workers == 0
        assert runtime.stats().functions["f"].errors == {"init": 1}


async def test_init_error_is_logged_with_the_traceback_from_the_users_module(function_logs: LogRecorder) -> None:
    async with running(hook("f", "import_fail.py:handler")) as runtime:
        with pytest.raises(HookInitError):
            await runtime.invoke("f", event(), request_id="cf", timeout_s=TIMEOUT)
    lines = function_logs.lines("cf")
    assert lines[0] == "[ERROR] RuntimeError: settings file is missing"
    assert lines[1] == "Traceback (most recent call last):"
    frames = [line for line in lines if line.startswith("  File ")]
    assert [f.rsplit(" in ", 1)[1] for f in frames] == ["<module>", "_load_settings"]
    assert not any("importlib" in line or "edgeproxy" in line for line in lines)
    assert re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: RuntimeError", lines[-1])


async def test_init_over_its_limit_is_killed(function_logs: LogRecorder) -> None:
    async with running(hook("hang", "import_hang.py:handler"), init_timeout_s=1.0) as runtime:
        started = time.monotonic()
        with pytest.raises(HookInitError) as caught:
            await runtime.invoke("hang", event(), request_id="cf", timeout_s=TIMEOUT)
        assert time.monotonic() - started < 5.0
        assert caught.value.message == "Sandbox.Timedout: Init timed out after 1.00 seconds"
        assert runtime.stats().functions["hang"].live_workers == 0
    assert function_logs.lines("cf")[-1] == "INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: timeout"


async def test_init_failure_is_remembered_briefly_then_retried(tmp_path: Path) -> None:
    handler = tmp_path / "flaky.py"
    handler.write_text("raise ImportError('not yet')\n")
    clock = FakeClock()
    config = FunctionConfig(name="flaky", handler="flaky.py:handler", base_dir=tmp_path)
    async with running(config, clock=clock) as runtime:
        for _ in range(3):
            with pytest.raises(HookInitError, match="not yet"):
                await runtime.invoke("flaky", event(), request_id="cf", timeout_s=TIMEOUT)
        stats = runtime.stats().functions["flaky"]
        assert stats.init_failures == 1  # one Init attempt; the two invocations after it failed at once
        assert stats.errors == {"init": 3}
        handler.write_text("def handler(event, context):\n    return {'fixed': True}\n")
        clock.advance(1.5)
        assert await runtime.invoke("flaky", event(), request_id="cf", timeout_s=TIMEOUT) == {"fixed": True}


async def test_import_warnings_and_prints_are_not_fatal(function_logs: LogRecorder) -> None:
    async with running(hook("warns", "import_warns.py:handler")) as runtime:
        assert await runtime.invoke("warns", event(), request_id="cf", timeout_s=TIMEOUT) == {"imported": True}
    text = "\n".join(function_logs.lines("cf"))
    assert "hello from module init" in text
    assert "UserWarning: careful with this one" in text


async def test_check_reports_import_problems_without_touching_the_pool() -> None:
    functions = [
        hook("good", "behave.py:counter"),
        hook("fails", "import_fail.py:handler"),
        hook("hangs", "import_hang.py:handler"),
        FunctionConfig(name="malformed", handler="nocolon", base_dir=HOOKMODS),
    ]
    async with running(*functions, init_timeout_s=1.0, start=False) as runtime:
        assert await runtime.check("good") is None
        assert await runtime.check("fails") == "RuntimeError: settings file is missing"
        assert await runtime.check("hangs") == "Sandbox.Timedout: Init timed out after 1.00 seconds"
        assert (await runtime.check("malformed") or "").startswith("Runtime.MalformedHandlerName")
        assert runtime.stats().live_workers == 0
        with pytest.raises(ValueError, match="no function named"):
            await runtime.check("unknown")


async def test_event_that_is_not_json_is_a_caller_error_and_leaves_the_worker_idle() -> None:
    async with running(hook("count", "behave.py:counter")) as runtime:
        await runtime.invoke("count", event(), request_id="cf", timeout_s=TIMEOUT)
        with pytest.raises(TypeError):
            await runtime.invoke("count", {"bad": object()}, request_id="cf", timeout_s=TIMEOUT)
        assert runtime.stats().functions["count"].idle_workers == 1
        assert (await runtime.invoke("count", event(), request_id="cf", timeout_s=TIMEOUT))["invocations"] == 2  # type: ignore[index]


def test_worker_module_is_importable_without_the_proxy() -> None:
    """The worker imports only protocol and context: no asyncio, psutil or supervisor per cold start."""
    import subprocess

    code = (
        "import sys; import edgeproxy.runtime.worker; "
        "print(sorted(m for m in ('asyncio', 'psutil', 'edgeproxy.runtime.supervisor', 'typing') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r}); {code}"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_large_events_and_results_cross_the_channel_in_pieces() -> None:
    """Frames bigger than a pipe's buffer: the parent finishes writing with add_writer, both sides reassemble."""
    data = "b" * (3 * 1024 * 1024)  # 3 MB out, 3 MB back: each ~48 pipe buffers
    big = event()
    big["Records"][0]["cf"]["request"]["body"] = {"action": "read-only", "encoding": "base64", "data": data, "inputTruncated": False}
    async with running(hook("big", "behave.py:body_size")) as runtime:
        for _ in range(2):
            result = await runtime.invoke("big", big, request_id="cf", timeout_s=TIMEOUT)
            assert result == {"received": len(data), "echo": data}
