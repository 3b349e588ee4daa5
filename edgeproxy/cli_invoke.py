"""`edgeproxy invoke` and `edgeproxy events`: one handler, one event, no proxy.

`invoke` runs the handler once in a real worker process (the same runtime the proxy uses),
then validates its result exactly as the proxy would. stdout carries only the result JSON;
the function's log (START/END/REPORT, prints, validation messages) goes to stderr.
Exit: 0 ok, 2 usage/config, 3 execution error, 4 validation failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from edgeproxy.config_types import FunctionConfig, RuntimeConfig
from edgeproxy.errors import ConfigError, HookError, HookInvalidResult
from edgeproxy.events import apply_request_result, apply_response_result, read_origin, sample_event, sample_request, sample_response
from edgeproxy.models import CustomOrigin, EdgeRequest, EdgeResponse, S3Origin
from edgeproxy.types import Stage
from edgeproxy.validation import parse_header_map

STAGES = [s.value for s in Stage]


def _add_request_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--uri", default="/", help="request path (default /)")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--querystring", default="", help="raw query string without '?'")
    parser.add_argument("--header", action="append", default=[], metavar="'K: V'", help="request header (repeatable)")
    parser.add_argument("--body", help="request body (text); exposed as body.data with Include Body")
    parser.add_argument("--status", type=int, default=200, help="response status for response events")


def add_event_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event_type", metavar="TYPE", choices=STAGES, help=" | ".join(STAGES))
    _add_request_arguments(parser)


def add_invoke_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handler", nargs="?", metavar="HANDLER", help="path/to/file.py:attr or module:attr")
    parser.add_argument("--event-type", required=True, choices=STAGES)
    parser.add_argument("--event", type=Path, help="event JSON file (else built from the flags below)")
    parser.add_argument("--config", type=Path, help="with --function: use that function's configured settings")
    parser.add_argument("--function", help="a [functions.NAME] of --config")
    parser.add_argument("--memory-mb", type=int, help="memory limit (default 128)")
    parser.add_argument("--timeout-s", type=float, help="timeout (default 5 at viewer stages, 30 at origin stages)")
    _add_request_arguments(parser)


class UsageError(Exception):
    pass


def _headers(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in values:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {item!r}: expected 'Name: value'")
        out.append((name.strip().lower(), value.strip()))
    return out


def _request_from_flags(args: argparse.Namespace) -> EdgeRequest:
    headers = _headers(args.header)
    base = sample_request(uri=args.uri, method=args.method.upper(), querystring=args.querystring)
    given = {k for k, _ in headers}
    merged = [(k, v) for k, v in base.headers if k not in given] + headers
    body = (args.body or "").encode()
    if body and "content-length" not in given:
        merged.append(("content-length", str(len(body))))
    request = sample_request(uri=args.uri, method=args.method.upper(), querystring=args.querystring, headers=merged, body=body)
    return request


def _event_from_flags(stage: Stage, args: argparse.Namespace, *, include_body: bool) -> dict[str, Any]:
    request = _request_from_flags(args)
    body = (args.body or "").encode() if include_body or args.body else None
    response = sample_response(status=args.status) if not stage.is_request else None
    return sample_event(stage, request, body=body if stage.is_request else None, response=response)


def models_from_event(event: Any) -> tuple[Stage, EdgeRequest, EdgeResponse | None, CustomOrigin | S3Origin | None]:
    """The typed request/response/origin an event file describes (to validate a result against)."""
    try:
        cf = event["Records"][0]["cf"]
        stage = Stage(cf["config"]["eventType"])
        raw = cf["request"]
        values, _ = parse_header_map(raw.get("headers", {}))
        headers = [(name, v) for name, vs in values.items() for v in vs]
        request = EdgeRequest(
            method=str(raw.get("method", "GET")),
            uri=str(raw.get("uri", "/")),
            querystring=str(raw.get("querystring", "")),
            headers=headers,
            client_ip=str(raw.get("clientIp", "203.0.113.178")),
            request_id=str(cf["config"].get("requestId", "")),
        )
        origin = read_origin(raw["origin"], None, set()) if "origin" in raw else None
        response = None
        if "response" in cf:
            rv, _ = parse_header_map(cf["response"].get("headers", {}))
            response = EdgeResponse(
                int(cf["response"]["status"]),
                [(name, v) for name, vs in rv.items() for v in vs],
                body=b"",
                reason=str(cf["response"].get("statusDescription", "")),
            )
    except (KeyError, IndexError, TypeError, ValueError, HookInvalidResult) as exc:
        raise UsageError(f"the event is not a CloudFront Lambda@Edge event: {exc}") from exc
    return stage, request, response, origin


def _function(args: argparse.Namespace, stage: Stage) -> FunctionConfig:
    if args.config is not None or args.function is not None:
        if args.config is None or args.function is None or args.handler:
            raise UsageError("use either HANDLER, or --config F --function NAME")
        from edgeproxy.config import load_config

        config = load_config(args.config)
        if args.function not in config.functions:
            known = ", ".join(sorted(config.functions)) or "none"
            raise UsageError(f"no function {args.function!r} in {args.config} (functions: {known})")
        function = config.functions[args.function]
        if args.memory_mb is not None or args.timeout_s is not None:
            import dataclasses

            function = dataclasses.replace(
                function,
                memory_mb=args.memory_mb or function.memory_mb,
                timeout_s=args.timeout_s if args.timeout_s is not None else function.timeout_s,
            )
        return function
    if not args.handler:
        raise UsageError("give a HANDLER (path/to/file.py:attr or module:attr), or --config F --function NAME")
    if ":" not in args.handler:
        raise UsageError(f"HANDLER {args.handler!r}: expected path/to/file.py:attr or module:attr")
    target = args.handler.rsplit(":", 1)[0]
    stem = Path(target).stem if target.endswith(".py") else target.rsplit(".", 1)[-1]
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem) or "handler"
    memory = args.memory_mb or 128
    if memory < 128 or memory > 10240:
        raise UsageError("--memory-mb must be 128–10240")
    return FunctionConfig(
        name=name, handler=args.handler, base_dir=Path.cwd(), memory_mb=memory, timeout_s=args.timeout_s,
    )


def run_invoke(args: argparse.Namespace) -> int:
    from edgeproxy.logs import setup_logging

    setup_logging()
    stage = Stage(args.event_type)
    try:
        function = _function(args, stage)
        if args.event is not None:
            try:
                event = orjson.loads(args.event.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise UsageError(f"--event {args.event}: {exc}") from exc
        else:
            event = _event_from_flags(stage, args, include_body=function.include_body)
        event_stage, request, response, origin = models_from_event(event)
        if event_stage is not stage:
            raise UsageError(f"--event-type {stage.value} but the event's eventType is {event_stage.value}")
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"edgeproxy: {problem}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"edgeproxy: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_invoke(function, stage, event, request, response, origin))


async def _invoke(
    function: FunctionConfig,
    stage: Stage,
    event: dict[str, Any],
    request: EdgeRequest,
    response: EdgeResponse | None,
    origin: CustomOrigin | S3Origin | None,
) -> int:
    from edgeproxy.runtime import FunctionRuntime

    runtime = FunctionRuntime({function.name: function}, RuntimeConfig(idle_timeout_s=60))
    try:
        try:
            result = await runtime.invoke(
                function.name, event, request_id=request.request_id or "cli", timeout_s=function.timeout_for(stage)
            )
        except HookError as exc:
            print(f"edgeproxy: {stage.value} function {function.name}: {type(exc).__name__}: {exc.message} → {exc.status} {exc.result.value}", file=sys.stderr)
            return 3
    finally:
        await runtime.close()
    try:
        if stage.is_request:
            apply_request_result(stage, event, result, request, origin)
        else:
            assert response is not None
            apply_response_result(stage, event, result, response)
    except HookInvalidResult as exc:
        print(f"ERROR Validation error: {exc.message}", file=sys.stderr)
        print("edgeproxy: the result failed validation → 502 LambdaValidationError", file=sys.stderr)
        sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
        return 4
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


def run_events(args: argparse.Namespace) -> int:
    stage = Stage(args.event_type)
    try:
        event = _event_from_flags(stage, args, include_body=False)
    except UsageError as exc:
        print(f"edgeproxy: {exc}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(orjson.dumps(event, option=orjson.OPT_INDENT_2) + b"\n")
    return 0
