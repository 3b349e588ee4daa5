"""Worker round trip: parent → worker → parent for a trivial handler, as the proxy pays it per hook.

    python bench/roundtrip.py [-n 5000] [--warmup 500] [--loop asyncio|uvloop] [--json]

Starts a real `FunctionRuntime` with one function whose handler returns the request from a
realistic ~1 KB viewer-request event, warms it up, then runs N sequential invocations and
prints p50/p90/p99/max in µs and invocations per second. The function log (START/END/REPORT per
invocation) is written as in production; it goes to stderr, so run with `2>/dev/null` to keep a
terminal's speed out of the figures. Targets (issue): p50 ≤ 150 µs, p99 ≤ 1 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeproxy.config_types import FunctionConfig, RuntimeConfig  # noqa: E402
from edgeproxy.runtime import FunctionRuntime  # noqa: E402
from edgeproxy.events import sample_event, sample_request  # noqa: E402
from edgeproxy.types import Stage  # noqa: E402

HANDLER = '''
def handler(event, context):
    return event["Records"][0]["cf"]["request"]
'''


def viewer_request_event() -> dict[str, object]:
    """A viewer-request event of about 1 KB from edgeproxy's own event builder (spec §2)."""
    request = sample_request(
        uri="/products/widgets/blue-widget",
        querystring="utm_source=newsletter&utm_medium=email",
        headers=[
            ("host", "d111111abcdef8.cloudfront.net"),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
            ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
            ("accept-language", "en-US,en;q=0.9,de;q=0.8"),
            ("accept-encoding", "gzip, deflate, br"),
            ("cookie", "session=8f2b9c1e4d7a4f0b9e3c2a1d5f6e7b8c; theme=dark; consent=yes"),
            ("referer", "https://www.example.com/products/widgets?page=2"),
            ("cache-control", "max-age=0"),
        ],
    )
    return sample_event(Stage.VIEWER_REQUEST, request)


async def measure(n: int, warmup: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "trivial.py").write_text(HANDLER)
        config = FunctionConfig(name="trivial", handler="trivial.py:handler", base_dir=Path(folder), provisioned_concurrency=1)
        runtime = FunctionRuntime({"trivial": config}, RuntimeConfig())
        await runtime.start()
        event = viewer_request_event()
        try:
            for _ in range(warmup):
                await runtime.invoke("trivial", event, request_id="warmup", timeout_s=5.0)
            samples: list[float] = []
            clock = time.perf_counter
            started = clock()
            for _ in range(n):
                t0 = clock()
                await runtime.invoke("trivial", event, request_id="bench", timeout_s=5.0)
                samples.append(clock() - t0)
            elapsed = clock() - started
        finally:
            await runtime.close()
    samples.sort()

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(p / 100 * len(samples)))] * 1e6

    return {
        "n": n,
        "event_bytes": len(orjson.dumps(event)),
        "p50_us": pct(50),
        "p90_us": pct(90),
        "p99_us": pct(99),
        "max_us": samples[-1] * 1e6,
        "mean_us": statistics.fmean(samples) * 1e6,
        "invocations_per_s": n / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="measured invocations (default 5000)")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(measure(args.n, args.warmup))
    else:
        result = asyncio.run(measure(args.n, args.warmup))
    result["loop"] = args.loop  # type: ignore[assignment]
    if args.json:
        print(orjson.dumps(result).decode())
        return
    print(
        f"{result['n']} invocations ({args.loop}, {result['event_bytes']} B event): "
        f"p50 {result['p50_us']:.0f} µs  p90 {result['p90_us']:.0f} µs  p99 {result['p99_us']:.0f} µs  "
        f"max {result['max_us']:.0f} µs  mean {result['mean_us']:.0f} µs  {result['invocations_per_s']:.0f} inv/s"
    )


if __name__ == "__main__":
    main()
