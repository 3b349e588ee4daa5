"""CloudFront path patterns and invalidation paths (Developer Guide: Path Pattern, Invalidation)."""

from __future__ import annotations

import pytest

from edgeproxy.patterns import (
    compile_path_pattern,
    invalidation_matcher,
    normalize_path_pattern,
    validate_invalidation_path,
)

# (pattern, uri, matches)
PATH_CASES = [
    # `*` alone is the default behavior: everything.
    ("*", "/", True),
    ("*", "/a/b/c.jpg", True),
    ("*", "", True),
    # exact
    ("/index.html", "/index.html", True),
    ("/index.html", "/index.htm", False),
    ("/index.html", "/index.html/", False),
    ("index.html", "/index.html", True),  # leading / optional
    # prefix*
    ("/api/*", "/api/", True),
    ("/api/*", "/api/users/1", True),
    ("/api/*", "/api", False),
    ("/api/*", "/apix/1", False),
    ("api/*", "/api/users", True),
    ("/images*", "/images", True),
    ("/images*", "/images-old/a.png", True),
    # *suffix: * crosses slashes
    ("*.jpg", "/a.jpg", True),
    ("*.jpg", "/deep/er/a.jpg", True),
    ("*.jpg", "/a.jpeg", False),
    ("*.jpg", "/LOGO.JPG", False),  # case-sensitive
    # CloudFront's examples
    ("images/*.jpg", "/images/a.jpg", True),
    ("images/*.jpg", "/images/product1/a.jpg", True),
    ("images/*.jpg", "/img/a.jpg", False),
    ("images/*.jpg", "/images/a.gif", False),
    ("/images/*.jpg", "/Images/a.jpg", False),
    ("a??.jpg", "/ant.jpg", True),
    ("a??.jpg", "/an.jpg", False),
    ("a??.jpg", "/ants.jpg", False),
    ("*.doc*", "/x/report.doc", True),
    ("*.doc*", "/x/report.docx", True),
    ("*.doc?", "/x/report.doc", False),
    ("*.doc?", "/x/report.docm", True),
    # ? matches exactly one character, including /
    ("/a?b", "/a/b", True),
    ("/a?b", "/ab", False),
    # wildcards in the middle
    ("/api/*/items", "/api/v1/items", True),
    ("/api/*/items", "/api/v1/v2/items", True),
    ("/api/*/items", "/api/items", False),
    ("/a*b*c", "/abc", True),
    ("/a*b*c", "/a-b-c-d", False),
    # regex metacharacters are literal
    ("/a.b", "/aXb", False),
    ("/a+b", "/a+b", True),
    ("/$x", "/$x", True),
    ("/(x)", "/(x)", True),
    # newlines are just characters (DOTALL)
    ("/a*", "/a\nb", True),
]


@pytest.mark.parametrize(("pattern", "uri", "expected"), PATH_CASES)
def test_path_pattern_matching(pattern: str, uri: str, expected: bool) -> None:
    assert compile_path_pattern(pattern).matches(uri) is expected


def test_leading_slash_is_optional_and_patterns_compare_by_meaning() -> None:
    assert normalize_path_pattern("images/*") == "/images/*"
    assert normalize_path_pattern("*.jpg") == "*.jpg"
    assert compile_path_pattern("images/*") == compile_path_pattern("/images/*")
    assert compile_path_pattern("images/*").pattern == "images/*"  # the original is kept


def test_double_star_is_the_same_as_star() -> None:
    p = compile_path_pattern("/a**b")
    assert p.matches("/ab") and p.matches("/a/x/b") and not p.matches("/a/x/c")
    assert compile_path_pattern("**").matches("/anything")


# -- invalidation -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/*", "/images/*", "/images*", "/images/a.jpg", "/a.jpg?x=1", "/a.jpg*"])
def test_valid_invalidation_paths(path: str) -> None:
    assert validate_invalidation_path(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "may not be empty"),
        ("images/*", "must start with '/'"),
        ("/images/*.jpg", "may only be the last character"),
        ("/*/a", "may only be the last character"),
        ("/a**", "may only be the last character"),
        ("/" + "a" * 4000, "maximum is 4000"),
        ("/a b", "URL-encode"),
        ("/a\nb", "URL-encode"),
        (42, "must be a string"),
    ],
)
def test_invalid_invalidation_paths(path: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("*", r"\*").replace("(", r"\(")):
        validate_invalidation_path(path)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        invalidation_matcher(path)  # type: ignore[arg-type]


def test_longest_allowed_invalidation_path() -> None:
    path = "/" + "a" * 3999
    assert invalidation_matcher(path)(path)


# (invalidation path, stored request target, removed)
INVALIDATION_CASES = [
    # exact path: exactly that target (all header/cookie variants are the store's concern)
    ("/images/a.jpg", "/images/a.jpg", True),
    ("/images/a.jpg", "/images/A.jpg", False),  # case-sensitive
    ("/images/a.jpg", "/images/a.jpgx", False),
    # with query strings in the key, the path alone does not reach the query variants (CloudFront:
    # "you must include the query strings when invalidating")
    ("/images/a.jpg", "/images/a.jpg?size=1", False),
    ("/images/a.jpg?size=1", "/images/a.jpg?size=1", True),
    ("/images/a.jpg?size=1", "/images/a.jpg?size=2", False),
    # a trailing * takes every target with that prefix, query variants included
    ("/images/a.jpg*", "/images/a.jpg?size=1", True),
    ("/images/a.jpg*", "/images/a.jpg", True),
    ("/images/*", "/images/a/b/c.png", True),
    ("/images/*", "/images", False),
    ("/images*", "/images", True),
    ("/images*", "/images-old/x", True),
    ("/images*", "/img", False),
    ("/*", "/", True),
    ("/*", "/anything?at=all", True),
]


@pytest.mark.parametrize(("path", "target", "expected"), INVALIDATION_CASES)
def test_invalidation_matching(path: str, target: str, expected: bool) -> None:
    assert invalidation_matcher(path)(target) is expected
