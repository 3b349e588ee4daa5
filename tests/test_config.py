"""The config loader: every key parsed to its typed value, every problem named by key and line."""

from __future__ import annotations

import pickle
from pathlib import Path
from textwrap import dedent

import pytest

from edgeproxy.config import find_config, load_config, load_config_text, packaged_default_path
from edgeproxy.config_types import (
    ALL,
    ALL_METHODS,
    DEFAULT_FAILOVER,
    NONE,
    AdminConfig,
    BehaviorConfig,
    CacheConfig,
    CustomErrorResponse,
    RuntimeConfig,
    Selection,
    ServerConfig,
)
from edgeproxy.errors import ConfigError, ConfigProblem
from edgeproxy.types import Stage
from edgeproxy.managed_policies import (
    DEFAULT_ORIGIN_REQUEST_POLICY,
    MANAGED_CACHE_POLICIES,
    MANAGED_ORIGIN_REQUEST_POLICIES,
)

SOURCE = Path("/srv/edge/edge.toml")
ORIGIN = '[origins.app]\nurl = "http://127.0.0.1:9000"\n'  # two lines, prepended where noted


def toml(text: str) -> str:
    return dedent(text).lstrip("\n")


def load(text: str, source: Path = SOURCE):
    return load_config_text(toml(text), source)


def problems(text: str, source: Path = SOURCE) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load(text, source)
    return info.value.problems


# -- bad configs: (id, toml, key, line, fragment of the message) ---------------------------------

BAD = [
    # top level and simple sections
    ("unknown-top", ORIGIN + "[sever]\nport = 1\n", "sever", 3, "unknown key 'sever'; did you mean 'server'?"),
    ("section-not-table", "server = 5\n" + ORIGIN, "server", 1, "[server] must be a table, got integer 5"),
    ("bool-is-not-int", ORIGIN + "[server]\nport = true\n", "server.port", 4, "expected an integer, got boolean true"),
    ("port-range", ORIGIN + "[server]\nport = 70000\n", "server.port", 4, "must be between 0 and 65535, got 70000"),
    ("server-unknown", ORIGIN + "[server]\nhots = 'x'\n", "server.hots", 4, "did you mean 'host'?"),
    ("empty-domain", ORIGIN + "[server]\ndomain_name = ''\n", "server.domain_name", 4, "may not be empty"),
    ("admin-token", ORIGIN + "[admin]\nhost = '0.0.0.0'\n", "admin.token", 3, "a token is required"),
    ("admin-token-name", ORIGIN + "[admin]\nhost = 'example.com'\nport = 9\n", "admin.token", 3, "not a loopback"),
    ("cache-object", ORIGIN + "[cache]\nmax_bytes = 100\nmax_object_bytes = 200\n", "cache.max_object_bytes", 5,
     "must not exceed max_bytes (100), got 200"),
    ("cache-zero", ORIGIN + "[cache]\nmax_bytes = 0\n", "cache.max_bytes", 4, "must be at least 1, got 0"),
    ("cache-float", ORIGIN + "[cache]\nmax_bytes = 1.5\n", "cache.max_bytes", 4, "expected an integer, got float 1.5"),
    ("runtime-idle", ORIGIN + "[runtime]\nidle_timeout_s = 0\n", "runtime.idle_timeout_s", 4, "must be greater than 0"),
    ("runtime-workers", ORIGIN + "[runtime]\nmax_workers = -1\n", "runtime.max_workers", 4, "must be at least 0"),
    ("runtime-logs", ORIGIN + "[runtime]\nfunction_logs = 5\n", "runtime.function_logs", 4, "expected a string"),
    # origins
    ("no-origins", "[server]\nport = 1\n", "origins", None, "no origins configured"),
    ("origin-not-table", "[origins]\napp = 5\n", "origins.app", 2, "expected a table [origins.app]"),
    ("url-scheme", "[origins.app]\nurl = 'ftp://x'\n", "origins.app.url", 2, "must be an http:// or https:// URL"),
    ("url-query", "[origins.app]\nurl = 'http://x/?a=1'\n", "origins.app.url", 2, "query string"),
    ("url-nohost", "[origins.app]\nurl = 'http://'\n", "origins.app.url", 2, "has no host"),
    ("url-port", "[origins.app]\nurl = 'http://h:99999'\n", "origins.app.url", 2, "is not a valid URL"),
    ("url-userinfo", "[origins.app]\nurl = 'http://u:p@h'\n", "origins.app.url", 2, "user:password@"),
    ("url-builtin", "[origins.app]\nurl = 'builtin:nope'\n", "origins.app.url", 2, "unknown built-in origin"),
    ("url-type", "[origins.app]\nurl = 80\n", "origins.app.url", 2, "expected a string, got integer 80"),
    ("url-and-s3", "[origins.app]\nurl = 'http://x'\ns3 = 'b.s3.amazonaws.com'\n", "origins.app", 1,
     "has both 'url' and 's3'"),
    ("neither", "[origins.app]\nread_timeout_s = 5\n", "origins.app", 1, "has neither 'url' nor 's3'"),
    ("connect-range", ORIGIN + "connect_timeout_s = 11\n", "origins.app.connect_timeout_s", 3,
     "must be between 1 and 10 seconds (CloudFront's range), got 11"),
    ("connect-low", ORIGIN + "connect_timeout_s = 0.5\n", "origins.app.connect_timeout_s", 3, "got 0.5"),
    ("read-range", ORIGIN + "read_timeout_s = 61\n", "origins.app.read_timeout_s", 3, "between 1 and 60"),
    ("read-bool", ORIGIN + "read_timeout_s = false\n", "origins.app.read_timeout_s", 3, "expected a number, got boolean false"),
    ("attempts-range", ORIGIN + "connection_attempts = 4\n", "origins.app.connection_attempts", 3, "between 1 and 3"),
    ("attempts-float", ORIGIN + "connection_attempts = 2.0\n", "origins.app.connection_attempts", 3, "expected an integer"),
    ("keepalive", ORIGIN + "keepalive_timeout_s = 0\n", "origins.app.keepalive_timeout_s", 3, "between 1 and 60"),
    ("forward-host", ORIGIN + "forward_host = 'yes'\n", "origins.app.forward_host", 3, "expected true or false"),
    ("origin-typo", ORIGIN + "conect_timeout_s = 5\n", "origins.app.conect_timeout_s", 3,
     "did you mean 'connect_timeout_s'?"),
    ("header-denied", ORIGIN + "custom_headers = { Host = 'x' }\n", "origins.app.custom_headers.Host", 3,
     "can't add 'Host'"),
    ("header-amz", ORIGIN + "[origins.app.custom_headers]\nX-Amz-Date = 'x'\n", "origins.app.custom_headers.X-Amz-Date", 4,
     "can't add"),
    ("header-value", ORIGIN + "custom_headers = { X-A = 1 }\n", "origins.app.custom_headers.X-A", 3, "expected a string value"),
    ("header-name", ORIGIN + "custom_headers = { 'X A' = '1' }\n", 'origins.app.custom_headers."X A"', 3,
     "is not a valid header name"),
    ("headers-type", ORIGIN + "custom_headers = ['x']\n", "origins.app.custom_headers", 3, "expected a table"),
    ("s3-url", "[origins.site]\ns3 = 'https://b.s3.amazonaws.com'\n", "origins.site.s3", 2, "the bucket's domain name"),
    ("s3-case", "[origins.site]\ns3 = 'My.s3.amazonaws.com'\n", "origins.site.s3", 2, "lowercase"),
    ("s3-host", "[origins.site]\ns3 = 'b.s3.amazonaws.com'\nforward_host = true\n", "origins.site.forward_host", 3,
     "custom origins only"),
    ("region-custom", ORIGIN + "s3_region = 'us-east-1'\n", "origins.app.s3_region", 3, "S3 origins only"),
    # origin groups
    ("group-name", ORIGIN + "[origins.b]\nurl = 'http://b'\n[origin_groups.app]\nmembers = ['app', 'b']\n",
     "origin_groups.app", 5, "'app' is already an origin"),
    ("group-size", ORIGIN + "[origin_groups.g]\nmembers = ['app']\n", "origin_groups.g.members", 4,
     "exactly 2 members (primary, secondary), got 1"),
    ("group-unknown", ORIGIN + "[origin_groups.g]\nmembers = ['app', 'ap']\n", "origin_groups.g.members[1]", 4,
     "unknown origin 'ap'; did you mean 'app'?"),
    ("group-member-group",
     ORIGIN + "[origins.b]\nurl = 'http://b'\n[origin_groups.g]\nmembers = ['app', 'b']\n"
     "[origin_groups.h]\nmembers = ['g', 'b']\n",
     "origin_groups.h.members[0]", 8, "'g' is an origin group; members must be origins"),
    ("group-twice", ORIGIN + "[origin_groups.g]\nmembers = ['app', 'app']\n", "origin_groups.g.members", 4,
     "must differ"),
    ("group-missing", ORIGIN + "[origin_groups.g]\nfailover_status = [500]\n", "origin_groups.g", 3,
     "missing required key 'members'"),
    ("failover-code", ORIGIN + "[origins.b]\nurl = 'http://b'\n[origin_groups.g]\nmembers = ['app', 'b']\n"
     "failover_status = [500,\n  501]\n", "origin_groups.g.failover_status[1]", 8,
     "fails over only on 400 403 404 416 500 502 503 504; got 501"),
    ("failover-empty", ORIGIN + "[origins.b]\nurl = 'http://b'\n[origin_groups.g]\nmembers = ['app', 'b']\n"
     "failover_status = []\n", "origin_groups.g.failover_status", 7, "at least one"),
    # cache policies
    ("ttl-min-default", ORIGIN + "[cache_policies.p]\nmin_ttl = 10\ndefault_ttl = 5\n", "cache_policies.p.default_ttl", 5,
     "default_ttl (5) is less than min_ttl (10)"),
    ("ttl-min-max", ORIGIN + "[cache_policies.p]\nmin_ttl = 10\nmax_ttl = 5\n", "cache_policies.p.max_ttl", 5,
     "max_ttl (5) is less than min_ttl (10)"),
    ("ttl-default-max", ORIGIN + "[cache_policies.p]\ndefault_ttl = 10\nmax_ttl = 5\n", "cache_policies.p.max_ttl", 5,
     "max_ttl (5) is less than default_ttl (10)"),
    ("ttl-negative", ORIGIN + "[cache_policies.p]\nmin_ttl = -1\n", "cache_policies.p.min_ttl", 4, "at least 0"),
    ("ttl-type", ORIGIN + "[cache_policies.p]\nmax_ttl = '1d'\n", "cache_policies.p.max_ttl", 4, "expected a number"),
    ("cp-headers-string", ORIGIN + "[cache_policies.p]\nheaders = 'all'\n", "cache_policies.p.headers", 4,
     "a list of header names"),
    ("cp-header-name", ORIGIN + "[cache_policies.p]\nheaders = ['ok', 'not ok']\n", "cache_policies.p.headers[1]", 4,
     "is not a valid header name"),
    ("cp-cookies-word", ORIGIN + "[cache_policies.p]\ncookies = 'al'\n", "cache_policies.p.cookies", 4,
     "did you mean 'all'?"),
    ("cp-cookies-viewer", ORIGIN + "[cache_policies.p]\ncookies = 'all_viewer'\n", "cache_policies.p.cookies", 4,
     'expected "none" | "all" | [names] | { all_except = [names] }'),
    ("cp-all-except-type", ORIGIN + "[cache_policies.p]\ncookies = { all_except = 'a' }\n",
     "cache_policies.p.cookies.all_except", 4, "expected an array of names"),
    ("cp-inline-unknown", ORIGIN + "[cache_policies.p]\nquery_strings = { only = ['a'] }\n",
     "cache_policies.p.query_strings.only", 4, "unknown key 'only'"),
    ("cp-qs-item", ORIGIN + "[cache_policies.p]\nquery_strings = [1]\n", "cache_policies.p.query_strings[0]", 4,
     "expected a non-empty name, got integer 1"),
    ("cp-managed-name", ORIGIN + "[cache_policies.Managed-Mine]\nmin_ttl = 1\n", "cache_policies.Managed-Mine", 3,
     "starting with 'Managed-'"),
    ("cp-typo", ORIGIN + "[cache_policies.p]\nmax_tll = 1\n", "cache_policies.p.max_tll", 4, "did you mean 'max_ttl'?"),
    # origin request policies
    ("orp-all", ORIGIN + "[origin_request_policies.o]\nheaders = 'all'\n", "origin_request_policies.o.headers", 4,
     "did you mean 'all_viewer'?"),
    ("orp-authorization", ORIGIN + "[origin_request_policies.o]\nheaders = ['Authorization']\n",
     "origin_request_policies.o.headers", 4, "can't forward Authorization alone"),
    ("orp-managed", ORIGIN + "[origin_request_policies.Managed-AllViewer]\n", "origin_request_policies.Managed-AllViewer",
     3, "starting with 'Managed-'"),
    ("orp-type", ORIGIN + "[origin_request_policies.o]\nquery_strings = true\n",
     "origin_request_policies.o.query_strings", 4, "got boolean true"),
    # functions
    ("fn-no-handler", ORIGIN + "[functions.auth]\nmemory_mb = 128\n", "functions.auth", 3, "missing required key 'handler'"),
    ("fn-handler-form", ORIGIN + "[functions.auth]\nhandler = 'hooks/auth.py'\n", "functions.auth.handler", 4,
     "expected 'path/to/file.py:function' or 'module:function'"),
    ("fn-handler-attr", ORIGIN + "[functions.auth]\nhandler = 'auth.py:1x'\n", "functions.auth.handler", 4,
     "'1x' is not a Python attribute name"),
    ("fn-handler-module", ORIGIN + "[functions.auth]\nhandler = 'my-hooks/auth:handler'\n", "functions.auth.handler", 4,
     "neither a .py file nor a module name"),
    ("fn-memory", ORIGIN + "[functions.auth]\nhandler = 'a:h'\nmemory_mb = 64\n", "functions.auth.memory_mb", 5,
     "between 128 and 10240"),
    ("fn-memory-float", ORIGIN + "[functions.auth]\nhandler = 'a:h'\nmemory_mb = 128.0\n", "functions.auth.memory_mb", 5,
     "expected an integer"),
    ("fn-timeout-max", ORIGIN + "[functions.auth]\nhandler = 'a:h'\ntimeout_s = 31\n", "functions.auth.timeout_s", 5,
     "at most 30"),
    ("fn-timeout-zero", ORIGIN + "[functions.auth]\nhandler = 'a:h'\ntimeout_s = 0\n", "functions.auth.timeout_s", 5,
     "greater than 0"),
    ("fn-reserved", ORIGIN + "[functions.auth]\nhandler = 'a:h'\nreserved_concurrency = -1\n",
     "functions.auth.reserved_concurrency", 5, "at least 0"),
    ("fn-provisioned", ORIGIN + "[functions.auth]\nhandler = 'a:h'\nreserved_concurrency = 1\nprovisioned_concurrency = 2\n",
     "functions.auth.provisioned_concurrency", 6, "exceeds reserved_concurrency (1)"),
    ("fn-body", ORIGIN + "[functions.auth]\nhandler = 'a:h'\ninclude_body = 'true'\n", "functions.auth.include_body", 5,
     "expected true or false"),
    ("fn-layers", ORIGIN + "[functions.auth]\nhandler = 'a:h'\nlayers = 'lib'\n", "functions.auth.layers", 5,
     "expected an array of strings"),
    ("fn-name", ORIGIN + "[functions.'my func']\nhandler = 'a:h'\n", 'functions."my func"', 3,
     "may hold only letters, digits"),
    ("fn-typo", ORIGIN + "[functions.auth]\nhandler = 'a:h'\nmemory = 128\n", "functions.auth.memory", 5,
     "did you mean 'memory_mb'?"),
    # s3 buckets
    ("bucket-type", ORIGIN + "[s3_buckets]\n'b.s3.amazonaws.com' = 1\n", 's3_buckets."b.s3.amazonaws.com"', 4,
     "expected a folder path or an http(s) URL"),
    ("bucket-url", ORIGIN + "[s3_buckets]\n'b.s3.amazonaws.com' = 'ftp://x'\n", 's3_buckets."b.s3.amazonaws.com"', 4,
     "is not an http:// or https:// URL"),
    # behaviors
    ("behaviors-table", ORIGIN + "[behaviors]\norigin = 'app'\n", "behaviors", 3, "write each one as [[behaviors]]"),
    ("b-no-pattern", ORIGIN + "[[behaviors]]\norigin = 'app'\n", "behaviors[0]", 3, "missing required key 'path_pattern'"),
    ("b-empty-pattern", ORIGIN + "[[behaviors]]\npath_pattern = ''\norigin = 'app'\n", "behaviors[0].path_pattern", 4,
     "may not be empty"),
    ("b-long-pattern", ORIGIN + f"[[behaviors]]\npath_pattern = '/{'a' * 255}'\norigin = 'app'\n",
     "behaviors[0].path_pattern", 4, "is 256 characters long; CloudFront allows at most 255"),
    ("b-pattern-chars", ORIGIN + "[[behaviors]]\npath_pattern = '/a b/%'\norigin = 'app'\n", "behaviors[0].path_pattern", 4,
     "contains ' ', '%'"),
    ("b-dup-pattern", ORIGIN + "[[behaviors]]\npath_pattern = '/a/*'\norigin = 'app'\n"
     "[[behaviors]]\npath_pattern = 'a/*'\norigin = 'app'\n", "behaviors[1].path_pattern", 7,
     "already used by behaviors[0]"),
    ("b-no-origin", ORIGIN + "[[behaviors]]\npath_pattern = '/a'\n", "behaviors[0]", 3, "missing required key 'origin'"),
    ("b-origin", ORIGIN + "[[behaviors]]\npath_pattern = '/a'\norigin = 'ap'\n", "behaviors[0].origin", 5,
     "unknown origin or origin group 'ap'; did you mean 'app'?"),
    ("b-cache-policy", ORIGIN + "[default_behavior]\norigin = 'app'\ncache_policy = 'Managed-CachingOptimised'\n",
     "default_behavior.cache_policy", 5, "did you mean 'Managed-CachingOptimized'?"),
    ("b-orp", ORIGIN + "[default_behavior]\norigin = 'app'\norigin_request_policy = 'Managed-AllViewers'\n",
     "default_behavior.origin_request_policy", 5, "unknown origin request policy 'Managed-AllViewers'"),
    ("b-method-case", ORIGIN + "[default_behavior]\norigin = 'app'\nallowed_methods = ['get', 'HEAD']\n",
     "default_behavior.allowed_methods[0]", 5, "did you mean 'GET'?"),
    ("b-method-unknown", ORIGIN + "[default_behavior]\norigin = 'app'\nallowed_methods = ['GET', 'HEAD', 'TRACE']\n",
     "default_behavior.allowed_methods[2]", 5, "'TRACE' is not one of"),
    ("b-method-head", ORIGIN + "[default_behavior]\norigin = 'app'\nallowed_methods = ['GET', 'POST']\n",
     "default_behavior.allowed_methods", 5, "must include GET and HEAD"),
    ("b-cached-post", ORIGIN + "[default_behavior]\norigin = 'app'\ncached_methods = ['GET', 'HEAD', 'POST']\n",
     "default_behavior.cached_methods[2]", 5, "'POST' is not one of GET, HEAD, OPTIONS"),
    ("b-cached-options", ORIGIN + "[default_behavior]\norigin = 'app'\nallowed_methods = ['GET', 'HEAD']\n"
     "cached_methods = ['GET', 'HEAD', 'OPTIONS']\n", "default_behavior.cached_methods", 6,
     "OPTIONS is cached but not in allowed_methods"),
    ("b-compress", ORIGIN + "[default_behavior]\norigin = 'app'\ncompress = 1\n", "default_behavior.compress", 5,
     "expected true or false, got integer 1"),
    ("b-error-ttl", ORIGIN + "[default_behavior]\norigin = 'app'\nerror_caching_min_ttl = -5\n",
     "default_behavior.error_caching_min_ttl", 5, "at least 0"),
    ("b-default-pattern", ORIGIN + "[default_behavior]\norigin = 'app'\npath_pattern = '/x'\n",
     "default_behavior.path_pattern", 5, "always '*'"),
    ("b-typo", ORIGIN + "[default_behavior]\norigin = 'app'\nviewer_requests = 'x'\n", "default_behavior.viewer_requests", 5,
     "did you mean 'viewer_request'?"),
    ("b-unknown-function", ORIGIN + "[default_behavior]\norigin = 'app'\nviewer_request = 'auth'\n",
     "default_behavior.viewer_request", 5, "unknown function 'auth'"),
    ("default-missing", ORIGIN + "[origins.b]\nurl = 'http://b'\n", "default_behavior", None, "missing [default_behavior]"),
    ("default-not-table", "default_behavior = 'app'\n" + ORIGIN, "default_behavior", 1, "must be a table"),
    # custom error responses (inline tables, on one line or several)
    ("cer-status", ORIGIN + "[default_behavior]\norigin = 'app'\ncustom_error_responses = [\n"
     "  { status = 404, page = '/404.html', response_code = 404 },\n  { status = 200 },\n]\n",
     "default_behavior.custom_error_responses[1].status", 7, "customizes only 400 403 404 405 414 416 500 501 502 503 504"),
    ("cer-missing-status", ORIGIN + "[default_behavior]\norigin = 'app'\ncustom_error_responses = [{ min_ttl = 1 }]\n",
     "default_behavior.custom_error_responses[0]", 5, "missing required key 'status'"),
    ("cer-page", ORIGIN + "[default_behavior]\norigin = 'app'\n"
     "custom_error_responses = [{ status = 404, page = '404.html', response_code = 404 }]\n",
     "default_behavior.custom_error_responses[0].page", 5, "must be a path starting with '/'"),
    ("cer-pair", ORIGIN + "[default_behavior]\norigin = 'app'\ncustom_error_responses = [{ status = 404, page = '/e' }]\n",
     "default_behavior.custom_error_responses[0]", 5, "page and response_code go together"),
    ("cer-code", ORIGIN + "[default_behavior]\norigin = 'app'\n"
     "custom_error_responses = [{ status = 404, page = '/e', response_code = 302 }]\n",
     "default_behavior.custom_error_responses[0].response_code", 5, "must be 200 or one of"),
    ("cer-dup", ORIGIN + "[default_behavior]\norigin = 'app'\ncustom_error_responses = [{ status = 404 },\n"
     "  { status = 404 }]\n", "default_behavior.custom_error_responses[1].status", 6, "already has a custom error response"),
    ("cer-ttl", ORIGIN + "[default_behavior]\norigin = 'app'\ncustom_error_responses = [{ status = 500, min_ttl = -1 }]\n",
     "default_behavior.custom_error_responses[0].min_ttl", 5, "at least 0"),
    ("cer-unknown", ORIGIN + "[default_behavior]\norigin = 'app'\ncustom_error_responses = [{ status = 500, ttl = 1 }]\n",
     "default_behavior.custom_error_responses[0].ttl", 5, "did you mean 'min_ttl'?"),
    ("cer-type", ORIGIN + "[default_behavior]\norigin = 'app'\ncustom_error_responses = { status = 500 }\n",
     "default_behavior.custom_error_responses", 5, "expected an array of tables"),
    ("cer-array-of-tables", ORIGIN + "[[behaviors]]\npath_pattern = '/a'\norigin = 'app'\n"
     "[[behaviors.custom_error_responses]]\nstatus = 404\n[[behaviors.custom_error_responses]]\nstatus = 999\n",
     "behaviors[0].custom_error_responses[1].status", 9, "got 999"),
]


@pytest.mark.parametrize(("text", "key", "line", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_config_names_key_line_and_reason(text: str, key: str, line: int | None, fragment: str) -> None:
    found = problems(text)
    matching = [p for p in found if p.key == key]
    assert matching, f"no problem at {key!r}; got {[str(p) for p in found]}"
    assert any(fragment in p.message for p in matching), [p.message for p in matching]
    assert all(p.line == line for p in matching), [(p.line, p.message) for p in matching]
    assert all(p.file == str(SOURCE) for p in found)


def test_all_problems_are_reported_at_once_in_file_order() -> None:
    found = problems(
        """
        [server]
        port = "80"
        [origins.app]
        url = "gopher://x"
        read_timeout_s = 99
        [default_behavior]
        origin = "nope"
        """
    )
    assert [(p.key, p.line) for p in found] == [
        ("server.port", 2),
        ("origins.app.url", 4),
        ("origins.app.read_timeout_s", 5),
        ("default_behavior.origin", 7),
    ]
    text = str(ConfigError(found))
    assert "/srv/edge/edge.toml:2: server.port: expected an integer" in text


def test_malformed_toml_is_one_problem_with_tomllib_line() -> None:
    found = problems('[origins.app]\nurl = "http://x"\nport = = 3\n')
    assert len(found) == 1
    assert found[0].line == 3 and found[0].key == "" and "invalid TOML" in found[0].message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


# -- association limits (spec §10) ----------------------------------------------------------------

FUNCS = ORIGIN + toml(
    """
    [functions.slow]
    handler = "hooks/slow.py:handler"
    timeout_s = 10
    [functions.big]
    handler = "hooks/big.py:handler"
    memory_mb = 256
    [functions.ok]
    handler = "hooks/ok.py:handler"
    timeout_s = 5
    """
)  # functions end on line 11


@pytest.mark.parametrize("stage", ["viewer_request", "viewer_response"])
def test_viewer_stage_rejects_long_timeout(stage: str) -> None:
    found = problems(FUNCS + f'[[behaviors]]\npath_pattern = "/x"\norigin = "app"\n{stage} = "slow"\n')
    event = stage.replace("_", "-")
    assert [(p.key, p.line, p.message) for p in found] == [
        (
            f"behaviors[0].{stage}",
            15,
            f"function 'slow' has timeout_s = 10; {event} functions allow at most 5 "
            "(CloudFront rejects the association: InvalidLambdaFunctionAssociation)",
        )
    ]


@pytest.mark.parametrize("stage", ["viewer_request", "viewer_response"])
def test_viewer_stage_requires_128_mb(stage: str) -> None:
    found = problems(FUNCS + f'[default_behavior]\norigin = "app"\n{stage} = "big"\n')
    assert [(p.key, p.line) for p in found] == [(f"default_behavior.{stage}", 14)]
    assert "memory_mb = 256" in found[0].message and "exactly 128" in found[0].message


def test_origin_stages_accept_what_viewer_stages_reject() -> None:
    config = load(
        FUNCS
        + toml(
            """
            [default_behavior]
            origin = "app"
            origin_request = "slow"
            origin_response = "big"
            viewer_request = "ok"
            viewer_response = "ok"
            """
        )
    )
    default = config.behaviors[-1]
    assert (default.viewer_request, default.origin_request, default.origin_response, default.viewer_response) == (
        "ok", "slow", "big", "ok",
    )
    assert config.functions["slow"].timeout_s == 10.0
    assert config.functions["big"].timeout_s is None  # the stage decides: 5 at viewer, 30 at origin stages
    assert config.functions["big"].timeout_for(Stage.ORIGIN_RESPONSE) == 30.0


def test_one_function_bound_to_both_kinds_of_stage_is_rejected_only_at_the_viewer_one() -> None:
    found = problems(FUNCS + '[default_behavior]\norigin = "app"\norigin_request = "big"\nviewer_response = "big"\n')
    assert [p.key for p in found] == ["default_behavior.viewer_response"]


# -- good configs -------------------------------------------------------------------------------

FULL = """
[server]
host = "0.0.0.0"
port = 8443
domain_name = "d2222.cloudfront.net"
distribution_id = "E2EXAMPLE"
pop = "FRA56-P1"

[admin]
host = "::1"
port = 9902
token = ""

[cache]
max_bytes = 1000000
max_object_bytes = 5000

[runtime]
max_workers = 4
idle_timeout_s = 2.5
function_logs = "logs/fn"

[origins.app]
url = "http://127.0.0.1:9000/base/"
connect_timeout_s = 2
read_timeout_s = 4.5
connection_attempts = 3
keepalive_timeout_s = 7
forward_host = true
custom_headers = { "X-Origin-Verify" = "s3cret", "X-Env" = "test" }

[origins.backup]
url = "https://backup.example"

[origins.v6]
url = "http://[::1]:8081"

[origins.site]
s3 = "my-bucket.s3.amazonaws.com"
s3_region = "eu-west-1"

[origins.remote]
s3 = "other.s3.amazonaws.com"

[origin_groups.ha]
members = ["app", "backup"]
failover_status = [404, 503]

[origin_groups.ha_default]
members = ["backup", "app"]

[s3_buckets]
"my-bucket.s3.amazonaws.com" = "site"
"other.s3.amazonaws.com" = "http://127.0.0.1:9999/"

[cache_policies.short]
min_ttl = 1
default_ttl = 60
max_ttl = 600
headers = ["Accept-Language", "X-Device", "accept-language"]
cookies = ["session", "Theme"]
query_strings = { all_except = ["utm_source"] }

[cache_policies.defaults]

[origin_request_policies.fwd]
headers = "all_viewer_except_host"
cookies = { all_except = ["tracking"] }
query_strings = ["page"]

[origin_request_policies.some]
headers = ["X-Custom", "Referer"]

[functions.auth]
handler = "hooks/auth.py:handler"
memory_mb = 128
timeout_s = 3
reserved_concurrency = 4
provisioned_concurrency = 2
include_body = true
layers = ["layers/common", "/opt/python"]

[functions.router]
handler = "my_pkg.hooks:Router.handle"
memory_mb = 1024
timeout_s = 30

[[behaviors]]
path_pattern = "/api/*"
origin = "ha"
cache_policy = "short"
origin_request_policy = "fwd"
allowed_methods = ["GET", "HEAD", "POST"]
cached_methods = ["GET", "HEAD"]
compress = true
error_caching_min_ttl = 0
custom_error_responses = [
  { status = 404, page = "/errors/404.html", response_code = 200, min_ttl = 30 },
  { status = 503 },
]
viewer_request = "auth"
origin_request = "router"
origin_response = "router"
viewer_response = "auth"

[[behaviors]]
path_pattern = "static/*.css"
origin = "site"
cache_policy = "Managed-CachingOptimized"
origin_request_policy = "Managed-CORS-S3Origin"
allowed_methods = ["GET", "HEAD", "OPTIONS"]
cached_methods = ["GET", "HEAD", "OPTIONS"]

[default_behavior]
origin = "app"
"""


@pytest.fixture
def full(tmp_path: Path):
    (tmp_path / "site").mkdir()
    path = tmp_path / "edge.toml"
    path.write_text(FULL)
    return load_config(path), tmp_path


def test_full_config_sections(full) -> None:
    config, folder = full
    assert config.source == folder / "edge.toml"
    assert config.server == ServerConfig("0.0.0.0", 8443, "d2222.cloudfront.net", "E2EXAMPLE", "FRA56-P1")
    assert config.admin == AdminConfig("::1", 9902, "")  # loopback: no token needed
    assert config.cache == CacheConfig(1000000, 5000)
    assert config.runtime == RuntimeConfig(4, 2.5, (folder / "logs/fn").resolve())
    assert config.warnings == ()


def test_full_config_origins(full) -> None:
    config, _ = full
    app = config.origins["app"]
    assert (app.scheme, app.host, app.port, app.path) == ("http", "127.0.0.1", 9000, "/base")
    assert app.url == "http://127.0.0.1:9000/base/"
    assert (app.connect_timeout_s, app.read_timeout_s, app.connection_attempts, app.keepalive_timeout_s) == (2, 4.5, 3, 7)
    assert isinstance(app.connection_attempts, int) and isinstance(app.read_timeout_s, float)
    assert app.forward_host is True
    assert app.custom_headers == (("x-origin-verify", "s3cret"), ("x-env", "test"))
    backup = config.origins["backup"]
    assert (backup.scheme, backup.host, backup.port, backup.path) == ("https", "backup.example", 443, "")
    assert backup.connection_attempts == 1 and backup.connect_timeout_s == 10 and backup.read_timeout_s == 30
    v6 = config.origins["v6"]
    assert (v6.host, v6.port) == ("::1", 8081)
    site = config.origins["site"]
    assert site.is_s3 and (site.s3, site.s3_region, site.url) == ("my-bucket.s3.amazonaws.com", "eu-west-1", "")
    assert not app.is_s3


def test_full_config_groups_and_buckets(full) -> None:
    config, folder = full
    assert config.origin_groups["ha"].members == ("app", "backup")
    assert config.origin_groups["ha"].failover_status == frozenset({404, 503})
    assert config.origin_groups["ha_default"].failover_status == DEFAULT_FAILOVER == frozenset({500, 502, 503, 504})
    assert config.s3_buckets == {
        "my-bucket.s3.amazonaws.com": str((folder / "site").resolve()),
        "other.s3.amazonaws.com": "http://127.0.0.1:9999",
    }


def test_full_config_policies(full) -> None:
    config, _ = full
    short = config.cache_policies["short"]
    assert (short.min_ttl, short.default_ttl, short.max_ttl) == (1, 60, 600)
    assert short.headers == ("accept-language", "x-device")  # lowercased, deduplicated, in order
    assert short.cookies == Selection("whitelist", frozenset({"session", "Theme"}))  # cookie names keep case
    assert short.query_strings == Selection("all_except", frozenset({"utm_source"}))
    defaults = config.cache_policies["defaults"]
    assert (defaults.min_ttl, defaults.default_ttl, defaults.max_ttl) == (0, 86400, 31536000)
    assert defaults.headers == () and defaults.cookies == NONE and defaults.query_strings == NONE
    fwd = config.origin_request_policies["fwd"]
    assert fwd.headers == Selection("all_viewer_except_host")
    assert fwd.cookies == Selection("all_except", frozenset({"tracking"}))
    assert fwd.query_strings == Selection("whitelist", frozenset({"page"}))
    some = config.origin_request_policies["some"]
    assert some.headers == Selection("whitelist", frozenset({"x-custom", "referer"}))
    assert some.cookies == NONE and some.query_strings == NONE
    # managed policies are there too, user ones beside them
    assert set(MANAGED_CACHE_POLICIES) <= set(config.cache_policies)
    assert set(MANAGED_ORIGIN_REQUEST_POLICIES) <= set(config.origin_request_policies)


def test_full_config_functions(full) -> None:
    config, folder = full
    auth = config.functions["auth"]
    assert auth.handler == "hooks/auth.py:handler"  # as written; resolved against base_dir later
    assert auth.base_dir == folder.resolve()
    assert (auth.memory_mb, auth.timeout_s, auth.reserved_concurrency, auth.provisioned_concurrency) == (128, 3, 4, 2)
    assert auth.include_body is True
    assert auth.layers == ((folder / "layers/common").resolve(), Path("/opt/python"))
    router = config.functions["router"]
    assert router.handler == "my_pkg.hooks:Router.handle"
    assert (router.memory_mb, router.timeout_s, router.reserved_concurrency, router.provisioned_concurrency) == (
        1024, 30, None, 0,
    )
    assert router.include_body is False and router.layers == ()


def test_full_config_behaviors(full) -> None:
    config, _ = full
    api, css, default = config.behaviors
    assert api == BehaviorConfig(
        path_pattern="/api/*",
        origin="ha",
        cache_policy="short",
        origin_request_policy="fwd",
        allowed_methods=frozenset({"GET", "HEAD", "POST"}),
        cached_methods=frozenset({"GET", "HEAD"}),
        compress=True,
        error_caching_min_ttl=0.0,
        custom_error_responses=(
            CustomErrorResponse(404, "/errors/404.html", 200, 30.0),
            CustomErrorResponse(503, None, None, None),
        ),
        viewer_request="auth",
        origin_request="router",
        origin_response="router",
        viewer_response="auth",
    )
    assert css.path_pattern == "static/*.css"
    assert css.origin_request_policy == "Managed-CORS-S3Origin"
    assert css.cached_methods == frozenset({"GET", "HEAD", "OPTIONS"})
    assert default == BehaviorConfig(path_pattern="*", origin="app")


def test_defaults_of_a_minimal_config() -> None:
    config = load('[origins.app]\nurl = "http://localhost:3000"\n[default_behavior]\norigin = "app"\n')
    assert config.server == ServerConfig()
    assert config.admin is None
    assert config.cache == CacheConfig()
    assert config.runtime == RuntimeConfig()
    assert config.origin_groups == {} and config.functions == {} and config.s3_buckets == {}
    (default,) = config.behaviors
    assert default.path_pattern == "*"
    assert default.cache_policy == "Managed-CachingDisabled"
    assert default.origin_request_policy is None
    assert default.allowed_methods == frozenset(ALL_METHODS)
    assert default.cached_methods == frozenset({"GET", "HEAD"})
    assert default.compress is False and default.error_caching_min_ttl == 10.0
    assert default.custom_error_responses == ()
    assert all(default.function_for(stage) is None for stage in Stage)


def test_one_origin_may_omit_the_default_behavior() -> None:
    config = load('[origins.only]\nurl = "http://127.0.0.1:1"\n[[behaviors]]\npath_pattern = "/a"\norigin = "only"\n')
    assert [(b.path_pattern, b.origin) for b in config.behaviors] == [("/a", "only"), ("*", "only")]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, (0, 86400, 31536000)),
        ({"min_ttl": 100000}, (100000, 100000, 31536000)),
        ({"min_ttl": 40000000}, (40000000, 40000000, 40000000)),
        ({"default_ttl": 40000000}, (0, 40000000, 40000000)),
        ({"default_ttl": 0}, (0, 0, 31536000)),
        ({"max_ttl": 3600}, (0, 3600, 3600)),
        ({"max_ttl": 0}, (0, 0, 0)),
        ({"min_ttl": 5, "max_ttl": 10}, (5, 10, 10)),
        ({"min_ttl": 0.5, "default_ttl": 1.5}, (0.5, 1.5, 31536000)),
    ],
)
def test_cache_policy_ttl_defaults_follow_the_cloudfront_api(given: dict, expected: tuple) -> None:
    body = "".join(f"{k} = {v}\n" for k, v in given.items())
    config = load(ORIGIN + "[cache_policies.p]\n" + body)
    p = config.cache_policies["p"]
    assert (p.min_ttl, p.default_ttl, p.max_ttl) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"none"', NONE),
        ('"all"', ALL),
        ("[]", NONE),
        ('["a", "b"]', Selection("whitelist", frozenset({"a", "b"}))),
        ('{ all_except = ["x"] }', Selection("all_except", frozenset({"x"}))),
    ],
)
def test_cookie_and_query_string_selections(value: str, expected: Selection) -> None:
    config = load(ORIGIN + f"[cache_policies.p]\ncookies = {value}\nquery_strings = {value}\n")
    assert config.cache_policies["p"].cookies == expected
    assert config.cache_policies["p"].query_strings == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"none"', NONE),
        ('"all_viewer"', Selection("all_viewer")),
        ('"all_viewer_except_host"', Selection("all_viewer_except_host")),
        ('["Origin", "X-A"]', Selection("whitelist", frozenset({"origin", "x-a"}))),
        ('{ all_except = ["Cookie"] }', Selection("all_except", frozenset({"cookie"}))),
    ],
)
def test_origin_request_policy_header_selections(value: str, expected: Selection) -> None:
    config = load(ORIGIN + f"[origin_request_policies.o]\nheaders = {value}\n")
    assert config.origin_request_policies["o"].headers == expected


def test_loopback_admin_hosts_need_no_token() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
        assert load(ORIGIN + f'[admin]\nhost = "{host}"\n').admin == AdminConfig(host, 9901, "")
    assert load(ORIGIN + '[admin]\nhost = "0.0.0.0"\ntoken = "t"\n').admin == AdminConfig("0.0.0.0", 9901, "t")


def test_unmapped_s3_bucket_is_a_warning_not_an_error() -> None:
    config = load('[origins.site]\ns3 = "b.s3.amazonaws.com"\n')
    (warning,) = config.warnings
    assert (warning.key, warning.line) == ("origins.site.s3", 2)
    assert "no entry in [s3_buckets]" in warning.message and "502" in warning.message


def test_max_object_bytes_follows_a_small_max_bytes() -> None:
    assert load(ORIGIN + "[cache]\nmax_bytes = 1000\n").cache == CacheConfig(1000, 1000)


def test_config_is_picklable(full) -> None:
    config, _ = full
    assert pickle.loads(pickle.dumps(config)) == config


def test_relative_paths_without_a_source_resolve_against_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config_text(ORIGIN + '[functions.f]\nhandler = "f.py:h"\n', None)
    assert config.functions["f"].base_dir == tmp_path.resolve()
    with pytest.raises(ConfigError) as info:
        load_config_text("[sever]\n", None)
    assert info.value.problems[0].file == "<config>"


# -- managed policies -----------------------------------------------------------------------------


def test_managed_cache_policies_have_cloudfronts_values() -> None:
    def ttls(name: str) -> tuple[float, float, float]:
        p = MANAGED_CACHE_POLICIES[name]
        return p.min_ttl, p.default_ttl, p.max_ttl

    assert ttls("Managed-CachingOptimized") == (1, 86400, 31536000)
    assert ttls("Managed-CachingOptimizedForUncompressedObjects") == (1, 86400, 31536000)
    assert ttls("Managed-CachingDisabled") == (0, 0, 0)
    assert MANAGED_CACHE_POLICIES["Managed-CachingDisabled"].caching_disabled
    for name in ("Managed-CachingOptimized", "Managed-CachingDisabled"):
        p = MANAGED_CACHE_POLICIES[name]
        assert p.headers == () and p.cookies == NONE and p.query_strings == NONE
    assert all(name == p.name and name.startswith("Managed-") for name, p in MANAGED_CACHE_POLICIES.items())


def test_managed_origin_request_policies_have_cloudfronts_values() -> None:
    m = MANAGED_ORIGIN_REQUEST_POLICIES
    assert (m["Managed-AllViewer"].headers, m["Managed-AllViewer"].cookies, m["Managed-AllViewer"].query_strings) == (
        Selection("all_viewer"), ALL, ALL,
    )
    host = m["Managed-AllViewerExceptHostHeader"]
    assert (host.headers, host.cookies, host.query_strings) == (Selection("all_viewer_except_host"), ALL, ALL)
    assert not host.headers.includes("host") and host.headers.includes("accept")
    cors = m["Managed-CORS-S3Origin"]
    assert cors.headers == Selection(
        "whitelist", frozenset({"origin", "access-control-request-headers", "access-control-request-method"})
    )
    assert cors.cookies == NONE and cors.query_strings == NONE
    ua = m["Managed-UserAgentRefererHeaders"]
    assert ua.headers == Selection("whitelist", frozenset({"user-agent", "referer"}))
    assert ua.cookies == NONE and ua.query_strings == NONE  # CloudFront's guide: no query strings, no cookies
    assert all(name == p.name for name, p in m.items())


def test_default_origin_request_policy_forwards_all_but_host() -> None:
    p = DEFAULT_ORIGIN_REQUEST_POLICY
    assert p.headers == Selection("all_viewer_except_host") and p.cookies == ALL and p.query_strings == ALL


# -- finding configs --------------------------------------------------------------------------


def test_packaged_default_loads_and_serves_the_demo() -> None:
    path = packaged_default_path()
    assert path.name == "default.toml" and path.is_file()
    config = load_config(path)
    assert config.origins["demo"].scheme == "builtin" and config.origins["demo"].url == "builtin:demo"
    (default,) = config.behaviors
    assert (default.origin, default.cache_policy) == ("demo", "Managed-CachingOptimized")
    assert config.functions == {} and config.warnings == ()


def test_find_config_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config(None) == packaged_default_path()
    (tmp_path / "config.example.toml").write_text(ORIGIN)
    assert find_config(None) == tmp_path / "config.example.toml"
    explicit = tmp_path / "other.toml"
    assert find_config(explicit) == explicit


EXAMPLES = sorted(Path(__file__).resolve().parent.parent.glob("config.example*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_configs_load_without_errors(path: Path) -> None:
    config = load_config(path)
    assert config.behaviors[-1].path_pattern == "*"


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + ORIGIN.encode())
    assert load_config(path).origins["app"].port == 9000


def test_lines_stay_right_after_multiline_strings_comments_and_inline_tables() -> None:
    found = problems(
        """
        # [origins.fake] in a comment
        [admin]
        token = '''
        [not_a_table]
        "quoted" = 1
        '''
        [origins.app]
        url = "http://127.0.0.1:9000"
        custom_headers = { "X-A" = "a}", "X-B" = 'b' }
        [[behaviors]]
        path_pattern = "/a"  # [[behaviors]] in a comment
        origin = "app"
        [[behaviors]]
        path_pattern = '/b'
        origin = 'app'
        allowed_methods = [
          "GET",  # a comment in an array
          "HEAD",
          "BREW",
        ]
        """
    )
    assert [(p.key, p.line) for p in found] == [("behaviors[1].allowed_methods[2]", 19)]
