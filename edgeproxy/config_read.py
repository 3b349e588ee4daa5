"""Typed reading of a TOML config, recording problems instead of raising.

The `config*` modules walk the document with these readers: every getter checks the type (a bool
is not an int) and the range, and falls back to the default after recording a problem, so one
pass finds *all* problems. `Table.done()` reports keys the table may not hold, with a difflib
suggestion. `Document` is the whole parsed file plus the folder relative paths start from.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from edgeproxy.config_locate import KeyLocator, KeyPath, format_key
from edgeproxy.errors import ConfigProblem

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 field-name (a token)


def describe(value: object) -> str:
    """A value as the user wrote it, with its TOML type: `string "abc"`, `boolean true`."""
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"{type(value).__name__} {value}"  # dates and times


def fmt_num(value: float) -> str:
    """10.0 → "10", 0.5 → "0.5" (messages echo numbers the way users write them)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def suggestion(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest choice, or ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Problems:
    """Every problem and warning found in one config text, with file and line attached."""

    def __init__(self, file: str, locator: KeyLocator | None) -> None:
        self.file = file
        self.locator = locator
        self.errors: list[ConfigProblem] = []
        self.warnings: list[ConfigProblem] = []

    def _make(self, path: KeyPath, message: str) -> ConfigProblem:
        line = self.locator.line(path) if self.locator is not None and path else None
        return ConfigProblem(self.file, format_key(path), line, message)

    def error(self, path: KeyPath, message: str) -> None:
        self.errors.append(self._make(path, message))

    def warn(self, path: KeyPath, message: str) -> None:
        self.warnings.append(self._make(path, message))


class Table:
    """One TOML table (a dict) at `path`, with the keys it may hold."""

    def __init__(self, problems: Problems, data: dict, path: KeyPath, known: Sequence[str]) -> None:
        self.problems = problems
        self.data = data
        self.path = path
        self.known = tuple(known)

    def key(self, name: str) -> KeyPath:
        return self.path + (name,)

    def error(self, name: str | None, message: str) -> None:
        self.problems.error(self.path if name is None else self.key(name), message)

    def has(self, name: str) -> bool:
        return name in self.data

    def done(self, hint: str = "") -> None:
        """Report the keys this table may not hold."""
        for name in self.data:
            if name not in self.known:
                self.error(name, f"unknown key {name!r}{suggestion(name, self.known) or hint}")

    # -- scalars --------------------------------------------------------------------------

    def string(self, name: str, default: str, *, required: bool = False, non_empty: bool = False) -> str:
        if name not in self.data:
            if required:
                self.error(None, f"missing required key {name!r}")
            return default
        value = self.data[name]
        if not isinstance(value, str):
            self.error(name, f"expected a string, got {describe(value)}")
            return default
        if non_empty and not value.strip():
            self.error(name, "may not be empty")
            return default
        return value

    def optional_string(self, name: str) -> str | None:
        if name not in self.data:
            return None
        value = self.data[name]
        if not isinstance(value, str):
            self.error(name, f"expected a string, got {describe(value)}")
            return None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        if name not in self.data:
            return default
        value = self.data[name]
        if not isinstance(value, bool):
            self.error(name, f"expected true or false, got {describe(value)}")
            return default
        return value

    def integer(self, name: str, default: int, *, lo: int | None = None, hi: int | None = None, why: str = "") -> int:
        value = self.optional_integer(name, lo=lo, hi=hi, why=why)
        return default if value is None else value

    def optional_integer(
        self, name: str, *, lo: int | None = None, hi: int | None = None, why: str = ""
    ) -> int | None:
        if name not in self.data:
            return None
        value = self.data[name]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, f"expected an integer, got {describe(value)}")
            return None
        if not self._in_range(name, value, lo, hi, why):
            return None
        return value

    def number(
        self,
        name: str,
        default: float,
        *,
        lo: float | None = None,
        hi: float | None = None,
        above: float | None = None,
        why: str = "",
    ) -> float:
        value = self.optional_number(name, lo=lo, hi=hi, above=above, why=why)
        return default if value is None else value

    def optional_number(
        self,
        name: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        above: float | None = None,
        why: str = "",
    ) -> float | None:
        """An int or float (never a bool); `above` is an exclusive lower bound."""
        if name not in self.data:
            return None
        value = self.data[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(name, f"expected a number, got {describe(value)}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.error(name, f"must be a finite number, got {value}")
            return None
        if above is not None and value <= above:
            self.error(name, f"must be greater than {fmt_num(above)}{why}, got {fmt_num(value)}")
            return None
        if not self._in_range(name, value, lo, hi, why):
            return None
        return float(value)

    def _in_range(self, name: str, value: float, lo: float | None, hi: float | None, why: str) -> bool:
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if lo is not None and hi is not None:
                bound = f"between {fmt_num(lo)} and {fmt_num(hi)}"
            elif lo is not None:
                bound = f"at least {fmt_num(lo)}"
            else:
                bound = f"at most {fmt_num(hi)}"  # type: ignore[arg-type]
            self.error(name, f"must be {bound}{why}, got {fmt_num(value)}")
            return False
        return True

    # -- containers -----------------------------------------------------------------------

    def strings(self, name: str) -> list[str] | None:
        """A list of strings, or None when absent or wrong (problem recorded)."""
        if name not in self.data:
            return None
        value = self.data[name]
        if not isinstance(value, list):
            self.error(name, f"expected an array of strings, got {describe(value)}")
            return None
        ok = True
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.problems.error(self.key(name) + (i,), f"expected a string, got {describe(item)}")
                ok = False
        return list(value) if ok else None

    def integers(self, name: str) -> list[int] | None:
        if name not in self.data:
            return None
        value = self.data[name]
        if not isinstance(value, list):
            self.error(name, f"expected an array of integers, got {describe(value)}")
            return None
        ok = True
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int):
                self.problems.error(self.key(name) + (i,), f"expected an integer, got {describe(item)}")
                ok = False
        return list(value) if ok else None

    def table(self, name: str) -> dict | None:
        """A sub-table, or None when absent or not a table (problem recorded)."""
        if name not in self.data:
            return None
        value = self.data[name]
        if not isinstance(value, dict):
            self.error(name, f"expected a table, got {describe(value)}")
            return None
        return value


def sub_table(problems: Problems, value: object, path: KeyPath, known: Sequence[str], what: str) -> Table | None:
    """Wrap `value` as a Table if it is one; record a problem naming `what` otherwise."""
    if not isinstance(value, dict):
        problems.error(path, f"{what} must be a table, got {describe(value)}")
        return None
    return Table(problems, value, path, known)


class Document:
    """The parsed TOML document being loaded, its problems, and where relative paths start."""

    def __init__(self, data: dict, problems: Problems, base_dir: Path) -> None:
        self.data = data
        self.problems = problems
        self.base_dir = base_dir

    def section(self, name: str, known: Sequence[str]) -> Table | None:
        """The top-level table `[name]`, or None when absent or not a table (problem recorded)."""
        if name not in self.data:
            return None
        return sub_table(self.problems, self.data[name], (name,), known, f"[{name}]")

    def named_tables(self, name: str) -> list[tuple[str, dict, KeyPath]]:
        """The `[name.<x>]` tables of a section, each with its key path; problems recorded."""
        section = self.section(name, ())
        if section is None:
            return []
        out = []
        for entry, value in section.data.items():
            path = (name, entry)
            if not isinstance(value, dict):
                self.problems.error(path, f"expected a table [{name}.{entry}], got {describe(value)}")
            elif not entry.strip():
                self.problems.error(path, "names may not be empty")
            else:
                out.append((entry, value, path))
        return out

    def written_names(self, name: str) -> set[str]:
        """Every name written under `[name]`, valid or not: a reference to a broken entry is
        not reported again as unknown."""
        raw = self.data.get(name)
        return set(raw) if isinstance(raw, dict) else set()

    def path(self, value: str) -> Path:
        """A path from the config, absolute, relative to the config file's folder."""
        return (self.base_dir / Path(value).expanduser()).resolve()
