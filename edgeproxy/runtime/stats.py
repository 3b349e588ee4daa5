"""What the runtime reports about itself (`FunctionRuntime.stats()`), for `/metrics` and `/functions`.

Snapshots are frozen dataclasses, safe to hand across module borders; the counters behind them are
plain ints and one `Histogram` per series, updated once per invocation on the event loop (no locks:
everything runs on the loop thread).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

# Prometheus-style upper bounds (`le`), in ms; an implicit +Inf bucket follows.
DURATION_BOUNDS_MS: tuple[float, ...] = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """`cumulative[i]` = observations ≤ `bounds_ms[i]`; the last entry (+Inf) equals `count`."""

    bounds_ms: tuple[float, ...]
    cumulative: tuple[int, ...]
    sum_ms: float
    count: int


class Histogram:
    __slots__ = ("bounds", "counts", "total", "count")

    def __init__(self, bounds: tuple[float, ...] = DURATION_BOUNDS_MS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value_ms: float) -> None:
        self.counts[bisect_left(self.bounds, value_ms)] += 1
        self.total += value_ms
        self.count += 1

    def snapshot(self) -> HistogramSnapshot:
        running = 0
        cumulative = []
        for n in self.counts:
            running += n
            cumulative.append(running)
        return HistogramSnapshot(self.bounds, tuple(cumulative), self.total, self.count)


@dataclass(frozen=True, slots=True)
class WorkerStats:
    pid: int
    state: str  # "starting" | "idle" | "busy"
    provisioned: bool  # started to keep provisioned_concurrency warm (no Init Duration on its REPORT)
    invocations: int
    max_memory_mb: int  # peak resident set so far
    init_duration_ms: float | None
    idle_s: float | None  # seconds since it last finished an invocation (idle workers)


@dataclass(frozen=True, slots=True)
class FunctionStats:
    name: str
    handler: str
    version: str
    memory_mb: int
    reserved_concurrency: int | None
    provisioned_concurrency: int
    invocations: int  # handler runs attempted (errors included, throttles not), as Lambda counts them
    errors: dict[str, int]  # by HookError.kind: exception, timeout, crash, memory, init
    throttles: int
    duration: HistogramSnapshot  # handler durations (the REPORT line's Duration)
    init_duration: HistogramSnapshot  # successful Inits
    init_failures: int
    live_workers: int  # starting + idle + busy
    busy_workers: int
    idle_workers: int
    starting_workers: int
    workers: tuple[WorkerStats, ...]


@dataclass(frozen=True, slots=True)
class RuntimeStats:
    functions: dict[str, FunctionStats]
    max_workers: int  # the global cap over all functions
    live_workers: int
    waiting_invocations: int  # waiting for a process slot under the global cap
