"""The `edgeproxy` command: serve, check, invoke, events (DESIGN §2 "CLI").

Exit codes: 0 ok, 2 usage or config error, 3 function execution error, 4 result failed
validation. `invoke` and `events` print JSON alone on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from typing import TYPE_CHECKING

from edgeproxy.errors import ConfigError

if TYPE_CHECKING:
    from edgeproxy.config_types import Config

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_EXECUTION = 3
EXIT_VALIDATION = 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors, as we want
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="edgeproxy", description="Run and test Lambda@Edge functions locally.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="run the proxy")
    serve.add_argument("--config", type=Path, help="config file (default: ./config.example.toml, else the packaged demo)")
    serve.add_argument("--host", help="listen address (default: [server] host)")
    serve.add_argument("--port", type=int, help="listen port (default: [server] port; 0 = any free port)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    serve.add_argument("--admin-port", type=int, help="start the admin listener on this port")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    check = sub.add_parser("check", help="validate the config and import every handler")
    check.add_argument("--config", type=Path)

    from edgeproxy.cli_invoke import add_event_arguments, add_invoke_arguments

    invoke = sub.add_parser("invoke", help="run one handler once in a real worker")
    add_invoke_arguments(invoke)
    events = sub.add_parser("events", help="print a realistic CloudFront event")
    add_event_arguments(events)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "check":
        return _check(args)
    from edgeproxy.cli_invoke import run_events, run_invoke

    if args.command == "invoke":
        return run_invoke(args)
    return run_events(args)


def _load(path: Path | None) -> "tuple[Path, Config] | None":
    """The config (its warnings printed), or None after printing every problem (exit 2)."""
    from edgeproxy.config import find_config, load_config

    try:
        source = find_config(path)
        config = load_config(source)
    except ConfigError as exc:
        print(f"edgeproxy: config has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None
    for warning in config.warnings:
        print(f"edgeproxy: warning: {warning}", file=sys.stderr)
    return source, config


def _serve(args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from edgeproxy.app import ADMIN_PORT_ENV, CONFIG_ENV, create_app, uvicorn_options
    from edgeproxy.logs import log, setup_logging

    loaded = _load(args.config)
    if loaded is None:
        return EXIT_USAGE
    source, config = loaded
    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    if args.workers < 1:
        print("edgeproxy: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    from edgeproxy.admin import AdminBindError, admin_address, bind_admin_socket

    admin = admin_address(config, args.admin_port)
    if admin is not None:
        # Fail now, with one clear line, if the admin address is taken (the app binds it again;
        # with several workers they share it through SO_REUSEPORT).
        try:
            bind_admin_socket(admin, reuse_port=args.workers > 1).close()
        except AdminBindError as exc:
            print(f"edgeproxy: {exc}", file=sys.stderr)
            return EXIT_USAGE
    setup_logging()
    log.info("config %s", source)
    common = dict(host=host, port=port, log_level=args.log_level, **uvicorn_options())
    if args.workers == 1:
        config = dataclasses.replace(config, server=dataclasses.replace(config.server, host=host, port=port))
        app = create_app(config, admin_port=args.admin_port)
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return EXIT_OK
    # Several processes: each has its own cache and pools; a shared run folder lets an admin
    # invalidation reach them all (fanout.py).
    import shutil
    import tempfile

    from edgeproxy.fanout import RUN_DIR_ENV

    run_dir = tempfile.mkdtemp(prefix="edgeproxy-")
    os.environ[CONFIG_ENV] = str(source.resolve())
    os.environ[RUN_DIR_ENV] = run_dir
    if args.admin_port is not None:
        os.environ[ADMIN_PORT_ENV] = str(args.admin_port)
    try:
        uvicorn.run("edgeproxy.app:create_app_from_env", factory=True, workers=args.workers, **common)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    import asyncio

    loaded = _load(args.config)
    if loaded is None:
        return EXIT_USAGE
    source, config = loaded
    problems: list[str] = []
    if config.functions:
        from edgeproxy.runtime import FunctionRuntime

        async def import_all() -> None:
            runtime = FunctionRuntime(config.functions, config.runtime)
            try:
                for name in config.functions:
                    error = await runtime.check(name)
                    if error:
                        problems.append(f"functions.{name}: handler {config.functions[name].handler!r} cannot be loaded: {error}")
            finally:
                await runtime.close()

        asyncio.run(import_all())
    if problems:
        print(f"edgeproxy: {source}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{source}: OK ({len(config.behaviors)} behaviors, {len(config.origins)} origins, {len(config.functions)} functions)")
    return EXIT_OK
