"""The parent ⇄ worker protocol: framing and message types, defined here and nowhere else.

Why a protocol of our own: the handler crosses the process line as its *name* and the worker is a
fresh interpreter (never a fork of the proxy, never a pickled callable), so both sides need a
small, explicit contract. Measured on the 2-core dev box, length-prefixed orjson over a pipe pair
from an asyncio loop round-trips in 50–110 µs; `multiprocessing.Pipe` + pickle was 2–3× slower.

Channel: a dedicated pipe pair (parent → worker, worker → parent) inherited by the worker as two
file descriptors. The worker's stdout/stderr are *not* the channel: the handler may print anything.

Frame: a 4-byte big-endian unsigned length, then that many bytes of one JSON object (orjson), whose
key `"t"` names the message kind. A frame longer than `MAX_FRAME_BYTES` is a protocol error (the
parent then treats the worker as broken and kills it).

| `t`          | direction       | dataclass       | when                                                      |
|--------------|-----------------|-----------------|-----------------------------------------------------------|
| `init`       | parent → worker | `InitRequest`   | first frame after spawn: what to import, from where       |
| `ready`      | worker → parent | `InitOk`        | the handler imported; Init took `init_ms`                 |
| `init_error` | worker → parent | `InitFailed`    | import / lookup / signature failed; the worker then exits |
| `invoke`     | parent → worker | `Invoke`        | run the handler once on `event`                           |
| `result`     | worker → parent | `InvokeResult`  | the handler returned `value` (already JSON-decodable)     |
| `error`      | worker → parent | `InvokeError`   | the handler raised, or its result could not be marshalled |

One invocation at a time per worker: after `ready`, every `invoke` gets exactly one `result` or
`error`. The parent ends a worker by closing its end (the worker reads EOF and exits) or, when it
must not wait (timeout, memory, shutdown), by SIGKILLing its process group.

JSON here is what Lambda's `json.dumps` accepts: orjson is told to refuse dataclasses and datetimes
(it would serialise them; Lambda's marshaller would not), so such a result fails the same way.

`max_rss_kb` is the worker's own peak resident set (KiB), measured in the child where it is cheap
(see `worker.MemoryGauge`); it becomes the REPORT line's `Max Memory Used`.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: the worker imports this, and typing costs ~10 ms
if TYPE_CHECKING:
    from typing import Any
import orjson

HEADER_BYTES = 4
# Lambda's synchronous invocation payload limit, each way (spec §9: "sync payload 6 MB").
MAX_RESULT_BYTES = 6 * 1024 * 1024
# Any frame: a maximal result plus its envelope, with room for an error's stack and message.
MAX_FRAME_BYTES = MAX_RESULT_BYTES + 2 * 1024 * 1024
_JSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


class ProtocolError(Exception):
    """A frame that is not one of ours: too long, not JSON, unknown kind, wrong fields."""


@dataclass(frozen=True, slots=True)
class InitRequest:
    """What the worker imports. `file` set: load that file as module `module`; else import by name."""

    function: str
    module: str
    attr: str  # attribute path on the module; dots allowed ("app.handle")
    file: str | None
    task_root: str  # cwd and sys.path[0]
    paths: list[str]  # layer folders, inserted right after task_root

    def to_wire(self) -> dict[str, Any]:
        return {
            "t": "init",
            "function": self.function,
            "module": self.module,
            "attr": self.attr,
            "file": self.file,
            "task_root": self.task_root,
            "paths": self.paths,
        }


@dataclass(frozen=True, slots=True)
class InitOk:
    init_ms: float
    max_rss_kb: int

    def to_wire(self) -> dict[str, Any]:
        return {"t": "ready", "init_ms": self.init_ms, "max_rss_kb": self.max_rss_kb}


@dataclass(frozen=True, slots=True)
class InitFailed:
    """Lambda's init error: `error_type` as awslambdaric names it (`Runtime.ImportModuleError`, ...)."""

    error_type: str
    message: str
    stack: list[str]  # formatted frames, already cut at the user's code
    init_ms: float

    def to_wire(self) -> dict[str, Any]:
        return {
            "t": "init_error",
            "error_type": self.error_type,
            "message": self.message,
            "stack": self.stack,
            "init_ms": self.init_ms,
        }


@dataclass(frozen=True, slots=True)
class Invoke:
    """`deadline_ms` is an absolute epoch time in ms, like Lambda's `Lambda-Runtime-Deadline-Ms`."""

    aws_request_id: str
    deadline_ms: int
    event: Any

    def to_wire(self) -> dict[str, Any]:
        return {"t": "invoke", "aws_request_id": self.aws_request_id, "deadline_ms": self.deadline_ms, "event": self.event}


@dataclass(frozen=True, slots=True)
class InvokeResult:
    value: Any
    duration_ms: float
    max_rss_kb: int

    def to_wire(self) -> dict[str, Any]:
        return {"t": "result", "value": self.value, "duration_ms": self.duration_ms, "max_rss_kb": self.max_rss_kb}


@dataclass(frozen=True, slots=True)
class InvokeError:
    error_type: str
    message: str
    stack: list[str]
    duration_ms: float
    max_rss_kb: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "t": "error",
            "error_type": self.error_type,
            "message": self.message,
            "stack": self.stack,
            "duration_ms": self.duration_ms,
            "max_rss_kb": self.max_rss_kb,
        }


Message = InitRequest | InitOk | InitFailed | Invoke | InvokeResult | InvokeError
_KINDS: dict[str, type[Message]] = {
    "init": InitRequest,
    "ready": InitOk,
    "init_error": InitFailed,
    "invoke": Invoke,
    "result": InvokeResult,
    "error": InvokeError,
}


def encode(message: Message) -> bytes:
    """One frame. Raises `orjson.JSONEncodeError` (a TypeError) for values JSON cannot carry."""
    body = orjson.dumps(message.to_wire(), option=_JSON_OPTIONS)
    return len(body).to_bytes(HEADER_BYTES, "big") + body


def decode(payload: bytes | bytearray | memoryview) -> Message:
    """The message in one frame's payload (without its length prefix)."""
    try:
        obj = orjson.loads(payload)
        cls = _KINDS[obj.pop("t")]
        return cls(**obj)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ProtocolError(f"bad frame: {exc}") from exc


class FrameDecoder:
    """Splits a byte stream into frame payloads; used by both sides.

    `feed` returns the payloads completed by `data`. The common case — the buffer is empty and
    `data` is exactly one frame — returns a view of `data` without copying.
    """

    __slots__ = ("_buf", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self.max_frame = max_frame

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[memoryview | bytes]:
        if not self._buf and len(data) >= HEADER_BYTES:
            size = int.from_bytes(data[:HEADER_BYTES], "big")
            if size > self.max_frame:
                raise ProtocolError(f"frame of {size} bytes is over the {self.max_frame}-byte limit")
            if len(data) == HEADER_BYTES + size:
                return [memoryview(data)[HEADER_BYTES:]]
        buf = self._buf
        buf += data
        frames: list[memoryview | bytes] = []
        start = 0
        while len(buf) - start >= HEADER_BYTES:
            size = int.from_bytes(buf[start : start + HEADER_BYTES], "big")
            if size > self.max_frame:
                raise ProtocolError(f"frame of {size} bytes is over the {self.max_frame}-byte limit")
            end = start + HEADER_BYTES + size
            if len(buf) < end:
                break
            frames.append(bytes(buf[start + HEADER_BYTES : end]))
            start = end
        if start:
            del buf[:start]
        return frames
