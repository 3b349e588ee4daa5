"""The worker protocol: every message kind survives a frame round trip; framing edge cases."""

from __future__ import annotations

import dataclasses
import datetime

import orjson
import pytest

from edgeproxy.runtime.protocol import (
    HEADER_BYTES,
    MAX_FRAME_BYTES,
    FrameDecoder,
    InitFailed,
    InitOk,
    InitRequest,
    Invoke,
    InvokeError,
    InvokeResult,
    ProtocolError,
    decode,
    encode,
)

MESSAGES = [
    InitRequest(
        function="auth",
        module="auth",
        attr="handler",
        file="/srv/hooks/auth.py",
        task_root="/srv/hooks",
        paths=["/srv/layer/python", "/srv/layer"],
    ),
    InitRequest(function="m", module="pkg.mod", attr="app.handle", file=None, task_root="/srv", paths=[]),
    InitOk(init_ms=12.5, max_rss_kb=20480),
    InitFailed(
        error_type="Runtime.ImportModuleError",
        message="Unable to import module 'auth': No module named 'jwt'",
        stack=['  File "/srv/hooks/auth.py", line 1, in <module>\n    import jwt\n'],
        init_ms=3.25,
    ),
    Invoke(aws_request_id="0c6f7d2e-1d0b-4c51-9d2f-7a0e8f1b2c3d", deadline_ms=1_800_000_000_000, event={"Records": [{"cf": {"request": {"uri": "/ü"}}}]}),
    InvokeResult(value={"status": "200", "headers": {}}, duration_ms=0.42, max_rss_kb=20000),
    InvokeResult(value=None, duration_ms=0.1, max_rss_kb=1),
    InvokeResult(value=["a", 1, 2.5, True, None], duration_ms=0.1, max_rss_kb=1),
    InvokeError(error_type="ValueError", message="boom", stack=["  File ..."], duration_ms=1.0, max_rss_kb=30000),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_kind_round_trips(message: object) -> None:
    frame = encode(message)  # type: ignore[arg-type]
    assert int.from_bytes(frame[:HEADER_BYTES], "big") == len(frame) - HEADER_BYTES
    [payload] = FrameDecoder().feed(frame)
    assert decode(payload) == message


def test_all_six_kinds_are_covered() -> None:
    kinds = {orjson.loads(encode(m)[HEADER_BYTES:])["t"] for m in MESSAGES}  # type: ignore[arg-type]
    assert kinds == {"init", "ready", "init_error", "invoke", "result", "error"}


def test_decoder_reassembles_frames_split_anywhere() -> None:
    stream = b"".join(encode(m) for m in MESSAGES)  # type: ignore[arg-type]
    for chunk_size in (1, 3, 7, 64, len(stream)):
        decoder = FrameDecoder()
        out = []
        for i in range(0, len(stream), chunk_size):
            out.extend(decode(p) for p in decoder.feed(stream[i : i + chunk_size]))
        assert out == MESSAGES
        assert decoder.pending == 0


def test_decoder_keeps_an_incomplete_frame() -> None:
    frame = encode(InitOk(1.0, 2))
    decoder = FrameDecoder()
    assert decoder.feed(frame[:-1]) == []
    assert decoder.pending == len(frame) - 1
    assert [decode(p) for p in decoder.feed(frame[-1:])] == [InitOk(1.0, 2)]


def test_oversized_frame_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="over the"):
        FrameDecoder().feed((MAX_FRAME_BYTES + 1).to_bytes(HEADER_BYTES, "big") + b"{}")
    with pytest.raises(ProtocolError):
        FrameDecoder(max_frame=10).feed(b"x" + (11).to_bytes(HEADER_BYTES, "big"))  # second header, slow path


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'{"t": "nope"}', b'{"no_kind": 1}', b'{"t": "ready", "init_ms": 1}', b'{"t": "ready", "init_ms": 1, "max_rss_kb": 1, "x": 2}', b"[1]"],
)
def test_malformed_payloads_are_protocol_errors(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode(payload)


def test_values_json_dumps_would_refuse_are_refused() -> None:
    """Lambda marshals with json.dumps: dataclasses, datetimes and bytes are not JSON."""

    @dataclasses.dataclass
    class Point:
        x: int

    for value in (Point(1), datetime.datetime(2020, 1, 1), b"raw"):
        with pytest.raises(TypeError):
            encode(InvokeResult(value, 1.0, 1))
