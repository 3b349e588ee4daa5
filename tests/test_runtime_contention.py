"""Functions chained on one request under the global cap must not take turns cold-starting.

With two functions (a viewer-request and a viewer-response hook) and more concurrent requests
than `max_workers`, each function keeps its warm workers: an invocation waits for one of its
own function's workers (handed over directly) instead of retiring the other function's last
warm worker for a cold start of its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from edgeproxy.config_types import FunctionConfig, RuntimeConfig
from edgeproxy.runtime import FunctionRuntime

HOOKMODS = Path(__file__).parent / "hookmods"


async def test_chained_functions_under_the_cap_reuse_warm_workers():
    functions = {
        name: FunctionConfig(name=name, handler=f"{HOOKMODS / 'behave.py'}:echo_request", base_dir=HOOKMODS)
        for name in ("first", "second")
    }
    runtime = FunctionRuntime(functions, RuntimeConfig(max_workers=4, idle_timeout_s=300))
    event = {"Records": [{"cf": {"request": {"uri": "/"}}}]}

    async def one_request(i: int) -> None:
        await runtime.invoke("first", event, request_id=f"r{i}", timeout_s=5)
        await runtime.invoke("second", event, request_id=f"r{i}", timeout_s=5)

    def cold_starts() -> int:
        return sum(f.init_duration.count for f in runtime.stats().functions.values())

    try:
        for _ in range(3):  # the two pools settle while they first share the cap
            await asyncio.gather(*(one_request(i) for i in range(32)))
        settled = cold_starts()
        for _ in range(5):
            await asyncio.gather(*(one_request(i) for i in range(32)))
        stats = runtime.stats()
        assert sum(f.invocations for f in stats.functions.values()) == 8 * 64
        assert sum(f.throttles for f in stats.functions.values()) == 0
        assert cold_starts() - settled <= 1, f"{cold_starts() - settled} cold starts once settled"
    finally:
        await runtime.close()
