"""The figures a run produced, the targets of issue 5 checked against them, and the printed tables.

The tables are GitHub Markdown, so a run's output pastes straight into bench/RESULTS.md and the
README. Each load row shows its value and, in parentheses, its ratio to the first row.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.drive import Load, wrk_path


@dataclass(slots=True)
class Row:
    """One load row: a server under steady closed-loop load."""

    key: str
    label: str
    workers: int | None = None  # uvicorn worker processes (None: not a uvicorn server)
    load: Load | None = None
    cpu_percent: float | None = None  # the server's process tree (hook workers included), 100 = one core
    cpu_us_per_request: float | None = None
    rss_mb: float | None = None  # peak: sum of VmHWM over the server's process tree
    x_cache: str = ""  # what a probe saw after warm-up
    other_cpu_percent: float | None = None  # CPU used meanwhile by processes the bench did not start (noise)
    other_top: str = ""  # the biggest of those, by process name
    steal_percent: float | None = None  # CPU a hypervisor gave to other guests meanwhile
    runs_rps: list[int] = field(default_factory=list)  # with --repeat: every run's req/s (this row is the median)
    startup_s: float | None = None
    note: str = ""
    ratios: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Report:
    machine: dict[str, Any]
    settings: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.key == key and r.load is not None), None)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor()
    wrk = wrk_path()
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True)
        match = re.search(r"wrk \S+", out.stdout + out.stderr)
        wrk_version = match.group(0) if match else "wrk"
    import aiohttp
    import starlette
    import uvicorn

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "uvicorn": uvicorn.__version__,
        "starlette": starlette.__version__,
        "aiohttp": aiohttp.__version__,
        "wrk": wrk_version or "not installed",
    }


def add_ratios(rows: list[Row]) -> None:
    base = next((r for r in rows if r.load is not None), None)
    if base is None or base.load is None:
        return
    for row in rows:
        if row.load is None:
            continue
        pairs = {
            "rps": (row.load.rps, base.load.rps),
            "p50": (row.load.p50_ms, base.load.p50_ms),
            "p90": (row.load.p90_ms, base.load.p90_ms),
            "p99": (row.load.p99_ms, base.load.p99_ms),
            "cpu": (row.cpu_percent, base.cpu_percent),
            "cpu_per_request": (row.cpu_us_per_request, base.cpu_us_per_request),
            "rss": (row.rss_mb, base.rss_mb),
        }
        row.ratios = {k: a / b for k, (a, b) in pairs.items() if a is not None and b}


def check_targets(report: Report) -> None:
    """Issue 5's targets, each where this run measured what it needs."""
    targets: list[dict[str, Any]] = []

    def add(name: str, measured: str, ok: bool) -> None:
        targets.append({"target": name, "measured": measured, "met": ok})

    hello, hit, hooks, passing = report.row("hello"), report.row("hit"), report.row("hit_hooks"), report.row("pass_small")
    if hello and hit:
        r = hit.load.rps / hello.load.rps  # type: ignore[union-attr]
        add("cache hit, no hooks ≥ 1.0× bare Starlette hello", f"{r:.2f}×", r >= 1.0)
    if hello and passing:
        r = passing.load.rps / hello.load.rps  # type: ignore[union-attr]
        add("pass-through ≥ 0.4× bare Starlette hello", f"{r:.2f}×", r >= 0.4)
    if hit and hooks:
        r = hooks.load.rps / hit.load.rps  # type: ignore[union-attr]
        add("hit + viewer hooks ≥ 0.5× hit without", f"{r:.2f}×", r >= 0.5)
    trip = report.extras.get("roundtrip")
    if trip and "p50_us" in trip:
        add("hook round trip p50 ≤ 150 µs", f"{trip['p50_us']:.0f} µs", trip["p50_us"] <= 150)
        add("hook round trip p99 ≤ 1 ms", f"{trip['p99_us']:.0f} µs", trip["p99_us"] <= 1000)
    if hit:
        p99 = hit.load.p99_ms  # type: ignore[union-attr]
        add(f"hit p99 ≤ 20 ms at {report.settings['connections']} connections", f"{p99:.1f} ms", p99 <= 20)
    stream = report.extras.get("stream")
    if stream and "peak_rss_mb" in stream:
        add("1 GB streamed, peak RSS < 150 MB", f"{stream['peak_rss_mb']:.0f} MB at {stream['mb_per_s']:.0f} MB/s", stream["peak_rss_mb"] < 150)
    report.targets = targets


def _cell(value: float | None, ratio: float | None, fmt: str) -> str:
    if value is None:
        return "–"
    text = format(value, fmt)
    return f"{text} ({ratio:.2f}×)" if ratio is not None else text


def render(report: Report) -> str:
    out: list[str] = []
    m, s = report.machine, report.settings
    out.append(
        f"edgeproxy bench — {m['nproc']} × {m['cpu_model']}, Python {m['python']}, load: {s['load_generator']}, "
        f"{s['connections']} connections, {s['duration_s']:g} s per row (+{s['warmup_s']:g} s warm-up)"
        + (f", median of {s['repeat']} runs per load row" if s.get("repeat", 1) > 1 else "")
    )
    out.append("")
    out.append("| scenario | workers | req/s | p50 ms | p90 ms | p99 ms | CPU % | CPU µs/req | peak RSS MB | X-Cache | errors | other load CPU % / steal % |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for row in report.rows:
        if row.load is None:
            out.append(f"| {row.label} | {row.workers or '–'} | failed: {row.note} | | | | | | | | | |")
            continue
        load, r = row.load, row.ratios
        errors = load.errors + load.non2xx
        out.append(
            f"| {row.label} | {row.workers or '–'} | {_cell(load.rps, r.get('rps'), ',.0f')} | {_cell(load.p50_ms, r.get('p50'), '.2f')} "
            f"| {_cell(load.p90_ms, r.get('p90'), '.2f')} | {_cell(load.p99_ms, r.get('p99'), '.2f')} "
            f"| {_cell(row.cpu_percent, r.get('cpu'), '.0f')} | {_cell(row.cpu_us_per_request, None, '.0f')} "
            f"| {_cell(row.rss_mb, r.get('rss'), '.0f')} | {row.x_cache.replace(' from cloudfront', '') or '–'}"
            f"{' ⚠ ' + row.note if row.note else ''} | {errors} | {_cell(row.other_cpu_percent, None, '.0f')}{f' ({row.other_top})' if row.other_top else ''} / {_cell(row.steal_percent, None, '.0f')} |"
        )
    extras = report.extras
    lines: list[str] = []
    stream = extras.get("stream")
    if stream:
        if "error" in stream:
            lines.append(f"| 1 GB streamed download | failed: {stream['error']} |")
        else:
            lines.append(
                f"| 1 GB streamed download (pass-through) | {stream['mb_per_s']:.0f} MB/s through the proxy "
                f"(direct {stream['direct_mb_per_s']:.0f} MB/s); proxy peak RSS {stream['peak_rss_mb']:.0f} MB "
                f"(idle before: {stream['before_rss_mb']:.0f} MB) |"
            )
    trip = extras.get("roundtrip")
    if trip:
        if "error" in trip:
            lines.append(f"| hook round trip alone | failed: {trip['error']} |")
        else:
            lines.append(
                f"| hook round trip alone (bench/roundtrip.py, {trip['loop']}, {trip['event_bytes']} B event) | "
                f"p50 {trip['p50_us']:.0f} µs, p90 {trip['p90_us']:.0f} µs, p99 {trip['p99_us']:.0f} µs, "
                f"{trip['invocations_per_s']:,.0f} invocations/s sequential |"
            )
    cold = extras.get("cold")
    if cold:
        if "error" in cold:
            lines.append(f"| cold start | failed: {cold['error']} |")
        else:
            init = f"; the REPORT line's Init Duration (interpreter start + import) median {cold['init_ms']:.1f} ms" if cold.get("init_ms") is not None else ""
            lines.append(
                f"| cold start (first request to a function with no warm worker, viewer-request) | "
                f"median {cold['cold_ms']:.0f} ms vs {cold['warm_ms']:.1f} ms warm (n={cold['n']}){init} |"
            )
    for key in ("hook_workers_idle", "hook_workers_busy"):
        rss = extras.get(key)
        if rss:
            lines.append(
                f"| RSS per hook worker | {rss['rss_mb_median']:.1f} MB RSS ({rss['uss_mb_median']:.1f} MB unique) each, "
                f"{rss['source']}; {rss['count']} workers alive |"
            )
    rss = extras.get("hook_workers_idle") or extras.get("hook_workers_busy")
    if rss:
        lines.append(
            f"| hook workers at default pool sizes | idle: provisioned_concurrency 0 → 0 workers; "
            f"busy: the cap, [runtime] max_workers = max(8, 4 × cores) = {rss['default_cap']} → "
            f"≈ {rss['default_cap'] * rss['rss_mb_median']:.0f} MB RSS ({rss['default_cap'] * rss['uss_mb_median']:.0f} MB unique) |"
        )
    scaling = extras.get("scaling")
    if scaling:
        parts = [f"{k}: {v:.2f}×" for k, v in scaling.items()]
        lines.append(f"| --workers {report.settings['scale_workers']} vs {report.settings['workers']} (req/s ratio) | {', '.join(parts)} |")
    if lines:
        out += ["", "| measurement | result |", "|---|---|", *lines]
    if report.targets:
        out += ["", "| issue 5 target | measured | met |", "|---|---|---|"]
        out += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |" for t in report.targets]
    return "\n".join(out)
