"""Processes the bench starts: spawn, wait until they answer, measure, and always stop them.

Every process is started in its own session, so the Ctrl-C the terminal sends to the bench does
not reach it half-way through a measurement; the bench stops each one itself (SIGTERM, then
SIGKILL by pid for the process and every descendant it had), also when it fails or is
interrupted. Nothing here ever signals a process it did not start.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

HOST = "127.0.0.1"


def free_port() -> int:
    """An unused loopback port (bound and released; fine on a quiet machine)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Service:
    """One started process (origin, proxy, Starlette hello) and its log file."""

    def __init__(self, name: str, argv: list[str], *, port: int, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.port = port
        self.log = log
        self._log_file = open(log, "wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.ps = psutil.Process(self.proc.pid)
        self.started_at = time.perf_counter()
        self.ready_s = 0.0

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait until the port accepts connections (uvicorn binds after its lifespan start-up)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.proc.returncode} before listening; log:\n{self.tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    self.ready_s = time.perf_counter() - self.started_at
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not listen on {HOST}:{self.port} within {timeout_s:.0f} s; log:\n{self.tail()}")

    def tree(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (graceful: the proxy closes its hook workers), then SIGKILL what is left."""
        tree = self.tree()
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        for process in reversed(tree):  # descendants first; psutil refuses a reused pid
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._log_file.close()


@dataclass(frozen=True, slots=True)
class TreeSample:
    """CPU seconds per pid and memory of a process tree at one moment."""

    at: float
    cpu: dict[int, float]
    rss_bytes: int
    peak_rss_bytes: int  # sum of each process's VmHWM (its own peak so far)
    processes: int


def sample(service: Service) -> TreeSample:
    cpu: dict[int, float] = {}
    rss = peak = 0
    count = 0
    for process in service.tree():
        try:
            with process.oneshot():
                times = process.cpu_times()
                cpu[process.pid] = times.user + times.system
                rss += process.memory_info().rss
            peak += _vm_hwm(process.pid)
            count += 1
        except psutil.NoSuchProcess:
            continue
    return TreeSample(time.perf_counter(), cpu, rss, peak, count)


def _vm_hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class CpuWatch:
    """CPU seconds of every process on the machine while a row runs, sampled every `interval`.

    Sampling all along (not just before and after) keeps the CPU of processes that exit during
    the row — hook workers the pool retires, the load generator — and tells the measured
    server's CPU from the load other processes put on the machine meanwhile (on a shared box
    that load explains noisy rows). A process is the server's if its parent chain reaches the
    server's pid, the bench's own if it reaches the bench's pid.
    """

    def __init__(self, interval: float = 0.5) -> None:
        import threading

        self._interval = interval
        self._base: dict[tuple[int, float], float] = {}
        self._last: dict[tuple[int, float], float] = {}
        self._parent: dict[int, int] = {}
        self._names: dict[tuple[int, float], str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = self.stopped = 0.0
        self._steal = 0.0
        self.steal_s = 0.0  # CPU the hypervisor gave to other guests meanwhile (0 on bare metal)

    def _snapshot(self, *, base: bool = False) -> None:
        for process in psutil.process_iter(["pid", "ppid", "name", "cpu_times", "create_time"]):
            info = process.info
            if info["cpu_times"] is None or info["create_time"] is None:
                continue
            key = (info["pid"], info["create_time"])
            used = info["cpu_times"].user + info["cpu_times"].system
            if base:
                self._base[key] = used
            self._last[key] = used
            self._parent[info["pid"]] = info["ppid"] or 0
            self._names.setdefault(key, info["name"] or "?")

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._snapshot()

    def __enter__(self) -> "CpuWatch":
        self._steal = getattr(psutil.cpu_times(), "steal", 0.0)
        self._snapshot(base=True)
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._snapshot()
        self.stopped = time.perf_counter()
        self.steal_s = getattr(psutil.cpu_times(), "steal", 0.0) - self._steal

    def _descends(self, pid: int, root: int) -> bool:
        seen = 0
        while pid and seen < 64:
            if pid == root:
                return True
            pid = self._parent.get(pid, 0)
            seen += 1
        return False

    def used(self, root: int) -> float:
        """CPU seconds used by `root` and its descendants during the watch."""
        return sum(v - self._base.get(k, 0.0) for k, v in self._last.items() if self._descends(k[0], root))

    def others(self, bench_pid: int) -> tuple[float, list[tuple[str, float]]]:
        """CPU seconds of processes that are not the bench's, and the top three by name."""
        by_name: dict[str, float] = {}
        for key, value in self._last.items():
            if self._descends(key[0], bench_pid):
                continue
            delta = value - self._base.get(key, 0.0)
            if delta > 0:
                by_name[self._names[key]] = by_name.get(self._names[key], 0.0) + delta
        top = sorted(by_name.items(), key=lambda item: -item[1])[:3]
        return sum(by_name.values()), top


def hook_workers(service: Service) -> list[psutil.Process]:
    """The proxy's function worker processes (spawned with edgeproxy.runtime.worker)."""
    found = []
    for process in service.tree()[1:]:
        try:
            if any("edgeproxy.runtime.worker" in part for part in process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


def python_env(repo: Path, **extra: str) -> dict[str, str]:
    """The environment for child Pythons: edgeproxy importable from the checkout, unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
