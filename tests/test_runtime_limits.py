"""Lambda's limits on real workers: timeout, crash, memory, concurrency, provisioning, shutdown.

Deadlines here are real (a handler really sleeps past its timeout), kept short; everything that
waits for a process to go away polls with a deadline instead of sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import psutil
import pytest

from edgeproxy.errors import HookCrashed, HookInitError, HookMemoryExceeded, HookThrottled, HookTimeout
from tests.runtime_support import (
    UUID_RE,
    FakeClock,
    LogRecorder,
    event,
    eventually,
    function_logs,  # noqa: F401  (fixture)
    hook,
    process_gone,
    running,
    worker_pids,
)

TIMEOUT = 10.0


async def test_timeout_kills_the_worker_and_the_next_invocation_gets_a_new_one(function_logs: LogRecorder) -> None:
    async with running(hook("slow", "misbehave.py:sleep"), hook("count", "behave.py:counter")) as runtime:
        await runtime.invoke("slow", event(sleep_s=0.0), request_id="warm", timeout_s=TIMEOUT)
        [old_pid] = worker_pids(runtime, "slow")
        started = time.monotonic()
        with pytest.raises(HookTimeout) as caught:
            await runtime.invoke("slow", event(sleep_s=30), request_id="cf-slow", timeout_s=0.5)
        elapsed = time.monotonic() - started
        assert 0.5 <= elapsed < 3.0
        assert caught.value.message == "Task timed out after 0.50 seconds"
        assert caught.value.function == "slow"
        await eventually(lambda: process_gone(old_pid), what="the timed-out worker to die")
        assert await runtime.invoke("slow", event(sleep_s=0.0), request_id="cf-next", timeout_s=TIMEOUT) == {"slept": 0.0}
        assert worker_pids(runtime, "slow") != [old_pid]
        assert runtime.stats().functions["slow"].errors == {"timeout": 1}
    lines = function_logs.lines("cf-slow")
    aws_id = re.fullmatch(rf"START RequestId: ({UUID_RE}) Version: 1", lines[0])[1]  # type: ignore[index]
    assert lines[1] == f"END RequestId: {aws_id}"
    assert lines[2].startswith(f"REPORT RequestId: {aws_id}\t")
    report = function_logs.reports("cf-slow")[0]
    assert float(report["duration"]) >= 500
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {aws_id} Task timed out after 0\.50 seconds", lines[3])


async def test_timeout_kills_forked_children_too(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    async with running(hook("forks", "misbehave.py:fork_then_hang")) as runtime:
        with pytest.raises(HookTimeout):
            await runtime.invoke("forks", event(pidfile=str(pidfile)), request_id="cf", timeout_s=1.0)
        child = int(pidfile.read_text())
        await eventually(lambda: process_gone(child), what=f"forked child {child} to die")


@pytest.mark.parametrize(
    ("handler", "description"),
    [
        ("exit3", "Runtime exited with error: exit status 3"),
        ("sys_exit", "Runtime exited with error: exit status 7"),
        ("segfault", "Runtime exited with error: signal: segmentation fault"),
        ("sigkill", "Runtime exited with error: signal: killed"),
    ],
)
async def test_crash_is_hook_crashed_and_the_function_recovers(handler: str, description: str, function_logs: LogRecorder) -> None:
    async with running(hook("crash", f"misbehave.py:{handler}"), hook("ok", "behave.py:counter")) as runtime:
        with pytest.raises(HookCrashed) as caught:
            await runtime.invoke("crash", event(), request_id="cf-crash", timeout_s=TIMEOUT)
        assert caught.value.message == description
        assert runtime.stats().functions["crash"].live_workers == 0
        assert runtime.stats().functions["crash"].errors == {"crash": 1}
        assert (await runtime.invoke("ok", event(), request_id="cf-ok", timeout_s=TIMEOUT))["invocations"] == 1  # type: ignore[index]
        with pytest.raises(HookCrashed):  # a fresh worker, the same fate
            await runtime.invoke("crash", event(), request_id="cf-again", timeout_s=TIMEOUT)
    lines = function_logs.lines("cf-crash")
    aws_id = lines[0].split()[2]
    assert lines[-2:] == [f"RequestId: {aws_id} Error: {description}", "Runtime.ExitError"]
    assert lines[-4] == f"END RequestId: {aws_id}" and lines[-3].startswith(f"REPORT RequestId: {aws_id}\t")


async def test_a_crash_leaves_other_invocations_alone() -> None:
    async with running(hook("slow", "misbehave.py:sleep"), hook("crash", "misbehave.py:exit3")) as runtime:
        slow = asyncio.create_task(runtime.invoke("slow", event(sleep_s=0.5), request_id="a", timeout_s=TIMEOUT))
        with pytest.raises(HookCrashed):
            await runtime.invoke("crash", event(), request_id="b", timeout_s=TIMEOUT)
        assert await slow == {"slept": 0.5}


@pytest.mark.parametrize("handler", ["allocate_hold", "allocate_return"])
async def test_memory_over_memory_mb_kills_the_worker(handler: str, function_logs: LogRecorder) -> None:
    async with running(hook("hog", f"misbehave.py:{handler}", memory_mb=128), hook("ok", "behave.py:counter")) as runtime:
        await runtime.invoke("ok", event(), request_id="warm", timeout_s=TIMEOUT)
        started = time.monotonic()
        with pytest.raises(HookMemoryExceeded) as caught:
            await runtime.invoke("hog", event(mb=300, hold_s=30), request_id="cf-hog", timeout_s=TIMEOUT)
        assert time.monotonic() - started < 8.0
        assert "Memory Size: 128 MB" in caught.value.message
        assert runtime.stats().functions["hog"].errors == {"memory": 1}
        assert runtime.stats().functions["hog"].live_workers == 0
        assert (await runtime.invoke("ok", event(), request_id="after", timeout_s=TIMEOUT))["invocations"] == 2  # type: ignore[index]
    lines = function_logs.lines("cf-hog")
    aws_id = lines[0].split()[2]
    assert int(function_logs.reports("cf-hog")[0]["used"]) > 128
    assert f"RequestId: {aws_id} Error: Runtime exited with error: signal: killed" in lines
    assert lines[-1] == "Runtime.ExitError"
    assert any("Memory Size 128 MB" in line for line in lines)


async def test_memory_error_in_the_handler_counts_as_memory_exceeded() -> None:
    async with running(hook("oom", "misbehave.py:raise_memory_error")) as runtime:
        with pytest.raises(HookMemoryExceeded, match="MemoryError: cannot allocate"):
            await runtime.invoke("oom", event(), request_id="cf", timeout_s=TIMEOUT)
        assert runtime.stats().functions["oom"].live_workers == 0  # replaced, not reused


async def test_max_memory_used_is_the_workers_own_peak_not_the_proxys(function_logs: LogRecorder) -> None:
    ballast = b"p" * (200 * 1024 * 1024)  # make this (the spawning) process big
    async with running(hook("small", "behave.py:counter", memory_mb=128)) as runtime:
        await runtime.invoke("small", event(), request_id="cf", timeout_s=TIMEOUT)
    assert len(ballast) and int(function_logs.reports("cf")[0]["used"]) < 100


async def test_reserved_concurrency_throttles_at_once() -> None:
    async with running(hook("slow", "misbehave.py:sleep", reserved_concurrency=2)) as runtime:
        sleepers = [
            asyncio.create_task(runtime.invoke("slow", event(sleep_s=1.0), request_id=f"s{i}", timeout_s=TIMEOUT))
            for i in range(2)
        ]
        await asyncio.sleep(0)  # both are now running or starting a worker
        with pytest.raises(HookThrottled) as caught:
            await runtime.invoke("slow", event(sleep_s=0.0), request_id="third", timeout_s=TIMEOUT)
        assert not any(s.done() for s in sleepers)  # no queueing: refused while both still run
        assert "reserved_concurrency = 2" in caught.value.message
        assert caught.value.function == "slow"
        assert await asyncio.gather(*sleepers) == [{"slept": 1.0}, {"slept": 1.0}]
        assert await runtime.invoke("slow", event(sleep_s=0.0), request_id="later", timeout_s=TIMEOUT) == {"slept": 0.0}
        stats = runtime.stats().functions["slow"]
        assert (stats.throttles, stats.invocations) == (1, 3)


async def test_reserved_concurrency_zero_always_throttles() -> None:
    async with running(hook("off", "behave.py:counter", reserved_concurrency=0, provisioned_concurrency=1)) as runtime:
        with pytest.raises(HookThrottled):
            await runtime.invoke("off", event(), request_id="cf", timeout_s=TIMEOUT)
        assert runtime.stats().functions["off"].throttles == 1
        assert runtime.stats().functions["off"].invocations == 0


async def test_global_cap_retires_the_least_recently_used_idle_worker_of_another_function() -> None:
    functions = [hook(name, "behave.py:counter") for name in ("a", "b", "c")]
    async with running(*functions, max_workers=2) as runtime:
        await runtime.invoke("a", event(), request_id="1", timeout_s=TIMEOUT)
        await runtime.invoke("b", event(), request_id="2", timeout_s=TIMEOUT)
        [a_pid] = worker_pids(runtime, "a")
        await runtime.invoke("c", event(), request_id="3", timeout_s=TIMEOUT)
        stats = runtime.stats()
        assert [stats.functions[n].live_workers for n in ("a", "b", "c")] == [0, 1, 1]
        assert stats.live_workers == 2
        await eventually(lambda: process_gone(a_pid), what="the retired worker to exit")


async def test_global_cap_waits_for_a_slot_then_throttles() -> None:
    functions = [hook("slow", "misbehave.py:sleep"), hook("count", "behave.py:counter")]
    async with running(*functions, max_workers=1) as runtime:
        slow = asyncio.create_task(runtime.invoke("slow", event(sleep_s=2.0), request_id="s", timeout_s=TIMEOUT))
        await eventually(lambda: runtime.stats().functions["slow"].busy_workers == 1, what="the slow one to run")
        started = time.monotonic()
        with pytest.raises(HookThrottled, match="max_workers"):
            await runtime.invoke("count", event(), request_id="c", timeout_s=0.3)
        assert 0.25 <= time.monotonic() - started < 1.8
        # With time enough, it waits: the slow worker goes idle, is retired, and "count" gets the slot.
        assert (await runtime.invoke("count", event(), request_id="c2", timeout_s=TIMEOUT))["invocations"] == 1  # type: ignore[index]
        assert await slow == {"slept": 2.0}
        assert runtime.stats().functions["count"].throttles == 1


async def test_provisioned_workers_are_initialised_by_start(function_logs: LogRecorder) -> None:
    async with running(hook("warm", "behave.py:context_dump", provisioned_concurrency=2)) as runtime:
        stats = runtime.stats().functions["warm"]
        assert (stats.live_workers, stats.idle_workers, stats.init_duration.count) == (2, 2, 2)
        pids = set(worker_pids(runtime, "warm"))
        result = await runtime.invoke("warm", event(), request_id="cf", timeout_s=TIMEOUT)
        assert set(worker_pids(runtime, "warm")) == pids  # no cold start
    assert result["environ"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"  # type: ignore[index]
    assert function_logs.reports("cf")[0]["init"] is None  # Init happened before traffic


async def test_provisioned_init_failure_is_logged_not_raised() -> None:
    async with running(hook("broken", "import_fail.py:handler", provisioned_concurrency=1)) as runtime:
        assert runtime.stats().functions["broken"].live_workers == 0
        with pytest.raises(HookInitError, match="settings file is missing"):
            await runtime.invoke("broken", event(), request_id="cf", timeout_s=TIMEOUT)


async def test_lost_provisioned_worker_is_replaced_in_the_background() -> None:
    async with running(hook("p", "misbehave.py:exit3", provisioned_concurrency=1)) as runtime:
        [first] = worker_pids(runtime, "p")
        with pytest.raises(HookCrashed):
            await runtime.invoke("p", event(), request_id="cf", timeout_s=TIMEOUT)
        await eventually(lambda: runtime.stats().functions["p"].idle_workers == 1, what="a replacement worker")
        assert worker_pids(runtime, "p") != [first]


async def test_idle_workers_above_provisioned_are_reaped() -> None:
    clock = FakeClock()
    config = hook("slow", "misbehave.py:sleep", provisioned_concurrency=1)
    async with running(config, idle_timeout_s=60, clock=clock) as runtime:
        await asyncio.gather(
            *(runtime.invoke("slow", event(sleep_s=0.2), request_id=f"r{i}", timeout_s=TIMEOUT) for i in range(3))
        )
        assert runtime.stats().functions["slow"].idle_workers == 3
        assert runtime.reap_idle() == 0  # nobody idle for a minute yet
        clock.advance(61)
        assert runtime.reap_idle() == 2  # all but the provisioned one
        assert runtime.stats().functions["slow"].live_workers == 1
        assert runtime.reap_idle() == 0


async def test_a_caller_that_stops_waiting_does_not_lose_the_worker(function_logs: LogRecorder) -> None:
    async with running(hook("slow", "misbehave.py:sleep")) as runtime:
        await runtime.invoke("slow", event(sleep_s=0.0), request_id="warm", timeout_s=TIMEOUT)
        [pid] = worker_pids(runtime, "slow")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(runtime.invoke("slow", event(sleep_s=0.3), request_id="gone", timeout_s=TIMEOUT), 0.05)
        await eventually(lambda: runtime.stats().functions["slow"].idle_workers == 1, what="the worker to finish")
        assert worker_pids(runtime, "slow") == [pid]
        assert await runtime.invoke("slow", event(sleep_s=0.0), request_id="next", timeout_s=TIMEOUT) == {"slept": 0.0}
    assert function_logs.lines("gone")[-1].startswith("REPORT ")  # its END/REPORT are still written


async def test_close_leaves_no_process_behind(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    functions = [hook("p", "behave.py:counter", provisioned_concurrency=2), hook("forks", "misbehave.py:fork_then_return")]
    async with running(*functions) as runtime:
        result = await runtime.invoke("forks", event(pidfile=str(pidfile)), request_id="cf", timeout_s=TIMEOUT)
        busy = asyncio.create_task(runtime.invoke("p", event(), request_id="x", timeout_s=TIMEOUT))
        pids = worker_pids(runtime, "p") + worker_pids(runtime, "forks")
        assert len(pids) == 3
    child = result["child"]  # type: ignore[index]
    assert child == int(pidfile.read_text())
    await asyncio.gather(busy, return_exceptions=True)
    for pid in [*pids, child]:
        await eventually(lambda pid=pid: process_gone(pid), what=f"process {pid} to be gone")  # type: ignore[misc]
    assert [p.pid for p in psutil.Process(os.getpid()).children(recursive=True)] == []


async def test_invoke_after_close_and_unknown_function() -> None:
    async with running(hook("count", "behave.py:counter")) as runtime:
        with pytest.raises(ValueError, match="no function named 'nope'"):
            await runtime.invoke("nope", event(), request_id="cf", timeout_s=TIMEOUT)
    with pytest.raises(HookCrashed, match="shut down"):
        await runtime.invoke("count", event(), request_id="cf", timeout_s=TIMEOUT)


async def test_stats_count_outcomes_and_durations() -> None:
    functions = [hook("mixed", "misbehave.py:sleep"), hook("boom", "misbehave.py:raise_error")]
    async with running(*functions) as runtime:
        for _ in range(3):
            await runtime.invoke("mixed", event(sleep_s=0.0), request_id="ok", timeout_s=TIMEOUT)
        with pytest.raises(HookTimeout):
            await runtime.invoke("mixed", event(sleep_s=5), request_id="slow", timeout_s=0.3)
        with pytest.raises(Exception):
            await runtime.invoke("boom", event(), request_id="b", timeout_s=TIMEOUT)
        stats = runtime.stats()
    mixed = stats.functions["mixed"]
    assert (mixed.invocations, mixed.errors, mixed.throttles) == (4, {"timeout": 1}, 0)
    assert mixed.duration.count == 4 and mixed.duration.cumulative[-1] == 4
    assert mixed.duration.cumulative[mixed.duration.bounds_ms.index(250)] == 3  # the fast three
    assert mixed.duration.sum_ms >= 300
    assert mixed.init_duration.count == 1  # one cold start; the timed-out worker was not replaced (no traffic since)
    assert stats.functions["boom"].errors == {"exception": 1}
    assert stats.max_workers >= 8


def test_workers_die_with_the_proxy(tmp_path: Path) -> None:
    """A proxy that is SIGKILLed cannot clean up; its workers must not outlive it (PR_SET_PDEATHSIG)."""
    import signal
    import subprocess
    import sys

    script = tmp_path / "proxy.py"
    script.write_text(
        "import asyncio, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[1])!r})\n"
        "from tests.runtime_support import hook, running\n"
        "async def main():\n"
        "    async with running(hook('p', 'behave.py:counter', provisioned_concurrency=2)) as runtime:\n"
        "        print(' '.join(str(w.pid) for w in runtime.stats().functions['p'].workers), flush=True)\n"
        "        await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    proxy = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proxy.stdout is not None
        pids = [int(p) for p in proxy.stdout.readline().split()]
        assert len(pids) == 2 and all(not process_gone(p) for p in pids)
    finally:
        proxy.send_signal(signal.SIGKILL)
        proxy.wait()
    deadline = time.monotonic() + 10
    while not all(process_gone(p) for p in pids):
        assert time.monotonic() < deadline, "workers outlived their proxy"
        time.sleep(0.01)


async def test_an_idle_worker_killed_from_outside_is_dropped() -> None:
    import signal

    async with running(hook("count", "behave.py:counter")) as runtime:
        await runtime.invoke("count", event(), request_id="1", timeout_s=TIMEOUT)
        [pid] = worker_pids(runtime, "count")
        os.kill(pid, signal.SIGKILL)  # the kernel's OOM killer, an operator...
        await eventually(lambda: runtime.stats().functions["count"].live_workers == 0, what="the dead worker to be dropped")
        result = await runtime.invoke("count", event(), request_id="2", timeout_s=TIMEOUT)
        assert result["invocations"] == 1 and result["pid"] != pid  # type: ignore[index]


async def test_a_burst_over_three_functions_respects_the_cap_and_balances_the_books() -> None:
    functions = [hook(name, "misbehave.py:sleep") for name in ("x", "y", "z")]
    peak = 0

    async with running(*functions, max_workers=3) as runtime:

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, sum(len(p.workers) for p in runtime._pools.values()))
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        results = await asyncio.gather(
            *(
                runtime.invoke("xyz"[i % 3], event(sleep_s=0.02), request_id=f"r{i}", timeout_s=TIMEOUT)
                for i in range(45)
            )
        )
        watcher.cancel()
        stats = runtime.stats()
    assert results == [{"slept": 0.02}] * 45
    assert peak <= 3
    assert stats.live_workers <= 3 and stats.waiting_invocations == 0
    assert sum(f.invocations for f in stats.functions.values()) == 45
    assert all(f.busy_workers == 0 and f.errors == {} and f.throttles == 0 for f in stats.functions.values())
