"""The Lambda `context` object handed to handlers, shaped as AWS's Python runtime (awslambdaric) makes it.

Real handlers read these fields, so the types matter as much as the values (spec §10):
`memory_limit_in_mb` and `function_version` are **str**, `identity` is an object whose fields are
None, `client_context` is None. Function-level fields come from the worker's environment (as in
awslambdaric), read once at worker start so a handler changing `os.environ` does not alter them.
`get_remaining_time_in_millis()` counts down to the deadline the parent sent with the invocation
(absolute epoch ms, Lambda's `Lambda-Runtime-Deadline-Ms`), the same clock the parent kills by.

Runs inside the worker: imports nothing from the rest of edgeproxy.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

ACCOUNT_ID = "123456789012"


class CognitoIdentity:
    """`context.identity`: only mobile SDK calls fill it; at the edge both fields are None."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self) -> None:
        self.cognito_identity_id: str | None = None
        self.cognito_identity_pool_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """The per-function part of the context, constant for a worker's life."""

    function_name: str
    function_version: str
    memory_limit_in_mb: str
    log_group_name: str
    log_stream_name: str
    invoked_function_arn: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> FunctionInfo:
        name = environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        version = environ.get("AWS_LAMBDA_FUNCTION_VERSION", "1")
        region = environ.get("AWS_REGION", "us-east-1")
        return cls(
            function_name=name,
            function_version=version,
            memory_limit_in_mb=environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            log_group_name=environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
            log_stream_name=environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
            invoked_function_arn=function_arn(region, name, version),
        )


def function_arn(region: str, function_name: str, version: str) -> str:
    """A qualified function ARN; Lambda@Edge always invokes a numbered version."""
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}:{version}"


class LambdaContext:
    """The second argument of `handler(event, context)`: one per invocation."""

    __slots__ = (
        "aws_request_id",
        "function_name",
        "function_version",
        "invoked_function_arn",
        "memory_limit_in_mb",
        "log_group_name",
        "log_stream_name",
        "identity",
        "client_context",
        "_deadline_ms",
    )

    def __init__(self, info: FunctionInfo, aws_request_id: str, deadline_ms: int) -> None:
        self.aws_request_id = aws_request_id
        self.function_name = info.function_name
        self.function_version = info.function_version
        self.invoked_function_arn = info.invoked_function_arn
        self.memory_limit_in_mb = info.memory_limit_in_mb
        self.log_group_name = info.log_group_name
        self.log_stream_name = info.log_stream_name
        self.identity = CognitoIdentity()
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg: object) -> None:
        """awslambdaric's `context.log`: straight to the function's log, no newline added."""
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity}])"
        )
