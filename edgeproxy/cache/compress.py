"""Edge compression as CloudFront does it (ServingCompressedFiles; spec §7 "Compression").

CloudFront compresses when the behavior compresses (the caller checks), the viewer accepts br
or gzip (br preferred; `q=0` excludes), the request is not HTTP/1.0, the status is 200, 403 or
404, the response has no `Content-Encoding` (whatever its value), its `Content-Length` is
1,000-10,000,000 bytes and its `Content-Type` is in the documented list below; the object must
also be cacheable (TTL > 0, spec §10). RFC 9110 §7.7 adds: never transform a response marked
`Cache-Control: no-transform` (CloudFront's docs are silent).

The compressed response gets `Content-Encoding`, an exact `Content-Length`, `Accept-Encoding`
in `Vary`, and a strong `ETag` made weak (`W/` prefixed); an ETag that is neither strong
(`"..."`) nor weak (`W/...`) is removed, as CloudFront documents.
"""

from __future__ import annotations

import gzip

import brotli

from edgeproxy.cache.cachecontrol import parse_cache_control, parse_delta_seconds
from edgeproxy.cache.key import normalise_accept_encoding
from edgeproxy.types import HeaderList

MIN_COMPRESS_BYTES = 1_000
MAX_COMPRESS_BYTES = 10_000_000
COMPRESSIBLE_STATUSES = frozenset({200, 403, 404})
GZIP_LEVEL = 6
BROTLI_QUALITY = 5  # speed over the last few percent: an edge compresses on the request path

# CloudFront's documented list ("File types that CloudFront compresses"), verbatim.
COMPRESSIBLE_TYPES = frozenset(
    {
        "application/dash+xml",
        "application/eot",
        "application/font",
        "application/font-sfnt",
        "application/javascript",
        "application/json",
        "application/opentype",
        "application/otf",
        "application/pkcs7-mime",
        "application/protobuf",
        "application/rss+xml",
        "application/truetype",
        "application/ttf",
        "application/vnd.apple.mpegurl",
        "application/vnd.ms-fontobject",
        "application/xhtml+xml",
        "application/xml",
        "application/x-font-opentype",
        "application/x-font-truetype",
        "application/x-font-ttf",
        "application/x-httpd-cgi",
        "application/x-javascript",
        "application/x-mpegurl",
        "application/x-opentype",
        "application/x-otf",
        "application/x-perl",
        "application/x-ttf",
        "font/eot",
        "font/opentype",
        "font/otf",
        "font/ttf",
        "image/svg+xml",
        "text/css",
        "text/csv",
        "text/html",
        "text/javascript",
        "text/js",
        "text/plain",
        "text/richtext",
        "text/tab-separated-values",
        "text/xml",
        "text/x-component",
        "text/x-java-source",
        "text/x-script",
        "vnd.apple.mpegurl",
    }
)


def media_type(headers: HeaderList) -> str:
    """The lowercase media type of `Content-Type` without parameters ("" if absent)."""
    for k, v in headers:
        if k == "content-type":
            return v.split(";", 1)[0].strip().lower()
    return ""


def is_compressible_type(headers: HeaderList) -> bool:
    return media_type(headers) in COMPRESSIBLE_TYPES


def choose_encoding(
    accept_encoding: str | list[str] | None,
    http_version: str,
    status: int,
    headers: HeaderList,
    length: int | None = None,
    *,
    cacheable: bool = True,
) -> str | None:
    """"br", "gzip" or None: how CloudFront would compress this response for this viewer.

    `accept_encoding` is the viewer's raw value(s) or the normalised one. The size is the
    response's `Content-Length`; `length` (the real body length) is used only when that header
    is absent — pass None there to follow CloudFront strictly (no Content-Length, no
    compression). `cacheable=False` (TTL 0) never compresses.
    """
    if not cacheable or http_version.strip() in ("1.0", "HTTP/1.0"):
        return None
    if status not in COMPRESSIBLE_STATUSES:
        return None
    if any(k == "content-encoding" for k, _ in headers):
        return None
    if parse_cache_control(headers).has("no-transform"):
        return None
    declared = [v for k, v in headers if k == "content-length"]
    size = parse_delta_seconds(declared[0].strip()) if declared else length
    if size is None or not MIN_COMPRESS_BYTES <= size <= MAX_COMPRESS_BYTES:
        return None
    if not is_compressible_type(headers):
        return None
    accepted = normalise_accept_encoding(accept_encoding)
    if "br" in accepted.split(","):
        return "br"
    if "gzip" in accepted.split(","):
        return "gzip"
    return None


def compress_body(body: bytes, encoding: str) -> bytes:
    """`body` compressed with "br" or "gzip" (deterministic: gzip mtime 0). CPU-bound; a caller
    on the event loop may run it in a thread for large bodies."""
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    if encoding == "br":
        return brotli.compress(body, quality=BROTLI_QUALITY)
    raise ValueError(f"unsupported content-coding {encoding!r}")


def weak_etag(value: str) -> str | None:
    """CloudFront's ETag conversion: strong -> weak, weak unchanged, invalid -> None."""
    stripped = value.strip()
    if stripped.startswith("W/"):
        return stripped
    if stripped.startswith('"'):
        return "W/" + stripped
    return None


def _with_vary_accept_encoding(headers: HeaderList) -> HeaderList:
    names = [n.strip().lower() for k, v in headers if k == "vary" for n in v.split(",")]
    if "accept-encoding" in names or "*" in names:
        return headers
    return headers + [("vary", "Accept-Encoding")]


def compressed_headers(headers: HeaderList, encoding: str, length: int) -> HeaderList:
    """The headers of the compressed response (idempotent for an already-compressed set)."""
    out: HeaderList = []
    for k, v in headers:
        if k in ("content-length", "content-encoding", "transfer-encoding"):
            continue
        if k == "etag":
            weak = weak_etag(v)
            if weak is not None:
                out.append((k, weak))
            continue
        out.append((k, v))
    out.append(("content-encoding", encoding))
    out.append(("content-length", str(length)))
    return _with_vary_accept_encoding(out)
