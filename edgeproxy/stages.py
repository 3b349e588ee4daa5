"""Running one Lambda@Edge stage: build the event, invoke the function, apply its result.

The distribution decides *whether* a stage runs; this module knows *how*: the event builder
and result rules live in `events.py`/`validation.py`, the worker processes in `runtime/`.
Validation failures are also written to the function's log, as CloudFront writes them to
`/aws/cloudfront/LambdaEdge/<DistributionId>`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from edgeproxy.config_types import FunctionConfig
from edgeproxy.errors import HookInvalidResult
from edgeproxy.events import (
    EventConfig,
    ExposedBody,
    RequestUpdate,
    apply_request_result,
    apply_response_result,
    request_event,
    response_event,
)
from edgeproxy.logs import function_log
from edgeproxy.models import CustomOrigin, EdgeRequest, EdgeResponse, S3Origin
from edgeproxy.types import Stage, stage_limits

if TYPE_CHECKING:
    from edgeproxy.runtime import FunctionRuntime


class StageRunner:
    """Invokes the function bound to a stage and returns what the request path continues with."""

    def __init__(self, runtime: "FunctionRuntime", event_config: EventConfig) -> None:
        self.runtime = runtime
        self.event_config = event_config

    async def request_stage(
        self,
        stage: Stage,
        function: FunctionConfig,
        request: EdgeRequest,
        *,
        origin: CustomOrigin | S3Origin | None = None,
    ) -> RequestUpdate | EdgeResponse:
        """viewer-request / origin-request: the (changed) request, or a generated response."""
        body: ExposedBody | None = None
        if function.include_body:
            _, limit = stage_limits(stage)
            data, truncated = await request.body.read_prefix(limit)
            body = ExposedBody(data, truncated)
        event = request_event(stage, request, self.event_config, request.request_id, origin=origin, body=body)
        result = await self._invoke(stage, function, request, event)
        with _validation_logged(function, request):
            return apply_request_result(stage, event, result, request, origin)

    async def response_stage(
        self,
        stage: Stage,
        function: FunctionConfig,
        request: EdgeRequest,
        response: EdgeResponse,
        *,
        origin: CustomOrigin | S3Origin | None = None,
    ) -> EdgeResponse:
        """origin-response / viewer-response: the (changed) response."""
        event = response_event(stage, request, response, self.event_config, request.request_id, origin=origin)
        result = await self._invoke(stage, function, request, event)
        with _validation_logged(function, request):
            return apply_response_result(stage, event, result, response)

    async def _invoke(self, stage: Stage, function: FunctionConfig, request: EdgeRequest, event: dict) -> object:
        return await self.runtime.invoke(
            function.name, event, request_id=request.request_id, timeout_s=function.timeout_for(stage)
        )


@contextlib.contextmanager
def _validation_logged(function: FunctionConfig, request: EdgeRequest) -> Iterator[None]:
    """A result that fails validation is named after its function and logged in its log."""
    try:
        yield
    except HookInvalidResult as exc:
        exc.function = function.name
        function_log(function.name, request.request_id, f"ERROR Validation error: {exc.message}")
        raise
