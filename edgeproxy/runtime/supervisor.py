"""`FunctionRuntime`: every function's pool, the global process cap, and the workers' lifecycle.

This is Lambda's "execution environment" manager, scaled down to one host (DESIGN §1 "Hook
isolation"). Its policy, in the order an invocation meets it:

1. **Reserved concurrency** (per function): with `reserved_concurrency` invocations already
   running or starting, the next is throttled at once — no queue, as Lambda; `0` always throttles.
2. **Warm reuse**: an idle worker of the function runs it (most recently used first).
3. **A recent Init failure** fails it at once with the same error (see pool.py for why).
4. **Scale out** while fewer than `max_workers` processes exist over all functions: spawn and
   Init a worker (a cold start; Init Duration goes on its first REPORT). At the cap, the least
   recently used idle worker of *another* function is retired to make room (preferring workers
   above their function's provisioned count) — at once when the asking function has no worker,
   otherwise only one idle for `REBALANCE_IDLE_S`, so functions chained on one request do not
   retire each other's warm workers in turn.
5. Otherwise **wait** for a slot, at most the invocation's own timeout, then throttle. A worker
   of the same function going idle is handed straight to the longest waiter (no newcomer can
   take it first).

Around that: `start()` brings every function's `provisioned_concurrency` workers up and through
Init before traffic (their Init failures are logged, not raised — the proxy starts, the function's
requests fail — and retried in the background with exponential backoff up to a minute, so a
broken function never spins); workers lost to timeouts, crashes or memory kills are replaced in
the background up to the provisioned count (one retired to make room under the cap is replaced
at the reaper's next round, when there is room again); idle workers above the provisioned count
are retired after `idle_timeout_s`. `close()` SIGKILLs every process group and waits until each
process is reaped.

Timing: `clock` (monotonic seconds, injectable) drives idle bookkeeping and Init-failure expiry;
invocation deadlines run on the event loop's own timers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from edgeproxy.config_types import FunctionConfig, RuntimeConfig
from edgeproxy.errors import HookCrashed, HookInitError, HookThrottled
from edgeproxy.logs import log
from edgeproxy.runtime.environment import worker_spec
from edgeproxy.runtime.pool import INIT_RETRY_AFTER_S, FunctionPool
from edgeproxy.runtime.process import Watchdog, WorkerProcess
from edgeproxy.runtime.stats import RuntimeStats
from edgeproxy.types import INIT_TIMEOUT_S

MAX_REAP_INTERVAL_S = 10.0
MAX_REFILL_BACKOFF_S = 60.0
# Under the global cap, a function that has workers of its own takes another function's idle
# worker only once that one has been idle this long (one with none takes it at once).
REBALANCE_IDLE_S = 1.0  # provisioned workers of a broken function: retried at most this rarely


class _Detached:
    """Owner of `check()` workers: outside every pool and the process cap."""

    def invocation_finished(self, worker: WorkerProcess, kind: str | None, duration_ms: float) -> None:
        return None

    def worker_dead(self, worker: WorkerProcess) -> None:
        return None


class FunctionRuntime:
    """Runs Lambda@Edge handlers in warm, isolated worker processes. One per proxy process."""

    def __init__(
        self,
        functions: Mapping[str, FunctionConfig],
        settings: RuntimeConfig,
        *,
        region: str = "us-east-1",
        init_timeout_s: float = INIT_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._max_workers = settings.effective_max_workers()
        self._init_timeout_s = init_timeout_s
        self._clock = clock
        self._pools = {
            name: FunctionPool(config, worker_spec(config, region=region), self, clock) for name, config in functions.items()
        }
        self._live = 0  # workers not dead, over all pools (the global cap counts these)
        self._waiters: deque[_Waiter] = deque()  # invocations waiting for a process slot, oldest first
        self._processes: set[WorkerProcess] = set()  # every spawned process until it is reaped
        self._tasks: set[asyncio.Task[None]] = set()
        self._refill_scheduled: set[str] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        self._making_room = False
        self._watchdog = Watchdog()

    # --- public API ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn and initialise `provisioned_concurrency` workers of every function."""
        self._ensure_reaper()
        wanted = sum(pool.config.provisioned_concurrency for pool in self._pools.values())
        if wanted > self._max_workers:
            log.warning(
                "runtime: provisioned_concurrency adds up to %d workers but [runtime] max_workers is %d; "
                "only %d are started",
                wanted,
                self._max_workers,
                self._max_workers,
            )
        spawns = [task for pool in self._pools.values() for task in self._refill(pool)]
        if spawns:
            await asyncio.gather(*spawns)  # Init failures are logged inside; anything else is a bug

    async def close(self) -> None:
        """Stop everything: SIGKILL each worker's process group and wait until it is reaped."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
        for task in list(self._tasks):
            task.cancel()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_result(False)
        while self._processes:  # a spawn still under way adds its worker until it is stopped too
            workers = list(self._processes)
            for worker in workers:
                worker.kill("Runtime.ExitError: the runtime was shut down")
            await asyncio.gather(*(w.wait_closed() for w in workers))
        await asyncio.gather(*self._tasks, *([self._reaper] if self._reaper else []), return_exceptions=True)

    async def invoke(self, function: str, event: dict[str, object], *, request_id: str, timeout_s: float) -> object:
        """Run the handler once; its return value decoded from JSON. Raises a HookError subclass."""
        pool = self._pool(function)
        if self._closed:
            raise HookCrashed("Runtime.ExitError: the runtime was shut down", function=function)
        if pool.over_reserved():
            pool.throttles += 1
            reserved = pool.config.reserved_concurrency
            raise HookThrottled(
                f"TooManyRequestsException: Rate Exceeded. (reserved_concurrency = {reserved}, all in use)",
                function=function,
            )
        worker = pool.take_idle()
        if worker is None:
            pool.acquiring += 1
            try:
                worker = await self._acquire(pool, request_id, timeout_s)
            finally:
                pool.acquiring -= 1
        return await pool.run(worker, event, request_id, timeout_s)

    async def check(self, function: str) -> str | None:
        """Import the handler in a fresh worker (outside the pool): the error text, or None."""
        pool = self._pool(function)
        if pool.spec.init is None:
            return pool.spec.init_error
        worker = WorkerProcess(pool.spec, _Detached(), log_init_errors=False, on_closed=self._processes.discard)
        self._processes.add(worker)
        try:
            await worker.start(init_timeout_s=self._init_timeout_s)
        except HookInitError as exc:
            return exc.message
        finally:
            worker.kill()
            await worker.wait_closed()
        return None

    def stats(self) -> RuntimeStats:
        return RuntimeStats(
            functions={name: pool.stats() for name, pool in self._pools.items()},
            max_workers=self._max_workers,
            live_workers=self._live,
            waiting_invocations=sum(1 for w in self._waiters if not w.future.done()),
        )

    def reap_idle(self) -> int:
        """Retire idle workers above provisioned_concurrency unused for `idle_timeout_s` (how many),
        and top provisioned pools up where a worker was retired to make room.

        Called periodically once `start()` ran; tests call it directly with an injected clock.
        """
        now = self._clock()
        retired = 0
        for pool in self._pools.values():
            for worker in pool.idle_expired(now, self._settings.idle_timeout_s):
                worker.kill()
                retired += 1
            if len(pool.workers) < pool.config.provisioned_concurrency and pool.name not in self._refill_scheduled:
                self._refill(pool)
        return retired

    # --- PoolHost --------------------------------------------------------------------------------

    def hand_over(self, pool: FunctionPool, worker: WorkerProcess) -> bool:
        """A worker of `pool` went idle: give it straight to the longest-waiting invocation of
        the same function (True), so no newcomer takes it first and the waiter never falls back
        to retiring someone else's worker for a cold start of its own."""
        for waiter in self._waiters:
            if waiter.pool is pool and not waiter.future.done():
                self._waiters.remove(waiter)
                waiter.future.set_result(worker)
                return True
        return False

    def capacity_changed(self, pool: FunctionPool | None = None) -> None:
        """A worker of `pool` went idle and nobody of its function waits (None: a process slot
        was freed): wake the longest-waiting invocation, which may retire it to make room."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_result(True)
                return

    def worker_died(self, pool: FunctionPool, worker: WorkerProcess) -> None:
        self._live -= 1
        self.capacity_changed()
        # A worker that never finished Init is retried by whoever started it (with backoff).
        initialised = worker.init_ms is not None
        if initialised and not self._making_room and len(pool.workers) < pool.config.provisioned_concurrency:
            self._refill(pool)

    # --- internals -------------------------------------------------------------------------------

    def _pool(self, function: str) -> FunctionPool:
        try:
            return self._pools[function]
        except KeyError:
            raise ValueError(f"no function named {function!r} is configured") from None

    async def _acquire(self, pool: FunctionPool, request_id: str, timeout_s: float) -> WorkerProcess:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self._closed:
                raise HookCrashed("Runtime.ExitError: the runtime was shut down", function=pool.name)
            worker = pool.take_idle()
            if worker is not None:
                return worker
            cached = pool.cached_init_error()
            if cached is not None:
                pool.record_error(cached.kind)
                raise cached
            if self._live >= self._max_workers:
                self._retire_lru_idle(besides=pool)
            if self._live < self._max_workers:
                worker = self._new_worker(pool, provisioned=False)
                try:
                    return await self._initialise(pool, worker, request_id)
                except HookInitError as exc:
                    pool.record_error(exc.kind)
                    raise
            remaining = deadline - loop.time()
            if remaining <= 0:
                pool.throttles += 1
                raise HookThrottled(
                    f"TooManyRequestsException: Rate Exceeded. (all {self._max_workers} workers busy "
                    f"for {timeout_s:.2f} s; [runtime] max_workers)",
                    function=pool.name,
                )
            handed = await self._wait_for_capacity(pool, remaining)
            if handed is not None:
                return handed

    async def _wait_for_capacity(self, pool: FunctionPool, remaining: float) -> WorkerProcess | None:
        """Wait for a worker of this function (handed over directly) or a free process slot."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(pool, loop.create_future())
        self._waiters.append(waiter)
        timer = loop.call_later(remaining, _expire, waiter.future)
        try:
            outcome = await waiter.future
        except asyncio.CancelledError:
            future = waiter.future
            if future.done() and not future.cancelled():
                given = future.result()
                if isinstance(given, WorkerProcess):
                    pool.release(given)  # hand the warm worker to the next in line
                elif given:
                    self.capacity_changed()  # pass the wake-up on: this invocation will not use it
            raise
        finally:
            timer.cancel()
            if waiter in self._waiters:  # not popped by a wake-up (expired or cancelled)
                self._waiters.remove(waiter)
        return outcome if isinstance(outcome, WorkerProcess) else None

    def _retire_lru_idle(self, *, besides: FunctionPool) -> None:
        """Make room under the global cap: retire the least recently used idle worker of another function.

        Its pool is not refilled on the spot (the slot is for the invocation that asked); the
        reaper's round tops provisioned pools up again when there is room.
        """
        best: WorkerProcess | None = None
        best_key: tuple[bool, float] | None = None
        now = self._clock()
        for pool in self._pools.values():
            if pool is besides or not pool.idle:
                continue
            provisioned_only = len(pool.workers) <= pool.config.provisioned_concurrency
            candidate = pool.idle[0]  # the oldest
            if besides.workers and now - candidate.last_used < REBALANCE_IDLE_S:
                # The asking function has workers of its own to wait for, and this one was busy
                # a moment ago: retiring it would only move the cold start over there (functions
                # chained on one request would retire each other's workers forever).
                continue
            key = (provisioned_only, candidate.last_used)
            if best_key is None or key < best_key:
                best, best_key = candidate, key
        if best is not None:
            self._making_room = True
            try:
                best.kill()  # its pool's worker_dead → worker_died frees the slot synchronously
            finally:
                self._making_room = False

    def _new_worker(self, pool: FunctionPool, *, provisioned: bool) -> WorkerProcess:
        """A worker not yet started, already counted: the slot is taken before anything is awaited."""
        worker = WorkerProcess(
            pool.spec, pool, provisioned=provisioned, on_closed=self._processes.discard, watchdog=self._watchdog
        )
        self._live += 1
        pool.workers.add(worker)
        self._processes.add(worker)
        return worker

    async def _initialise(self, pool: FunctionPool, worker: WorkerProcess, request_id: str) -> WorkerProcess:
        try:
            await worker.start(init_timeout_s=self._init_timeout_s, request_id=request_id)
        except HookInitError as exc:
            pool.init_failed(exc)
            raise
        pool.init_succeeded(worker)
        return worker

    def _refill(self, pool: FunctionPool) -> list[asyncio.Task[None]]:
        """Start workers up to provisioned_concurrency in the background (within the cap)."""
        if self._closed or pool.config.provisioned_concurrency <= 0:
            return []
        if pool.cached_init_error() is not None:
            self._refill_later(pool, max(pool.init_error_until - self._clock(), 0.0))
            return []
        loop = asyncio.get_running_loop()
        started: list[asyncio.Task[None]] = []
        while len(pool.workers) < pool.config.provisioned_concurrency and self._live < self._max_workers:
            task = loop.create_task(self._start_provisioned(pool, self._new_worker(pool, provisioned=True)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started.append(task)
        return started

    def _refill_later(self, pool: FunctionPool, delay_s: float) -> None:
        if pool.name in self._refill_scheduled or pool.spec.init is None or self._closed:
            return
        self._refill_scheduled.add(pool.name)

        def again() -> None:
            self._refill_scheduled.discard(pool.name)
            self._refill(pool)

        asyncio.get_running_loop().call_later(delay_s, again)

    async def _start_provisioned(self, pool: FunctionPool, worker: WorkerProcess) -> None:
        try:
            await self._initialise(pool, worker, "")
        except HookInitError as exc:
            delay = min(INIT_RETRY_AFTER_S * 2 ** (pool.consecutive_init_failures - 1), MAX_REFILL_BACKOFF_S)
            log.warning(
                "function %s: a provisioned worker failed Init (retrying in %.0f s): %s", pool.name, delay, exc.message
            )
            self._refill_later(pool, delay)
            return
        pool.release(worker)

    def _ensure_reaper(self) -> None:
        if self._reaper is None and not self._closed:
            interval = min(max(self._settings.idle_timeout_s / 4, 0.05), MAX_REAP_INTERVAL_S)
            self._reaper = asyncio.get_running_loop().create_task(self._reap_loop(interval))

    async def _reap_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.reap_idle()
            except Exception:  # a bug here must not silently end reaping for the process's life
                log.exception("runtime: idle reaping failed")


@dataclass(eq=False, slots=True)
class _Waiter:
    """An invocation waiting for a process slot under the global cap; woken with True (go) or False (time's up)."""

    pool: FunctionPool
    future: asyncio.Future[WorkerProcess | bool]  # a warm worker handed over, True (room to start one) or False


def _expire(waiter: asyncio.Future[WorkerProcess | bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
