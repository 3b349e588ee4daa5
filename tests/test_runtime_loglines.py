"""The function log's own lines, character for character as Lambda writes them."""

from __future__ import annotations

import signal

import pytest

from edgeproxy.runtime.loglines import (
    LineBuffer,
    describe_exit,
    end_line,
    error_lines,
    exit_lines,
    init_report_line,
    iso_timestamp,
    report_line,
    start_line,
    timeout_line,
)

RID = "8f5b0c1e-4d7a-4f0b-9e3c-2a1d5f6e7b8c"


def test_start_and_end() -> None:
    assert start_line(RID) == f"START RequestId: {RID} Version: 1"
    assert end_line(RID) == f"END RequestId: {RID}"


def test_report_line_warm_and_cold() -> None:
    warm = report_line(RID, duration_ms=15.738, memory_size_mb=128, max_memory_kib=56 * 1024)
    assert warm == f"REPORT RequestId: {RID}\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB"
    cold = report_line(RID, duration_ms=15.738, memory_size_mb=128, max_memory_kib=56 * 1024, init_ms=130.491)
    assert cold == warm + "\tInit Duration: 130.49 ms"


@pytest.mark.parametrize(("duration", "billed"), [(0.12, 1), (1.0, 1), (1.01, 2), (2999.2, 3000)])
def test_billed_duration_rounds_up_to_the_millisecond(duration: float, billed: int) -> None:
    assert f"\tBilled Duration: {billed} ms\t" in report_line(RID, duration_ms=duration, memory_size_mb=128, max_memory_kib=1)


def test_max_memory_used_rounds_up() -> None:
    assert "Max Memory Used: 21 MB" in report_line(RID, duration_ms=1, memory_size_mb=128, max_memory_kib=20 * 1024 + 1)


def test_timeout_line() -> None:
    assert timeout_line(RID, 3, 1_600_000_000.25) == f"2020-09-13T12:26:40.250Z {RID} Task timed out after 3.00 seconds"
    assert iso_timestamp(0.0) == "1970-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("returncode", "sentence"),
    [
        (3, "Runtime exited with error: exit status 3"),
        (-signal.SIGKILL, "Runtime exited with error: signal: killed"),
        (-signal.SIGSEGV, "Runtime exited with error: signal: segmentation fault"),
        (-signal.SIGABRT, "Runtime exited with error: signal: aborted"),
        (0, "Runtime exited without providing a reason"),
    ],
)
def test_exit_descriptions(returncode: int, sentence: str) -> None:
    assert describe_exit(returncode) == sentence


def test_exit_lines() -> None:
    assert exit_lines(RID, "Runtime exited with error: signal: killed") == [
        f"RequestId: {RID} Error: Runtime exited with error: signal: killed",
        "Runtime.ExitError",
    ]


def test_error_block() -> None:
    stack = ['  File "/var/task/h.py", line 3, in handler\n    raise ValueError("boom")\n']
    assert error_lines("ValueError", "boom", stack) == [
        "[ERROR] ValueError: boom",
        "Traceback (most recent call last):",
        '  File "/var/task/h.py", line 3, in handler',
        '    raise ValueError("boom")',
    ]
    assert error_lines("KeyError", "", [])[0] == "[ERROR] KeyError"


def test_init_report_line() -> None:
    assert init_report_line(10000.123, "timeout") == "INIT_REPORT Init Duration: 10000.12 ms\tPhase: init\tStatus: timeout"
    assert init_report_line(5, "error", "Runtime.ImportModuleError").endswith("\tStatus: error\tError Type: Runtime.ImportModuleError")


def test_line_buffer_splits_and_keeps_partial_lines() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"one\ntw") == ["one"]
    assert buffer.feed(b"o\r\nthree\n") == ["two", "three"]
    assert buffer.feed(b"tail") == []
    assert buffer.flush() == ["tail"]
    assert buffer.flush() == []


def test_line_buffer_decodes_leniently() -> None:
    assert LineBuffer().feed("é\n".encode() + b"\xff\n") == ["é", "\ufffd"]


def test_line_buffer_caps_line_length() -> None:
    buffer = LineBuffer(max_line=4)
    assert buffer.feed(b"abcdefghij") == ["abcd", "efgh"]
    assert buffer.feed(b"\n") == ["ij"]
    assert buffer.feed(b"0123456789\n") == ["0123", "4567", "89"]
