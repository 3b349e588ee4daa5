"""Putting load on a server: wrk when installed, else bench/loadgen.py; probes; the big download.

wrk (C, event-driven) is the load generator the issue's reference figures were taken with; on
Debian/Ubuntu `apt-get install -y wrk`. Without it the built-in generator runs in its own
process. Both keep N connections busy, closed loop, and report the same figures.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import HOST, Service, sample

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Load:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int  # connect/read/write errors and timeouts
    non2xx: int  # responses with a status outside 2xx/3xx
    tool: str


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_load(
    port: int,
    path: str,
    *,
    connections: int,
    duration_s: float,
    unique: bool = False,
    tool: str = "auto",
    wrk_threads: int = 1,
) -> Load:
    """Closed-loop load for `duration_s`; `unique` gives every request a path never asked before."""
    wrk = wrk_path() if tool in ("auto", "wrk") else None
    if tool == "wrk" and wrk is None:
        raise RuntimeError("--load-generator wrk: wrk is not installed (apt-get install -y wrk)")
    if wrk is not None:
        return _wrk(wrk, port, path, connections, duration_s, unique, wrk_threads)
    return _builtin(port, path, connections, duration_s, unique)


def _wrk(wrk: str, port: int, path: str, connections: int, duration_s: float, unique: bool, threads: int) -> Load:
    script = (BENCH / "wrk_summary.lua").read_text()
    extra: list[str] = []
    if unique:
        script += "\n" + (BENCH / "wrk_unique.lua").read_text()
        extra = ["--", f"{path.rstrip('/')}/{time.time_ns():x}-"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        argv = [
            wrk, f"-t{max(1, min(threads, connections))}", f"-c{connections}", f"-d{max(1, round(duration_s))}s",
            "--timeout", "10s", "-s", handle.name, f"http://{HOST}:{port}{path}", *extra,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60)
    finally:
        Path(handle.name).unlink(missing_ok=True)
    line = next((l for l in done.stdout.splitlines() if l.startswith("{")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    data = json.loads(line)
    seconds = data["duration_us"] / 1e6
    return Load(
        requests=data["requests"],
        duration_s=seconds,
        rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=data["p50_us"] / 1e3,
        p90_ms=data["p90_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
        errors=data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"],
        non2xx=data["status_errors"],
        tool="wrk",
    )


def _builtin(port: int, path: str, connections: int, duration_s: float, unique: bool) -> Load:
    argv = [
        sys.executable, str(BENCH / "loadgen.py"), "--host", HOST, "--port", str(port), "--path", path,
        "-c", str(connections), "-d", str(duration_s),
    ]
    if unique:
        argv.append("--unique")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed ({done.returncode}): {done.stderr.strip()}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Load(tool="builtin", **data)


@dataclass(frozen=True, slots=True)
class Probe:
    status: int
    x_cache: str
    body_bytes: int
    seconds: float


def probe(port: int, path: str, timeout_s: float = 30.0) -> Probe:
    """One GET on a fresh connection: status, X-Cache, and the wall time it took."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return Probe(response.status, response.getheader("x-cache", ""), len(body), time.perf_counter() - started)
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class Download:
    bytes: int
    seconds: float
    mb_per_s: float
    peak_rss_bytes: int  # largest tree RSS seen while it ran (sampled every 20 ms)
    hwm_rss_bytes: int  # sum of each process's VmHWM at the end
    before_rss_bytes: int


def download(port: int, path: str, watched: Service | None) -> Download:
    """GET `path` and read the body as fast as the socket gives it, watching `watched`'s RSS."""
    peak = 0
    before = sample(watched).rss_bytes if watched is not None else 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, sample(watched).rss_bytes)  # type: ignore[arg-type]
            stop.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    if watched is not None:
        watcher.start()
    total = 0
    started = time.perf_counter()
    try:
        with socket.create_connection((HOST, port), timeout=60) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
            buffer = bytearray(1 << 20)
            view = memoryview(buffer)
            head = b""
            length: int | None = None
            while b"\r\n\r\n" not in head:
                n = sock.recv_into(view)
                if n == 0:
                    raise RuntimeError(f"connection closed before the response head: {head[:200]!r}")
                head += bytes(view[:n])
            head, _, rest = head.partition(b"\r\n\r\n")
            status_line = head.split(b"\r\n", 1)[0]
            if b" 200 " not in status_line + b" ":
                raise RuntimeError(f"download answered {status_line.decode(errors='replace')}")
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = len(rest)
            while length is None or total < length:
                n = sock.recv_into(view)
                if n == 0:
                    break
                total += n
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        if watched is not None:
            watcher.join()
    if length is not None and total != length:
        raise RuntimeError(f"download cut short: {total} of {length} bytes")
    hwm = sample(watched).peak_rss_bytes if watched is not None else 0
    return Download(total, seconds, total / seconds / 1e6, peak, hwm, before)
