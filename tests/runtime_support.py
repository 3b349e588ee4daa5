"""Helpers shared by the runtime tests: function configs for `tests/hookmods`, a log recorder,
a realistic event, and waiting for a condition on real processes (with a deadline, never a
fixed sleep)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from edgeproxy.config_types import FunctionConfig, RuntimeConfig
from edgeproxy.events import sample_event, sample_request
from edgeproxy.runtime import FunctionRuntime
from edgeproxy.types import Stage

TESTS = Path(__file__).parent
HOOKMODS = TESTS / "hookmods"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
REPORT_RE = re.compile(
    rf"^REPORT RequestId: (?P<id>{UUID_RE})\tDuration: (?P<duration>\d+\.\d\d) ms\tBilled Duration: (?P<billed>\d+) ms"
    rf"\tMemory Size: (?P<size>\d+) MB\tMax Memory Used: (?P<used>\d+) MB(?:\tInit Duration: (?P<init>\d+\.\d\d) ms)?$"
)


def hook(name: str, handler: str, **settings: Any) -> FunctionConfig:
    """A function whose handler is `tests/hookmods/<handler>` (e.g. `behave.py:counter`)."""
    return FunctionConfig(name=name, handler=f"hookmods/{handler}", base_dir=TESTS, **settings)


@dataclass
class LogRecorder:
    """Everything `edgeproxy.logs.function_log` was given, in order."""

    records: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, function: str, request_id: str, *lines: str) -> None:
        self.records.extend((function, request_id, line) for line in lines)

    def lines(self, request_id: str | None = None) -> list[str]:
        return [line for _, rid, line in self.records if request_id is None or rid == request_id]

    def reports(self, request_id: str | None = None) -> list[re.Match[str]]:
        return [m for line in self.lines(request_id) if (m := REPORT_RE.match(line))]


@pytest.fixture
def function_logs(monkeypatch: pytest.MonkeyPatch) -> LogRecorder:
    recorder = LogRecorder()
    monkeypatch.setattr("edgeproxy.logs.function_log", recorder)
    return recorder


@asynccontextmanager
async def running(
    *functions: FunctionConfig,
    max_workers: int = 0,
    idle_timeout_s: float = 300.0,
    start: bool = True,
    **kwargs: Any,
) -> AsyncIterator[FunctionRuntime]:
    runtime = FunctionRuntime(
        {f.name: f for f in functions},
        RuntimeConfig(max_workers=max_workers, idle_timeout_s=idle_timeout_s),
        **kwargs,
    )
    try:
        if start:
            await runtime.start()
        yield runtime
    finally:
        await runtime.close()


def event(uri: str = "/index.html", **extra: Any) -> dict[str, Any]:
    """A viewer-request event as CloudFront sends it, plus `extra` top-level keys for test handlers."""
    return {**sample_event(Stage.VIEWER_REQUEST, sample_request(uri=uri)), **extra}


async def eventually(condition: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Wait until `condition()` holds (polled), failing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def process_gone(pid: int) -> bool:
    """True once `pid` no longer runs: reaped, or a zombie that is not ours to reap (an orphan
    handed to init). A zombie child of this test process would be a leak, so it does not count."""
    try:
        process = psutil.Process(pid)
        return process.status() == psutil.STATUS_ZOMBIE and process.ppid() != os.getpid()
    except psutil.NoSuchProcess:
        return True


def worker_pids(runtime: FunctionRuntime, function: str) -> list[int]:
    return [w.pid for w in runtime.stats().functions[function].workers]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
