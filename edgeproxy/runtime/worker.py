"""The worker process: a fresh interpreter that imports one handler once, then serves invocations.

Why a fresh interpreter (`python -I -c <bootstrap>`, never a fork of the proxy): the proxy holds an
event loop, sockets and threads that a forked child would inherit half-alive, and Lambda's contract
is a clean process per execution environment. The handler crosses the process line as its name;
the worker imports it (the Init phase, timed for `Init Duration`) and then runs it once per
`Invoke` frame, many times — module globals persist between invocations, as in warm Lambda.

The environment is Lambda's (spec §10), arranged here and by the parent (`environment.py`):
- `sys.path[0]` and the working directory are the task root (the handler's folder), layer
  folders come right after it; the interpreter runs isolated (`-I`), so the proxy's own
  `PYTHONPATH`, user site and working directory leak nothing. The venv's site-packages stay
  importable, as a Lambda layer's would be. The folder edgeproxy itself was loaded from is
  removed again once this module is imported.
- The root logger gets awslambdaric's handler: `[LEVEL]\\t<ISO time>\\t<aws request id>\\t<msg>`;
  its level stays WARNING, as in Lambda (handlers call `setLevel(logging.INFO)` themselves).
- stdout is line-buffered (stderr already is), so prints reach the log as they happen and are
  all flushed before the reply is sent — the parent reads them before it writes END/REPORT.
- Import warnings print and never fail Init; the default warning filters are untouched.

Errors are named as awslambdaric names them (`Runtime.ImportModuleError`, `Runtime.MarshalError`,
...) and tracebacks are cut at the handler's first frame: nothing of this module or importlib.
Results are marshalled as Lambda's `json.dumps` would (orjson first for speed; anything orjson
refuses, or that it would serialise where `json` would not, goes through stdlib `json` for the
exact Lambda outcome). A `SystemExit` in the handler ends the process as it ends Lambda's runtime.

Imports nothing from edgeproxy but `runtime.protocol` and `runtime.context` (kept light: every
import here is paid on every cold start).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback
from collections import deque

from edgeproxy.runtime.context import FunctionInfo, LambdaContext
from edgeproxy.runtime.protocol import (
    MAX_RESULT_BYTES,
    FrameDecoder,
    InitFailed,
    InitOk,
    InitRequest,
    Invoke,
    InvokeError,
    InvokeResult,
    Message,
    ProtocolError,
    decode,
    encode,
)

TYPE_CHECKING = False  # typing costs ~10 ms of every cold start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any, Callable, NoReturn

EXIT_PROTOCOL = 70  # the parent sent something that is not our protocol
EXIT_INIT_FAILED = 1  # Lambda's runtime also exits after reporting an init error
MAX_MESSAGE_CHARS = 64 * 1024
_IMPORTLIB_DIR = os.path.dirname(importlib.__file__)
_THIS_FILE = __file__
_MAXRSS_SCALE = 1024 if sys.platform == "darwin" else 1  # bytes on macOS, KiB on Linux

_aws_request_id = ""  # the invocation in progress, for the logging filter


class Channel:
    """Blocking reads and writes of frames on the two inherited pipe ends."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._rfd = read_fd
        self._wfd = write_fd
        self._decoder = FrameDecoder()
        self._frames: deque[Any] = deque()

    def receive(self) -> Message | None:
        """The next message, or None when the parent closed the channel."""
        while not self._frames:
            data = os.read(self._rfd, 65536)
            if not data:
                return None
            self._frames.extend(self._decoder.feed(data))
        return decode(self._frames.popleft())

    def send_frame(self, frame: bytes) -> None:
        view = memoryview(frame)
        while view:
            view = view[os.write(self._wfd, view) :]


class InitFault(Exception):
    """Init failed the way awslambdaric reports it: type, message, formatted stack."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack or []


# --- environment -----------------------------------------------------------------------------


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _aws_request_id
        return True


class _LambdaLogHandler(logging.Handler):
    """Writes to whatever `sys.stdout` is at the time, like awslambdaric's log sink."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # logging's contract: report through handleError, never raise
            self.handleError(record)


def _setup_logging() -> None:
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler = _LambdaLogHandler()
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def _setup_stdio() -> None:
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace", line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(encoding="utf-8", errors="backslashreplace", line_buffering=True)  # type: ignore[union-attr]


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            # The handler closed or replaced the stream; its output is its own business.
            continue


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL this worker if the proxy dies, so a handler stuck in a loop is never orphaned."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # no prctl: the channel's EOF still ends an idle worker
    if os.getppid() != parent_pid:
        os._exit(EXIT_PROTOCOL)  # the parent died before the signal was armed


class MemoryGauge:
    """The worker's peak resident set in KiB: the REPORT line's `Max Memory Used`, and the number
    the parent holds against `memory_mb`.

    Not `ru_maxrss`: Linux carries the spawning process's peak into a child's `ru_maxrss` across
    exec, so every worker would report at least the proxy's own size. `VmHWM` from
    `/proc/self/status` is this interpreter's own peak, but generating that file costs ~15 µs, so
    it is read after Init and after any invocation lasting `EXACT_AFTER_MS` or more; a faster
    invocation cannot have touched much memory (page faults alone limit that), and the current
    resident set (`statm`, ~2 µs) keeps the running peak honest. Without procfs: `ru_maxrss`.
    """

    EXACT_AFTER_MS = 2.0

    def __init__(self) -> None:
        self._page_kb = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
        try:
            self._status: int | None = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
            self._statm = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._status = None
        self.peak_kb = 0
        self.peak_kb = self.exact()

    def exact(self) -> int:
        if self._status is not None:
            try:
                data = os.pread(self._status, 4096, 0)
                start = data.index(b"VmHWM:")
                self.peak_kb = max(self.peak_kb, int(data[start + 6 : data.index(b"kB", start)]))
                return self.peak_kb
            except (OSError, ValueError):
                self._status = None  # the handler closed our fd, or no VmHWM: degrade, don't fail
        return max(self.peak_kb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // _MAXRSS_SCALE)

    def after_invocation(self, duration_ms: float) -> int:
        if self._status is None or duration_ms >= self.EXACT_AFTER_MS:
            return self.exact()
        try:
            resident = int(os.pread(self._statm, 64, 0).split()[1]) * self._page_kb
        except (OSError, ValueError, IndexError):
            return self.exact()
        if resident > self.peak_kb:
            self.peak_kb = resident
        return self.peak_kb


# --- Init ------------------------------------------------------------------------------------


def _is_runtime_frame(filename: str, *, importing: bool) -> bool:
    if filename == _THIS_FILE:
        return True
    return importing and (filename.startswith("<frozen importlib") or filename.startswith(_IMPORTLIB_DIR))


def user_stack(tb: Any, *, importing: bool = False) -> list[str]:
    """Formatted frames from the first frame that is the user's (the runtime's own are cut)."""
    frames = traceback.extract_tb(tb)
    start = 0
    while start < len(frames) and _is_runtime_frame(frames[start].filename, importing=importing):
        start += 1
    return traceback.StackSummary.from_list(frames[start:]).format()


def _safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception as inner:  # a broken __str__ must not take the worker down
        text = f"<str() failed: {type(inner).__name__}>"
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + f"... [{len(text) - MAX_MESSAGE_CHARS} characters cut]"
    return text


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _load_module(request: InitRequest) -> Any:
    module = request.module
    if request.file is None:
        if module.split(".")[0] in sys.builtin_module_names:
            raise InitFault("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module} as a handler module")
        return importlib.import_module(module)
    if not os.path.isfile(request.file):
        raise ImportError(f"No module named '{module}' (no file {request.file})")
    spec = importlib.util.spec_from_file_location(module, request.file)
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named '{module}' ({request.file} is not a Python file)")
    mod = importlib.util.module_from_spec(spec)
    # The file named is the one imported, even if a module of that name was imported before.
    sys.modules[module] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(module, None)
        raise
    return mod


def load_handler(request: InitRequest) -> Callable[[Any, Any], Any]:
    """Import the module and find the callable; raises `InitFault` exactly as Lambda reports it."""
    module = request.module
    try:
        mod = _load_module(request)
    except InitFault:
        raise
    except ImportError as exc:
        raise InitFault(
            "Runtime.ImportModuleError",
            f"Unable to import module '{module}': {_safe_str(exc)}",
            user_stack(exc.__traceback__, importing=True),
        ) from exc
    except SyntaxError as exc:
        text = (exc.text or "").rstrip("\n")
        raise InitFault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module}': {exc}",
            [f'  File "{exc.filename}" Line {exc.lineno}\n    {text}\n'],
        ) from exc
    except SystemExit as exc:
        raise InitFault("Runtime.ExitError", f"Runtime exited with error: exit status {_exit_code(exc)}") from exc
    except BaseException as exc:
        raise InitFault(type(exc).__name__, _safe_str(exc), user_stack(exc.__traceback__, importing=True)) from exc

    target: Any = mod
    for part in request.attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise InitFault("Runtime.HandlerNotFound", f"Handler '{request.attr}' missing on module '{module}'") from None
    if not callable(target):
        raise InitFault(
            "Runtime.InvalidHandler",
            f"Handler '{request.attr}' on module '{module}' is not callable (it is a {type(target).__name__})",
        )
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return target  # a builtin without a signature: it will tell at the call
    try:
        signature.bind(None, None)
    except TypeError as exc:
        raise InitFault(
            "Runtime.InvalidHandler",
            f"Handler '{request.attr}' on module '{module}' cannot be called as handler(event, context): {exc}",
        ) from None
    return target


def initialise(request: InitRequest) -> Callable[[Any, Any], Any]:
    """Lay out sys.path and the working directory, then import; raises `InitFault`."""
    sys.path[0:0] = [request.task_root, *request.paths]
    try:
        os.chdir(request.task_root)
    except OSError as exc:
        raise InitFault(
            "Runtime.ImportModuleError", f"Unable to import module '{request.module}': {exc.strerror}: {request.task_root}"
        ) from exc
    return load_handler(request)


# --- Invoke ----------------------------------------------------------------------------------


def _decimal_default(obj: object) -> object:
    from decimal import Decimal  # only results orjson refused get here

    if isinstance(obj, Decimal):
        return float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _as_lambda_json(value: Any) -> Any:
    """What Lambda's marshaller (stdlib-compatible json, Decimal as number) makes of `value`."""
    return json.loads(json.dumps(value, default=_decimal_default))


def result_frame(value: Any, duration_ms: float, rss: int) -> bytes:
    """The reply frame for a returned value: a result, or the marshalling error Lambda would give."""
    try:
        frame = encode(InvokeResult(value, duration_ms, rss))
    except TypeError:
        try:
            frame = encode(InvokeResult(_as_lambda_json(value), duration_ms, rss))
        except (TypeError, ValueError, RecursionError) as exc:
            return encode(InvokeError("Runtime.MarshalError", f"Unable to marshal response: {exc}", [], duration_ms, rss))
    if len(frame) > MAX_RESULT_BYTES:
        size = len(frame) - len(encode(InvokeResult(None, duration_ms, rss))) + len(b"null")
        if size > MAX_RESULT_BYTES:
            return encode(
                InvokeError(
                    "Function.ResponseSizeTooLarge",
                    f"Response payload size ({size} bytes) exceeded maximum allowed payload size ({MAX_RESULT_BYTES} bytes).",
                    [],
                    duration_ms,
                    rss,
                )
            )
    return frame


def error_frame(exc: BaseException, duration_ms: float, rss: int) -> bytes:
    try:
        stack = user_stack(exc.__traceback__)
        return encode(InvokeError(type(exc).__name__, _safe_str(exc), stack, duration_ms, rss))
    except MemoryError:
        return encode(InvokeError(type(exc).__name__, "", [], duration_ms, rss))


def serve(channel: Channel, handler: Callable[[Any, Any], Any], info: FunctionInfo, memory: MemoryGauge) -> None:
    """Run invocations until the parent closes the channel."""
    global _aws_request_id
    perf = time.perf_counter
    while True:
        message = channel.receive()
        if message is None:
            return
        if not isinstance(message, Invoke):
            raise ProtocolError(f"expected an invoke frame, got {type(message).__name__}")
        _aws_request_id = message.aws_request_id
        context = LambdaContext(info, message.aws_request_id, message.deadline_ms)
        start = perf()
        try:
            value = handler(message.event, context)
        except SystemExit as exc:
            _flush_stdio()
            os._exit(_exit_code(exc))
        except BaseException as exc:
            duration_ms = (perf() - start) * 1000.0
            frame = error_frame(exc, duration_ms, memory.after_invocation(duration_ms))
        else:
            duration_ms = (perf() - start) * 1000.0
            frame = result_frame(value, duration_ms, memory.after_invocation(duration_ms))
            del value
        _flush_stdio()
        channel.send_frame(frame)


def main(argv: list[str]) -> NoReturn:
    """`argv`: the folder edgeproxy was imported from, the channel's read and write fds, the parent pid."""
    boot_path, read_fd, write_fd, parent_pid = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    if sys.path and sys.path[0] == boot_path:
        del sys.path[0]
    sys.argv = [_THIS_FILE]
    _die_with_parent(parent_pid)
    channel = Channel(read_fd, write_fd)
    try:
        request = channel.receive()
        if not isinstance(request, InitRequest):
            os._exit(EXIT_PROTOCOL)
        _setup_stdio()
        _setup_logging()
        info = FunctionInfo.from_environ(os.environ)
        start = time.perf_counter()
        try:
            handler = initialise(request)
        except InitFault as fault:
            init_ms = (time.perf_counter() - start) * 1000.0
            _flush_stdio()
            channel.send_frame(encode(InitFailed(fault.error_type, fault.message, fault.stack, init_ms)))
            os._exit(EXIT_INIT_FAILED)
        init_ms = (time.perf_counter() - start) * 1000.0
        _flush_stdio()
        memory = MemoryGauge()
        channel.send_frame(encode(InitOk(init_ms, memory.exact())))
        serve(channel, handler, info, memory)
    except ProtocolError:
        _flush_stdio()
        os._exit(EXIT_PROTOCOL)
    except BrokenPipeError:
        os._exit(0)  # the parent went away mid-reply
    _flush_stdio()
    # No interpreter teardown: a handler's leftover non-daemon threads must not keep us alive.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
