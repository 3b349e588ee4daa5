"""Building responses the viewer sees: CloudFront error pages and CloudFront's own headers.

One place decides what every edgeproxy-made response looks like (`Server: CloudFront`, Date,
Content-Length, the HTML page with the request id) and what is added to every response on the
way out (Via, X-Cache, X-Amz-Cf-Pop, X-Amz-Cf-Id).
"""

from __future__ import annotations

import base64
import os
from email.utils import formatdate

from edgeproxy.errors import EdgeProxyError, error_page, error_sentence
from edgeproxy.models import EdgeResponse
from edgeproxy.types import CacheResult, HeaderList

# Headers only CloudFront may set on a viewer response; an origin's values are replaced.
_CLOUDFRONT_OWNED = frozenset({"x-cache", "x-amz-cf-id", "x-amz-cf-pop"})


def new_request_id() -> str:
    """A CloudFront-shaped request id: 40 random bytes, base64url, 56 chars ending `==`."""
    return base64.urlsafe_b64encode(os.urandom(40)).decode("ascii")


def http_date() -> str:
    return formatdate(usegmt=True)


def page_response(status: int, sentence: str, request_id: str) -> EdgeResponse:
    """CloudFront's HTML error page as a complete response."""
    body = error_page(status, sentence, request_id)
    headers: HeaderList = [
        ("server", "CloudFront"),
        ("date", http_date()),
        ("content-type", "text/html"),
        ("content-length", str(len(body))),
    ]
    return EdgeResponse(status, headers, body=body)


def error_response(error: EdgeProxyError, request_id: str) -> EdgeResponse:
    status = getattr(error, "status", 502)
    return page_response(status, error_sentence(error), request_id)


def finish_headers(
    response: EdgeResponse, result: CacheResult, request_id: str, *, via: str, pop: str
) -> None:
    """Add CloudFront's response headers in place (after the viewer-response stage)."""
    headers = response.headers
    origin_via: list[str] = []
    kept: HeaderList = []
    dated = False
    for k, v in headers:
        if k in _CLOUDFRONT_OWNED:
            continue
        if k == "date":
            dated = True
        if k == "via":
            origin_via.append(v)
            continue
        kept.append((k, v))
    if not dated:
        kept.append(("date", http_date()))
    kept.append(("via", ", ".join([*origin_via, via]) if origin_via else via))
    kept.append(("x-cache", result.header_value))
    kept.append(("x-amz-cf-pop", pop))
    kept.append(("x-amz-cf-id", request_id))
    response.headers = kept
