"""`python -m edgeproxy` is the same as the `edgeproxy` console script."""

from __future__ import annotations

from edgeproxy.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
