"""`[functions.*]` → FunctionConfig (DESIGN §2), checked against Lambda's own limits.

The stage limits (viewer: memory exactly 128 MB, timeout ≤ 5 s) are not checked here but per
association, in `config_behaviors.py`: CloudFront rejects the association, not the function, and
one function may serve an origin stage and a viewer stage.

Handlers are checked for form only (`path/to/file.py:attr`, relative to the config file's
folder, or `module:attr`; attr may be dotted, e.g. a bound method `Router.handle`). Importing
them is `edgeproxy check`'s job, in a worker, so a config may name hooks not written yet.
"""

from __future__ import annotations

import re

from edgeproxy.config_read import Document, Table
from edgeproxy.config_types import FunctionConfig
from edgeproxy.types import ORIGIN_MEMORY_MAX_MB, ORIGIN_MEMORY_MIN_MB, ORIGIN_TIMEOUT_MAX_S

FUNCTION_KEYS = (
    "handler", "memory_mb", "timeout_s", "reserved_concurrency", "provisioned_concurrency",
    "include_body", "layers",
)
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # Lambda's function name rule
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_HANDLER_FORM = "expected 'path/to/file.py:function' or 'module:function'"


def read_functions(doc: Document) -> dict[str, FunctionConfig]:
    functions: dict[str, FunctionConfig] = {}
    for name, data, path in doc.named_tables("functions"):
        t = Table(doc.problems, data, path, FUNCTION_KEYS)
        ok = True
        if not _FUNCTION_NAME.fullmatch(name):
            t.error(None, f"function name {name!r} may hold only letters, digits, '-' and '_' (at most 64), as Lambda's")
            ok = False
        handler = t.string("handler", "", required=True)
        if not handler or not _handler_ok(t, handler):
            ok = False
        reserved = t.optional_integer("reserved_concurrency", lo=0)
        provisioned = t.integer("provisioned_concurrency", 0, lo=0)
        if reserved is not None and provisioned > reserved:
            t.error("provisioned_concurrency", f"provisioned_concurrency ({provisioned}) exceeds reserved_concurrency ({reserved})")
        function = FunctionConfig(
            name=name,
            handler=handler,
            base_dir=doc.base_dir,
            memory_mb=t.integer("memory_mb", 128, lo=ORIGIN_MEMORY_MIN_MB, hi=ORIGIN_MEMORY_MAX_MB, why=" MB (Lambda's range)"),
            timeout_s=t.optional_number("timeout_s", above=0, hi=ORIGIN_TIMEOUT_MAX_S, why=" seconds (Lambda@Edge's limit)"),
            reserved_concurrency=reserved,
            provisioned_concurrency=provisioned,
            include_body=t.boolean("include_body", False),
            layers=tuple(doc.path(layer) for layer in t.strings("layers") or ()),
        )
        t.done()
        if ok:
            functions[name] = function
    return functions


def _handler_ok(t: Table, handler: str) -> bool:
    target, sep, attr = handler.rpartition(":")
    if not sep or not target.strip() or not attr:
        t.error("handler", f"{_HANDLER_FORM}, got {handler!r}")
    elif not _DOTTED_NAME.fullmatch(attr):
        t.error("handler", f"{attr!r} is not a Python attribute name ({_HANDLER_FORM})")
    elif not target.endswith(".py") and not _DOTTED_NAME.fullmatch(target):
        t.error("handler", f"{target!r} is neither a .py file nor a module name ({_HANDLER_FORM})")
    else:
        return True
    return False
