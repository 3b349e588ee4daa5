"""Cache key, what the origin receives, Vary secondary keys, collapsing (spec §7, §10)."""

from __future__ import annotations

import pytest

from edgeproxy.cache import (
    cache_key,
    collapsing_allowed,
    forwards_cookies,
    normalise_accept_encoding,
    origin_query_string,
    origin_request_headers,
    parse_cookies,
    strip_set_cookie,
    variant_key,
    vary_for_viewer,
)
from edgeproxy.config_types import CachePolicyConfig, OriginRequestPolicyConfig, Selection

PLAIN = CachePolicyConfig("plain")
NO_ORP = OriginRequestPolicyConfig("none")  # forwards nothing beyond the key


def key(method="GET", uri="/a", qs="", headers=(), policy=PLAIN, compress=False):
    return cache_key(method, uri, qs, list(headers), policy, compress=compress)


# --------------------------------------------------------------------------- the key


def test_default_key_is_method_class_and_path():
    assert key("GET").primary == key("HEAD").primary
    assert key("OPTIONS").primary != key("GET").primary
    assert key(uri="/a").primary != key(uri="/b").primary
    assert key(uri="/a").primary != key(uri="/A").primary  # case-sensitive
    # nothing else is keyed by default
    assert key(qs="x=1", headers=[("accept", "a"), ("cookie", "s=1")]).primary == key().primary
    assert key(qs="x=1").path == "/a"


@pytest.mark.parametrize(
    "selection,a,b,same",
    [
        (Selection("all"), "a=1&b=2", "a=1&b=2", True),
        (Selection("all"), "a=1&b=2", "b=2&a=1", False),  # CloudFront: order matters
        (Selection("all"), "a=1", "A=1", False),  # case matters
        (Selection("whitelist", frozenset({"a"})), "a=1&b=2", "a=1&b=3", True),
        (Selection("whitelist", frozenset({"a"})), "a=1", "a=2", False),
        (Selection("all_except", frozenset({"utm"})), "a=1&utm=x", "a=1&utm=y", True),
        (Selection("all_except", frozenset({"utm"})), "a=1&utm=x", "a=2&utm=x", False),
        (Selection("none"), "a=1", "a=2", True),
    ],
)
def test_query_strings_in_key(selection, a, b, same):
    policy = CachePolicyConfig("q", query_strings=selection)
    assert (key(qs=a, policy=policy).primary == key(qs=b, policy=policy).primary) is same


def test_invalidation_path_includes_keyed_query():
    policy = CachePolicyConfig("q", query_strings=Selection("whitelist", frozenset({"v"})))
    assert key(uri="/img.jpg", qs="x=1&v=2&y", policy=policy).path == "/img.jpg?v=2"
    assert key(uri="/img.jpg", qs="x=1", policy=policy).path == "/img.jpg"


def test_headers_in_key_by_name_with_full_value():
    policy = CachePolicyConfig("h", headers=("accept-language",))
    en = key(headers=[("accept-language", "en-US,en;q=0.5")], policy=policy)
    assert en.primary == key(headers=[("accept-language", "en-US,en;q=0.5"), ("accept", "x")], policy=policy).primary
    assert en.primary != key(headers=[("accept-language", "en-US,en;q=0.4")], policy=policy).primary
    assert en.primary != key(headers=[], policy=policy).primary
    assert key(headers=[], policy=policy).primary != key(headers=[("accept-language", "")], policy=policy).primary


@pytest.mark.parametrize(
    "selection,a,b,same",
    [
        (Selection("all"), "a=1; b=2", "b=2;a=1", True),  # sorted by name, whitespace ignored
        (Selection("all"), "a=1", "a=2", False),
        (Selection("whitelist", frozenset({"s"})), "s=1; t=2", "t=3; s=1", True),
        (Selection("whitelist", frozenset({"s"})), "s=1", "S=1", False),  # case-sensitive names
        (Selection("all_except", frozenset({"t"})), "s=1; t=2", "s=1; t=9", True),
        (Selection("none"), "s=1", "s=2", True),
    ],
)
def test_cookies_in_key(selection, a, b, same):
    policy = CachePolicyConfig("c", cookies=selection)
    ka = key(headers=[("cookie", a)], policy=policy).primary
    kb = key(headers=[("cookie", b)], policy=policy).primary
    assert (ka == kb) is same


def test_cookie_parsing_is_split_then_first_equals():
    headers = [("cookie", 'a=1; b="x=y"; ;flag; =novalue; c=;  d = 4 '), ("cookie", "e=5")]
    assert parse_cookies(headers) == [("a", "1"), ("b", '"x=y"'), ("flag", None), ("c", ""), ("d", "4"), ("e", "5")]


@pytest.mark.parametrize(
    "value,expected",
    [
        ("gzip, deflate, br", "br,gzip"),
        ("br;q=0.1, gzip;q=1.0", "br,gzip"),
        ("gzip", "gzip"),
        ("BR", "br"),
        ("gzip;q=0, br", "br"),
        ("deflate, identity", ""),
        ("", ""),
        ("gzip;q=abc", "gzip"),
        ("*", ""),
    ],
)
def test_accept_encoding_normalisation(value, expected):
    assert normalise_accept_encoding(value) == expected


def test_compressing_behavior_keys_on_normalised_accept_encoding():
    a = key(headers=[("accept-encoding", "gzip, deflate, br")], compress=True)
    b = key(headers=[("accept-encoding", "br,gzip")], compress=True)
    c = key(headers=[("accept-encoding", "gzip")], compress=True)
    none = key(headers=[("accept-encoding", "deflate")], compress=True)
    absent = key(headers=[], compress=True)
    assert a.primary == b.primary != c.primary
    assert none.primary == absent.primary == key().primary
    assert a.accept_encoding == "br,gzip" and none.accept_encoding == ""
    # HTTP/1.0: CloudFront removes Accept-Encoding
    assert key(headers=[("accept-encoding", "gzip")], compress=True).primary != key().primary
    http10 = cache_key("GET", "/a", "", [("accept-encoding", "gzip")], PLAIN, compress=True, http_version="1.0")
    assert http10.primary == key().primary and http10.accept_encoding == ""
    assert origin_request_headers(PLAIN, None, [("accept-encoding", "gzip")], compress=True, http_version="1.0") == []
    # without compression the header is not keyed
    assert key(headers=[("accept-encoding", "gzip")]).primary == key().primary


# --------------------------------------------------------------------------- what the origin gets


VIEWER = [
    ("host", "d111.cloudfront.net"),
    ("user-agent", "curl"),
    ("accept", "*/*"),
    ("cookie", "z=26; a=1"),
    ("accept-encoding", "gzip, deflate"),
    ("x-custom", "v"),
    ("cookie", "m=13"),
]


def test_default_origin_request_policy_forwards_all_but_host():
    out = origin_request_headers(PLAIN, None, VIEWER)
    assert out == [
        ("user-agent", "curl"),
        ("accept", "*/*"),
        ("cookie", "a=1; m=13; z=26"),
        ("accept-encoding", "gzip, deflate"),  # compression off: like any other header
        ("x-custom", "v"),
    ]
    compressing = origin_request_headers(PLAIN, None, VIEWER, compress=True)
    assert ("accept-encoding", "gzip") in compressing


def test_only_the_key_goes_to_origin_with_an_empty_origin_request_policy():
    policy = CachePolicyConfig(
        "p", headers=("x-custom",), cookies=Selection("whitelist", frozenset({"m"}))
    )
    assert origin_request_headers(policy, NO_ORP, VIEWER) == [("cookie", "m=13"), ("x-custom", "v")]
    assert origin_request_headers(PLAIN, NO_ORP, VIEWER) == []


def test_origin_request_policy_adds_without_keying():
    orp = OriginRequestPolicyConfig(
        "o", headers=Selection("whitelist", frozenset({"accept"})), cookies=Selection("all_except", frozenset({"z"}))
    )
    assert origin_request_headers(PLAIN, orp, VIEWER) == [("accept", "*/*"), ("cookie", "a=1; m=13")]
    assert key(headers=VIEWER).primary == key().primary


def test_compressing_behavior_always_sends_normalised_accept_encoding():
    assert ("accept-encoding", "br,gzip") in origin_request_headers(PLAIN, NO_ORP, [("accept-encoding", "br, gzip, zstd")], compress=True)
    assert origin_request_headers(PLAIN, NO_ORP, [("accept-encoding", "deflate")], compress=True) == [("accept-encoding", "identity")]
    assert origin_request_headers(PLAIN, NO_ORP, [("accept", "x")], compress=True) == []


@pytest.mark.parametrize(
    "policy_qs,orp_qs,raw,expected",
    [
        (Selection("none"), Selection("none"), "a=1&b=2", ""),
        (Selection("all"), Selection("none"), "b=%20x&a=1&&c", "b=%20x&a=1&&c"),  # byte-exact
        (Selection("whitelist", frozenset({"a"})), Selection("none"), "b=2&a=1&a=3", "a=1&a=3"),
        (Selection("whitelist", frozenset({"a"})), Selection("whitelist", frozenset({"c"})), "c=3&b=2&a=1", "c=3&a=1"),
        (Selection("none"), Selection("all_except", frozenset({"b"})), "b=2&a=%41+b&b", "a=%41+b"),
        (Selection("whitelist", frozenset({"a b"})), Selection("none"), "a+b=1&x=2", "a+b=1"),  # decoded name matches
        (Selection("none"), Selection("all"), "", ""),
    ],
)
def test_origin_query_string(policy_qs, orp_qs, raw, expected):
    policy = CachePolicyConfig("p", query_strings=policy_qs)
    orp = OriginRequestPolicyConfig("o", query_strings=orp_qs)
    assert origin_query_string(policy, orp, raw) == expected


def test_default_origin_request_policy_forwards_the_whole_query():
    assert origin_query_string(PLAIN, None, "z=1&a=2") == "z=1&a=2"


# --------------------------------------------------------------------------- cookies and collapsing


def test_set_cookie_stripping_and_forwarding_flag():
    assert strip_set_cookie([("set-cookie", "a=1"), ("x", "y"), ("set-cookie", "b=2")]) == [("x", "y")]
    assert forwards_cookies(PLAIN, None) is True  # default policy forwards all cookies
    assert forwards_cookies(PLAIN, NO_ORP) is False
    assert forwards_cookies(CachePolicyConfig("c", cookies=Selection("whitelist", frozenset({"s"}))), NO_ORP) is True


def test_collapsing_rules():
    assert collapsing_allowed(PLAIN, NO_ORP) is True
    assert collapsing_allowed(PLAIN, None) is True  # the local forward-all default does not count
    assert collapsing_allowed(CachePolicyConfig("off", default_ttl=0, max_ttl=0), NO_ORP) is False
    assert collapsing_allowed(CachePolicyConfig("c", cookies=Selection("all")), NO_ORP) is False
    assert collapsing_allowed(PLAIN, OriginRequestPolicyConfig("o", cookies=Selection("whitelist", frozenset({"s"})))) is False
    assert collapsing_allowed(PLAIN, OriginRequestPolicyConfig("o", headers=Selection("all_viewer"))) is False
    assert collapsing_allowed(PLAIN, OriginRequestPolicyConfig("o", headers=Selection("whitelist", frozenset({"x"})))) is True


def test_vary_to_viewer_keeps_accept_encoding_cookie_and_forwarded_names():
    headers = [("vary", "Accept-Encoding, X-Device, Origin"), ("vary", "User-Agent"), ("x", "1")]
    policy = CachePolicyConfig("p", headers=("x-device",))
    assert vary_for_viewer(headers, policy, NO_ORP) == [("vary", "Accept-Encoding, X-Device"), ("x", "1")]
    assert vary_for_viewer(headers, policy, None) == headers  # all viewer headers forwarded


# --------------------------------------------------------------------------- Vary secondary key


@pytest.mark.parametrize(
    "vary,a,b,same",
    [
        (("foo",), [("foo", "1")], [("foo", "1"), ("other", "x")], True),
        (("foo",), [("foo", "1")], [("foo", "2")], False),
        (("foo",), [("foo", "1")], [], False),
        (("bar", "foo"), [("foo", "1")], [("foo", "1")], True),  # both omit bar
        (("bar", "foo"), [("foo", "1"), ("bar", "abc4")], [("foo", "1"), ("bar", "abc")], False),
        (("foo",), [("foo", "1,2")], [("foo", " 1, 2 ")], True),
        (("foo",), [("foo", "1, 2")], [("foo", "1"), ("foo", "2")], True),
        (("foo",), [("foo", "")], [], False),
        (("accept-encoding",), [("accept-encoding", "gzip, deflate")], [("accept-encoding", "gzip,  deflate")], True),
        (("accept-encoding",), [("accept-encoding", "gzip, deflate")], [("accept-encoding", "gzip")], False),
    ],
)
def test_variant_key(vary, a, b, same):
    assert (variant_key(vary, a) == variant_key(vary, b)) is same


def test_variant_key_uses_normalised_accept_encoding_when_compressing():
    a = [("accept-encoding", "gzip, deflate")]
    assert variant_key(("accept-encoding",), a, compress=True) == variant_key(("accept-encoding",), [("accept-encoding", "gzip")], compress=True)
    assert variant_key(("accept-encoding",), a, compress=True) != variant_key(("accept-encoding",), [("accept-encoding", "br")], compress=True)


def test_no_vary_means_one_variant():
    assert variant_key(None, [("foo", "1")]) == variant_key(None, []) == ""
