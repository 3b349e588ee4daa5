"""`[cache_policies.*]` and `[origin_request_policies.*]` → policy configs (DESIGN §2).

Cache policy TTLs take the CachePolicyConfig API's defaults: MinTTL 0; DefaultTTL 86400 (or
MinTTL if larger); MaxTTL 31536000 (or DefaultTTL if larger). An implied DefaultTTL also stays
within an explicit MaxTTL (`max_ttl = 3600` alone means 0 / 3600 / 3600). Conflicts between
explicit values (min > default, min > max, default > max) are errors, as CloudFront rejects them.

Selections: cookies and query strings are `"none" | "all" | [names] | { all_except = [names] }`;
cache key headers a list only (CloudFront: none or a whitelist); origin request policy headers
`"none" | "all_viewer" | "all_viewer_except_host" | [names] | { all_except = [names] }`. Header
names are lowercased; cookie and query string names keep their case. The managed policies are
merged in by the caller; user policies may not take a `Managed-` name.
"""

from __future__ import annotations

from edgeproxy.config_locate import KeyPath
from edgeproxy.config_read import HEADER_NAME, Document, Table, describe, fmt_num, suggestion
from edgeproxy.config_types import NONE, CachePolicyConfig, OriginRequestPolicyConfig, Selection
from edgeproxy.managed_policies import MANAGED_PREFIX

CACHE_POLICY_KEYS = ("min_ttl", "default_ttl", "max_ttl", "headers", "cookies", "query_strings")
ORIGIN_REQUEST_POLICY_KEYS = ("headers", "cookies", "query_strings")
DEFAULT_TTL, MAX_TTL = 86400.0, 31536000.0


def read_cache_policies(doc: Document) -> dict[str, CachePolicyConfig]:
    policies: dict[str, CachePolicyConfig] = {}
    for name, data, path in doc.named_tables("cache_policies"):
        t = Table(doc.problems, data, path, CACHE_POLICY_KEYS)
        name_ok = _name_ok(t, name)
        min_ttl, default_ttl, max_ttl = _ttls(t)
        policy = CachePolicyConfig(
            name,
            min_ttl,
            default_ttl,
            max_ttl,
            headers=_cache_key_headers(t),
            cookies=_selection(t, "cookies", header_modes=False),
            query_strings=_selection(t, "query_strings", header_modes=False),
        )
        t.done()
        if name_ok:
            policies[name] = policy
    return policies


def read_origin_request_policies(doc: Document) -> dict[str, OriginRequestPolicyConfig]:
    policies: dict[str, OriginRequestPolicyConfig] = {}
    for name, data, path in doc.named_tables("origin_request_policies"):
        t = Table(doc.problems, data, path, ORIGIN_REQUEST_POLICY_KEYS)
        name_ok = _name_ok(t, name)
        headers = _selection(t, "headers", header_modes=True)
        if headers.mode == "whitelist" and "authorization" in headers.names:
            t.error("headers", "CloudFront can't forward Authorization alone in an origin request policy: "
                    'put it in the cache policy\'s headers, or use "all_viewer"')
        policy = OriginRequestPolicyConfig(
            name,
            headers,
            _selection(t, "cookies", header_modes=False),
            _selection(t, "query_strings", header_modes=False),
        )
        t.done()
        if name_ok:
            policies[name] = policy
    return policies


def _name_ok(t: Table, name: str) -> bool:
    if name.startswith(MANAGED_PREFIX):
        t.error(None, f"policy names starting with {MANAGED_PREFIX!r} are CloudFront's managed policies; choose another name")
        return False
    return True


def _ttls(t: Table) -> tuple[float, float, float]:
    given_min = t.optional_number("min_ttl", lo=0)
    given_default = t.optional_number("default_ttl", lo=0)
    given_max = t.optional_number("max_ttl", lo=0)
    min_ttl = given_min if given_min is not None else 0.0
    if given_default is not None:
        default_ttl = given_default
    else:
        default_ttl = max(DEFAULT_TTL, min_ttl)
        if given_max is not None:
            default_ttl = max(min_ttl, min(default_ttl, given_max))
    max_ttl = given_max if given_max is not None else max(MAX_TTL, default_ttl)
    if given_default is not None and default_ttl < min_ttl:
        t.error("default_ttl", f"default_ttl ({fmt_num(default_ttl)}) is less than min_ttl ({fmt_num(min_ttl)})")
    if given_max is not None and max_ttl < min_ttl:
        t.error("max_ttl", f"max_ttl ({fmt_num(max_ttl)}) is less than min_ttl ({fmt_num(min_ttl)})")
    elif given_max is not None and given_default is not None and max_ttl < default_ttl:
        t.error("max_ttl", f"max_ttl ({fmt_num(max_ttl)}) is less than default_ttl ({fmt_num(default_ttl)})")
    return min_ttl, default_ttl, max_ttl


def _cache_key_headers(t: Table) -> tuple[str, ...]:
    if not t.has("headers"):
        return ()
    value = t.data["headers"]
    if not isinstance(value, list):
        t.error("headers", f"a cache policy's headers is a list of header names ([] for none), got {describe(value)}")
        return ()
    names = _names(t, t.key("headers"), value, header=True)
    return tuple(names) if names is not None else ()


def _names(t: Table, path: KeyPath, items: object, *, header: bool) -> list[str] | None:
    """Header / cookie / query string names: non-empty strings, deduplicated; headers lowercased."""
    if not isinstance(items, list):
        t.problems.error(path, f"expected an array of names, got {describe(items)}")
        return None
    names: list[str] = []
    ok = True
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item:
            t.problems.error(path + (i,), f"expected a non-empty name, got {describe(item)}")
            ok = False
        elif header and not HEADER_NAME.fullmatch(item):
            t.problems.error(path + (i,), f"{item!r} is not a valid header name")
            ok = False
        else:
            name = item.lower() if header else item
            if name not in names:
                names.append(name)
    return names if ok else None


def _selection(t: Table, key: str, *, header_modes: bool) -> Selection:
    if not t.has(key):
        return NONE
    value = t.data[key]
    words = ("none", "all_viewer", "all_viewer_except_host") if header_modes else ("none", "all")
    shapes = " | ".join(f'"{w}"' for w in words) + " | [names] | { all_except = [names] }"
    if isinstance(value, str):
        if value in words:
            return NONE if value == "none" else Selection(value)  # type: ignore[arg-type]
        hint = "; did you mean 'all_viewer'?" if header_modes and value == "all" else suggestion(value, words)
        t.error(key, f"expected {shapes}, got {describe(value)}{hint}")
        return NONE
    if isinstance(value, list):
        names = _names(t, t.key(key), value, header=header_modes)
        return Selection("whitelist", frozenset(names)) if names else NONE
    if isinstance(value, dict):
        Table(t.problems, value, t.key(key), ("all_except",)).done()
        if "all_except" not in value:
            t.error(key, "an inline table here takes one key: all_except = [names]")
            return NONE
        names = _names(t, t.key(key) + ("all_except",), value["all_except"], header=header_modes)
        return Selection("all_except", frozenset(names)) if names is not None else NONE
    t.error(key, f"expected {shapes}, got {describe(value)}")
    return NONE
