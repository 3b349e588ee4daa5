"""Parsing the header fields caching depends on: Cache-Control, Age, Expires/Date, Vary.

Every parser here is total: whatever bytes an origin sends, the result is a value or None,
never an exception (RFC 9111 leaves error handling loose; a cache must not fall over). The
choices for malformed input follow RFC 9111 and agree with the http-tests/cache-tests suite:

- Cache-Control (§5.2): field lines are combined; items split on commas outside quoted strings;
  directive names are case-insensitive tokens (`max-age =1` is not `max-age`); values may be a
  token or a quoted string (`max-age="3600"` is 3600); the first occurrence of a directive wins
  (§4.2.1 "the first occurrence should be used").
- delta-seconds (§1.2.2): digits only (`003600` ok, `3600.0`, `-1`, `a1`, ` 1` invalid); larger
  than 2**31 counts as 2**31.
- Age (§5.1): the first member of the (combined) field value; anything but a non-negative
  integer is ignored.
- Dates (RFC 9110 §5.6.7): `email.utils` (IMF-fixdate, RFC 850, asctime and common sloppiness);
  a date without a zone is GMT.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import timezone

from edgeproxy.types import HeaderList

DELTA_SECONDS_MAX = 2**31  # RFC 9111 §1.2.2: values beyond this are treated as 2**31

_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_token(text: str) -> bool:
    """RFC 9110 §5.6.2 token: one or more tchars."""
    return bool(text) and all(c in _TCHARS for c in text)


def split_list(value: str) -> list[str]:
    """Split a field value on commas that are not inside a quoted string; items are stripped."""
    items: list[str] = []
    current: list[str] = []
    in_quotes = False
    escaped = False
    for char in value:
        if in_quotes:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
            current.append(char)
        elif char == ",":
            items.append("".join(current).strip(" \t"))
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip(" \t"))
    return [item for item in items if item]


def unquote(value: str) -> str | None:
    """The content of a quoted-string (backslash escapes removed), or None if it is malformed."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return None
    out: list[str] = []
    escaped = False
    for char in value[1:-1]:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return None  # an unescaped quote inside: not one quoted-string
        else:
            out.append(char)
    return None if escaped else "".join(out)


def parse_delta_seconds(value: str | None) -> int | None:
    """delta-seconds (RFC 9111 §1.2.2): digits only; capped at 2**31; None if invalid."""
    if value is None or not value or not value.isascii() or not value.isdigit():
        return None
    return min(int(value), DELTA_SECONDS_MAX)


@dataclass(frozen=True, slots=True)
class CacheControl:
    """Parsed `Cache-Control` directives: lowercase name -> value.

    The value is the unquoted argument, or None for a bare directive (`no-store`). A directive
    given with a malformed argument is kept with value "" so it reads as present-but-invalid.
    """

    directives: tuple[tuple[str, str | None], ...] = ()

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self.directives)

    def value(self, name: str) -> str | None:
        for k, v in self.directives:
            if k == name:
                return v
        return None

    def seconds(self, name: str) -> int | None:
        """A delta-seconds directive: its value, 0 if present but invalid (§4.2.1 encourages
        treating invalid freshness information as stale), None if absent."""
        if not self.has(name):
            return None
        parsed = parse_delta_seconds(self.value(name))
        return 0 if parsed is None else parsed

    def optional_seconds(self, name: str) -> int | None:
        """A delta-seconds extension (stale-while-revalidate, stale-if-error): an invalid value
        is ignored (RFC 5861 grants permissions; a garbled one grants nothing)."""
        if not self.has(name):
            return None
        return parse_delta_seconds(self.value(name))

    def field_names(self, name: str) -> frozenset[str] | None:
        """The field names of a qualified directive (`no-cache="Set-Cookie, X"`), lowercase.

        None when the directive is absent or unqualified (then it applies to the whole response).
        """
        if not self.has(name):
            return None
        raw = self.value(name)
        if not raw:
            return None
        names = frozenset(n.strip().lower() for n in raw.split(",") if n.strip())
        return names or None


def parse_cache_control(headers: HeaderList) -> CacheControl:
    """All `cache-control` field lines of `headers`, combined and parsed (first occurrence wins)."""
    values = [v for k, v in headers if k == "cache-control"]
    if not values:
        return CacheControl()
    seen: set[str] = set()
    directives: list[tuple[str, str | None]] = []
    for item in split_list(",".join(values)):
        name, sep, raw = item.partition("=")
        name = name.lower()
        if not is_token(name) or name in seen:
            continue  # `max-age =1` (space before "=") is not a max-age directive
        seen.add(name)
        if not sep:
            directives.append((name, None))
        elif raw.startswith('"'):
            unquoted = unquote(raw)
            directives.append((name, "" if unquoted is None else unquoted))
        elif is_token(raw):
            directives.append((name, raw))
        else:
            directives.append((name, ""))  # `max-age= 1`, `max-age='1'`: present but invalid
    return CacheControl(tuple(directives))


def parse_http_date(value: str | None) -> float | None:
    """An HTTP-date as a POSIX timestamp, or None if it cannot be read."""
    if value is None:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def format_http_date(timestamp: float) -> str:
    """An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`)."""
    return email.utils.formatdate(timestamp, usegmt=True)


def first_value(headers: HeaderList, name: str) -> str | None:
    for k, v in headers:
        if k == name:
            return v
    return None


def parse_age(headers: HeaderList) -> int | None:
    """The `Age` value (RFC 9111 §5.1): the first member of the first field line, if valid."""
    values = [v for k, v in headers if k == "age"]
    if not values:
        return None
    members = ",".join(values).split(",")
    return parse_delta_seconds(members[0].strip(" \t"))


def parse_vary(headers: HeaderList) -> tuple[str, ...] | None:
    """The lowercase field names in `Vary` (sorted, deduplicated); ("*",) for `Vary: *`;
    None when the response has no Vary."""
    values = [v for k, v in headers if k == "vary"]
    if not values:
        return None
    names = {n.strip().lower() for n in ",".join(values).split(",") if n.strip()}
    if "*" in names:
        return ("*",)
    return tuple(sorted(names)) or None
