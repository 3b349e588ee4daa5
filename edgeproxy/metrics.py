"""Request and error counters for `GET /metrics` (Prometheus text format).

Plain integer counters in dicts: incrementing one is a dict update, cheap enough for every
request. Function metrics come from the runtime's own stats; cache metrics from the store.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

from edgeproxy.errors import HookError, OriginError
from edgeproxy.types import CacheResult

# Request duration histogram buckets, seconds (Prometheus `le` labels).
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(slots=True)
class Metrics:
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (x-cache result, "2xx")
    hook_errors: Counter[tuple[str, str]] = field(default_factory=Counter)  # (function, kind)
    origin_errors: Counter[int] = field(default_factory=Counter)  # by status (502, 504)
    duration_buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    duration_count: int = 0

    def request(self, result: CacheResult, status: int, seconds: float) -> None:
        self.requests[(result.value, f"{status // 100}xx")] += 1
        self.duration_sum += seconds
        self.duration_count += 1
        self.duration_buckets[bisect_left(DURATION_BUCKETS, seconds)] += 1

    def hook_error(self, error: HookError) -> None:
        self.hook_errors[(error.function or "", getattr(error, "kind", "error"))] += 1

    def origin_error(self, error: OriginError) -> None:
        self.origin_errors[error.status] += 1
