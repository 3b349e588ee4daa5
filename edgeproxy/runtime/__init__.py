"""The hook worker runtime: Lambda's execution environment for Lambda@Edge handlers, on one host.

Public surface (the proxy and the CLI use only this):

    runtime = FunctionRuntime(config.functions, config.runtime)
    await runtime.start()                  # provisioned workers warm
    result = await runtime.invoke(name, event, request_id=cf_id, timeout_s=5.0)
    error = await runtime.check(name)      # None, or why the handler cannot be imported
    runtime.stats()                        # RuntimeStats
    await runtime.close()

Module map: `supervisor` (FunctionRuntime: pools, global cap, lifecycle), `pool` (one function's
workers and limits), `process` (one worker seen from the proxy), `worker` (the child process),
`protocol` (frames and messages), `context` (the handler's `context`), `environment` (handler
location and Lambda's env vars), `loglines` (START/END/REPORT wording), `stats` (snapshots).

Names are loaded lazily: every worker process imports this package to reach `worker`, and must
not pay for asyncio, psutil and the supervisor on each cold start.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not imported from typing: workers import this package on every cold start
if TYPE_CHECKING:
    from typing import Any

    from edgeproxy.runtime.stats import FunctionStats, HistogramSnapshot, RuntimeStats, WorkerStats
    from edgeproxy.runtime.supervisor import FunctionRuntime

__all__ = ["FunctionRuntime", "FunctionStats", "HistogramSnapshot", "RuntimeStats", "WorkerStats"]


def __getattr__(name: str) -> Any:
    if name == "FunctionRuntime":
        from edgeproxy.runtime.supervisor import FunctionRuntime

        return FunctionRuntime
    if name in ("FunctionStats", "HistogramSnapshot", "RuntimeStats", "WorkerStats"):
        from edgeproxy.runtime import stats

        return getattr(stats, name)
    raise AttributeError(f"module 'edgeproxy.runtime' has no attribute {name!r}")
