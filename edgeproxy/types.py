"""Leaf vocabulary shared by every module: stages, cache results, header lists.

Kept free of imports from the rest of the package so anything may import it.
"""

from __future__ import annotations

from enum import StrEnum

# Header lists cross module borders as (lowercase name, value) pairs, in wire order.
# ASGI already lowercases request names; origin response names are lowercased on arrival.
HeaderList = list[tuple[str, str]]


class Stage(StrEnum):
    """The four CloudFront events, spelled the AWS way (they are `cf.config.eventType`)."""

    VIEWER_REQUEST = "viewer-request"
    ORIGIN_REQUEST = "origin-request"
    ORIGIN_RESPONSE = "origin-response"
    VIEWER_RESPONSE = "viewer-response"

    @property
    def is_viewer(self) -> bool:
        return self in (Stage.VIEWER_REQUEST, Stage.VIEWER_RESPONSE)

    @property
    def is_request(self) -> bool:
        return self in (Stage.VIEWER_REQUEST, Stage.ORIGIN_REQUEST)

    @property
    def config_key(self) -> str:
        """The behavior key naming the function for this stage (`viewer_request`, ...)."""
        return self.value.replace("-", "_")


class CacheResult(StrEnum):
    """The `<Result>` in `X-Cache: <Result> from cloudfront` (DESIGN §2 table)."""

    HIT = "Hit"
    REFRESH_HIT = "RefreshHit"
    MISS = "Miss"
    ERROR = "Error"
    LAMBDA_GENERATED = "LambdaGeneratedResponse"
    LAMBDA_EXECUTION_ERROR = "LambdaExecutionError"
    LAMBDA_LIMIT_EXCEEDED = "LambdaLimitExceeded"
    LAMBDA_VALIDATION_ERROR = "LambdaValidationError"

    @property
    def header_value(self) -> str:
        return f"{self.value} from cloudfront"


# Lambda@Edge limits per stage (spec §5).
VIEWER_TIMEOUT_MAX_S = 5.0
ORIGIN_TIMEOUT_MAX_S = 30.0
VIEWER_MEMORY_MB = 128
ORIGIN_MEMORY_MIN_MB = 128
ORIGIN_MEMORY_MAX_MB = 10240
INIT_TIMEOUT_S = 10.0


def stage_limits(stage: Stage) -> tuple[float, int]:
    """(default and max timeout in seconds, generated-response / exposed-body byte limit)."""
    if stage.is_viewer:
        return VIEWER_TIMEOUT_MAX_S, 40 * 1024
    return ORIGIN_TIMEOUT_MAX_S, 1024 * 1024
