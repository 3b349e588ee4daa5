"""CloudFront's rules for what a Lambda@Edge function may return (spec §3, §4, §5, §10).

`events.py` reads the shapes (request, generated response, response, origin) and calls the checks
here; every failed check raises `HookInvalidResult` (502 LambdaValidationError). Each error
carries two texts, because CloudFront shows two:

- `message`: the precise rule and header, as CloudFront's CloudWatch log line does, e.g.
  `Lambda function result failed validation, the function tried to delete read-only header,
  headerName : Transfer-Encoding.` — for the function's log and `edgeproxy invoke`;
- `sentence`: the short sentence of CloudFront's HTML error page, e.g. `The Lambda function
  result failed validation: The function tried to add, delete, or change a read-only header.`

Everything here is pure and runs on the hot path of every hooked request: no copies beyond
the values being read, and precompiled patterns.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Container

from edgeproxy.errors import HookInvalidResult
from edgeproxy.headers import READ_ONLY, VIEWER_COUNTRY, is_disallowed, title_case
from edgeproxy.types import HeaderList, Stage

# Error-page sentences (spec §4, observed).
FAILED = "The Lambda function result failed validation: The function returned an invalid {what}."
READ_ONLY_SENTENCE = (
    "The Lambda function result failed validation: "
    "The function tried to add, delete, or change a read-only header."
)
BLACKLISTED_SENTENCE = (
    "The Lambda function result failed validation: The function tried to add a blacklisted header."
)
INVALID_JSON = "The Lambda function returned invalid JSON: The JSON output must be an object type."
ORIGIN_SENTENCE = "The Lambda function returned an invalid origin configuration: The value of {field} is invalid."
# Observed for bad origin custom headers.
ORIGIN_HEADERS_SENTENCE = (
    "The Lambda function returned an invalid origin configuration: "
    "One or more HeaderName or HeaderValue values are invalid."
)

_PREFIX = "Lambda function result failed validation, "

# Spec §4: URI + query string together must stay under 8,192 characters.
MAX_URL_CHARS = 8192


def invalid(message: str, sentence: str) -> HookInvalidResult:
    """A `HookInvalidResult` whose log text is `message` and whose error page says `sentence`.

    `errors.error_sentence` formats `sentence` with the message; braces are escaped so a
    function's own text can never break that formatting.
    """
    error = HookInvalidResult(message)
    error.sentence = sentence.replace("{", "{{").replace("}", "}}")
    return error


def fail(detail: str, what: str) -> HookInvalidResult:
    """A validation failure: `detail` completes the log line, `what` names the bad part."""
    return invalid(_PREFIX + detail, FAILED.format(what=what))


def not_an_object() -> HookInvalidResult:
    """The function returned something other than a JSON object (None, a list, a string…)."""
    return invalid(INVALID_JSON, INVALID_JSON)


def origin_fail(field: str, detail: str) -> HookInvalidResult:
    """An invalid `origin` field; CloudFront's observed wording names the field in PascalCase."""
    sentence = ORIGIN_SENTENCE.format(field=field)
    return invalid(f"{sentence} {detail}".rstrip(), sentence)


def _pct(char: str) -> str:
    return "".join(f"%{b:02X}" for b in char.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Headers

# RFC 9110 §5.6.2 token characters: a header name is one or more of these.
_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters other than HTAB are not allowed in a field value (RFC 9110 §5.5); CloudFront
# rejects CR and LF (observed); all of them would break the response we write.
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def check_header_value(value: object, display: str) -> str:
    """A header value as CloudFront accepts it: a string without control characters."""
    if not isinstance(value, str):
        raise invalid(
            "The Lambda function returned an invalid entry in the headers object, header values "
            f"must be strings, headerName : {display} has an entry whose value is {_json_type(value)}.",
            FAILED.format(what="header value"),
        )
    bad = _BAD_VALUE_RE.search(value)
    if bad is not None:
        # Observed wording (CloudWatch, 2022).
        raise invalid(
            "Lambda function result validation failed, the function returned an invalid header, "
            f"invalid character : '{_pct(bad.group())}' in header value, headerName : {display}.",
            FAILED.format(what="header value"),
        )
    return value


# Header names already checked (raw spelling → lowercase). Bounded: names come from functions
# and viewers, and must not grow memory without limit.
_NAMES: dict[str, str] = {}
_NAMES_MAX = 4096


def _header_name(raw_name: object, field: str) -> str:
    name = _NAMES.get(raw_name) if type(raw_name) is str else None
    if name is not None:
        return name
    if type(raw_name) is not str or _NAME_RE.fullmatch(raw_name) is None:
        raise fail(f"invalid header name : '{raw_name}' in {field}.", "header name")
    name = raw_name.lower()
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[raw_name] = name
    return name


def display_name(keys: dict[str, str], name: str) -> str:
    """How an error names header `name`: the function's own `key`, else Title-Case."""
    return keys.get(name) or title_case(name)


def parse_header_map(obj: object, field: str = "headers") -> tuple[dict[str, list[str]], dict[str, str]]:
    """Read a CloudFront header map: `{lowercase-name: [{"key": "Name", "value": "v"}, …]}`.

    Returns (name → values in order, name → the function's `key` where it gave one). Rules:
    - the map is an object; each entry a list of objects with a string `value`;
    - `key` is optional (CloudFront fills it Title-Cased) and, when given, a string. The map name
      decides which header it is: AWS's own "Override a response header" example copies an entry
      keyed `X-Amz-Meta-Last-Modified` under `last-modified`, so a differing key is not an error
      (the key only carries the spelling, which `HeaderList` does not keep). Map names are
      lowercased: real functions write `headers['X-Frame-Options']` and work on CloudFront;
    - names must be HTTP tokens; values strings without CR/LF or other control characters;
    - an empty list means the header is absent.
    """
    if not isinstance(obj, dict):
        raise fail(f"the {field} field must be an object, got {_json_type(obj)}.", field)
    values: dict[str, list[str]] = {}
    keys: dict[str, str] = {}
    for raw_name, entries in obj.items():
        name = _header_name(raw_name, field)
        if type(entries) is not list and not isinstance(entries, (list, tuple)):
            raise fail(
                f"the value of a header must be an array, got {_json_type(entries)}, "
                f"headerName : {title_case(name)}.",
                "header",
            )
        if not entries:
            continue
        out = values.get(name)
        if out is None:
            out = values[name] = []
        for entry in entries:
            if type(entry) is not dict and not isinstance(entry, dict):
                raise fail(
                    f"each header entry must be an object with key and value, got {_json_type(entry)}, "
                    f"headerName : {title_case(name)}.",
                    "header",
                )
            key = entry.get("key")
            if key is not None:
                if type(key) is not str:
                    raise fail(
                        f"header keys must be strings, got {_json_type(key)}, headerName : {title_case(name)}.",
                        "header",
                    )
                if name not in keys and key.lower() == name:
                    keys[name] = key
            try:
                value = entry["value"]
            except KeyError:
                raise fail(
                    f"the header has no value, headerName : {display_name(keys, name)}.", "header value"
                ) from None
            # Fast path: printable ASCII needs no further look.
            if type(value) is not str or not (value.isascii() and value.isprintable()):
                value = check_header_value(value, display_name(keys, name))
            out.append(value)
    return values, keys


# Names whose values before and after a hook must be compared: the read-only ones, plus
# CloudFront-Viewer-Country at viewer-request (adding it fails; it is RW once present).
WATCHED: dict[Stage, frozenset[str]] = {
    stage: names | {VIEWER_COUNTRY} if stage is Stage.VIEWER_REQUEST else names
    for stage, names in READ_ONLY.items()
}


def check_header_rules(
    stage: Stage,
    values: dict[str, list[str]],
    keys: dict[str, str],
    before: dict[str, list[str]],
    *,
    generated: bool = False,
) -> None:
    """Disallowed and read-only rules for headers a function returned (spec §4, §10).

    `before` holds the values the event showed for the `WATCHED[stage]` names (absent = not
    shown; a generated response starts from none). A disallowed name is never shown, so any
    value for one is an addition. A read-only header added, changed or deleted fails — deletion
    too (observed; the docs say only add/edit). Values compare as multisets: reordering
    duplicates is no change. The CloudFront-Viewer-Country rule is about the request, so it does
    not apply to a `generated` response.
    """
    for name in values:
        if is_disallowed(name):
            raise invalid(
                _PREFIX + f"the function tried to add a blacklisted header, headerName : {display_name(keys, name)}.",
                BLACKLISTED_SENTENCE,
            )
    read_only = READ_ONLY[stage]
    for name in read_only:
        old = before.get(name)
        new = values.get(name)
        if old == new or (old is not None and new is not None and sorted(old) == sorted(new)):
            continue
        if old is None:
            verb, display = "add", display_name(keys, name)
        elif new is None:
            verb, display = "delete", title_case(name)
        else:
            verb, display = "change", display_name(keys, name)
        raise invalid(
            _PREFIX + f"the function tried to {verb} read-only header, headerName : {display}.",
            READ_ONLY_SENTENCE,
        )
    if (
        not generated
        and stage is Stage.VIEWER_REQUEST
        and VIEWER_COUNTRY in values
        and VIEWER_COUNTRY not in before
    ):
        raise invalid(
            _PREFIX
            + f"the function tried to add read-only header, headerName : {display_name(keys, VIEWER_COUNTRY)}.",
            READ_ONLY_SENTENCE,
        )


def headers_size(headers: HeaderList) -> int:
    """Bytes the headers take on the wire (`Name: value\\r\\n`), for the size limits."""
    return sum(len(name) + len(value) + 4 for name, value in headers)


# --------------------------------------------------------------------------------------------
# Status, body, request line


def parse_status(value: object, *, unchanged: int | None = None) -> int:
    """A status a function returned: an int, or a string of digits (AWS's own samples use ints).

    It must be 200–599, unless it is the `unchanged` status the event showed (an origin's odd
    status handed back as it came is not the function's doing).
    """
    status: int | None = None
    if type(value) is int:
        status = value
    elif type(value) is str and value.isascii() and value.isdigit():
        status = int(value)
    elif type(value) is float and value.is_integer():
        status = int(value)
    if status is None:
        raise fail(f"the status must be a number or a numeric string, got {value!r}.", "status")
    if not 200 <= status <= 599 and status != unchanged:
        raise fail(f"the status must be between 200 and 599, got {status}.", "status")
    return status


def parse_status_description(value: object) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise fail(f"the statusDescription must be a string, got {_json_type(value)}.", "statusDescription")
    bad = _BAD_VALUE_RE.search(value)
    if bad is not None:
        raise fail(f"invalid character : '{_pct(bad.group())}' in statusDescription.", "statusDescription")
    return value


def decode_body(data: object, encoding: object, *, field: str, encoding_field: str) -> bytes:
    """A body a function returned: text (sent as UTF-8) or base64 (decoded; invalid → error)."""
    if data is None:
        return b""
    if type(data) is not str:
        raise fail(f"the {field} must be a string, got {_json_type(data)}.", "body")
    if encoding is None or encoding == "text":
        return data.encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise fail(f"the {field} is not valid base64 ({exc}).", "body") from exc
    raise fail(f"the {encoding_field} must be text or base64, got {encoding!r}.", "body encoding")


def check_response_size(stage: Stage, headers: HeaderList, body: bytes, limit: int, what: str) -> None:
    """Headers + body of a generated or replaced response stay within the stage's limit (§5)."""
    size = headers_size(headers) + len(body)
    if size > limit:
        raise fail(
            f"the {what} is {size} bytes (headers and body), over the {limit}-byte limit at {stage.value}.",
            "body size",
        )


_URI_BAD_RE = re.compile(r"[\x00-\x20\x7f]")
_QUERY_BAD_RE = re.compile(r"[\x00-\x20\x7f#]")


def check_uri(value: object) -> str:
    """`uri` must be a string starting with `/`, with no spaces or control characters."""
    if type(value) is not str:
        raise fail(f"the uri must be a string, got {_json_type(value)}.", "uri")
    if not value.startswith("/"):
        raise fail(f"the uri must begin with a slash, uri : '{value[:200]}'.", "uri")
    bad = _URI_BAD_RE.search(value)
    if bad is not None:
        raise fail(f"invalid character : '{_pct(bad.group())}' in uri.", "uri")
    return value


def check_querystring(value: object) -> str:
    """`querystring`: no spaces, control characters or `#` (spec §4)."""
    if value is None:
        return ""
    if type(value) is not str:
        raise fail(f"the querystring must be a string, got {_json_type(value)}.", "querystring")
    bad = _QUERY_BAD_RE.search(value)
    if bad is not None:
        raise fail(f"invalid character : '{_pct(bad.group())}' in querystring.", "querystring")
    return value


def check_url_length(uri: str, querystring: str) -> None:
    size = len(uri) + (len(querystring) + 1 if querystring else 0)
    if size >= MAX_URL_CHARS:
        raise fail(f"the uri and querystring are {size} characters, the limit is {MAX_URL_CHARS - 1}.", "uri")


def check_read_only_field(field: str, new: object, old: str) -> None:
    """`method` and `clientIp` are read-only: a different value fails validation."""
    if new != old:
        raise fail(f"the function tried to change read-only field {field} : '{old}' -> '{new}'.", field)


# --------------------------------------------------------------------------------------------
# Origin fields (spec §2). Local deviation (DESIGN §2): any host name, `localhost` or an IP
# address, and any port, are accepted — edgeproxy talks to local origins.

_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
SSL_PROTOCOLS = frozenset({"TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3"})
_PATH_BAD_RE = re.compile(r"[\x00-\x20\x7f?#]")


def check_domain_name(value: object, *, s3: bool) -> str:
    field = "DomainName"
    if type(value) is not str or not value:
        raise origin_fail(field, "The domain name must be a non-empty string.")
    limit = 128 if s3 else 253
    if len(value) > limit:
        raise origin_fail(field, f"The domain name is longer than {limit} characters.")
    if s3 and value != value.lower():
        raise origin_fail(field, "An S3 bucket domain name must be lowercase.")
    if _is_ip_literal(value):
        return value
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    if not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise origin_fail(field, f"'{value[:253]}' is not a DNS name (no scheme, port or path).")
    return value


def _is_ip_literal(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def number(value: object, field: str) -> float:
    """A numeric origin field: a JSON number (or a numeric string, which some functions send)."""
    if type(value) in (int, float):
        return value  # type: ignore[return-value]
    if type(value) is str:
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            pass
    raise origin_fail(field, f"Expected a number, got {value!r}.")


def check_port(value: object) -> int:
    port = number(value, "Port")
    if port != int(port) or not 1 <= port <= 65535:
        raise origin_fail("Port", f"The port must be a whole number from 1 to 65535, got {value!r}.")
    return int(port)


def check_timeout(value: object, field: str, low: float, high: float, original: float | None) -> float:
    """A timeout in seconds within [low, high]; the original origin's own value always passes.

    CloudFront allows readTimeout 4–60 in events but a configured origin may read-time-out after
    1 s (DESIGN §2); a function handing back the value it was shown must not fail for that.
    """
    seconds = number(value, field)
    if original is not None and seconds == original:
        return seconds
    if not low <= seconds <= high:
        raise origin_fail(field, f"Expected {low:g} to {high:g} seconds, got {value!r}.")
    return seconds


def check_protocol(value: object) -> str:
    if value not in ("http", "https"):
        raise origin_fail("Protocol", f"Expected http or https, got {value!r}.")
    return value  # type: ignore[return-value]


def check_origin_path(value: object) -> str:
    """"" or `/x` without a trailing slash, at most 255 characters, URL-encoded."""
    if value is None or value == "":
        return ""
    if type(value) is not str:
        raise origin_fail("Path", f"Expected a string, got {_json_type(value)}.")
    if not value.startswith("/") or value.endswith("/") or len(value) > 255:
        raise origin_fail("Path", "The path must start with / and must not end with /, at most 255 characters.")
    bad = _PATH_BAD_RE.search(value)
    if bad is not None:
        raise origin_fail("Path", f"invalid character : '{_pct(bad.group())}' in path.")
    return value


def check_ssl_protocols(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(p not in SSL_PROTOCOLS for p in value):
        raise origin_fail("SslProtocols", f"Expected a non-empty list of {sorted(SSL_PROTOCOLS)}, got {value!r}.")
    return tuple(value)


def check_custom_headers(obj: object) -> tuple[tuple[str, str], ...]:
    """`customHeaders`: a header map without disallowed names, within CloudFront's lengths (§5)."""
    if obj is None:
        return ()
    values, keys = parse_header_map(obj, "customHeaders")
    out: list[tuple[str, str]] = []
    for name, vals in values.items():
        if is_disallowed(name):
            raise invalid(
                _PREFIX + f"the function tried to add a blacklisted header, headerName : {display_name(keys, name)}.",
                BLACKLISTED_SENTENCE,
            )
        if len(name) > 256 or any(len(val) > 1783 for val in vals):
            raise invalid(
                f"{ORIGIN_HEADERS_SENTENCE} The custom header {display_name(keys, name)} is too long "
                "(name up to 256, value up to 1,783 characters).",
                ORIGIN_HEADERS_SENTENCE,
            )
        out.extend((name, val) for val in vals)
    return tuple(out)


def custom_header_conflict(name: str) -> HookInvalidResult:
    return invalid(
        f"{ORIGIN_HEADERS_SENTENCE} The custom header {title_case(name)} is also in request.headers.",
        ORIGIN_HEADERS_SENTENCE,
    )


def check_custom_header_duplicates(headers: tuple[tuple[str, str], ...], request_names: Container[str]) -> None:
    """An origin custom header may not also be in `request.headers` (spec §2)."""
    for name, _ in headers:
        if name in request_names:
            raise custom_header_conflict(name)


def check_auth_method(value: object) -> str:
    if value is None:
        return "none"
    if value not in ("origin-access-identity", "none"):
        raise origin_fail("AuthMethod", f"Expected origin-access-identity or none, got {value!r}.")
    return value  # type: ignore[return-value]


def check_region(value: object, auth_method: str) -> str:
    if value is None:
        value = ""
    if type(value) is not str:
        raise origin_fail("Region", f"Expected a string, got {_json_type(value)}.")
    if auth_method == "origin-access-identity" and not value:
        raise origin_fail("Region", "A region is required with origin-access-identity.")
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
