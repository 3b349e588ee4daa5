"""Profile the proxy's hot path under load with py-spy, and print where the CPU goes.

    pip install py-spy            # into the same virtualenv
    python bench/profile.py --scenario hit [--duration 10] [--rate 200] [--out DIR]

Starts the bench origin and one proxy exactly as bench/run.py does, but with the proxy launched
under `py-spy record --format raw` (launching, not attaching: attaching needs ptrace rights that
containers often withhold). After a warm-up it drives load for `--duration`, stops the proxy, and
aggregates the raw stacks: CPU samples by function (self and inclusive), the edgeproxy source
lines that cost the most, and how the samples split between uvicorn, edgeproxy, aiohttp, the
runtime IPC and the rest. Only samples from the steady state count: start-up imports are dropped.
The raw stacks are kept in DIR for flame graphs (e.g. speedscope.app or flamegraph.pl).

Scenarios: the load rows of bench/run.py (pass_small, pass_large, hit, hit_hooks, miss_hooks).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.drive import probe, run_load  # noqa: E402
from bench.procs import Service, free_port, python_env  # noqa: E402
from bench.setups import REPO, scenarios, start_origin, write_proxy_config  # noqa: E402

FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def categorize(name: str, file: str) -> str:
    file = "/" + file
    if "/edgeproxy/runtime/" in file:
        return "edgeproxy runtime (hook IPC)"
    if "/edgeproxy/" in file:
        return "edgeproxy"
    if name == "run" and "/asyncio/runners.py" in file:
        return "event loop (uvloop C: syscalls, transports, scheduling)"
    for lib in ("uvicorn", "aiohttp", "starlette", "yarl", "multidict", "asyncio", "uvloop", "orjson", "logging", "email"):
        if f"/{lib}/" in file or file.endswith(f"/{lib}.py"):
            return lib
    return "other"


def parse(raw: Path) -> list[tuple[list[tuple[str, str, int]], int]]:
    stacks = []
    for line in raw.read_text(errors="replace").splitlines():
        body, _, count = line.rpartition(" ")
        if not body or not count.isdigit():
            continue
        frames = []
        for part in body.split(";"):
            match = FRAME.match(part)
            if match is None:
                continue  # process / thread labels
            frames.append((match["name"], match["file"], int(match["line"] or 0)))
        if frames:
            stacks.append((frames, int(count)))
    return stacks


def summarize(stacks: list[tuple[list[tuple[str, str, int]], int]], top: int) -> str:
    steady = [(f, n) for f, n in stacks if not any("importlib" in file for _, file, _ in f)]
    total = sum(n for _, n in steady) or 1
    self_fn: collections.Counter[str] = collections.Counter()
    incl_fn: collections.Counter[str] = collections.Counter()
    self_line: collections.Counter[str] = collections.Counter()
    category: collections.Counter[str] = collections.Counter()
    for frames, n in steady:
        name, file, line = frames[-1]  # innermost frame: py-spy lists outermost first
        short = _short(file)
        self_fn[f"{name} ({short})"] += n
        category[categorize(name, file)] += n
        seen = set()
        for name2, file2, line2 in frames:
            key = f"{name2} ({_short(file2)})"
            if key not in seen:
                seen.add(key)
                incl_fn[key] += n
        # the innermost edgeproxy line on the stack: what in our code led to this sample
        for name2, file2, line2 in reversed(frames):
            if _ours(file2):
                self_line[f"{_short(file2)}:{line2} {name2}"] += n
                break
    out = [f"{total} steady-state samples (startup imports excluded)", "", "by category (innermost frame):"]
    out += [f"  {n / total:6.1%}  {k}" for k, n in category.most_common()]
    out += ["", f"top {top} functions by self time:"]
    out += [f"  {n / total:6.1%}  {k}" for k, n in self_fn.most_common(top)]
    out += ["", f"top {top} edgeproxy functions by inclusive time:"]
    out += [f"  {n / total:6.1%}  {k}" for k, n in incl_fn.most_common() if "(edgeproxy/" in k][:top]
    out += ["", f"top {top} edgeproxy lines (innermost edgeproxy frame of each sample, callees included):"]
    out += [f"  {n / total:6.1%}  {k}" for k, n in self_line.most_common(top)]
    return "\n".join(out)


def _ours(file: str) -> bool:
    return file.startswith("edgeproxy/") or "/edgeproxy/" in file


def _short(file: str) -> str:
    if file.startswith("edgeproxy/"):
        return file
    for marker in ("/edgeproxy/", "/site-packages/", "/lib/python3"):
        if marker in file:
            return file[file.index(marker) + 1 :]
    return file


def main() -> int:
    loads = [s for s in scenarios("1 KB") if s.kind == "load" and s.server == "proxy" and not s.scale]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=[s.key for s in loads], default="hit")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--body-size", type=int, default=1024)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, help="folder for the raw stacks (default: a temp folder, printed)")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    scenario = next(s for s in loads if s.key == args.scenario)
    out = args.out or Path(tempfile.mkdtemp(prefix="edgeproxy-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    raw = out / f"{scenario.key}.raw.txt"
    origin = proxy = None
    try:
        origin = start_origin(out, args.body_size)
        config = write_proxy_config(out, 0, origin.port, caching=scenario.caching, hooks=scenario.hooks)
        port = free_port()
        argv = [spy, "record", "--format", "raw", "-r", str(args.rate), "-o", str(raw), "--", sys.executable, "-m", "edgeproxy", "serve", "--config", str(config), "--port", str(port)]
        proxy = Service("edgeproxy+py-spy", argv, port=port, log=out / "proxy.log", cwd=out, env=python_env(REPO))
        proxy.wait_ready(60)
        probe(port, scenario.path if not scenario.unique else f"{scenario.path}/first")
        run_load(port, scenario.path, connections=args.connections, duration_s=args.warmup, unique=scenario.unique)
        load = run_load(port, scenario.path, connections=args.connections, duration_s=args.duration, unique=scenario.unique)
        print(f"{scenario.label}: {load.rps:,.0f} req/s under py-spy at {args.rate} Hz (p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms)")
        # Stop the proxy itself (py-spy's child); py-spy writes the file when its target exits.
        children = proxy.tree()[1:2]
        for child in children:
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while proxy.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for service in (proxy, origin):
            if service is not None:
                service.stop()
    if not raw.exists():
        print(f"py-spy wrote no profile; its log:\n{(out / 'proxy.log').read_text(errors='replace')[-2000:]}", file=sys.stderr)
        return 1
    print(summarize(parse(raw), args.top))
    print(f"\nraw stacks: {raw}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
