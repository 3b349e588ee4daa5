"""One worker process seen from the proxy: spawn, channel, log capture, deadline, memory, kill.

Why it is built this way:
- **Never blocks the event loop.** The three pipes (channel in, channel out, the worker's
  stdout+stderr) are non-blocking fds watched with `loop.add_reader`; a frame too big for the pipe
  is finished with `add_writer`. No thread, no executor, nothing awaited per frame.
- **Cheap per invocation.** One future per call, no timer of its own: a shared `Watchdog` checks
  the busy workers' deadlines and, for calls running longer than `MEMORY_POLL_START_S`, their
  peak RSS every `MEMORY_POLL_S` (`VmHWM`, one `pread` on a `/proc/<pid>/status` fd opened once
  at spawn). The worker reports its own peak in every reply, so a spike between polls is still
  caught when the handler returns.
- **Logs in order.** stdout and stderr share one pipe (order between them is kept, as in Lambda's
  single log stream). The worker flushes before it replies and pipe writes are synchronous, so
  when the reply arrives every line printed during the invocation is already in the pipe: the
  handle drains it right then and only afterwards writes END/REPORT.
- **Kills are total.** Workers run in their own session (`start_new_session`), so SIGKILL goes
  to the whole process group, and descendants that left the group are found and killed too —
  a handler's forked children die with it. The exit status is collected by asyncio's child
  watcher: no zombie.
- **Exactly-once bookkeeping.** `owner.worker_dead` is called once per worker, when it stops being
  usable (killed, crashed, failed Init); `owner.invocation_finished` once per invocation. The
  owner (the function's pool) never has to guess a worker's state.

Outcomes → errors (edgeproxy.errors), and the log lines each writes (loglines.py):
| outcome                         | error               | worker       |
|---------------------------------|---------------------|--------------|
| handler returned                | —                   | kept (warm)  |
| handler raised / bad result     | HookFailed          | kept         |
| handler raised MemoryError      | HookMemoryExceeded  | killed       |
| peak RSS above memory_mb        | HookMemoryExceeded  | killed       |
| deadline passed                 | HookTimeout         | killed       |
| process died (exit, signal)     | HookCrashed         | gone         |
| Init failed / over its limit    | HookInitError       | killed       |
"""

from __future__ import annotations

import asyncio
import enum
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any, Protocol

import psutil

from edgeproxy import logs
from edgeproxy.logs import log
from edgeproxy.errors import (
    HookCrashed,
    HookError,
    HookFailed,
    HookInitError,
    HookMemoryExceeded,
    HookTimeout,
)
from edgeproxy.runtime import loglines
from edgeproxy.runtime.environment import WorkerSpec
from edgeproxy.runtime.protocol import (
    FrameDecoder,
    InitFailed,
    InitOk,
    Invoke,
    InvokeError,
    InvokeResult,
    Message,
    ProtocolError,
    decode,
    encode,
)

MEMORY_POLL_START_S = 0.005  # a handler faster than this is never polled
MEMORY_POLL_S = 0.025
READ_SIZE = 65536
LOG_DRAIN_READS = 4  # pipe reads inline when a reply arrives; a pipe holds 64 KiB, so this is ample

# The folder edgeproxy is imported from: the worker puts it on sys.path only to import itself.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = "import sys;sys.path.insert(0,sys.argv[1]);from edgeproxy.runtime.worker import main;main(sys.argv[1:])"


def _uuid4() -> str:
    """A random (version 4) UUID string; a third of `str(uuid.uuid4())`'s cost, paid per invocation."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


class WorkerState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


class WorkerOwner(Protocol):
    """What a worker reports to (its function's pool)."""

    def invocation_finished(self, worker: WorkerProcess, kind: str | None, duration_ms: float) -> None:
        """An invocation ended (`kind` = the HookError kind, None on success); the worker is IDLE if reusable."""

    def worker_dead(self, worker: WorkerProcess) -> None:
        """The worker can no longer be used (called once)."""


class Watchdog:
    """One timer for all busy workers of a runtime: deadlines and memory polls.

    A timer per invocation (`call_at` + `cancel`, and the cancelled handle lingering in the loop's
    heap) costs more than the rest of the parent's per-invocation bookkeeping together. Instead
    the busy workers sit in a set, and a single timer fires at the earliest deadline or every
    `MEMORY_POLL_S`, whichever is sooner, while any worker is busy; it is armed `MEMORY_POLL_START_S`
    after a call starts when nothing else is pending, so a stream of fast calls arms it rarely.
    """

    __slots__ = ("_busy", "_timer", "_when")

    def __init__(self) -> None:
        self._busy: set[WorkerProcess] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._when = float("inf")

    def watch(self, worker: WorkerProcess) -> None:
        self._busy.add(worker)
        due = min(worker._deadline, worker._started_at + MEMORY_POLL_START_S)
        if due < self._when:
            self._arm(worker._loop, due)

    def unwatch(self, worker: WorkerProcess) -> None:
        self._busy.discard(worker)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._when = when
        self._timer = loop.call_at(when, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        self._when = float("inf")
        now = loop.time()
        for worker in list(self._busy):
            worker.check_limits(now)  # may end the invocation, and so unwatch the worker
        if self._busy:
            self._arm(loop, min(now + MEMORY_POLL_S, min(w._deadline for w in self._busy)))


class WorkerProcess:
    """Parent-side handle of one worker. Create, `await start()`, then `invoke()` when IDLE."""

    def __init__(
        self,
        spec: WorkerSpec,
        owner: WorkerOwner,
        *,
        provisioned: bool = False,
        log_init_errors: bool = True,
        on_closed: Callable[[WorkerProcess], object] | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.spec = spec
        self.owner = owner
        self._on_closed = on_closed
        self._gone = asyncio.Event()  # set once reaped and closed (or never started)
        self.provisioned = provisioned
        self.state = WorkerState.STARTING
        self.pid = 0
        self.invocations = 0
        self.init_ms: float | None = None
        self._spawned_at = 0.0
        self.max_rss_kb = 0
        self.last_used = 0.0  # owner's clock; set by the owner when the worker goes idle
        self.returncode: int | None = None
        self._log_init_errors = log_init_errors
        self._loop = asyncio.get_running_loop()
        self._proc: asyncio.subprocess.Process | None = None
        self._wfd = -1
        self._rfd = -1
        self._logfd = -1
        self._status_fd: int | None = None
        self._psutil: psutil.Process | None = None
        self._decoder = FrameDecoder()
        self._lines = loglines.LineBuffer()
        self._log_poll = select.poll()  # "anything in the log pipe?" without a failing read
        self._out: memoryview | None = None  # unsent rest of a large frame
        self._exit_task: asyncio.Task[None] | None = None
        self._cold = not provisioned  # the next REPORT carries Init Duration
        self._init_future: asyncio.Future[None] | None = None
        # The invocation in progress.
        self._pending: asyncio.Future[Any] | None = None
        self._watchdog = watchdog or Watchdog()
        self._request_id = ""
        self._aws_request_id = ""
        self._started_at = 0.0
        self._deadline = 0.0
        self._timeout_s = 0.0
        self._limit_kb = spec.memory_mb * 1024

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self, *, init_timeout_s: float, request_id: str = "") -> None:
        """Spawn and run Init; returns when the worker is IDLE. Raises HookInitError."""
        assert self.spec.init is not None, "a malformed handler is rejected before any spawn"
        self._request_id = request_id
        self._spawned_at = self._loop.time()
        try:
            await self._spawn()
        except BaseException as exc:  # OSError (no fds, no memory) or cancellation mid-spawn
            if self._exit_task is None:
                self._kill_group()
                self._close_fds()
                self._mark_dead()
                self._set_closed()
            if isinstance(exc, OSError):
                raise HookInitError(
                    f"Runtime.Unknown: cannot start a worker process: {exc}", function=self.spec.function
                ) from exc
            raise
        if self.state is WorkerState.DEAD:  # killed (shutdown) while the process was being created
            self._kill_group()
            raise HookInitError("Runtime.ExitError: the worker was stopped during Init", function=self.spec.function)
        future: asyncio.Future[None] = self._loop.create_future()
        self._init_future = future
        self._send(encode(self.spec.init))
        timer = self._loop.call_later(init_timeout_s, self._on_init_timeout, init_timeout_s)
        try:
            await future
        except asyncio.CancelledError:
            self.kill()
            raise
        finally:
            timer.cancel()
            self._init_future = None
            self._request_id = ""

    async def _spawn(self) -> None:
        to_worker_r, to_worker_w = os.pipe()  # non-inheritable (PEP 446); pass_fds hands two down
        from_worker_r, from_worker_w = os.pipe()
        log_r, log_w = os.pipe()
        self._wfd, self._rfd, self._logfd = to_worker_w, from_worker_r, log_r
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "-c",
                _BOOTSTRAP,
                _PACKAGE_ROOT,
                str(to_worker_r),
                str(from_worker_w),
                str(os.getpid()),
                stdin=subprocess.DEVNULL,
                stdout=log_w,
                stderr=log_w,
                env=self.spec.environment(provisioned=self.provisioned),
                pass_fds=(to_worker_r, from_worker_w),
                start_new_session=True,
            )
        finally:
            for fd in (to_worker_r, from_worker_w, log_w):
                os.close(fd)
        self.pid = self._proc.pid
        for fd in (self._wfd, self._rfd, self._logfd):
            os.set_blocking(fd, False)
        self._loop.add_reader(self._rfd, self._on_channel_readable)
        self._loop.add_reader(self._logfd, self._on_log_readable)
        self._log_poll.register(self._logfd, select.POLLIN)
        try:
            self._status_fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._psutil = psutil.Process(self.pid)  # no procfs: current RSS instead of the peak
        self._exit_task = self._loop.create_task(self._watch_exit())

    def kill(self, reason: str = "") -> None:
        """SIGKILL the worker's whole process group now; an invocation in flight fails with HookCrashed."""
        if self._pending is not None:
            self._finish_killed(HookCrashed(reason or "the worker was stopped", function=self.spec.function), "crash")
        elif self._init_future is not None and not self._init_future.done():
            self._init_future.set_exception(HookInitError(reason or "the worker was stopped", function=self.spec.function))
        self._mark_dead()
        self._kill_group()

    async def wait_closed(self) -> None:
        """Until the process has been reaped and its pipes closed (or it never started)."""
        await self._gone.wait()

    def _set_closed(self) -> None:
        if not self._gone.is_set():
            self._gone.set()
            if self._on_closed is not None:
                self._on_closed(self)

    async def _watch_exit(self) -> None:
        assert self._proc is not None
        returncode = await self._proc.wait()
        self._on_exit(returncode)

    def _on_exit(self, returncode: int) -> None:
        self.returncode = returncode
        self._kill_group()  # descendants still in the group
        # Frames written just before the exit (an Init error, typically) are read first: they
        # say more than the exit status does.
        for _ in range(LOG_DRAIN_READS * 4):  # bounded: a stray descendant could keep writing
            if self._rfd < 0 or not self._read_channel():
                break
        self._drain_log()
        description = loglines.describe_exit(returncode)
        if self._pending is not None:
            elapsed_ms = (self._loop.time() - self._started_at) * 1000.0
            error = HookCrashed(description, function=self.spec.function)
            self._finish_killed(error, "crash", elapsed_ms=elapsed_ms, lines=loglines.exit_lines(self._aws_request_id, description))
        elif self._init_future is not None and not self._init_future.done():
            self._init_failed("Runtime.ExitError", description, [], None)
        elif self.state is WorkerState.IDLE:  # nobody asked it to go: say so, no request is affected
            log.warning("function %s: idle worker %d exited: %s", self.spec.function, self.pid, description)
        self._mark_dead()
        self._close_fds()
        self._set_closed()

    def _mark_dead(self) -> None:
        if self.state is not WorkerState.DEAD:
            self.state = WorkerState.DEAD
            self.owner.worker_dead(self)

    def _kill_group(self) -> None:
        if not self.pid:
            return
        strays: list[psutil.Process] = []
        if self.returncode is None:  # not reaped yet, so the pid is still ours
            try:
                strays = psutil.Process(self.pid).children(recursive=True)
            except psutil.Error:
                strays = []
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is already empty
        for child in strays:
            try:
                child.kill()
            except psutil.Error:
                continue  # already gone

    def _close_fds(self) -> None:
        for attr in ("_wfd", "_rfd", "_logfd"):
            fd = getattr(self, attr)
            if fd < 0:
                continue
            if attr == "_wfd" and self._out is not None:
                self._loop.remove_writer(fd)
                self._out = None
            elif attr != "_wfd":
                self._loop.remove_reader(fd)
            os.close(fd)
            setattr(self, attr, -1)
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None

    # --- Init ----------------------------------------------------------------------------------

    def _on_init_timeout(self, limit_s: float) -> None:
        if self._init_future is None or self._init_future.done():
            return
        self._drain_log()
        if self._log_init_errors:
            logs.function_log(
                self.spec.function, self._request_id, loglines.init_report_line(limit_s * 1000.0, "timeout")
            )
        self._init_future.set_exception(
            HookInitError(f"Sandbox.Timedout: Init timed out after {limit_s:.2f} seconds", function=self.spec.function)
        )
        self.kill()

    def _init_failed(self, error_type: str, message: str, stack: list[str], init_ms: float | None) -> None:
        assert self._init_future is not None
        self._drain_log()
        if self._log_init_errors:
            for line in loglines.error_lines(error_type, message, stack):
                logs.function_log(self.spec.function, self._request_id, line)
            if init_ms is not None:
                logs.function_log(
                    self.spec.function, self._request_id, loglines.init_report_line(init_ms, "error", error_type)
                )
        text = f"{error_type}: {message}" if message else error_type
        if not self._init_future.done():
            self._init_future.set_exception(HookInitError(text, function=self.spec.function))

    def _on_init_reply(self, message: InitOk | InitFailed) -> None:
        if self._init_future is None or self._init_future.done():
            raise ProtocolError(f"unexpected {type(message).__name__} frame")
        if isinstance(message, InitFailed):
            self._init_failed(message.error_type, message.message, message.stack, message.init_ms)
            self.kill()
            return
        # Lambda's Init Duration covers the runtime's start-up as well as the function's init:
        # here, from spawning the interpreter to its `ready` (the handler's import alone is
        # `message.init_ms`).
        self.init_ms = max((self._loop.time() - self._spawned_at) * 1000.0, message.init_ms)
        self.max_rss_kb = message.max_rss_kb
        self._drain_log()
        self.state = WorkerState.IDLE
        self._init_future.set_result(None)

    # --- Invoke --------------------------------------------------------------------------------

    def invoke(self, event: object, request_id: str, timeout_s: float) -> asyncio.Future[Any]:
        """Send one invocation; the future resolves to the handler's decoded result or a HookError.

        The worker settles the future itself when the reply (or the deadline, or death) comes, and
        tells its owner; a caller that stops waiting (cancellation) does not disturb that.
        The frame goes out first: the bookkeeping after it overlaps with the worker's run.
        """
        assert self.state is WorkerState.IDLE, f"invoke on a {self.state.value} worker"
        aws_request_id = _uuid4()
        frame = encode(Invoke(aws_request_id, int((time.time() + timeout_s) * 1000), event))
        loop = self._loop
        now = loop.time()
        self._send(frame)
        future: asyncio.Future[Any] = loop.create_future()
        self.state = WorkerState.BUSY
        self._pending = future
        self._request_id = request_id
        self._aws_request_id = aws_request_id
        self._timeout_s = timeout_s
        self._started_at = now
        self._deadline = now + timeout_s
        logs.function_log(self.spec.function, request_id, loglines.start_line(aws_request_id))
        self._watchdog.watch(self)
        return future

    def check_limits(self, now: float) -> None:
        """The watchdog's question, asked while an invocation runs: past the deadline, over memory?"""
        if now + 0.0005 >= self._deadline:  # timers may fire a hair early
            self._on_deadline()
        elif now - self._started_at >= MEMORY_POLL_START_S:
            peak = self._peak_kb()
            if peak is not None and peak > self._limit_kb:
                self._memory_exceeded(peak, (now - self._started_at) * 1000.0)

    def _on_deadline(self) -> None:
        peak = self._peak_kb()
        if peak is not None:
            self.max_rss_kb = max(self.max_rss_kb, peak)
        message = f"Task timed out after {self._timeout_s:.2f} seconds"
        self._finish_killed(
            HookTimeout(message, function=self.spec.function),
            "timeout",
            lines=[loglines.timeout_line(self._aws_request_id, self._timeout_s, time.time())],
        )
        self._mark_dead()
        self._kill_group()

    def _memory_exceeded(self, peak_kb: int, duration_ms: float) -> None:
        self.max_rss_kb = max(self.max_rss_kb, peak_kb)
        used = loglines.memory_mb(peak_kb)
        description = loglines.describe_exit(-signal.SIGKILL)
        aws_id = self._aws_request_id
        lines = [
            f"RequestId: {aws_id} Error: Out of memory: Max Memory Used {used} MB is over Memory Size "
            f"{self.spec.memory_mb} MB (memory_mb); the runtime was killed",
            *loglines.exit_lines(aws_id, description),
        ]
        error = HookMemoryExceeded(
            f"{description} (Max Memory Used: {used} MB, over Memory Size: {self.spec.memory_mb} MB)",
            function=self.spec.function,
        )
        self._finish_killed(error, "memory", elapsed_ms=duration_ms, lines=lines)
        self._mark_dead()
        self._kill_group()

    def _finish_killed(
        self, error: HookError, kind: str, *, elapsed_ms: float | None = None, lines: list[str] | None = None
    ) -> None:
        """End the invocation in flight without a reply from the worker (which is being killed)."""
        if elapsed_ms is None:
            elapsed_ms = (self._loop.time() - self._started_at) * 1000.0
        self._drain_log()
        request_id, aws_id = self._request_id, self._aws_request_id
        function_log = logs.function_log
        name = self.spec.function
        function_log(name, request_id, loglines.end_line(aws_id), self._report(elapsed_ms))
        for line in lines or ():
            function_log(name, request_id, line)
        self._settle(kind, elapsed_ms, error=error)

    def _on_invoke_reply(self, message: InvokeResult | InvokeError) -> None:
        if self._pending is None:
            raise ProtocolError(f"unexpected {type(message).__name__} frame")
        self._drain_log()
        self.max_rss_kb = message.max_rss_kb
        if message.max_rss_kb > self._limit_kb:
            self._memory_exceeded(message.max_rss_kb, message.duration_ms)
            return
        name, request_id, aws_id = self.spec.function, self._request_id, self._aws_request_id
        function_log = logs.function_log
        if isinstance(message, InvokeResult):
            function_log(name, request_id, loglines.end_line(aws_id), self._report(message.duration_ms))
            self._settle(None, message.duration_ms, value=message.value, keep=True)
            return
        for line in loglines.error_lines(message.error_type, message.message, message.stack):
            function_log(name, request_id, line)
        function_log(name, request_id, loglines.end_line(aws_id), self._report(message.duration_ms))
        text = f"{message.error_type}: {message.message}" if message.message else message.error_type
        if message.error_type == "MemoryError":
            # The interpreter ran out of memory: its state is suspect, so it is replaced.
            self._settle("memory", message.duration_ms, error=HookMemoryExceeded(text, function=name))
            self._mark_dead()
            self._kill_group()
        else:
            self._settle("exception", message.duration_ms, error=HookFailed(text, function=name), keep=True)

    def _report(self, duration_ms: float) -> str:
        init_ms = self.init_ms if self._cold else None
        self._cold = False
        return loglines.report_line(
            self._aws_request_id,
            duration_ms=duration_ms,
            memory_size_mb=self.spec.memory_mb,
            max_memory_kib=self.max_rss_kb,
            init_ms=init_ms,
        )

    def _settle(
        self, kind: str | None, duration_ms: float, *, value: Any = None, error: HookError | None = None, keep: bool = False
    ) -> None:
        """End the invocation: the caller gets its outcome, the owner hears of it; `keep`: the worker is reusable."""
        future = self._pending
        assert future is not None
        self._pending = None
        self._watchdog.unwatch(self)
        self._request_id = ""
        self.invocations += 1
        if keep:
            self.state = WorkerState.IDLE
        if not future.done():  # the caller may have stopped waiting
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)
        self.owner.invocation_finished(self, kind, duration_ms)

    def _peak_kb(self) -> int | None:
        """The worker's peak resident set so far, KiB (VmHWM); None once it is gone."""
        if self._status_fd is not None:
            try:
                data = os.pread(self._status_fd, 4096, 0)
            except OSError:
                return None
            start = data.find(b"VmHWM:")
            if start < 0:
                return None
            end = data.find(b"kB", start)
            return int(data[start + 6 : end])
        if self._psutil is not None:
            try:
                return int(self._psutil.memory_info().rss // 1024)
            except psutil.Error:
                return None
        return None

    # --- channel and log pipes -----------------------------------------------------------------

    def _send(self, frame: bytes) -> None:
        if self._out is not None:
            self._out = memoryview(bytes(self._out) + frame)
            return
        try:
            sent = os.write(self._wfd, frame)
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # the worker is gone; its exit is reported by the exit watcher
        if sent < len(frame):
            self._out = memoryview(frame)[sent:]
            self._loop.add_writer(self._wfd, self._on_writable)

    def _on_writable(self) -> None:
        out = self._out
        assert out is not None
        try:
            sent = os.write(self._wfd, out)
        except BlockingIOError:
            return
        except OSError:
            sent = len(out)  # broken pipe: drop the rest, the exit watcher reports the death
        if sent >= len(out):
            self._out = None
            self._loop.remove_writer(self._wfd)
        else:
            self._out = out[sent:]

    def _on_channel_readable(self) -> None:
        self._read_channel()

    def _read_channel(self) -> bool:
        """Read and act on what the worker sent; False when there was nothing (or EOF)."""
        try:
            data = os.read(self._rfd, READ_SIZE)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            # The worker closed its end: it is exiting (the exit watcher reports how), or it is
            # broken; either way it is of no further use.
            self._loop.remove_reader(self._rfd)
            if self.state is not WorkerState.DEAD and self.returncode is None:
                self._kill_group()
            return False
        try:
            for payload in self._decoder.feed(data):
                self._dispatch(decode(payload))
        except ProtocolError as exc:
            self.kill(f"Runtime.ExitError: protocol error from the worker: {exc}")
        return True

    def _dispatch(self, message: Message) -> None:
        if isinstance(message, (InvokeResult, InvokeError)):
            self._on_invoke_reply(message)
        elif isinstance(message, (InitOk, InitFailed)):
            self._on_init_reply(message)
        else:
            raise ProtocolError(f"a worker may not send {type(message).__name__} frames")

    def _on_log_readable(self) -> None:
        try:
            data = os.read(self._logfd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._loop.remove_reader(self._logfd)
            os.close(self._logfd)
            self._logfd = -1
            return
        self._emit(self._lines.feed(data))

    def _drain_log(self) -> None:
        """Log everything the worker has written so far (called before END, REPORT and errors)."""
        if self._logfd >= 0 and self._log_poll.poll(0):
            self._read_log()
        self._emit(self._lines.flush())

    def _read_log(self) -> None:
        for _ in range(LOG_DRAIN_READS):
            try:
                data = os.read(self._logfd, READ_SIZE)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            self._emit(self._lines.feed(data))
            if len(data) < READ_SIZE:
                break

    def _emit(self, lines: list[str]) -> None:
        if not lines:
            return
        name, request_id = self.spec.function, self._request_id
        function_log = logs.function_log
        for line in lines:
            function_log(name, request_id, line)
