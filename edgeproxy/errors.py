"""The one error tree, and the one table that maps each error to what the viewer sees.

    EdgeProxyError
    ├── ConfigError                      bad config: file, key path, line, reason (exit 2)
    ├── HookError                        a Lambda@Edge function failed
    │   ├── HookExecutionError           503 LambdaExecutionError
    │   │   ├── HookFailed               unhandled exception (log has the cut traceback)
    │   │   ├── HookTimeout              deadline passed; worker SIGKILLed
    │   │   ├── HookCrashed              worker died: os._exit, signal, segfault
    │   │   ├── HookMemoryExceeded       above memory_mb; worker killed
    │   │   └── HookInitError            import/Init failed or took over 10 s
    │   ├── HookThrottled                503 LambdaLimitExceeded
    │   └── HookInvalidResult            502 LambdaValidationError (the exact rule in .message)
    └── OriginError                      the origin could not answer
        ├── OriginUnavailable            502 (refused, DNS, reset, unmapped S3 bucket)
        └── OriginTimeout                504 (connect or read timeout)

Foreign exceptions (aiohttp, OS) are translated once, at their boundary (`origin.py`,
`runtime/`), and chained with `from exc`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from edgeproxy.types import CacheResult


class EdgeProxyError(Exception):
    """Base of every error edgeproxy raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    key: str  # dotted key path, e.g. "behaviors[2].origin"
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class ConfigError(EdgeProxyError):
    """One or more problems in a config file; all are reported at once."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class HookError(EdgeProxyError):
    status = 503
    result = CacheResult.LAMBDA_EXECUTION_ERROR
    sentence = (
        "The Lambda function associated with the CloudFront distribution is invalid or doesn't "
        "have the required permissions."
    )

    def __init__(self, message: str, *, function: str = "") -> None:
        self.message = message
        self.function = function
        super().__init__(message)


class HookExecutionError(HookError):
    kind = "error"


class HookFailed(HookExecutionError):
    kind = "exception"


class HookTimeout(HookExecutionError):
    kind = "timeout"


class HookCrashed(HookExecutionError):
    kind = "crash"


class HookMemoryExceeded(HookExecutionError):
    kind = "memory"


class HookInitError(HookExecutionError):
    kind = "init"


class HookThrottled(HookError):
    kind = "throttle"
    result = CacheResult.LAMBDA_LIMIT_EXCEEDED
    sentence = "The Lambda function associated with the CloudFront distribution was throttled."


class HookInvalidResult(HookError):
    kind = "validation"
    status = 502
    result = CacheResult.LAMBDA_VALIDATION_ERROR
    sentence = "The Lambda function result failed validation: {message}"


class OriginError(EdgeProxyError):
    status = 502
    result = CacheResult.ERROR
    sentence = "CloudFront wasn't able to connect to the origin."


class OriginUnavailable(OriginError):
    pass


class OriginTimeout(OriginError):
    status = 504
    sentence = "CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection."


_TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def error_sentence(error: EdgeProxyError) -> str:
    """The sentence CloudFront shows for this error on its HTML page."""
    if isinstance(error, HookInvalidResult):
        return error.sentence.format(message=error.message)
    return getattr(error, "sentence", "The request could not be satisfied.")


def error_page(status: int, sentence: str, request_id: str) -> bytes:
    """CloudFront's HTML error page (observed shape, spec §4)."""
    title = _TITLES.get(status, "ERROR")
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
        '"http://www.w3.org/TR/html4/loose.dtd">\n'
        '<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">\n'
        f"<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n"
        f"<H1>{status} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n"
        f"{html.escape(sentence)}\n<BR clear=\"all\">\n"
        "If you received this error while trying to use an app or access a website, please contact "
        "the provider or content owner for assistance.\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n"
        "<PRE>\nGenerated by cloudfront (CloudFront)\n"
        f"Request ID: {html.escape(request_id)}\n</PRE>\n<ADDRESS>\n</ADDRESS>\n</BODY></HTML>"
    ).encode("latin-1", "replace")


def status_title(status: int) -> str:
    return _TITLES.get(status, "")
