"""The function log's own lines, worded exactly as Lambda writes them to CloudWatch (spec §9).

Pure formatting, so every line's shape has a unit test and the worker handle only decides *when*:

    START RequestId: <id> Version: 1
    END RequestId: <id>
    REPORT RequestId: <id>\\tDuration: 15.74 ms\\tBilled Duration: 16 ms\\tMemory Size: 128 MB\\tMax Memory Used: 56 MB[\\tInit Duration: 130.49 ms]
    2026-11-27T10:00:03.004Z <id> Task timed out after 3.00 seconds             (after REPORT)
    RequestId: <id> Error: Runtime exited with error: signal: killed           (after REPORT)
    Runtime.ExitError
    [ERROR] ValueError: boom                                                    (before END)
    Traceback (most recent call last):
      File "/app/hooks/h.py", line 3, in handler
    INIT_REPORT Init Duration: 10000.12 ms\\tPhase: init\\tStatus: timeout      (failed Init only)

Exit descriptions follow Go's `os.ProcessState` wording, which Lambda's platform prints
(`exit status 3`, `signal: segmentation fault`).

`LineBuffer` turns the worker's raw stdout/stderr bytes into lines: output is split at newlines,
decoded leniently, and a line longer than `MAX_LINE_BYTES` is cut into pieces so a handler that
never prints a newline cannot make the proxy buffer without bound.
"""

from __future__ import annotations

import math
import signal
import time

VERSION = "1"  # Lambda@Edge runs published versions only; ours is always version 1
MAX_LINE_BYTES = 256 * 1024  # a CloudWatch log event holds at most 256 KB

_GO_SIGNAL_NAMES = {
    signal.SIGHUP: "hangup",
    signal.SIGINT: "interrupt",
    signal.SIGQUIT: "quit",
    signal.SIGILL: "illegal instruction",
    signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGKILL: "killed",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGPIPE: "broken pipe",
    signal.SIGALRM: "alarm clock",
    signal.SIGTERM: "terminated",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
}


def iso_timestamp(epoch_s: float) -> str:
    """`2026-11-27T10:00:03.004Z`, the timestamp Lambda's platform lines carry."""
    millis = int(epoch_s * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s)) + f".{millis:03d}Z"


def start_line(aws_request_id: str) -> str:
    return f"START RequestId: {aws_request_id} Version: {VERSION}"


def end_line(aws_request_id: str) -> str:
    return f"END RequestId: {aws_request_id}"


def memory_mb(kib: int) -> int:
    """KiB → whole MB, rounded up (a worker over its limit never reports exactly the limit)."""
    return math.ceil(kib / 1024)


def report_line(
    aws_request_id: str, *, duration_ms: float, memory_size_mb: int, max_memory_kib: int, init_ms: float | None = None
) -> str:
    billed = max(1, math.ceil(duration_ms))
    line = (
        f"REPORT RequestId: {aws_request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms"
        f"\tMemory Size: {memory_size_mb} MB\tMax Memory Used: {memory_mb(max_memory_kib)} MB"
    )
    if init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    return line


def timeout_line(aws_request_id: str, timeout_s: float, now_epoch_s: float) -> str:
    return f"{iso_timestamp(now_epoch_s)} {aws_request_id} Task timed out after {timeout_s:.2f} seconds"


def describe_exit(returncode: int) -> str:
    """Lambda's sentence for a runtime process that ended on its own (or was killed)."""
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        try:
            name = _GO_SIGNAL_NAMES.get(signal.Signals(-returncode), f"signal {-returncode}")
        except ValueError:
            name = f"signal {-returncode}"
        return f"Runtime exited with error: signal: {name}"
    return f"Runtime exited with error: exit status {returncode}"


def exit_lines(aws_request_id: str, description: str) -> list[str]:
    return [f"RequestId: {aws_request_id} Error: {description}", "Runtime.ExitError"]


def error_lines(error_type: str, message: str, stack: list[str]) -> list[str]:
    """awslambdaric's `[ERROR] Type: message` block with the (already cut) traceback."""
    head = "[ERROR]"
    if error_type:
        head += " " + error_type
    if message:
        head += (":" if error_type else "") + " " + message
    lines = head.splitlines() or [head]
    lines.append("Traceback (most recent call last):")
    for element in stack:
        lines.extend(element.splitlines())
    return lines


def init_report_line(init_ms: float, status: str, error_type: str | None = None) -> str:
    line = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: {status}"
    if error_type:
        line += f"\tError Type: {error_type}"
    return line


class LineBuffer:
    """Bytes in, complete lines out; a partial last line is kept until its newline (or `flush`)."""

    __slots__ = ("_partial", "max_line")

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._partial = b""
        self.max_line = max_line

    def feed(self, data: bytes) -> list[str]:
        if self._partial:
            data = self._partial + data
        parts = data.split(b"\n")
        partial = parts.pop()
        lines: list[str] = []
        limit = self.max_line
        for part in parts:
            if len(part) > limit:
                lines.extend(self._pieces(part))
            else:
                lines.append(part.decode("utf-8", "replace").rstrip("\r"))
        while len(partial) > limit:
            lines.append(partial[:limit].decode("utf-8", "replace"))
            partial = partial[limit:]
        self._partial = partial
        return lines

    def flush(self) -> list[str]:
        """The partial line, if any, as a line of its own (the output paused without a newline)."""
        if not self._partial:
            return []
        line = self._partial.decode("utf-8", "replace").rstrip("\r")
        self._partial = b""
        return [line]

    def _pieces(self, line: bytes) -> list[str]:
        limit = self.max_line
        return [line[i : i + limit].decode("utf-8", "replace") for i in range(0, len(line), limit)]
