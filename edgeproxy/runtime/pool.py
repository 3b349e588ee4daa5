"""One function's workers: warm reuse, its concurrency limits, its counters.

The pool is bookkeeping only — processes are `WorkerProcess`es, the global process cap and
spawning policy belong to `FunctionRuntime` (supervisor.py), which owns every pool. Keeping the
per-function state here lets the supervisor's decisions read as policy:

- `idle` is a stack: the most recently used worker is reused first (its caches are warmest), so
  under light load the same few workers serve and the rest age out for the idle reaper. It is
  therefore ordered by `last_used`, oldest first.
- `busy` counts workers running an invocation and `acquiring` counts invocations that are
  waiting for or starting a worker; together they are this function's concurrency, which
  `reserved_concurrency` caps.
- An Init failure is remembered for `INIT_RETRY_AFTER_S`: invocations in that window fail at
  once with the same error instead of each spawning an interpreter that fails the same way (a
  broken handler under load would otherwise fork-bomb the host). After it, the next invocation
  tries Init again — Lambda also retries a failed Init on the next invoke — so a fixed handler
  file is picked up within a second.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from edgeproxy.config_types import FunctionConfig
from edgeproxy.errors import HookInitError
from edgeproxy.runtime.environment import WorkerSpec
from edgeproxy.runtime.loglines import VERSION, memory_mb
from edgeproxy.runtime.process import WorkerProcess, WorkerState
from edgeproxy.runtime.stats import FunctionStats, Histogram, WorkerStats

if TYPE_CHECKING:
    import asyncio

INIT_RETRY_AFTER_S = 1.0


class PoolHost(Protocol):
    """What a pool tells the supervisor."""

    def hand_over(self, pool: FunctionPool, worker: WorkerProcess) -> bool:
        """Give an idle worker straight to a waiting invocation of `pool`; False if none waits."""

    def capacity_changed(self, pool: FunctionPool | None = None) -> None:
        """A worker of `pool` went idle, or (None) a slot was freed: someone waiting may proceed."""

    def worker_died(self, pool: FunctionPool, worker: WorkerProcess) -> None:
        """A worker of `pool` can no longer be used."""


class FunctionPool:
    def __init__(self, config: FunctionConfig, spec: WorkerSpec, host: PoolHost, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.spec = spec
        self.name = config.name
        self._host = host
        self._clock = clock
        self.workers: set[WorkerProcess] = set()  # not dead: starting, idle or busy
        self.idle: list[WorkerProcess] = []  # oldest first; reuse pops the newest
        self.busy = 0
        self.acquiring = 0
        self.invocations = 0
        self.errors: Counter[str] = Counter()
        self.throttles = 0
        self.durations = Histogram()
        self.init_durations = Histogram()
        self.init_failures = 0
        self.consecutive_init_failures = 0
        self.init_error: str | None = spec.init_error
        self.init_error_until = float("inf") if spec.init_error else 0.0

    # --- capacity --------------------------------------------------------------------------------

    @property
    def in_use(self) -> int:
        """This function's concurrency: running invocations plus those getting a worker."""
        return self.busy + self.acquiring

    def over_reserved(self) -> bool:
        reserved = self.config.reserved_concurrency
        return reserved is not None and self.in_use >= reserved

    def take_idle(self) -> WorkerProcess | None:
        return self.idle.pop() if self.idle else None

    def release(self, worker: WorkerProcess) -> None:
        """An IDLE worker is free for the next invocation: a waiting one of this function, or the pool."""
        worker.last_used = self._clock()
        if self._host.hand_over(self, worker):
            return
        self.idle.append(worker)
        self._host.capacity_changed(self)

    def cached_init_error(self) -> HookInitError | None:
        """The recent Init failure, while invocations should not retry Init yet."""
        if self.init_error is not None and self._clock() < self.init_error_until:
            return HookInitError(self.init_error, function=self.name)
        return None

    def init_failed(self, error: HookInitError) -> None:
        self.init_failures += 1
        self.consecutive_init_failures += 1
        self.init_error = error.message
        self.init_error_until = self._clock() + INIT_RETRY_AFTER_S

    def init_succeeded(self, worker: WorkerProcess) -> None:
        self.consecutive_init_failures = 0
        self.init_error = None
        self.init_error_until = 0.0
        if worker.init_ms is not None:
            self.init_durations.observe(worker.init_ms)

    # --- running ---------------------------------------------------------------------------------

    def run(self, worker: WorkerProcess, event: object, request_id: str, timeout_s: float) -> asyncio.Future[Any]:
        """Start an invocation on an IDLE worker taken from this pool."""
        try:
            future = worker.invoke(event, request_id, timeout_s)
        except BaseException:
            self.release(worker)  # the event could not be encoded; the worker never saw it
            raise
        self.busy += 1
        self.invocations += 1
        return future

    def record_error(self, kind: str) -> None:
        """An invocation that failed before reaching a worker (a cached Init error)."""
        self.invocations += 1
        self.errors[kind] += 1

    # WorkerOwner

    def invocation_finished(self, worker: WorkerProcess, kind: str | None, duration_ms: float) -> None:
        self.busy -= 1
        self.durations.observe(duration_ms)
        if kind is not None:
            self.errors[kind] += 1
        if worker.state is WorkerState.IDLE:
            self.release(worker)

    def worker_dead(self, worker: WorkerProcess) -> None:
        self.workers.discard(worker)
        if worker in self.idle:
            self.idle.remove(worker)
        self._host.worker_died(self, worker)

    # --- reporting -------------------------------------------------------------------------------

    def idle_expired(self, now: float, idle_timeout_s: float) -> list[WorkerProcess]:
        """Idle workers above provisioned_concurrency unused for `idle_timeout_s`, oldest first."""
        spare = len(self.workers) - self.config.provisioned_concurrency
        expired: list[WorkerProcess] = []
        for worker in self.idle:
            if len(expired) >= spare or now - worker.last_used < idle_timeout_s:
                break
            expired.append(worker)
        return expired

    def stats(self) -> FunctionStats:
        now = self._clock()
        workers = tuple(
            WorkerStats(
                pid=w.pid,
                state=w.state.value,
                provisioned=w.provisioned,
                invocations=w.invocations,
                max_memory_mb=memory_mb(w.max_rss_kb),
                init_duration_ms=w.init_ms,
                idle_s=(now - w.last_used) if w.state is WorkerState.IDLE else None,
            )
            for w in sorted(self.workers, key=lambda w: w.pid)
        )
        starting = sum(1 for w in self.workers if w.state is WorkerState.STARTING)
        return FunctionStats(
            name=self.name,
            handler=self.config.handler,
            version=VERSION,
            memory_mb=self.config.memory_mb,
            reserved_concurrency=self.config.reserved_concurrency,
            provisioned_concurrency=self.config.provisioned_concurrency,
            invocations=self.invocations,
            errors=dict(self.errors),
            throttles=self.throttles,
            duration=self.durations.snapshot(),
            init_duration=self.init_durations.snapshot(),
            init_failures=self.init_failures,
            live_workers=len(self.workers),
            busy_workers=self.busy,
            idle_workers=len(self.idle),
            starting_workers=starting,
            workers=workers,
        )
