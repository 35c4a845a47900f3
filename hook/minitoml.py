"""A small, strict TOML reader for the common shape of config.toml, with no imports.

``tomllib`` costs more to import than the hook's whole start-up budget (it
pulls in ``typing``, ``re`` and ``datetime``), and the hook reads its config for
every container.  :func:`loads` handles the subset real config files use:
comments, ``[table]`` headers with bare (dotted) keys, ``key = value`` with
bare dotted keys, basic strings without escapes, literal strings, booleans,
decimal integers and (multi-line) arrays of those.  On anything else, or on
anything that might be invalid TOML, it raises :class:`Unsupported` and the
caller parses with ``tomllib``, which gives the real result or the real error.
The result, when there is one, is exactly ``tomllib.loads(text)``
(property-tested in tests/hook/test_minitoml.py).
"""

from __future__ import annotations

from .values import lazy_exception

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGITS = frozenset("0123456789")
_MAX_DEPTH = 16  # deeper arrays go to the full parser (which bounds them)


__getattr__ = lazy_exception(globals(), "Unsupported", Exception,
                             "Not in the subset (or possibly invalid): parse with tomllib instead.")


def _unsupported() -> Exception:
    return __getattr__("Unsupported")()


def _bad_char(c: str) -> bool:
    o = ord(c)
    return (o < 0x20 and c != "\t") or o == 0x7F


def _has_bad_char(text: str) -> bool:
    """A control character other than tab in ``text`` (one C call when it is all printable, as the
    comments of a config.toml are)."""
    return not text.isprintable() and any(_bad_char(c) for c in text)


class _Reader:
    __slots__ = ("s", "i", "n")

    def __init__(self, s: str) -> None:
        self.s, self.i, self.n = s, 0, len(s)

    def skip_ws(self) -> None:
        s, i, n = self.s, self.i, self.n
        while i < n and s[i] in " \t":
            i += 1
        self.i = i

    def skip_comment(self) -> None:
        if self.i < self.n and self.s[self.i] == "#":
            j = self.s.find("\n", self.i)
            end = self.n if j == -1 else j
            if _has_bad_char(self.s[self.i + 1:end]):
                raise _unsupported()
            self.i = end

    def end_of_line(self) -> None:
        """Whitespace, an optional comment, then a newline or the end."""
        self.skip_ws()
        self.skip_comment()
        if self.i == self.n:
            return
        if self.s[self.i] == "\n":
            self.i += 1
            return
        raise _unsupported()

    def skip_blank(self) -> None:
        """Whitespace, comments and newlines (inside arrays)."""
        while True:
            self.skip_ws()
            self.skip_comment()
            if self.i < self.n and self.s[self.i] == "\n":
                self.i += 1
                continue
            return

    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip_ws()
            start = self.i
            while self.i < self.n and self.s[self.i] in _BARE:
                self.i += 1
            if self.i == start:
                raise _unsupported()
            parts.append(self.s[start:self.i])
            self.skip_ws()
            if self.i < self.n and self.s[self.i] == ".":
                self.i += 1
                continue
            return parts

    def value(self, depth: int = 0):
        if self.i >= self.n or depth > _MAX_DEPTH:
            raise _unsupported()
        c = self.s[self.i]
        if c == '"' or c == "'":
            if self.s.startswith(c * 3, self.i):
                raise _unsupported()
            j = self.s.find(c, self.i + 1)
            if j == -1:
                raise _unsupported()
            text = self.s[self.i + 1:j]
            if _has_bad_char(text) or (c == '"' and "\\" in text):
                raise _unsupported()
            self.i = j + 1
            return text
        if c == "[":
            self.i += 1
            items = []
            while True:
                self.skip_blank()
                if self.i < self.n and self.s[self.i] == "]":
                    self.i += 1
                    return items
                items.append(self.value(depth + 1))
                self.skip_blank()
                if self.i < self.n and self.s[self.i] == ",":
                    self.i += 1
                    continue
                self.skip_blank()
                if self.i < self.n and self.s[self.i] == "]":
                    self.i += 1
                    return items
                raise _unsupported()
        start = self.i
        while self.i < self.n and self.s[self.i] not in " \t\n,]#":
            self.i += 1
        word = self.s[start:self.i]
        if word == "true":
            return True
        if word == "false":
            return False
        digits = word[1:] if word[:1] in "+-" else word
        if digits and len(digits) < 19 and _DIGITS.issuperset(digits) and (digits == "0" or digits[0] != "0"):
            return int(word)
        raise _unsupported()


def loads(text: str) -> dict:
    """Parse ``text`` (see the module docstring).  Raises :class:`Unsupported`."""
    if "\r" in text:
        raise _unsupported()
    root: dict = {}
    # How each table (by id) came to be: ("header",) defined by [x], ("implicit",) a prefix of a
    # header, ("dotted", n) made by a dotted key in the n-th section.
    kinds: dict[int, tuple] = {id(root): ("header",)}
    current = root
    section = 0
    r = _Reader(text)
    while True:
        r.skip_ws()
        if r.i >= r.n:
            return root
        c = r.s[r.i]
        if c == "\n":
            r.i += 1
            continue
        if c == "#":
            r.end_of_line()
            continue
        if c == "[":
            if r.s.startswith("[[", r.i):
                raise _unsupported()
            r.i += 1
            path = r.key()
            if r.i >= r.n or r.s[r.i] != "]":
                raise _unsupported()
            r.i += 1
            r.end_of_line()
            section += 1
            table = _descend(root, path[:-1], kinds, ("implicit",), lambda kind: kind[0] != "dotted")
            existing = table.get(path[-1])
            if existing is None:
                existing = table[path[-1]] = {}
            elif type(existing) is not dict or kinds.get(id(existing)) != ("implicit",):
                raise _unsupported()
            kinds[id(existing)] = ("header",)
            current = existing
            continue
        path = r.key()
        if r.i >= r.n or r.s[r.i] != "=":
            raise _unsupported()
        r.i += 1
        r.skip_ws()
        value = r.value()
        r.end_of_line()
        here = ("dotted", section)
        table = _descend(current, path[:-1], kinds, here, lambda kind: kind == here)
        if path[-1] in table:
            raise _unsupported()
        table[path[-1]] = value


def _descend(table: dict, names: list[str], kinds: dict[int, tuple], new_kind: tuple, usable) -> dict:
    """Walk (creating as ``new_kind``) the tables ``names`` below ``table``; an existing one must be a
    table whose kind satisfies ``usable``, else :class:`Unsupported` (redefinitions are tomllib's call)."""
    for name in names:
        nxt = table.get(name)
        if nxt is None:
            nxt = table[name] = {}
            kinds[id(nxt)] = new_kind
        elif type(nxt) is not dict or not usable(kinds.get(id(nxt), ("",))):
            raise _unsupported()
        table = nxt
    return table
