"""Byte ranges cut from a complete stored body (RFC 9110 §14; CloudFront RangeGETs).

CloudFront "generally follows the RFC" but answers 200 with the whole object unless every
range is valid, the ranges are in ascending order and they do not overlap; otherwise it serves
206 (several ranges as `multipart/byteranges`). RFC 9110 then says:

- only GET, only on a 200; a malformed `Range` is ignored (200 in full);
- unsatisfiable ranges are dropped; if none is left: 416 with `Content-Range: bytes */<len>`;
- `bytes=-n` is the last n bytes (all of them if n >= length), `bytes=a-` runs to the end,
  an end beyond the length is cut to it;
- `If-Range` (§13.1.5): the range applies only if it matches — an entity-tag by strong
  comparison, a date equal to Last-Modified — otherwise 200 in full.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from edgeproxy.cache.cachecontrol import first_value, parse_http_date
from edgeproxy.types import HeaderList


@dataclass(frozen=True, slots=True)
class RangeSpec:
    """Satisfiable ranges as inclusive (first, last) byte positions, ascending, disjoint."""

    ranges: tuple[tuple[int, int], ...]

    @property
    def start(self) -> int:
        return self.ranges[0][0]

    @property
    def end(self) -> int:
        return self.ranges[0][1]

    @property
    def single(self) -> bool:
        return len(self.ranges) == 1


@dataclass(frozen=True, slots=True)
class Unsatisfiable:
    """No requested range overlaps the body: answer 416."""

    length: int


@dataclass(frozen=True, slots=True)
class RangedResponse:
    status: int  # 206 or 416
    headers: HeaderList
    body: bytes


def _digits(text: str) -> int | None:
    text = text.strip(" \t")
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def parse_range(value: str, length: int) -> RangeSpec | Unsatisfiable | None:
    """A `Range` value against a body of `length` bytes: the ranges to serve, Unsatisfiable
    (416), or None to ignore the header and serve 200 (malformed, not `bytes`, out of order,
    overlapping)."""
    unit, sep, spec = value.partition("=")
    if not sep or unit.lower() != "bytes":  # range-unit "=" range-set, no spaces around "="
        return None
    resolved: list[tuple[int, int] | None] = []  # None: a valid but unsatisfiable range
    for item in spec.split(","):
        item = item.strip(" \t")
        if not item:
            continue
        first_raw, dash, last_raw = item.partition("-")
        if not dash:
            return None
        if first_raw.strip(" \t") == "":
            suffix = _digits(last_raw)
            if suffix is None:
                return None
            resolved.append((max(0, length - suffix), length - 1) if suffix > 0 and length > 0 else None)
            continue
        first = _digits(first_raw)
        if first is None:
            return None
        if last_raw.strip(" \t") == "":
            last = length - 1
        else:
            last_given = _digits(last_raw)
            if last_given is None or last_given < first:
                return None
            last = min(last_given, length - 1)
        resolved.append((first, last) if first < length else None)
    if not resolved:
        return None
    satisfiable = [r for r in resolved if r is not None]
    if not satisfiable:
        return Unsatisfiable(length)
    for (_, prev_last), (next_first, _) in zip(satisfiable, satisfiable[1:]):
        if next_first <= prev_last:
            return None  # CloudFront: out of order or overlapping -> the whole object
    return RangeSpec(tuple(satisfiable))


def content_range(start: int, end: int, length: int) -> str:
    """`Content-Range` of a 206 part: `bytes <start>-<end>/<length>` (end inclusive)."""
    return f"bytes {start}-{end}/{length}"


def unsatisfied_content_range(length: int) -> str:
    """`Content-Range` of a 416: `bytes */<length>`."""
    return f"bytes */{length}"


def _strong(tag: str) -> str | None:
    tag = tag.strip()
    return tag if len(tag) >= 2 and tag.startswith('"') and tag.endswith('"') else None


def if_range_matches(if_range: str, headers: HeaderList | tuple[tuple[str, str], ...]) -> bool:
    """Whether `If-Range` lets the range apply to this response (RFC 9110 §13.1.5)."""
    stored = list(headers)
    value = if_range.strip()
    if value.startswith('"') or value[:2] in ("W/", "w/"):
        mine = _strong(value)
        current = first_value(stored, "etag")
        theirs = _strong(current) if current is not None else None
        return mine is not None and mine == theirs
    date = parse_http_date(value)
    last_modified = parse_http_date(first_value(stored, "last-modified"))
    return date is not None and last_modified is not None and date == last_modified


_FRAMING = frozenset({"content-length", "content-range", "transfer-encoding"})


def serve_range(
    method: str,
    request_headers: HeaderList,
    status: int,
    headers: HeaderList | tuple[tuple[str, str], ...],
    body: bytes,
    *,
    boundary: str | None = None,
) -> RangedResponse | None:
    """The 206/416 answer to a viewer's `Range` on a complete response, or None to serve the
    response unchanged (no Range, not GET, not 200, ignored Range, If-Range mismatch)."""
    if method.upper() != "GET" or status != 200:
        return None
    ranges = [v for k, v in request_headers if k == "range"]
    if len(ranges) != 1:
        return None
    if_range = first_value(request_headers, "if-range")
    if if_range is not None and not if_range_matches(if_range, headers):
        return None
    parsed = parse_range(ranges[0], len(body))
    if parsed is None:
        return None
    base = [(k, v) for k, v in headers if k not in _FRAMING]
    if isinstance(parsed, Unsatisfiable):
        out = base + [("content-range", unsatisfied_content_range(parsed.length)), ("content-length", "0")]
        return RangedResponse(416, out, b"")
    if parsed.single:
        part = body[parsed.start : parsed.end + 1]
        out = base + [
            ("content-range", content_range(parsed.start, parsed.end, len(body))),
            ("content-length", str(len(part))),
        ]
        return RangedResponse(206, out, part)
    mark = boundary or uuid.uuid4().hex
    content_type = first_value(list(headers), "content-type")
    chunks: list[bytes] = []
    for first, last in parsed.ranges:
        head = f"\r\n--{mark}\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        head += f"Content-Range: {content_range(first, last, len(body))}\r\n\r\n"
        chunks.append(head.encode("latin-1", "replace"))
        chunks.append(body[first : last + 1])
    chunks.append(f"\r\n--{mark}--\r\n".encode("ascii"))
    multipart = b"".join(chunks)
    out = [(k, v) for k, v in base if k != "content-type"] + [
        ("content-type", f"multipart/byteranges; boundary={mark}"),
        ("content-length", str(len(multipart))),
    ]
    return RangedResponse(206, out, multipart)
