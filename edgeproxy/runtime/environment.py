"""What a function's worker is started with: the handler's location and Lambda's environment.

Computed once per function in the parent (pure: no process is started here), so a malformed
handler name is known before any spawn, and the per-worker part (log stream name, initialization
type) is a cheap dict copy.

Handler names (DESIGN §2):
- `path/to/file.py:attr` — the file is imported as module `file`; its folder is the task root
  (cwd and `sys.path[0]`), as `/var/task` is for a Lambda zip.
- `package.module:attr` — imported by name, with the config's folder (`base_dir`) as task root.
- `module.attr` (Lambda's own spelling, no colon) — as above.
`attr` may be a dotted path (`app.handle` for a bound method of a module-level object).

Environment: a clean dict of Lambda's variables only (spec §9, §10), not the proxy's. Lambda@Edge
replicas are named `us-east-1.<name>` and always run a numbered version, here `1`. Also passed
through when set, because the interpreter or a real handler needs them as Lambda would provide
them: `LD_LIBRARY_PATH` (to start this interpreter) and the AWS credential variables (Lambda
puts the execution role's credentials there).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from edgeproxy.config_types import FunctionConfig
from edgeproxy.runtime.loglines import VERSION
from edgeproxy.runtime.protocol import InitRequest

EDGE_PREFIX = "us-east-1."  # replicas keep the home Region in their name
RUNTIME_DIR = Path(__file__).resolve().parent
_PASS_THROUGH = ("LD_LIBRARY_PATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True, slots=True)
class HandlerRef:
    module: str
    attr: str
    file: Path | None  # set for `file.py:attr` handlers
    task_root: Path


def parse_handler(handler: str, base_dir: Path) -> HandlerRef:
    """Where the handler lives. ValueError (Lambda's `Bad handler` wording) for a malformed name."""
    if ":" in handler:
        left, _, attr = handler.rpartition(":")
    else:
        left, _, attr = handler.rpartition(".")
    if not left or not attr:
        raise ValueError(f"Bad handler '{handler}': expected 'path/file.py:function' or 'module:function'")
    if left.endswith(".py") or "/" in left or os.sep in left:
        path = left if left.endswith(".py") else left + ".py"
        file = (base_dir / path).resolve()
        return HandlerRef(module=file.stem, attr=attr, file=file, task_root=file.parent)
    return HandlerRef(module=left, attr=attr, file=None, task_root=base_dir.resolve())


def edge_function_name(name: str) -> str:
    return EDGE_PREFIX + name


def layer_paths(layers: tuple[Path, ...], base_dir: Path) -> list[str]:
    """Import paths for layer folders, in Lambda's `/opt` order: `python/lib/pythonX.Y/site-packages`,
    `python`, then the folder itself (a plain folder of modules works as well as a layer zip's layout)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    paths: list[str] = []
    for layer in layers:
        root = (base_dir / layer).resolve()
        for sub in (root / "python" / "lib" / version / "site-packages", root / "python"):
            if sub.is_dir():
                paths.append(str(sub))
        paths.append(str(root))
    return paths


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """Everything needed to start a worker of one function; `init` is None if the name is malformed."""

    function: str
    memory_mb: int
    init: InitRequest | None
    init_error: str | None  # "Runtime.MalformedHandlerName: ..." when `init` is None
    base_env: dict[str, str]

    def environment(self, *, provisioned: bool, now: datetime | None = None) -> dict[str, str]:
        """The worker's whole environment; each worker (execution environment) has its own log stream."""
        day = (now or datetime.now(timezone.utc)).strftime("%Y/%m/%d")
        env = dict(self.base_env)
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "provisioned-concurrency" if provisioned else "on-demand"
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = f"{day}/[{VERSION}]{uuid.uuid4().hex}"
        return env


def worker_spec(config: FunctionConfig, *, region: str, environ: Mapping[str, str] | None = None) -> WorkerSpec:
    source = os.environ if environ is None else environ
    try:
        ref = parse_handler(config.handler, config.base_dir)
    except ValueError as exc:
        init = None
        error: str | None = f"Runtime.MalformedHandlerName: {exc}"
        task_root = config.base_dir.resolve()
    else:
        task_root = ref.task_root
        init = InitRequest(
            function=config.name,
            module=ref.module,
            attr=ref.attr,
            file=str(ref.file) if ref.file else None,
            task_root=str(task_root),
            paths=layer_paths(config.layers, config.base_dir),
        )
        error = None
    name = edge_function_name(config.name)
    env = {
        "_HANDLER": config.handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": VERSION,
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(RUNTIME_DIR),
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "PYTHONUNBUFFERED": "1",
    }
    for key in _PASS_THROUGH:
        if key in source:
            env[key] = source[key]
    return WorkerSpec(function=config.name, memory_mb=config.memory_mb, init=init, init_error=error, base_env=env)
