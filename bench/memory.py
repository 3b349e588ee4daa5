"""Memory under load: does the proxy stay within `[cache] max_bytes` plus a fixed overhead?

Starts bench/origin.py and `edgeproxy serve` (with an admin listener) on loopback, drives
unique-path cache misses of BODY bytes with bench/loadgen.py, samples the proxy's RSS and the
cache gauges from /metrics every 0.2 s, and prints the idle and peak RSS. Stops by itself.

    python bench/memory.py [--body 1048576] [--connections 64] [--max-bytes 67108864] [--duration 15]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"port {port} did not open")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--body", type=int, default=1048576, help="bytes per response (default 1 MiB)")
    parser.add_argument("--connections", "-c", type=int, default=64)
    parser.add_argument("--max-bytes", type=int, default=64 * 1024 * 1024, help="[cache] max_bytes (default 64 MiB)")
    parser.add_argument("--duration", "-d", type=float, default=15)
    args = parser.parse_args()
    origin_port, proxy_port, admin_port = free_port(), free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="edgeproxy-mem-") as tmp:
        config = Path(tmp) / "memory.toml"
        config.write_text(
            f"""
[server]
port = {proxy_port}
[admin]
port = {admin_port}
[cache]
max_bytes = {args.max_bytes}
max_object_bytes = {min(args.max_bytes, max(2 * args.body, 1024))}
[origins.app]
url = "http://127.0.0.1:{origin_port}"
[default_behavior]
origin = "app"
cache_policy = "Managed-CachingOptimized"
"""
        )
        origin = subprocess.Popen([sys.executable, str(BENCH / "origin.py"), "--port", str(origin_port), "--small-bytes", str(args.body)], cwd=REPO)
        proxy = subprocess.Popen(
            [sys.executable, "-m", "edgeproxy", "serve", "--config", str(config)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            for port in (origin_port, proxy_port, admin_port):
                wait_port(port)
            process = psutil.Process(proxy.pid)
            print(f"idle RSS {process.memory_info().rss / 2**20:.0f} MiB", flush=True)
            stop = threading.Event()
            peak: list[object] = [0, {}]

            def monitor() -> None:
                while not stop.is_set():
                    rss = process.memory_info().rss
                    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5).read().decode()
                    gauges = {
                        line.split()[0].removeprefix("edgeproxy_cache_"): float(line.split()[1])
                        for line in text.splitlines()
                        if line.startswith(("edgeproxy_cache_bytes", "edgeproxy_cache_inflight", "edgeproxy_cache_objects"))
                    }
                    if rss > peak[0]:  # type: ignore[operator]
                        peak[0], peak[1] = rss, gauges
                    stop.wait(0.2)

            thread = threading.Thread(target=monitor)
            thread.start()
            load = subprocess.run(
                [sys.executable, str(BENCH / "loadgen.py"), "--port", str(proxy_port), "--path", "/small",
                 "-c", str(args.connections), "-d", str(args.duration), "--unique"],
                cwd=REPO, capture_output=True, text=True, timeout=args.duration + 120,
            )
            stop.set()
            thread.join()
            print(load.stdout.strip())
            print(f"peak RSS {peak[0] / 2**20:.0f} MiB (max_bytes {args.max_bytes / 2**20:.0f} MiB) at {peak[1]}")  # type: ignore[operator]
        finally:
            proxy.terminate()
            origin.terminate()
            proxy.wait(10)
            origin.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
