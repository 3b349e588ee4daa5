"""`[[behaviors]]` and `[default_behavior]` → BehaviorConfig, with every reference checked.

Behaviors keep file order (first match wins), the default behavior (`*`) last. Decisions where
CloudFront differs or the DESIGN is silent:

- `[default_behavior]` is required, except when the config has exactly one origin and no origin
  groups: then it may be left out and means "everything to that origin" with the defaults.
- `allowed_methods`: CloudFront offers three sets (GET+HEAD; +OPTIONS; all seven). edgeproxy takes
  any subset of the seven holding GET and HEAD (default: all seven, a listed deviation).
  `cached_methods` is GET and HEAD, optionally OPTIONS, each of them allowed.
- Path patterns: CloudFront's characters only, at most 255, unique per distribution (compared
  with the implied leading `/`, since `a/*` and `/a/*` are the same pattern).
- Function associations (spec §10): a function bound to a viewer stage needs memory exactly
  128 MB and a timeout of at most 5 s, else the error names the association
  (`behaviors[1].viewer_request`), as CloudFront rejects the association. Origin stages allow
  what any function allows (128–10,240 MB, ≤ 30 s), checked in `config_functions.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgeproxy.config_locate import KeyPath
from edgeproxy.config_read import Document, Table, describe, fmt_num, sub_table, suggestion
from edgeproxy.config_types import (
    ALL_METHODS,
    BehaviorConfig,
    CachePolicyConfig,
    CustomErrorResponse,
    FunctionConfig,
    OriginConfig,
    OriginGroupConfig,
    OriginRequestPolicyConfig,
)
from edgeproxy.managed_policies import DEFAULT_CACHE_POLICY
from edgeproxy.patterns import MAX_PATH_PATTERN_LENGTH, normalize_path_pattern
from edgeproxy.types import VIEWER_MEMORY_MB, VIEWER_TIMEOUT_MAX_S, Stage

BEHAVIOR_KEYS = (
    "path_pattern", "origin", "cache_policy", "origin_request_policy", "allowed_methods",
    "cached_methods", "compress", "error_caching_min_ttl", "custom_error_responses",
    "viewer_request", "origin_request", "origin_response", "viewer_response",
)
CUSTOM_ERROR_KEYS = ("status", "page", "response_code", "min_ttl")
# Developer Guide: custom error responses, cached methods, path pattern characters.
CUSTOM_ERROR_STATUSES = frozenset({400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504})
CUSTOM_ERROR_RESPONSE_CODES = CUSTOM_ERROR_STATUSES | {200}
CACHEABLE_METHODS = ("GET", "HEAD", "OPTIONS")
_PATH_PATTERN_CHAR = re.compile(r"""[A-Za-z0-9_\-.*?$/~"'@:+&]""")
_ASSOCIATION_REJECTED = "(CloudFront rejects the association: InvalidLambdaFunctionAssociation)"


@dataclass(frozen=True, slots=True)
class Names:
    """What behaviors may refer to, read before them; `written_*`: also the broken entries,
    whose problems were reported already (a reference to one is not "unknown")."""

    origins: dict[str, OriginConfig]
    groups: dict[str, OriginGroupConfig]
    cache_policies: dict[str, CachePolicyConfig]
    request_policies: dict[str, OriginRequestPolicyConfig]
    functions: dict[str, FunctionConfig]
    written_origins: frozenset[str]
    written_groups: frozenset[str]
    written_functions: frozenset[str]


def read_behaviors(doc: Document, names: Names) -> tuple[BehaviorConfig, ...]:
    """The `[[behaviors]]` in file order, then the default behavior."""
    behaviors: list[BehaviorConfig] = []
    first_use: dict[str, int] = {}
    raw = doc.data.get("behaviors", [])
    if not isinstance(raw, list):
        doc.problems.error(("behaviors",), "behaviors is an array of tables: write each one as [[behaviors]]")
        raw = []
    for i, data in enumerate(raw):
        path: KeyPath = ("behaviors", i)
        if not isinstance(data, dict):
            doc.problems.error(path, f"expected a table ([[behaviors]]), got {describe(data)}")
            continue
        t = Table(doc.problems, data, path, BEHAVIOR_KEYS)
        pattern = _path_pattern(t)
        if pattern is not None:
            normalized = normalize_path_pattern(pattern)
            if normalized in first_use:
                t.error("path_pattern", f"path pattern {pattern!r} is already used by behaviors[{first_use[normalized]}]; "
                        "this behavior could never match")
            first_use.setdefault(normalized, i)
        behavior = _behavior(t, pattern or "", names)
        if pattern is not None:
            behaviors.append(behavior)
    behaviors.append(_default_behavior(doc, names))
    return tuple(behaviors)


def _default_behavior(doc: Document, names: Names) -> BehaviorConfig:
    if "default_behavior" in doc.data:
        t = sub_table(doc.problems, doc.data["default_behavior"], ("default_behavior",), BEHAVIOR_KEYS, "[default_behavior]")
        if t is None:
            return BehaviorConfig("*", origin="")
        pattern = t.optional_string("path_pattern")
        if pattern is not None and pattern != "*":
            t.error("path_pattern", f"the default behavior's path pattern is always '*', got {pattern!r}")
        return _behavior(t, "*", names)
    if len(names.written_origins) == 1 and len(names.origins) == 1 and not names.written_groups:
        return BehaviorConfig("*", origin=next(iter(names.origins)))
    if len(names.written_origins) > 1:
        doc.problems.error(("default_behavior",), "missing [default_behavior] (required with more than one origin: "
                           "it names the origin for requests no [[behaviors]] pattern matches)")
    return BehaviorConfig("*", origin="")


def _path_pattern(t: Table) -> str | None:
    pattern = t.string("path_pattern", "", required=True)
    if not t.has("path_pattern") or not isinstance(t.data["path_pattern"], str):
        return None
    if not pattern:
        t.error("path_pattern", "may not be empty (use '*' to match everything)")
    elif len(pattern) > MAX_PATH_PATTERN_LENGTH:
        t.error("path_pattern", f"is {len(pattern)} characters long; CloudFront allows at most {MAX_PATH_PATTERN_LENGTH}")
    elif bad := sorted({c for c in pattern if not _PATH_PATTERN_CHAR.fullmatch(c)}):
        t.error("path_pattern", f"contains {', '.join(repr(c) for c in bad)}; CloudFront allows only "
                "A-Z a-z 0-9 _ - . * ? $ / ~ \" ' @ : + &")
    else:
        return pattern
    return None


def _behavior(t: Table, pattern: str, names: Names) -> BehaviorConfig:
    origin = t.string("origin", "", required=True)
    targets = [*names.origins, *names.groups]
    if origin and origin not in targets and origin not in names.written_origins | names.written_groups:
        t.error("origin", f"unknown origin or origin group {origin!r}{suggestion(origin, targets)}")
    cache_policy = t.string("cache_policy", DEFAULT_CACHE_POLICY, non_empty=True)
    if cache_policy not in names.cache_policies:
        t.error("cache_policy", f"unknown cache policy {cache_policy!r}{suggestion(cache_policy, names.cache_policies)}")
    request_policy = t.optional_string("origin_request_policy")
    if request_policy is not None and request_policy not in names.request_policies:
        t.error("origin_request_policy", f"unknown origin request policy {request_policy!r}"
                f"{suggestion(request_policy, names.request_policies)}")
    allowed = _methods(t, "allowed_methods", ALL_METHODS, frozenset(ALL_METHODS))
    cached = _methods(t, "cached_methods", CACHEABLE_METHODS, frozenset({"GET", "HEAD"}))
    for method in sorted(cached - allowed):
        t.error("cached_methods", f"{method} is cached but not in allowed_methods")
    functions = {stage: _association(t, stage, names) for stage in Stage}
    behavior = BehaviorConfig(
        path_pattern=pattern,
        origin=origin,
        cache_policy=cache_policy,
        origin_request_policy=request_policy,
        allowed_methods=allowed,
        cached_methods=cached,
        compress=t.boolean("compress", False),
        error_caching_min_ttl=t.number("error_caching_min_ttl", 10.0, lo=0),
        custom_error_responses=_custom_errors(t),
        viewer_request=functions[Stage.VIEWER_REQUEST],
        origin_request=functions[Stage.ORIGIN_REQUEST],
        origin_response=functions[Stage.ORIGIN_RESPONSE],
        viewer_response=functions[Stage.VIEWER_RESPONSE],
    )
    t.done()
    return behavior


def _methods(t: Table, key: str, choices: tuple[str, ...], default: frozenset[str]) -> frozenset[str]:
    methods = t.strings(key)
    if methods is None:
        return default
    ok = True
    for i, method in enumerate(methods):
        if method not in choices:
            hint = f"; did you mean {method.upper()!r}?" if method.upper() in choices else suggestion(method, choices)
            t.problems.error(t.key(key) + (i,), f"{method!r} is not one of {', '.join(choices)}{hint}")
            ok = False
    missing = [m for m in ("GET", "HEAD") if m not in methods]
    if ok and missing:
        verb = "allows" if key == "allowed_methods" else "caches"
        t.error(key, f"must include GET and HEAD (CloudFront always {verb} them); missing {', '.join(missing)}")
        ok = False
    return frozenset(methods) if ok else default


def _association(t: Table, stage: Stage, names: Names) -> str | None:
    """The function bound to `stage`, checked against that stage's limits (spec §10)."""
    name = t.optional_string(stage.config_key)
    if name is None:
        return None
    function = names.functions.get(name)
    if function is None:
        if name not in names.written_functions:
            t.error(stage.config_key, f"unknown function {name!r}{suggestion(name, names.functions)}")
        return name
    if stage.is_viewer:
        if function.timeout_s is not None and function.timeout_s > VIEWER_TIMEOUT_MAX_S:
            t.error(stage.config_key, f"function {name!r} has timeout_s = {fmt_num(function.timeout_s)}; "
                    f"{stage.value} functions allow at most {fmt_num(VIEWER_TIMEOUT_MAX_S)} {_ASSOCIATION_REJECTED}")
        if function.memory_mb != VIEWER_MEMORY_MB:
            t.error(stage.config_key, f"function {name!r} has memory_mb = {function.memory_mb}; "
                    f"{stage.value} functions must have exactly {VIEWER_MEMORY_MB} {_ASSOCIATION_REJECTED}")
    return name


def _custom_errors(t: Table) -> tuple[CustomErrorResponse, ...]:
    if not t.has("custom_error_responses"):
        return ()
    raw = t.data["custom_error_responses"]
    if not isinstance(raw, list):
        t.error("custom_error_responses", "expected an array of tables "
                f'[{{ status = 404, page = "/404.html", response_code = 404 }}], got {describe(raw)}')
        return ()
    out: list[CustomErrorResponse] = []
    seen: set[int] = set()
    codes = " ".join(str(c) for c in sorted(CUSTOM_ERROR_STATUSES))
    for i, data in enumerate(raw):
        e = sub_table(t.problems, data, t.key("custom_error_responses") + (i,), CUSTOM_ERROR_KEYS, "a custom error response")
        if e is None:
            continue
        before = len(t.problems.errors)
        status = e.optional_integer("status")
        if status is None and not e.has("status"):
            e.error(None, "missing required key 'status'")
        elif status is not None and status not in CUSTOM_ERROR_STATUSES:
            e.error("status", f"CloudFront customizes only {codes}; got {status}")
        elif status is not None and status in seen:
            e.error("status", f"status {status} already has a custom error response in this behavior")
        page = e.optional_string("page")
        if page is not None and not page.startswith("/"):
            e.error("page", f"must be a path starting with '/', got {page!r}")
        response_code = e.optional_integer("response_code")
        if response_code is not None and response_code not in CUSTOM_ERROR_RESPONSE_CODES:
            e.error("response_code", f"must be 200 or one of {codes}; got {response_code}")
        if e.has("page") != e.has("response_code"):
            missing = "page" if e.has("response_code") else "response_code"
            e.error(None, f"page and response_code go together (CloudFront); missing {missing!r}")
        min_ttl = e.optional_number("min_ttl", lo=0)
        e.done()
        if status is not None:
            seen.add(status)
        if status is not None and len(t.problems.errors) == before:
            out.append(CustomErrorResponse(status, page, response_code, min_ttl))
    return tuple(out)
