"""CloudFront path patterns (cache behaviors) and invalidation paths, compiled once.

Path patterns (Developer Guide, "Path Pattern"): case-sensitive; `*` matches zero or more
characters, `/` included; `?` matches exactly one; a leading `/` is optional (`images/*.jpg` and
`/images/*.jpg` are the same pattern); the query string takes no part (callers pass the path only);
`*` alone is the default behavior and matches every request. Behaviors are matched on every
request, so the common shapes get a fast path: `*` (always), `literal` (equality), `prefix*`
(startswith), `*suffix` (endswith); anything else is one precompiled regular expression.

Invalidation paths (Developer Guide, "Invalidating files"): see `invalidation_matcher`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_PATH_PATTERN_LENGTH = 255
MAX_INVALIDATION_PATH_LENGTH = 4000


def _always(_uri: str) -> bool:
    return True


class PathPattern:
    """A compiled path pattern. `matches(uri)` takes the request path without the query string."""

    __slots__ = ("pattern", "normalized", "matches")

    def __init__(self, pattern: str, normalized: str, matches: Callable[[str], bool]) -> None:
        self.pattern = pattern  # as configured
        self.normalized = normalized  # with the leading "/" CloudFront treats as implied
        self.matches = matches

    def __repr__(self) -> str:
        return f"PathPattern({self.pattern!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathPattern) and other.normalized == self.normalized

    def __hash__(self) -> int:
        return hash(self.normalized)


def normalize_path_pattern(pattern: str) -> str:
    """The pattern with its implied leading `/` (`images/*` → `/images/*`); `*…` stays as is.

    A pattern that starts with `*` already matches a leading `/`, so adding one would only stop
    it from matching a path that lacks one (never the case for a real request).
    """
    if pattern.startswith(("/", "*")):
        return pattern
    return "/" + pattern


def compile_path_pattern(pattern: str) -> PathPattern:
    """Compile a CloudFront path pattern (validity is the config loader's job, not this)."""
    normalized = normalize_path_pattern(pattern)
    stars = normalized.count("*")
    if "?" not in normalized:
        if normalized == "*" or (stars and normalized.strip("*") == ""):
            return PathPattern(pattern, normalized, _always)
        if stars == 0:
            return PathPattern(pattern, normalized, lambda uri: uri == normalized)
        if stars == 1 and normalized.endswith("*"):
            prefix = normalized[:-1]
            return PathPattern(pattern, normalized, lambda uri: uri.startswith(prefix))
        if stars == 1 and normalized.startswith("*"):
            suffix = normalized[1:]
            return PathPattern(pattern, normalized, lambda uri: uri.endswith(suffix))
    regex = re.compile(_pattern_regex(normalized), re.DOTALL)
    return PathPattern(pattern, normalized, lambda uri: regex.fullmatch(uri) is not None)


def _pattern_regex(pattern: str) -> str:
    parts: list[str] = []
    for char in pattern:
        if char == "*":
            if not parts or parts[-1] != ".*":  # "**" means the same as "*"
                parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def validate_invalidation_path(path: str) -> str:
    """Check one path of a CreateInvalidation request as CloudFront's API does; return it.

    Raises ValueError naming the rule broken: not a string or empty, not starting with `/` (the
    console may omit it; the API may not), a `*` anywhere but last, longer than 4,000 characters,
    or containing whitespace or control characters (CloudFront wants those URL-encoded).
    """
    if not isinstance(path, str):
        raise ValueError(f"an invalidation path must be a string, got {type(path).__name__}")
    if not path:
        raise ValueError("an invalidation path may not be empty")
    if not path.startswith("/"):
        raise ValueError(f"invalidation path {path!r} must start with '/'")
    if len(path) > MAX_INVALIDATION_PATH_LENGTH:
        raise ValueError(
            f"invalidation path is {len(path)} characters long; the maximum is {MAX_INVALIDATION_PATH_LENGTH}"
        )
    star = path.find("*")
    if star != -1 and star != len(path) - 1:
        raise ValueError(
            f"invalidation path {path!r} has '*' at position {star + 1}; the wildcard may only be the last character"
        )
    for char in path:
        if char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F:
            raise ValueError(
                f"invalidation path {path!r} contains {char!r}; URL-encode whitespace and control characters"
            )
    return path


def invalidation_matcher(path: str) -> Callable[[str], bool]:
    """A predicate over stored request targets that one invalidation path removes.

    A *request target* is what the cache stored an object under, minus headers and cookies: the
    URI path, plus `?` and the query string when the cache policy puts query strings in the key
    (just the path when it does not, or when the request had no query string). Every variant of
    a target goes, whatever header or cookie values are in its key (CloudFront: "invalidates
    every cached version of the file regardless of its associated cookies / header values").

    - `/images/a.jpg` (no `*`) removes exactly the target `/images/a.jpg`. When query strings are
      in the key, the variants `/images/a.jpg?x=1` are *not* removed: CloudFront says "if you
      configured CloudFront to forward query strings to your origin, you must include the query
      strings when invalidating files", e.g. `/images/a.jpg?x=1`, or use a wildcard.
    - `/images/a.jpg?x=1` removes exactly that query-string variant.
    - `/images/*`, `/images*`, `/images/a.jpg*`, `/*` remove every target starting with the part
      before `*` (`/images/a.jpg*` thus takes every query-string variant as well).

    Matching is case-sensitive and on the raw (still percent-encoded) target, as CloudFront asks
    for paths URL-encoded exactly as viewers request them. Raises ValueError for invalid paths.
    """
    validate_invalidation_path(path)
    if path.endswith("*"):
        prefix = path[:-1]
        return lambda target: target.startswith(prefix)
    return lambda target: target == path
