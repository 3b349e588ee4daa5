"""Where log lines go: the proxy's own logger and every function's log, both on stderr.

Function lines are tagged with the function name and request id, as `sam local` shows them;
`[runtime] function_logs` also appends them to `<folder>/<function>.log`.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

log = logging.getLogger("edgeproxy")

_files: dict[str, object] = {}
_files_lock = threading.Lock()
_function_log_dir: Path | None = None


def setup_logging(level: int = logging.INFO) -> None:
    """Proxy lines to stderr, unbuffered, one per event (idempotent)."""
    if not any(getattr(h, "_edgeproxy", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s edgeproxy: %(message)s"))
        handler._edgeproxy = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False


def set_function_log_dir(folder: Path | None) -> None:
    global _function_log_dir
    _function_log_dir = folder
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)


def function_log(function: str, request_id: str, *lines: str) -> None:
    """Lines of a function's log (START/END/REPORT, prints, logging records, errors), written
    to stderr in one call: an invocation's END and REPORT cost one write, not two."""
    prefix = f"[{function}] {request_id} " if request_id else f"[{function}] "
    text = "".join(prefix + line + "\n" for line in lines)
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    if _function_log_dir is not None:
        with _files_lock:
            fh = _files.get(function)
            if fh is None:
                fh = open(_function_log_dir / f"{function}.log", "a", buffering=1, encoding="utf-8")
                _files[function] = fh
            fh.write("".join(line + "\n" for line in lines))  # type: ignore[attr-defined]
