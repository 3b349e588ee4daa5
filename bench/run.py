"""edgeproxy benchmark: how much slower than going direct, and what each hook costs — one command.

    python bench/run.py                       # every row, defaults: 64 connections, 5 s a row
    python bench/run.py --scenarios hello,hit,hit_hooks --duration 3
    python bench/run.py --json > result.json

It starts its own origin (bench/origin.py: fixed 1 KB / 100 KB bodies and a 1 GiB stream), a
bare Starlette hello (the ceiling), and for each row a fresh `python -m edgeproxy serve` with a
generated config, all on 127.0.0.1 ports; drives them with wrk when installed (Debian/Ubuntu:
`apt-get install -y wrk`; macOS: `brew install wrk`), else with the built-in generator
(bench/loadgen.py, its own process); and prints one table: req/s, p50/p90/p99 latency, the
server's CPU (its whole process tree, hook workers included; 100 % = one core) and peak RSS,
each with its ratio to the first row. Below it: the 1 GiB download (MB/s, peak RSS), the hook
round trip (bench/roundtrip.py), a cold start, hook worker RSS, --workers scaling, and issue 5's
targets. Everything it starts is stopped at the end, also on Ctrl-C or an error.

On a shared machine, read the last column: the CPU other processes used while the row ran (and
hypervisor steal). `--repeat N` runs each load row N times on fresh servers and keeps the median.

Rows (--scenarios, comma-separated keys): hello, direct, ref_proxy, pass_small, pass_large, hit,
hit_hooks, miss_hooks, default_config, hit_scaled, pass_scaled, stream, roundtrip, cold.
`ref_proxy` is bench/minproxy.py — raw ASGI + aiohttp with no edgeproxy logic — the most a
Python proxy on this stack does, to tell edgeproxy's own cost from aiohttp's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from bench.drive import download, probe, run_load, wrk_path  # noqa: E402
from bench.procs import CpuWatch, Service, hook_workers, sample  # noqa: E402
from bench.report import Report, Row, add_ratios, check_targets, machine, render  # noqa: E402
from bench.setups import (  # noqa: E402
    BENCH,
    REPO,
    Scenario,
    scenarios,
    start_hello,
    start_minproxy,
    start_origin,
    start_proxy,
    write_cold_config,
    write_proxy_config,
)

COLD_FUNCTIONS = 3
MB = 1024 * 1024


class Bench:
    """One run: the shared origin, a folder for configs and logs, and the report being filled."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.origin: Service | None = None
        self.running: list[Service] = []
        tool = "builtin" if args.load_generator == "builtin" or wrk_path() is None else "wrk"
        self.report = Report(
            machine=machine(),
            settings={
                "connections": args.connections,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "body_size": args.body_size,
                "workers": args.workers,
                "scale_workers": args.scale_workers,
                "load_generator": tool,
                "max_workers": args.max_workers,
                "repeat": args.repeat,
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
            },
        )

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    # -- servers ----------------------------------------------------------------------------

    def started(self, service: Service) -> Service:
        self.running.append(service)
        return service

    def stop(self, service: Service) -> None:
        service.stop()
        if service in self.running:
            self.running.remove(service)

    def stop_all(self) -> None:
        for service in reversed(self.running):
            service.stop()
        self.running.clear()

    def origin_port(self) -> int:
        if self.origin is None:
            self.origin = self.started(start_origin(self.folder, self.args.body_size))
        return self.origin.port

    def row_folder(self, key: str) -> Path:
        folder = self.folder / key
        folder.mkdir(exist_ok=True)
        return folder

    def proxy_for(self, scenario: Scenario, workers: int) -> Service:
        folder = self.row_folder(scenario.key)
        if scenario.server == "default":
            return self.started(start_proxy(folder, None, workers))
        runtime = {"max_workers": self.args.max_workers} if self.args.max_workers is not None and scenario.hooks else None
        config = write_proxy_config(folder, 0, self.origin_port(), caching=scenario.caching, hooks=scenario.hooks, runtime=runtime)
        return self.started(start_proxy(folder, config, workers))

    # -- rows -------------------------------------------------------------------------------

    def run(self, scenario: Scenario) -> None:
        self.log(f"· {scenario.key}: {scenario.label}")
        if scenario.kind == "load":
            runs = [self.load_row(scenario) for _ in range(self.args.repeat)]
            good = sorted((r for r in runs if r.load is not None), key=lambda r: r.load.rps)  # type: ignore[union-attr]
            row = good[len(good) // 2] if good else runs[-1]
            row.runs_rps = [round(r.load.rps) for r in good]  # type: ignore[union-attr]
            self.report.rows.append(row)
        elif scenario.kind == "stream":
            self.report.extras["stream"] = self.guarded(self.stream)
        elif scenario.kind == "roundtrip":
            self.report.extras["roundtrip"] = self.guarded(self.roundtrip)
        elif scenario.kind == "cold":
            self.report.extras["cold"] = self.guarded(self.cold)

    def guarded(self, measure: Any) -> dict[str, Any]:
        """A measurement that fails is reported as failed; the other rows still run."""
        try:
            return measure()
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
            self.log(f"  failed: {exc}")
            return {"error": str(exc).splitlines()[0]}

    def load_row(self, scenario: Scenario) -> Row:
        args = self.args
        workers = args.scale_workers if scenario.scale else args.workers
        label = f"{scenario.label}, --workers {workers}" if scenario.scale else scenario.label
        row = Row(scenario.key, label, workers=None if scenario.server == "origin" else workers)
        service: Service | None = None
        try:
            if scenario.server == "origin":
                self.origin_port()
                service = self.origin
            elif scenario.server == "hello":
                service = self.started(start_hello(self.row_folder("hello"), args.body_size, workers))
            elif scenario.server == "minproxy":
                service = self.started(start_minproxy(self.row_folder(scenario.key), self.origin_port(), workers))
            else:
                service = self.proxy_for(scenario, workers)
            assert service is not None
            row.startup_s = service.ready_s
            self.measure(scenario, service, row)
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
            row.load = None
            row.note = str(exc).splitlines()[0]
            self.log(f"  failed: {exc}")
        finally:
            if service is not None and service is not self.origin:
                self.stop(service)
        return row

    def measure(self, scenario: Scenario, service: Service, row: Row) -> None:
        args = self.args
        port, path = service.port, scenario.path
        warmup = args.warmup * (2 if scenario.hooks else 1)
        first = probe(port, path if not scenario.unique else f"{path}/first-{os.getpid()}")
        if first.status != 200:
            raise RuntimeError(f"GET {path} answered {first.status}, not 200 (log: {service.log})")
        if warmup > 0:
            run_load(port, path, connections=args.connections, duration_s=warmup, unique=scenario.unique, tool=args.load_generator)
        check = probe(port, path if not scenario.unique else f"{path}/check-{time.time_ns()}")
        row.x_cache = check.x_cache
        if scenario.expect and not check.x_cache.startswith(scenario.expect):
            row.note = f"expected {scenario.expect}"
        with CpuWatch() as watch:
            load = run_load(
                port, path, connections=args.connections, duration_s=args.duration, unique=scenario.unique,
                tool=args.load_generator, wrk_threads=args.wrk_threads,
            )
        after = sample(service)
        wall = watch.stopped - watch.started
        used = watch.used(service.proc.pid)
        other, top = watch.others(os.getpid())
        row.other_cpu_percent = 100 * other / wall
        row.other_top = ", ".join(f"{name} {100 * seconds / wall:.0f}%" for name, seconds in top if seconds / wall >= 0.02)
        row.steal_percent = 100 * watch.steal_s / wall
        row.load = load
        row.cpu_percent = 100 * used / wall
        row.cpu_us_per_request = 1e6 * used / load.requests if load.requests else None
        row.rss_mb = after.peak_rss_bytes / MB
        if scenario.hooks and "hook_workers_busy" not in self.report.extras:
            self.worker_rss(service, "hook_workers_busy", f"after {args.duration:g} s of load on '{scenario.label}'")
        self.log(
            f"  {load.rps:,.0f} req/s  p50 {load.p50_ms:.2f} ms  p99 {load.p99_ms:.2f} ms  CPU {row.cpu_percent:.0f} %  "
            f"{row.x_cache or ''}"
        )

    def worker_rss(self, service: Service, key: str, source: str) -> None:
        rss: list[float] = []
        uss: list[float] = []
        for process in hook_workers(service):
            try:
                rss.append(process.memory_info().rss / MB)
                uss.append(process.memory_full_info().uss / MB)
            except (OSError, ValueError):
                continue
        if not rss:
            return
        from edgeproxy.config_types import RuntimeConfig

        self.report.extras[key] = {
            "count": len(rss),
            "rss_mb_median": statistics.median(rss),
            "uss_mb_median": statistics.median(uss) if uss else 0.0,
            "rss_mb_each": [round(v, 1) for v in rss],
            "default_cap": RuntimeConfig().effective_max_workers(),
            "source": source,
        }

    def stream(self) -> dict[str, Any]:
        """1 GiB through a pass-through proxy (over max_object_bytes: never buffered for the cache)."""
        origin_port = self.origin_port()
        direct = download(origin_port, "/huge", None)
        scenario = Scenario("stream", "1 GB streamed", "stream", path="/huge")
        service = self.proxy_for(scenario, self.args.workers)
        try:
            got = download(service.port, "/huge", service)
        finally:
            self.stop(service)
        result = {
            "bytes": got.bytes,
            "seconds": got.seconds,
            "mb_per_s": got.mb_per_s,
            "direct_mb_per_s": direct.mb_per_s,
            "peak_rss_mb": max(got.peak_rss_bytes, got.hwm_rss_bytes) / MB,
            "before_rss_mb": got.before_rss_bytes / MB,
        }
        self.log(f"  {result['mb_per_s']:.0f} MB/s (direct {direct.mb_per_s:.0f}), peak RSS {result['peak_rss_mb']:.0f} MB")
        return result

    def roundtrip(self) -> dict[str, Any]:
        """bench/roundtrip.py (the runtime's own measurement), run as it is documented."""
        argv = [sys.executable, str(BENCH / "roundtrip.py"), "-n", str(self.args.roundtrip_n), "--loop", "uvloop", "--json"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
        if done.returncode != 0:
            raise RuntimeError(f"roundtrip.py exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
        result = orjson.loads(done.stdout.strip().splitlines()[-1])
        self.log(f"  p50 {result['p50_us']:.0f} µs  p99 {result['p99_us']:.0f} µs")
        return result

    def cold(self) -> dict[str, Any]:
        """First request under /c<i>/ meets function cold<i> with no worker: spawn + Init + invoke."""
        folder = self.row_folder("cold")
        config = write_cold_config(folder, 0, self.origin_port(), COLD_FUNCTIONS)
        service = self.started(start_proxy(folder, config, self.args.workers, name="edgeproxy-cold"))
        try:
            probe(service.port, "/small")  # warm the origin connection pool; no function runs
            cold, warm = [], []
            for i in range(COLD_FUNCTIONS):
                first = probe(service.port, f"/c{i}/small")
                if first.status != 200:
                    raise RuntimeError(f"/c{i}/small answered {first.status} (log: {service.log})")
                cold.append(first.seconds * 1000)
                warm.append(min(probe(service.port, f"/c{i}/small").seconds for _ in range(5)) * 1000)
            self.worker_rss(service, "hook_workers_idle", "idle, after a few invocations")
            time.sleep(0.1)  # REPORT lines are written before the response; give the file a moment
            inits = [float(v) for v in re.findall(r"Init Duration: ([\d.]+) ms", service.log.read_text(errors="replace"))]
        finally:
            self.stop(service)
        result = {
            "n": COLD_FUNCTIONS,
            "cold_ms": statistics.median(cold),
            "warm_ms": statistics.median(warm),
            "cold_ms_each": [round(v, 1) for v in cold],
            "init_ms": statistics.median(inits) if inits else None,
        }
        self.log(f"  cold {result['cold_ms']:.0f} ms, warm {result['warm_ms']:.1f} ms")
        return result

    def finish(self) -> None:
        report = self.report
        add_ratios(report.rows)
        scaling: dict[str, float] = {}
        for scaled, single in (("hit_scaled", "hit"), ("pass_scaled", "pass_small")):
            a, b = report.row(scaled), report.row(single)
            if a and b and a.load and b.load and b.load.rps:
                scaling[single] = a.load.rps / b.load.rps
        if scaling:
            report.extras["scaling"] = scaling
        check_targets(report)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    keys = [s.key for s in scenarios("1 KB")]
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--connections", "-c", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--duration", "-d", type=float, default=5.0, help="measured seconds per load row (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each measurement (doubled for rows with hooks; default 1)")
    parser.add_argument("--body-size", type=int, default=1024, help="the small body in bytes (hello, direct, pass-through, hit rows; default 1024)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers for the proxy and hello rows (default 1)")
    parser.add_argument("--scale-workers", type=int, default=2, help="workers for the *_scaled rows (default 2)")
    parser.add_argument("--scenarios", default=",".join(keys), help=f"comma-separated subset of: {','.join(keys)}")
    parser.add_argument("--load-generator", choices=("auto", "wrk", "builtin"), default="auto", help="auto: wrk if installed, else built-in")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1: on 2 cores a second one only steals CPU from the server)")
    parser.add_argument("--repeat", type=int, default=1, help="run each load row N times (fresh server each) and keep the median run by req/s (default 1)")
    parser.add_argument("--max-workers", type=int, help="set [runtime] max_workers in the hook rows' configs (default: unset, the packaged default)")
    parser.add_argument("--roundtrip-n", type=int, default=3000, help="invocations for the round-trip row (default 3000)")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON instead of tables")
    parser.add_argument("--save", type=Path, help="also write the JSON report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the folder of generated configs and server logs")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - set(keys)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))} (known: {', '.join(keys)})")
    return args


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started from a non-interactive shell
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    wanted = set(args.scenarios.split(","))
    size = args.body_size
    body_label = f"{size // 1024} KB" if size % 1024 == 0 else f"{size} B"
    folder = Path(tempfile.mkdtemp(prefix="edgeproxy-bench-"))
    bench = Bench(args, folder)
    if bench.report.settings["load_generator"] == "builtin" and wrk_path() is None:
        bench.log("wrk not found: using the built-in load generator (apt-get install -y wrk for wrk)")
    started = time.perf_counter()
    try:
        for scenario in scenarios(body_label):
            if scenario.key in wanted:
                bench.run(scenario)
    except KeyboardInterrupt:
        bench.log("interrupted; stopping everything")
        return 130
    except SystemExit:
        bench.log("terminated; stopping everything")
        raise
    finally:
        bench.stop_all()
        if args.keep:
            bench.log(f"configs and logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    bench.finish()
    bench.report.settings["wall_s"] = round(time.perf_counter() - started, 1)
    data = orjson.dumps(bench.report.as_json(), option=orjson.OPT_INDENT_2)
    if args.save is not None:
        args.save.write_bytes(data + b"\n")
    if args.json:
        print(data.decode())
    else:
        print(render(bench.report))
        print(f"\n(total {bench.report.settings['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
