"""Where each key of a TOML document is written: key path → line number.

`tomllib` returns plain values with no positions, yet a config error is only useful when it
names the line. This module re-reads the (already valid) TOML text with a small scanner that
knows just enough of the grammar — comments, the four string forms, arrays, inline tables,
dotted keys, `[table]` and `[[array.of.tables]]` headers — to record the line of every key.

Key paths are tuples: `("origins", "app", "read_timeout_s")`, `("behaviors", 2, "origin")` (the
third `[[behaviors]]` table), `("behaviors", 0, "custom_error_responses", 1, "status")` (the
second inline table of that array). A key's line is where its name is written; an array element's
line is where its value starts; a table's line is its header (or the first dotted key that
created it). `KeyLocator.line` falls back to the nearest enclosing key that was found.

The scanner assumes the text parsed with `tomllib`; on text that did not, it stops quietly and
keeps what it found, because callers only use it to decorate messages.
"""

from __future__ import annotations

import bisect
import json
import re

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}#\r\n]")


def format_key(path: KeyPath) -> str:
    """`("behaviors", 2, "origin")` → `behaviors[2].origin`; odd names are quoted as in TOML."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
        out += f".{name}" if out else name
    return out


class _Stop(Exception):
    """The text is not TOML this scanner understands; keep what was found."""


class KeyLocator:
    """Line numbers (1-based) of the keys in one TOML text."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self._lines: dict[KeyPath, int] = {}
        self._aot: dict[KeyPath, int] = {}  # array-of-tables path → tables seen so far
        self._pos = 0
        try:
            self._document()
        except (_Stop, IndexError):
            pass

    # -- public ---------------------------------------------------------------------------

    def exact(self, path: KeyPath) -> int | None:
        """The line of exactly this key, or None."""
        return self._lines.get(tuple(path))

    def line(self, path: KeyPath) -> int | None:
        """The line of this key, else of the nearest enclosing key or table; None if none."""
        path = tuple(path)
        while path:
            found = self._lines.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return None

    # -- helpers --------------------------------------------------------------------------

    def _line_at(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def _record(self, path: KeyPath, pos: int) -> None:
        line = self._line_at(pos)
        for n in range(1, len(path) + 1):
            self._lines.setdefault(path[:n], line)

    def _peek(self, n: int = 1) -> str:
        return self._text[self._pos : self._pos + n]

    def _skip_blank(self, newlines: bool) -> None:
        """Skip spaces and tabs; with `newlines`, also line breaks and comments."""
        text = self._text
        while self._pos < len(text):
            c = text[self._pos]
            if c in " \t":
                self._pos += 1
            elif newlines and c in "\r\n":
                self._pos += 1
            elif newlines and c == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end == -1 else end
            else:
                return

    def _skip_comment_to_eol(self) -> None:
        self._skip_blank(newlines=False)
        if self._peek() == "#":
            end = self._text.find("\n", self._pos)
            self._pos = len(self._text) if end == -1 else end

    # -- grammar --------------------------------------------------------------------------

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            if self._peek(2) == "[[":
                table = self._header(array=True)
            elif self._peek() == "[":
                table = self._header(array=False)
            else:
                self._key_value(table)
            self._skip_comment_to_eol()

    def _resolve(self, keys: list[str]) -> KeyPath:
        """A header's dotted name with the current index inserted after each array of tables."""
        path: KeyPath = ()
        for key in keys:
            path = path + (key,)
            if path in self._aot:
                path = path + (self._aot[path] - 1,)
        return path

    def _header(self, array: bool) -> KeyPath:
        start = self._pos
        self._pos += 2 if array else 1
        keys = self._key()
        self._skip_blank(newlines=False)
        close = "]]" if array else "]"
        if self._peek(len(close)) != close:
            raise _Stop()
        self._pos += len(close)
        if array:
            parent = self._resolve(keys[:-1])
            name = parent + (keys[-1],)
            index = self._aot.get(name, 0)
            self._aot[name] = index + 1
            path = name + (index,)
        else:
            path = self._resolve(keys)
        self._record(path, start)
        return path

    def _key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            c = self._peek()
            if c == '"':
                keys.append(self._basic_string())
            elif c == "'":
                keys.append(self._literal_string())
            else:
                m = _BARE_KEY.match(self._text, self._pos)
                if not m:
                    raise _Stop()
                keys.append(m.group())
                self._pos = m.end()
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return keys
            self._pos += 1

    def _key_value(self, table: KeyPath) -> None:
        start = self._pos
        path = table + tuple(self._key())
        self._record(path, start)
        self._skip_blank(newlines=False)
        if self._peek() != "=":
            raise _Stop()
        self._pos += 1
        self._skip_blank(newlines=False)
        self._value(path)

    def _value(self, path: KeyPath) -> None:
        c = self._peek()
        if self._peek(3) in ('"""', "'''"):
            self._multiline_string(self._peek(3))
        elif c == '"':
            self._basic_string()
        elif c == "'":
            self._literal_string()
        elif c == "[":
            self._array(path)
        elif c == "{":
            self._inline_table(path)
        else:
            m = _SCALAR_END.search(self._text, self._pos)
            end = len(self._text) if m is None else m.start()
            if end == self._pos:
                raise _Stop()
            self._pos = end

    def _array(self, path: KeyPath) -> None:
        self._pos += 1
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "]":
                self._pos += 1
                return
            element = path + (index,)
            self._record(element, self._pos)
            self._value(element)
            index += 1
            self._skip_blank(newlines=True)
            if self._peek() == ",":
                self._pos += 1
            elif self._peek() != "]":
                raise _Stop()

    def _inline_table(self, path: KeyPath) -> None:
        self._pos += 1
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "}":
                self._pos += 1
                return
            self._key_value(path)
            self._skip_blank(newlines=True)
            if self._peek() == ",":
                self._pos += 1
            elif self._peek() != "}":
                raise _Stop()

    def _basic_string(self) -> str:
        start = self._pos + 1
        i = start
        text = self._text
        while i < len(text):
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if c == '"':
                self._pos = i + 1
                raw = text[start:i]
                try:
                    return json.loads(f'"{raw}"')
                except ValueError:
                    return raw  # TOML escapes JSON lacks (\e, \UXXXXXXXX): close enough for a name
            if c == "\n":
                raise _Stop()
            i += 1
        raise _Stop()

    def _literal_string(self) -> str:
        end = self._text.find("'", self._pos + 1)
        if end == -1:
            raise _Stop()
        value = self._text[self._pos + 1 : end]
        self._pos = end + 1
        return value

    def _multiline_string(self, quote: str) -> None:
        text = self._text
        i = self._pos + 3
        while i < len(text):
            if quote == '"""' and text[i] == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += 3
                extra = 0
                while extra < 2 and i < len(text) and text[i] == quote[0]:  # up to 2 quotes may end the content
                    i += 1
                    extra += 1
                self._pos = i
                return
            i += 1
        raise _Stop()
