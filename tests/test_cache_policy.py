"""Pure cache policy: what is stored, for how long, and how it ages (injected times, no sleeps)."""

from __future__ import annotations

import random

import pytest

from edgeproxy.cache import (
    NotStored,
    StoreDecision,
    build_stored,
    corrected_initial_age,
    format_http_date,
    parse_age,
    parse_cache_control,
    parse_http_date,
    parse_vary,
    storage_decision,
    unsafe_invalidation,
)
from edgeproxy.cache.policy import STALE_RETENTION_S
from edgeproxy.config_types import CachePolicyConfig, OriginRequestPolicyConfig, Selection

T0 = 1_700_000_000.0
RFC = CachePolicyConfig("rfc", min_ttl=0, default_ttl=0, max_ttl=31536000)  # behaves like a plain RFC cache
CF = CachePolicyConfig("cf")  # CloudFront defaults: 0 / 86400 / 31536000
MIN60 = CachePolicyConfig("min60", min_ttl=60, default_ttl=86400, max_ttl=31536000)
DISABLED = CachePolicyConfig("off", min_ttl=0, default_ttl=0, max_ttl=0)


def date(offset: float = 0.0) -> str:
    return format_http_date(T0 + offset)


def decide(headers, status=200, policy=CF, method="GET", ecmt=10.0, status_min_ttl=None, request_time=T0, response_time=T0, **kw):
    return storage_decision(method, status, headers, policy, ecmt, status_min_ttl, request_time, response_time, **kw)


# --------------------------------------------------------------------------- TTL rules (spec §7)

TTL_CASES = [
    # (id, policy, headers, expected ttl or None = not stored)
    ("max-age", CF, [("cache-control", "max-age=3600")], 3600),
    ("max-age clamped to max", CachePolicyConfig("p", max_ttl=100), [("cache-control", "max-age=3600")], 100),
    ("max-age raised to min", MIN60, [("cache-control", "max-age=5")], 60),
    ("s-maxage beats max-age", CF, [("cache-control", "max-age=3600, s-maxage=10")], 10),
    ("s-maxage beats longer max-age reversed", CF, [("cache-control", "s-maxage=10, max-age=3600")], 10),
    ("s-maxage on its own line", CF, [("cache-control", "max-age=3600"), ("cache-control", "s-maxage=1")], 1),
    ("max-age beats Expires", CF, [("cache-control", "max-age=30"), ("expires", date(10_000)), ("date", date())], 30),
    ("max-age with past Expires", CF, [("cache-control", "max-age=30"), ("expires", date(-10_000)), ("date", date())], 30),
    ("Expires relative to Date", CF, [("expires", date(500)), ("date", date(100))], 400),
    ("Expires without Date uses response time", CF, [("expires", date(250))], 250),
    ("no directive: default TTL", CF, [], 86400),
    ("no directive: default at least min", CachePolicyConfig("p", min_ttl=100, default_ttl=50, max_ttl=1000), [], 100),
    ("quoted max-age", CF, [("cache-control", 'max-age="3600"')], 3600),
    ("leading zeros", CF, [("cache-control", "max-age=003600")], 3600),
    ("case-insensitive name", CF, [("cache-control", "MaX-AgE=3600")], 3600),
    ("extension ignored", CF, [("cache-control", "foobar, max-age=3600")], 3600),
    ("first max-age wins", CF, [("cache-control", "max-age=1800, max-age=1")], 1800),
    ("first max-age wins across lines", CF, [("cache-control", "max-age=1800"), ("cache-control", "max-age=1")], 1800),
    ("huge max-age capped", CachePolicyConfig("p", max_ttl=1e12), [("cache-control", "max-age=99999999999")], 2**31),
    ("max-age in a quoted string is not max-age", RFC, [("cache-control", 'extension="max-age=3600", max-age=1')], 1),
    ("space before = is no max-age", RFC, [("cache-control", "max-age =3600")], None),
    ("space after = is invalid", RFC, [("cache-control", "max-age= 3600")], None),
    ("single-quoted is invalid", RFC, [("cache-control", "max-age='3600'")], None),
    ("trailing alpha is invalid", RFC, [("cache-control", "max-age=100a")], None),
    ("leading alpha is invalid", RFC, [("cache-control", "max-age=a100")], None),
    ("negative is invalid", RFC, [("cache-control", "max-age=-100")], None),
    ("decimal is invalid", RFC, [("cache-control", "max-age=3600.5")], None),
    ("max-age=0", RFC, [("cache-control", "max-age=0")], None),
    ("max-age=0 beats future Expires", RFC, [("expires", date(10_000)), ("cache-control", "max-age=0"), ("date", date())], None),
    ("invalid max-age is stale, not default", CF, [("cache-control", "max-age=abc")], None),
    ("invalid max-age with min TTL", MIN60, [("cache-control", "max-age=abc")], 60),
    ("invalid Expires is expired", CF, [("expires", "0")], None),
    ("invalid Expires with min TTL", MIN60, [("expires", "0")], 60),
    ("RFC 850 Expires", CF, [("expires", "Thursday, 18-Aug-50 02:01:18 GMT"), ("date", "Thu, 18 Aug 2050 02:00:18 GMT")], 60),
    ("no-store", CF, [("cache-control", "no-store, max-age=3600")], None),
    ("nO-StOrE", CF, [("cache-control", "nO-StOrE")], None),
    ("no-cache", CF, [("cache-control", "max-age=10000, no-cache")], None),
    ("private", CF, [("cache-control", "private, max-age=3600")], None),
    ("no-store with min TTL", MIN60, [("cache-control", "no-store")], 60),
    ("private with min TTL ignores max-age", MIN60, [("cache-control", "private, max-age=3600")], 60),
    ("qualified no-cache is storable", CF, [("cache-control", 'no-cache="set-cookie", max-age=50')], 50),
    ("qualified private is storable", CF, [("cache-control", 'private="x-user", max-age=50')], 50),
    ("caching disabled", DISABLED, [("cache-control", "max-age=3600")], None),
]


@pytest.mark.parametrize("policy,headers,expected", [c[1:] for c in TTL_CASES], ids=[c[0] for c in TTL_CASES])
def test_ttl_rules(policy, headers, expected):
    decision = decide(headers, policy=policy)
    if expected is None:
        assert isinstance(decision, NotStored) and not decision, decision
        assert decision.reason
    else:
        assert isinstance(decision, StoreDecision), decision
        assert decision.ttl == pytest.approx(expected)


# --------------------------------------------------------------------------- statuses (spec §7)

STATUS_CASES = [
    # (status, headers, policy, ecmt, status_min_ttl, expected ttl or None)
    (200, [], CF, 10, None, 86400),
    (203, [], CF, 10, None, 86400),
    (204, [], CF, 10, None, 86400),
    (300, [], CF, 10, None, 86400),
    (301, [], CF, 10, None, 86400),
    (410, [], CF, 10, None, 86400),
    (201, [], CF, 10, None, None),
    (202, [], CF, 10, None, None),
    (302, [], CF, 10, None, None),
    (303, [], CF, 10, None, None),
    (302, [("cache-control", "max-age=30")], CF, 10, None, 30),
    (302, [("expires", date(30)), ("date", date())], CF, 10, None, 30),
    (201, [("cache-control", "public")], CF, 10, None, 86400),
    (307, [], CF, 10, None, None),
    (307, [("expires", date(30)), ("date", date())], CF, 10, None, None),  # needs Cache-Control
    (307, [("cache-control", "max-age=30")], CF, 10, None, 30),
    (308, [], CF, 10, None, None),
    (308, [("cache-control", "public")], CF, 10, None, 86400),
    (206, [("cache-control", "max-age=30")], CF, 10, None, None),
    (304, [("cache-control", "max-age=30")], CF, 10, None, None),
    (416, [("cache-control", "max-age=30")], CF, 10, None, None),
    # always-cached errors: max(ecmt, max-age)
    (404, [], CF, 10, None, 10),
    (414, [], CF, 10, None, 10),
    (500, [], CF, 10, None, 10),
    (501, [], CF, 10, None, 10),
    (502, [], CF, 10, None, 10),
    (503, [], CF, 10, None, 10),
    (504, [], CF, 10, None, 10),
    (404, [("cache-control", "max-age=300")], CF, 10, None, 300),
    (404, [("cache-control", "max-age=3")], CF, 10, None, 10),
    (503, [("cache-control", "s-maxage=100, max-age=5")], CF, 10, None, 100),
    (500, [("cache-control", "no-store")], CF, 10, None, 10),  # "always"
    (404, [], CF, 0, None, None),  # error caching min TTL 0 and no max-age: nothing to store
    (404, [], CF, 10, 120, 120),  # custom error response min_ttl overrides
    (404, [], CF, 10, 0, None),
    (404, [("cache-control", "max-age=3600")], CachePolicyConfig("p", max_ttl=60), 10, None, 3600),  # not clamped
    # errors cached only with max-age / s-maxage
    (400, [], CF, 10, None, None),
    (403, [], CF, 10, None, None),
    (405, [], CF, 10, None, None),
    (412, [], CF, 10, None, None),
    (415, [], CF, 10, None, None),
    (403, [("expires", date(300)), ("date", date())], CF, 10, None, None),
    (403, [("cache-control", "max-age=300")], CF, 10, None, 300),
    (405, [("cache-control", "s-maxage=5")], CF, 10, None, 10),
    # other errors never
    (401, [("cache-control", "max-age=300")], CF, 10, None, None),
    (429, [("cache-control", "max-age=300")], CF, 10, None, None),
    (599, [("cache-control", "public, max-age=300")], CF, 10, None, None),
]


@pytest.mark.parametrize("status,headers,policy,ecmt,status_min_ttl,expected", STATUS_CASES)
def test_status_rules(status, headers, policy, ecmt, status_min_ttl, expected):
    decision = decide(headers, status=status, policy=policy, ecmt=ecmt, status_min_ttl=status_min_ttl)
    if expected is None:
        assert not decision, decision
    else:
        assert decision, decision
        assert decision.ttl == pytest.approx(expected)


def test_errors_not_stored_when_caching_disabled():
    assert not decide([], status=503, policy=DISABLED)


@pytest.mark.parametrize(
    "method,cached_methods,stored",
    [
        ("GET", frozenset({"GET", "HEAD"}), True),
        ("HEAD", frozenset({"GET", "HEAD"}), True),
        ("OPTIONS", frozenset({"GET", "HEAD"}), False),
        ("OPTIONS", frozenset({"GET", "HEAD", "OPTIONS"}), True),
        ("POST", frozenset({"GET", "HEAD", "OPTIONS"}), False),
        ("PUT", frozenset({"GET", "HEAD"}), False),
    ],
)
def test_only_get_head_and_optional_options(method, cached_methods, stored):
    decision = decide([("cache-control", "max-age=60")], method=method, cached_methods=cached_methods)
    assert bool(decision) is stored


def test_vary_star_is_not_stored():
    decision = decide([("cache-control", "max-age=60"), ("vary", "Accept, *")])
    assert not decision and "Vary" in decision.reason


def test_vary_names_are_recorded():
    decision = decide([("cache-control", "max-age=60"), ("vary", "Foo, bar"), ("vary", "FOO")])
    assert decision.vary == ("bar", "foo")


# --------------------------------------------------------------------------- age (RFC 9111 §4.2.3)


def test_corrected_initial_age_from_date_age_and_delay():
    # origin says Age 15; the request took 2 s; Date is 5 s before the response arrived
    headers = [("date", date(-5)), ("age", "15")]
    assert corrected_initial_age(headers, T0 - 2, T0) == pytest.approx(17)
    # apparent age wins when larger
    assert corrected_initial_age([("date", date(-100)), ("age", "3")], T0, T0) == pytest.approx(100)
    # a Date in the future never makes age negative
    assert corrected_initial_age([("date", date(+300))], T0, T0) == 0


@pytest.mark.parametrize(
    "lines,expected",
    [
        (["7200"], 7200),
        (["abc"], None),
        (["-7200"], None),
        (["7200.0"], None),
        (["7200,0"], 7200),
        (["0,7200"], 0),
        (["0, 0"], 0),
        (["7200", "0"], 7200),
        (["0", "7200"], 0),
        ([" 12 "], 12),
        ([], None),
    ],
)
def test_age_parsing(lines, expected):
    assert parse_age([("age", v) for v in lines]) == expected


def test_response_older_than_max_age_is_stored_stale():
    d = decide([("date", date()), ("cache-control", "max-age=10"), ("age", "15")], policy=RFC)
    stored = build_stored(d, b"x")
    assert not stored.is_fresh(T0)
    assert stored.age_header(T0) == "15"


def test_current_age_grows_with_resident_time():
    d = decide([("date", date(-2)), ("cache-control", "max-age=100")], request_time=T0 - 1, response_time=T0)
    stored = build_stored(d, b"body")
    assert stored.age(T0) == pytest.approx(2)
    assert stored.age(T0 + 50) == pytest.approx(52)
    assert stored.age_header(T0 + 50.9) == "52"
    assert stored.remaining_ttl(T0 + 50) == pytest.approx(48)
    assert stored.is_fresh(T0 + 97.9)
    assert not stored.is_fresh(T0 + 98)


# --------------------------------------------------------------------------- stale serving


def _stored(cc: str, policy=CF, status=200, extra=()):
    d = decide([("date", date()), ("cache-control", cc), *extra], policy=policy, status=status)
    assert d, d
    return build_stored(d, b"payload")


def test_stale_while_revalidate_window():
    s = _stored("max-age=10, stale-while-revalidate=30")
    assert s.stale_while_revalidate == 30
    assert not s.can_serve_stale_while_revalidate(T0 + 5)  # still fresh
    assert s.can_serve_stale_while_revalidate(T0 + 11)
    assert s.can_serve_stale_while_revalidate(T0 + 40)
    assert not s.can_serve_stale_while_revalidate(T0 + 41)


def test_stale_if_error_window_and_zero():
    s = _stored("max-age=10, stale-if-error=60")
    assert s.can_serve_stale_on_error(T0 + 70)
    assert not s.can_serve_stale_on_error(T0 + 71)
    zero = _stored("max-age=10, stale-if-error=0")
    assert not zero.can_serve_stale_on_error(T0 + 11)


def test_cloudfront_serves_stale_on_error_by_default():
    s = _stored("max-age=10")
    assert s.stale_if_error is None
    assert s.can_serve_stale_on_error(T0 + 5000)


@pytest.mark.parametrize("cc", ["max-age=2, must-revalidate", "max-age=2, proxy-revalidate", "s-maxage=2"])
def test_revalidate_directives_forbid_stale(cc):
    s = _stored(cc)
    assert s.must_revalidate
    assert not s.can_serve_stale_on_error(T0 + 3)
    assert not s.can_serve_stale_while_revalidate(T0 + 3)


def test_explicit_stale_if_error_overrides_must_revalidate():
    s = _stored("max-age=2, must-revalidate, stale-if-error=30")
    assert s.can_serve_stale_on_error(T0 + 10)


def test_no_cache_with_min_ttl_serves_stale_on_error_unless_zero():
    s = _stored("no-cache", policy=MIN60)
    assert s.ttl == 60 and s.can_serve_stale_on_error(T0 + 120)
    z = _stored("no-cache, stale-if-error=0", policy=MIN60)
    assert not z.can_serve_stale_on_error(T0 + 61)


def test_invalid_stale_windows_are_ignored():
    s = _stored("max-age=10, stale-while-revalidate=abc, stale-if-error=-1")
    assert s.stale_while_revalidate is None and s.stale_if_error is None


def test_ttl_zero_with_swr_is_stored_to_serve_stale():
    s = _stored("max-age=0, stale-while-revalidate=60", policy=RFC)
    assert not s.is_fresh(T0) and s.can_serve_stale_while_revalidate(T0 + 1)


def test_extended_object_is_fresh_again():
    s = _stored("max-age=10")
    later = s.extended(T0 + 100, 10)
    assert later.is_fresh(T0 + 109) and not later.is_fresh(T0 + 110)
    assert later.retain_until() >= T0 + 110
    assert s.ttl == 10  # the original is untouched


def test_retention_keeps_expired_objects_for_revalidation_and_errors():
    with_etag = _stored("max-age=10, must-revalidate", extra=[("etag", '"v1"')])
    assert with_etag.retain_until() == pytest.approx(T0 + 10 + STALE_RETENTION_S)
    no_validator = _stored("max-age=10, must-revalidate")
    assert no_validator.retain_until() == pytest.approx(T0 + 10)
    swr = _stored("max-age=10, must-revalidate, stale-while-revalidate=5")
    assert swr.retain_until() == pytest.approx(T0 + 15)


def test_already_stale_without_any_use_is_not_stored():
    d = decide([("date", date()), ("cache-control", "max-age=10, must-revalidate"), ("age", "20")])
    assert not d and "stale" in d.reason


# --------------------------------------------------------------------------- stored fields


def test_hop_by_hop_connection_listed_and_age_are_not_stored():
    d = decide(
        [
            ("cache-control", "max-age=60"),
            ("connection", "a, B"),
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("age", "3"),
            ("x-frame-options", "deny"),
        ]
    )
    names = [k for k, _ in d.headers]
    assert names == ["cache-control", "c", "x-frame-options"]


def test_qualified_no_cache_fields_are_not_stored():
    d = decide([("cache-control", 'no-cache="a, b"'), ("a", "1"), ("b", "2"), ("c", "3"), ("cache-control", "max-age=3600")])
    assert [k for k, _ in d.headers if k in "abc"] == ["c"]


COOKIES_ALL = OriginRequestPolicyConfig("all", cookies=Selection("all"))
COOKIES_NONE = OriginRequestPolicyConfig("none")


def test_set_cookie_stripped_when_no_cookie_is_forwarded():
    d = decide([("cache-control", "max-age=60"), ("set-cookie", "a=b")], orp=COOKIES_NONE)
    assert ("set-cookie", "a=b") not in d.headers


def test_set_cookie_stored_when_cookies_forwarded():
    d = decide([("cache-control", "max-age=60"), ("set-cookie", "a=b; Path=/")], orp=COOKIES_ALL)
    assert ("set-cookie", "a=b; Path=/") in d.headers
    # the default origin request policy (None) forwards all cookies
    assert ("set-cookie", "a=b") in decide([("cache-control", "max-age=60"), ("set-cookie", "a=b")]).headers


def test_no_cache_set_cookie_stores_response_without_it():
    d = decide([("cache-control", 'no-cache="Set-Cookie", max-age=60'), ("set-cookie", "a=b")], orp=COOKIES_ALL)
    assert d and d.ttl == 60
    assert all(k != "set-cookie" for k, _ in d.headers)


def test_whitelisted_cookies_only_their_set_cookie_is_stored():
    policy = CachePolicyConfig("p", cookies=Selection("whitelist", frozenset({"session"})))
    d = decide(
        [("cache-control", "max-age=60"), ("set-cookie", "session=1"), ("set-cookie", "tracker=2")],
        policy=policy,
        orp=COOKIES_NONE,
    )
    assert [v for k, v in d.headers if k == "set-cookie"] == ["session=1"]


def test_build_stored_sets_exact_content_length_and_keeps_head_framing():
    d = decide([("cache-control", "max-age=60"), ("content-length", "999")])
    assert build_stored(d, b"12345").header("content-length") == "5"
    head = decide([("cache-control", "max-age=60"), ("content-length", "999")], method="HEAD")
    stored = build_stored(head, b"ignored")
    assert stored.head_only and stored.body == b"" and stored.header("content-length") == "999"


def test_stored_response_is_immutable_and_sized():
    stored = build_stored(decide([("cache-control", "max-age=60")]), b"x" * 1000)
    with pytest.raises(AttributeError):
        stored.ttl = 5  # type: ignore[misc]
    assert stored.size > 1000
    assert isinstance(stored.headers, tuple)


# --------------------------------------------------------------------------- parsing


def test_cache_control_parsing_details():
    cc = parse_cache_control([("cache-control", 'Max-Age="60", no-cache="Set-Cookie, X-A", foo=bar, max-age=1'), ("cache-control", "PUBLIC")])
    assert cc.seconds("max-age") == 60
    assert cc.field_names("no-cache") == frozenset({"set-cookie", "x-a"})
    assert cc.value("foo") == "bar"
    assert cc.has("public")
    assert not cc.has("private")


def test_http_dates():
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777
    for bad in ("0", "", "yesterday", "Sun, 06 Nov 99999 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", None):
        assert parse_http_date(bad) is None


def test_vary_parsing():
    assert parse_vary([]) is None
    assert parse_vary([("vary", "*")]) == ("*",)
    assert parse_vary([("vary", " , ")]) is None


# --------------------------------------------------------------------------- malformed input never crashes

_PIECES = [
    "max-age", "s-maxage", "no-cache", "no-store", "private", "public", "must-revalidate",
    "stale-while-revalidate", "stale-if-error", "=", ",", ";", '"', "\\", " ", "\t", "-1",
    "99999999999999999999", "0", "1.5", "abc", "ü", "\x00", "=\"", "no-cache=\"", "W/", "*",
]


def _garbage(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) if rng.random() < 0.7 else chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(0, 12)))


def test_fuzzed_headers_never_crash():
    rng = random.Random(0)
    policies = [CF, RFC, MIN60]
    for i in range(400):
        headers = [
            ("cache-control", _garbage(rng)),
            ("expires", _garbage(rng)),
            ("age", _garbage(rng)),
            ("date", _garbage(rng) if i % 2 else date(rng.uniform(-1e6, 1e6))),
            ("vary", _garbage(rng)),
            ("set-cookie", _garbage(rng)),
            ("connection", _garbage(rng)),
        ]
        status = rng.choice([200, 203, 301, 302, 307, 404, 403, 500, 503, 599])
        decision = decide(headers, status=status, policy=rng.choice(policies))
        if decision:
            stored = build_stored(decision, b"body")
            now = T0 + rng.uniform(-10, 1e6)
            stored.is_fresh(now)
            stored.can_serve_stale_on_error(now)
            stored.can_serve_stale_while_revalidate(now)
            assert stored.age(now) >= 0
            assert int(stored.age_header(now)) >= 0
        else:
            assert isinstance(decision.reason, str)


# --------------------------------------------------------------------------- unsafe methods (RFC 9111 §4.4)


@pytest.mark.parametrize(
    "method,status,headers,path,invalidated",
    [
        ("POST", 200, [], "/a", True),
        ("POST", 200, [], "/a?v=1", True),  # every keyed query of the target
        ("PUT", 204, [], "/ab", False),
        ("DELETE", 301, [], "/a", True),
        ("M-SEARCH", 200, [], "/a", True),
        ("POST", 500, [], "/a", False),
        ("POST", 404, [], "/a", False),
        ("POST", 201, [("location", "/new")], "/new", True),
        ("POST", 201, [("location", "other")], "/dir/other", True),  # relative to the target
        ("POST", 201, [("content-location", "http://d111.cloudfront.net/cl")], "/cl", True),
        ("POST", 201, [("location", "http://elsewhere.example/x")], "/x", False),  # other host
        ("POST", 201, [("location", "http://[bad")], "/a", True),  # malformed Location ignored
    ],
)
def test_unsafe_methods_invalidate(method, status, headers, path, invalidated):
    uri = "/dir/a" if path.startswith("/dir/") else "/a"
    matcher = unsafe_invalidation(method, status, uri, "d111.cloudfront.net", headers)
    if matcher is None:
        assert not invalidated
    else:
        assert matcher(path) is invalidated


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
def test_safe_methods_invalidate_nothing(method):
    assert unsafe_invalidation(method, 200, "/a", None, []) is None


def test_other_inputs_never_crash():
    """Garbage in cookies, query strings, ranges and conditionals: values, not exceptions."""
    from edgeproxy.cache import cache_key, origin_query_string, origin_request_headers, parse_range, serve_range, viewer_not_modified
    from edgeproxy.config_types import Selection

    rng = random.Random(0)
    policy = CachePolicyConfig(
        "p", headers=("x-a",), cookies=Selection("all_except", frozenset({"z"})), query_strings=Selection("whitelist", frozenset({"a"}))
    )
    for _ in range(300):
        headers = [
            ("cookie", _garbage(rng)),
            ("x-a", _garbage(rng)),
            ("accept-encoding", _garbage(rng)),
            ("if-none-match", _garbage(rng)),
            ("if-modified-since", _garbage(rng)),
            ("range", "bytes=" + _garbage(rng)),
            ("if-range", _garbage(rng)),
        ]
        qs = _garbage(rng)
        cache_key("GET", "/x", qs, headers, policy, compress=True)
        origin_request_headers(policy, None, headers, compress=True)
        origin_query_string(policy, None, qs)
        parse_range(_garbage(rng), rng.randrange(0, 100))
        serve_range("GET", headers, 200, [("etag", _garbage(rng)), ("last-modified", _garbage(rng))], b"x" * 50)
        viewer_not_modified("GET", headers, [("etag", _garbage(rng)), ("last-modified", _garbage(rng))])
