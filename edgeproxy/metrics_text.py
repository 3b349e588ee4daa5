"""Prometheus text exposition (format 0.0.4) of the proxy's, cache's and functions' numbers.

Rendered on demand from plain counters and stats snapshots: a scrape costs the scraper, not
the request path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from edgeproxy.metrics import DURATION_BUCKETS

if TYPE_CHECKING:
    from edgeproxy.app import Services


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in pairs.items()) + "}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        number = repr(float(value)) if isinstance(value, float) and not value.is_integer() else str(int(value))
        self.lines.append(f"{name}{_labels(labels or {})} {number}")

    def histogram(
        self, name: str, bounds: Iterable[float], cumulative: Iterable[int], total: float, count: int, labels: dict[str, str]
    ) -> None:
        for bound, n in zip([*bounds, float("inf")], cumulative):
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            self.sample(f"{name}_bucket", n, {**labels, "le": le})
        self.sample(f"{name}_sum", total, labels)
        self.sample(f"{name}_count", count, labels)


def render_metrics(services: "Services") -> str:
    out = _Writer()
    metrics = services.metrics

    out.family("edgeproxy_requests_total", "counter", "Viewer requests by X-Cache result and status class.")
    for (result, status_class), n in sorted(metrics.requests.items()):
        out.sample("edgeproxy_requests_total", n, {"result": result, "status": status_class})

    out.family("edgeproxy_request_duration_seconds", "histogram", "Time from request to response headers.")
    running = 0
    cumulative = []
    for n in metrics.duration_buckets:
        running += n
        cumulative.append(running)
    out.histogram("edgeproxy_request_duration_seconds", DURATION_BUCKETS, cumulative, metrics.duration_sum, metrics.duration_count, {})

    out.family("edgeproxy_origin_errors_total", "counter", "Origin failures by the status returned (502 unreachable, 504 timeout).")
    for status, n in sorted(metrics.origin_errors.items()):
        out.sample("edgeproxy_origin_errors_total", n, {"status": str(status)})

    out.family("edgeproxy_function_errors_total", "counter", "Lambda@Edge failures seen by requests, by function and kind.")
    for (function, kind), n in sorted(metrics.hook_errors.items()):
        out.sample("edgeproxy_function_errors_total", n, {"function": function, "kind": kind})

    cache = services.cache
    if cache is not None:
        stats = cache.stats()
        for name, kind, value, help_text in (
            ("edgeproxy_cache_objects", "gauge", stats.objects, "Objects stored."),
            ("edgeproxy_cache_bytes", "gauge", stats.bytes, "Bytes charged to the cache (headers, bodies, overhead)."),
            ("edgeproxy_cache_max_bytes", "gauge", stats.max_bytes, "The cache's byte bound ([cache] max_bytes)."),
            ("edgeproxy_cache_evictions_total", "counter", stats.evictions, "Objects evicted to make room."),
            ("edgeproxy_cache_expirations_total", "counter", stats.expirations, "Objects dropped after their retention."),
            ("edgeproxy_cache_invalidated_total", "counter", stats.invalidations, "Objects removed by invalidations."),
            ("edgeproxy_cache_refused_total", "counter", stats.refused, "Objects too large to store."),
            ("edgeproxy_cache_lookups_hit_total", "counter", stats.hits, "Lookups that found an object (fresh or not)."),
            ("edgeproxy_cache_lookups_miss_total", "counter", stats.misses, "Lookups that found nothing."),
            ("edgeproxy_cache_inflight_bytes", "gauge", cache.inflight.used, "Bytes buffered for the cache by responses still arriving (at most max_bytes)."),
        ):
            out.family(name, kind, help_text)
            out.sample(name, value)

    runtime = services.runtime
    if runtime is not None:
        rstats = runtime.stats()
        out.family("edgeproxy_workers_live", "gauge", "Hook worker processes alive, all functions.")
        out.sample("edgeproxy_workers_live", rstats.live_workers)
        out.family("edgeproxy_workers_max", "gauge", "The global cap on hook worker processes.")
        out.sample("edgeproxy_workers_max", rstats.max_workers)
        functions = sorted(rstats.functions.values(), key=lambda f: f.name)
        out.family("edgeproxy_function_invocations_total", "counter", "Handler runs (errors included, throttles not).")
        for f in functions:
            out.sample("edgeproxy_function_invocations_total", f.invocations, {"function": f.name})
        out.family("edgeproxy_function_invocation_errors_total", "counter", "Failed invocations by kind.")
        for f in functions:
            for kind, n in sorted(f.errors.items()):
                out.sample("edgeproxy_function_invocation_errors_total", n, {"function": f.name, "kind": kind})
        out.family("edgeproxy_function_throttles_total", "counter", "Invocations throttled (503 LambdaLimitExceeded).")
        for f in functions:
            out.sample("edgeproxy_function_throttles_total", f.throttles, {"function": f.name})
        out.family("edgeproxy_function_duration_milliseconds", "histogram", "Handler duration (REPORT Duration).")
        for f in functions:
            d = f.duration
            out.histogram("edgeproxy_function_duration_milliseconds", d.bounds_ms, d.cumulative, d.sum_ms, d.count, {"function": f.name})
        out.family("edgeproxy_function_init_duration_milliseconds", "histogram", "Init (cold start) durations.")
        for f in functions:
            d = f.init_duration
            out.histogram("edgeproxy_function_init_duration_milliseconds", d.bounds_ms, d.cumulative, d.sum_ms, d.count, {"function": f.name})
        out.family("edgeproxy_function_workers", "gauge", "Worker processes per function by state.")
        for f in functions:
            for state, n in (("busy", f.busy_workers), ("idle", f.idle_workers), ("starting", f.starting_workers)):
                out.sample("edgeproxy_function_workers", n, {"function": f.name, "state": state})
    return "\n".join(out.lines) + "\n"
