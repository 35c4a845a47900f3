"""TOML as the reference reads it: go-toml v1 text rewritten to TOML 1.0, for the hook and nvidia-ctk.

The reference (and containerd 1.x) read TOML with go-toml v1.9.5, which accepts things TOML 1.0
forbids.  Files written for it are valid input for us too: :func:`normalise` rewrites only the
offending tokens of such a file into TOML 1.0 with the value go-toml v1 gives, so a strict parser
(``tomllib`` for trees, ``tomlkit`` for style-preserving edits) reads the same values and every
other byte of the file stays as it was.  What it rewrites (docs/compatibility.md, "TOML"):

* a decimal with leading zeros (``x = 01``, ``01.5``) → the same number without them (``1``);
* a string with a ``\\/`` escape, a ``\\uD800``/``\\U00110000`` escape that is not a Unicode
  scalar value (go-toml v1 gives U+FFFD), a backslash followed by blanks, a DEL, or a literal
  string holding a newline or control character → a basic string with go-toml v1's value;
* an inline table across lines (with comments inside) → the same table on one line;
* a control character or DEL in a comment → a space;
* a key on the line of its table header (``[t]k = v``) → the key on the next line;
* a dotted key whose table also has its own header (``a.b = 1`` then ``[a]``, or ``[t.a]``
  then ``a.b = 1`` under ``[t]``) → the key moved, without the prefix, to the end of that
  header's section (go-toml v1 merges both into one table).

:func:`loads` is the tree reader both programs use: strict first (valid TOML costs nothing
extra), then the rewritten text; an error names the original text's problem.  Nothing heavy is
imported at module level (the hook imports this only when its fast path declines).
"""

from __future__ import annotations

__all__ = ["TOMLError", "MAX_DEPTH", "normalise", "loads", "loads_strict", "loads_after", "quote", "too_deep"]

# The rewriter refuses arrays and inline tables nested deeper than this.  (Python's TOML parsers
# recurse per level and stop, with :func:`too_deep`'s message, where the interpreter's recursion
# limit does, a few hundred levels; go-toml v1 stops where its goroutine stack does.)
MAX_DEPTH = 512


class TOMLError(ValueError):
    """The text is not TOML, even as go-toml v1 reads it; ``str()`` is the message."""


def too_deep() -> TOMLError:
    return TOMLError("arrays or inline tables nested too deeply")


class _Decline(Exception):
    """The text is beyond what the rewriter understands: leave it to the strict parser's error."""


_SPACE = " \t"
_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_QUOTED = frozenset('"\\\x7f')
_ESCAPES = {'"': '"', "\\": "\\", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "/": "/"}


def _rune(code: int) -> str:
    """Go's ``string(rune(code))``: U+FFFD for a surrogate or anything beyond U+10FFFF."""
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return "\ufffd"
    return chr(code)


def quote(value: str) -> str:
    """``value`` as a TOML 1.0 basic string (``\\uXXXX`` for other control characters and DEL)."""
    if not any(ch in _QUOTED or ch < " " for ch in value):
        return '"' + value + '"'
    out = ['"']
    for ch in value:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif o < 0x20 or o == 0x7F:
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}.get(ch, f"\\u{o:04X}"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _Rewriter:
    """One pass over the text: a go-toml v1 lexer that copies tokens, rewriting the offending ones."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.out: list[str] = []
        self.changed = False
        self.stack: list[str] = []
        # sections: [path, is_array_of_tables, index in out where its body ends (None: open)]
        self.sections: list[list] = [[(), False, None]]
        # dotted statements: (section, key parts, raw key parts, out start of the line, out end)
        self.dotted: list[tuple] = []

    # ------------------------------------------------------------------ helpers
    def emit(self, piece: str, original: str | None = None) -> None:
        self.out.append(piece)
        if original is not None and original != piece:
            self.changed = True

    def ws(self) -> None:
        j = self.i
        while j < self.n and self.s[j] in _SPACE:
            j += 1
        if j > self.i:
            self.emit(self.s[self.i:j])
            self.i = j

    def comment(self, keep: bool = True) -> None:
        """A comment up to (not including) the end of the line."""
        s = self.s
        j = s.find("\n", self.i)
        if j == -1:
            j = self.n
        elif j > self.i and s[j - 1] == "\r":
            j -= 1
        raw = s[self.i:j]
        clean = "".join(" " if (ord(c) < 0x20 and c != "\t") or c == "\x7f" else c for c in raw)
        if keep:
            self.emit(clean, raw)
        else:
            self.changed = True
        self.i = j

    def newline(self) -> bool:
        if self.s.startswith("\n", self.i):
            self.emit("\n")
            self.i += 1
            return True
        if self.s.startswith("\r\n", self.i):
            self.emit("\r\n")
            self.i += 2
            return True
        return False

    # ------------------------------------------------------------------ strings
    def string(self) -> str:
        """A string token at ``self.i``; emits it (rewritten if needed) and returns its value."""
        s, i = self.s, self.i
        q = s[i]
        multi = s.startswith(q * 3, i)
        start = i + (3 if multi else 1)
        if multi:
            end = s.find(q * 3, start)
            while end != -1 and q == '"' and _escaped(s, start, end):
                end = s.find(q * 3, end + 1)
            if end == -1:
                raise _Decline()
            for _ in range(2):  # up to two more quotes belong to the content (TOML 1.0)
                if end + 3 < self.n and s[end + 3] == q:
                    end += 1
            body, stop = s[start:end], end + 3
        else:
            j = start
            if q == '"':
                while j < self.n and s[j] != '"' and s[j] != "\n":
                    j += 2 if s[j] == "\\" else 1
            else:
                while j < self.n and s[j] != "'" and s[j] != "\n":
                    j += 1
            if j >= self.n or s[j] == "\n":
                raise _Decline()
            body, stop = s[start:j], j + 1
        raw = s[i:stop]
        if q == '"':
            value, bad = _decode_basic(body, multi)
        else:
            value, bad = _decode_literal(body, multi)
        self.i = stop
        if bad:
            self.emit(quote(value), raw)
        else:
            self.emit(raw)
        return value

    # ------------------------------------------------------------------ keys
    def key(self) -> tuple[list[str], list[str]]:
        """A (dotted) key; emits it; returns (parts, raw parts)."""
        parts: list[str] = []
        raws: list[str] = []
        while True:
            self.ws()
            if self.i >= self.n:
                raise _Decline()
            c = self.s[self.i]
            at = len(self.out)
            if c == '"' or c == "'":
                parts.append(self.string())
                raws.append("".join(self.out[at:]))
            else:
                j = self.i
                while j < self.n and self.s[j] in _BARE:
                    j += 1
                if j == self.i:
                    raise _Decline()
                parts.append(self.s[self.i:j])
                raws.append(parts[-1])
                self.emit(parts[-1])
                self.i = j
            self.ws()
            if self.i < self.n and self.s[self.i] == ".":
                self.emit(".")
                self.i += 1
                continue
            return parts, raws

    # ------------------------------------------------------------------ values
    def value(self) -> None:
        """One value (arrays and inline tables iteratively, bounded by :data:`MAX_DEPTH`)."""
        while True:
            self.ws()
            if self.i >= self.n:
                raise _Decline()
            c = self.s[self.i]
            if c == '"' or c == "'":
                self.string()
            elif c == "[" or c == "{":
                if len(self.stack) >= MAX_DEPTH:
                    raise too_deep()
                self.stack.append(c)
                self.emit(c)
                self.i += 1
                self.blank_in(c)
                if self.i >= self.n:
                    raise _Decline()
                if self.s[self.i] != ("]" if c == "[" else "}"):
                    if c == "{":
                        self.member_key()
                    continue
                self.emit(self.s[self.i])
                self.i += 1
                self.stack.pop()
            else:
                self.scalar()
            if not self.after_value():
                return

    def member_key(self) -> None:
        """In an inline table: a key and its ``=``."""
        self.key()
        if self.i >= self.n or self.s[self.i] != "=":
            raise _Decline()
        self.emit("=")
        self.i += 1

    def blank_in(self, kind: str) -> None:
        """Blanks, newlines and comments inside an array (kept) or inline table (joined)."""
        while self.i < self.n:
            self.ws()
            if self.i >= self.n:
                return
            c = self.s[self.i]
            if c == "#":
                self.comment(keep=(kind == "["))
            elif c == "\n" or self.s.startswith("\r\n", self.i):
                if kind == "[":
                    self.newline()
                else:  # one line: the line break and the next line's indentation become one space
                    self.i += 1 if c == "\n" else 2
                    while self.i < self.n and self.s[self.i] in _SPACE:
                        self.i += 1
                    if self.out and not self.out[-1].endswith((" ", "\t")):
                        self.emit(" ")
                    self.changed = True
            else:
                return

    def after_value(self) -> bool:
        """After a value: True when another value follows (in an array or inline table)."""
        while self.stack:
            kind = self.stack[-1]
            self.blank_in(kind)
            if self.i >= self.n:
                raise _Decline()
            c = self.s[self.i]
            if c == ",":
                self.emit(",")
                self.i += 1
                self.blank_in(kind)
                if kind == "{":
                    self.member_key()
                    return True
                if self.i < self.n and self.s[self.i] == "]":
                    continue  # a trailing comma
                return True
            if c == ("]" if kind == "[" else "}"):
                self.emit(c)
                self.i += 1
                self.stack.pop()
                continue
            raise _Decline()
        return False

    def scalar(self) -> None:
        """A number, boolean, date or time; a decimal's leading zeros are dropped."""
        s, j = self.s, self.i
        while j < self.n and (s[j].isalnum() or s[j] in "_+-.:"):
            j += 1
        # a date and a time separated by one space
        if j < self.n and s[j] == " " and j - self.i == 10 and s[self.i + 4:self.i + 5] == "-" \
                and s[j + 1:j + 3].isdigit():
            j += 1
            while j < self.n and (s[j].isalnum() or s[j] in "_+-.:"):
                j += 1
        word = s[self.i:j]
        if j == self.i:
            raise _Decline()
        self.i = j
        self.emit(_strip_zeros(word), word)

    # ------------------------------------------------------------------ document
    def header(self) -> None:
        aot = self.s.startswith("[[", self.i)
        self.emit("[[" if aot else "[")
        self.i += 2 if aot else 1
        parts, _ = self.key()
        close = "]]" if aot else "]"
        if not self.s.startswith(close, self.i):
            raise _Decline()
        self.emit(close)
        self.i += len(close)
        self.sections.append([tuple(parts), aot, None])
        j = self.i
        while j < self.n and self.s[j] in _SPACE:
            j += 1
        if j < self.n and self.s[j] not in "#\r\n":
            self.emit("\n")  # `[t]k = v`: the key goes to the next line
            self.i = j
            self.changed = True

    def run(self) -> str | None:
        while True:
            line = len(self.out)
            self.ws()
            if self.i >= self.n:
                break
            c = self.s[self.i]
            if self.newline():
                continue
            if c == "#":
                self.comment()
                continue
            if c == "[":
                self.sections[-1][2] = line  # moved keys go before the header's indentation
                self.header()
                continue
            parts, raws = self.key()
            if self.i >= self.n or self.s[self.i] != "=":
                raise _Decline()
            self.emit("=")
            self.i += 1
            self.value()
            self.ws()
            if self.i < self.n and self.s[self.i] == "#":
                self.comment()
            if self.i < self.n and not self.newline():
                raise _Decline()
            if len(parts) > 1:
                self.dotted.append((len(self.sections) - 1, parts, raws, line, len(self.out)))
        self.sections[-1][2] = len(self.out)
        self.move_dotted()
        return "".join(self.out) if self.changed else None

    def move_dotted(self) -> None:
        """Dotted keys into a table that has its own ``[header]``: move them under that header."""
        headers: dict[tuple, int] = {}
        for idx, (path, aot, _) in enumerate(self.sections):
            if idx and not aot:
                headers[path] = -1 if path in headers else idx
        aot_paths = [p for p, aot, _ in self.sections if aot]
        inserts: dict[int, list[str]] = {}
        for sec, parts, raws, start, end in self.dotted:
            base = self.sections[sec][0]
            for k in range(len(parts) - 1, 0, -1):
                target = headers.get(base + tuple(parts[:k]), 0)
                if target <= 0 or target == sec:
                    continue
                tpath = self.sections[target][0]
                if any(tpath[:len(p)] == p or base[:len(p)] == p for p in aot_paths):
                    break
                text = "".join(self.out[start:end])
                lead = len(text) - len(text.lstrip(" \t"))
                statement = text[lead:]
                moved = ".".join(raws[k:]) + statement[_after_key(statement, raws):]
                if not moved.endswith("\n"):
                    moved += "\n"
                for x in range(start, end):
                    self.out[x] = ""
                inserts.setdefault(self.sections[target][2], []).append(moved)
                self.changed = True
                break
        for at in sorted(inserts, reverse=True):
            last = next((piece for piece in reversed(self.out[:at]) if piece), "\n")
            self.out.insert(at, ("" if last.endswith("\n") else "\n") + "".join(inserts[at]))


def _after_key(text: str, raws: list[str]) -> int:
    """Offset in ``text`` (a statement starting with its key) just after the key."""
    pos = 0
    for n, raw in enumerate(raws):
        while text[pos] in _SPACE:
            pos += 1
        pos += len(raw)
        if n + 1 < len(raws):
            while text[pos] in _SPACE:
                pos += 1
            pos += 1  # the dot
    return pos


def _escaped(s: str, start: int, at: int) -> bool:
    """Whether the quote at ``at`` is escaped by an odd run of backslashes."""
    k = at - 1
    while k >= start and s[k] == "\\":
        k -= 1
    return (at - 1 - k) % 2 == 1


def _decode_basic(body: str, multi: bool) -> tuple[str, bool]:
    """go-toml v1's value of a basic string body, and whether TOML 1.0 would refuse the token."""
    if "\\" not in body and "\x7f" not in body and (not multi or "\r" not in body):
        return (body[1:] if multi and body.startswith("\n") else body), False
    out: list[str] = []
    bad = False
    i, n = 0, len(body)
    if multi:
        if body.startswith("\r\n"):
            i = 2
        elif body.startswith("\n"):
            i = 1
    while i < n:
        c = body[i]
        if c == "\\":
            if i + 1 >= n:
                raise _Decline()
            e = body[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                bad = bad or e == "/"
                i += 2
            elif e in "uU":
                width = 4 if e == "u" else 8
                digits = body[i + 2:i + 2 + width]
                if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
                    raise _Decline()
                code = int(digits, 16)
                ch = _rune(code)
                bad = bad or ch != chr(min(code, 0x10FFFF)) or 0xD800 <= code <= 0xDFFF
                out.append(ch)
                i += 2 + width
            elif e in " \t\r\n":
                j = i + 1
                while j < n and body[j] in " \t\r\n":
                    j += 1
                if not multi or "\n" not in body[i + 1:j]:
                    bad = True
                i = j
            else:
                raise _Decline()
        else:
            if c == "\x7f" or (c == "\r" and not body.startswith("\r\n", i)):
                bad = True
            out.append(c)
            i += 1
    return "".join(out), bad


def _decode_literal(body: str, multi: bool) -> tuple[str, bool]:
    """go-toml v1's value of a literal string body (anything up to the quote), and whether
    TOML 1.0 would refuse the token (control characters, DEL, a newline in a one-line string)."""
    if multi:
        if body.startswith("\r\n"):
            body = body[2:]
        elif body.startswith("\n"):
            body = body[1:]
    allowed = "\t\n" if multi else "\t"
    bad = any((ord(c) < 0x20 and c not in allowed) or c == "\x7f" for c in body.replace("\r\n", "\n"))
    return body, bad


def _strip_zeros(word: str) -> str:
    """``01`` → ``1``, ``-007`` → ``-7``, ``00.5`` → ``0.5`` (go-toml v1 parses decimals in base 10)."""
    sign = word[:1] if word[:1] in "+-" else ""
    rest = word[len(sign):]
    if len(rest) < 2 or rest[0] != "0" or rest[1] in "xob" or not rest[1].isdigit() and rest[1] != "_":
        return word
    if len(word) >= 10 and word[4:5] == "-" or ":" in word:
        return word  # a date or a time
    k = 0
    while k < len(rest) - 1 and rest[k] in "0_" and (rest[k + 1].isdigit() or rest[k + 1] == "_"):
        k += 1
    stripped = rest[k:].lstrip("_")
    return sign + (stripped or "0")


def normalise(text: str) -> str | None:
    """``text`` with go-toml v1's extensions rewritten as TOML 1.0 (see the module docstring);
    None when there is nothing to rewrite, or the text is beyond repair (a strict parser then
    gives the real error).  Raises :class:`TOMLError` for nesting deeper than :data:`MAX_DEPTH`."""
    try:
        return _Rewriter(text).run()
    except (_Decline, IndexError):
        return None


_INT64 = 1 << 63


def _check_integers(text: str, tree: dict) -> dict:
    """Refuse an integer outside the signed 64-bit range, as go-toml v1 and TOML 1.0 do (only
    looked for when the text holds a run of 19 digits)."""
    import re
    if re.search(r"[0-9]{19}|0x[0-9A-Fa-f_]{16}|0o[0-7_]{21}|0b[01_]{63}", text) is None:
        return tree
    stack: list = [tree]
    while stack:
        node = stack.pop()
        for v in (node.values() if isinstance(node, dict) else node):
            if isinstance(v, (dict, list)):
                stack.append(v)
            elif type(v) is int and not -_INT64 <= v < _INT64:
                shown = str(v)
                shown = shown if len(shown) <= 24 else shown[:20] + f"... ({len(shown)} digits)"
                raise TOMLError(f"integer {shown} is out of the signed 64-bit range")
    return tree


def loads_strict(text: str) -> dict:
    """``tomllib.loads`` for TOML 1.0 as it stands: ``tomllib.TOMLDecodeError`` for anything else, go-toml
    v1's extensions included; its non-syntax failures are :class:`TOMLError` (nvidia-ctk edits only
    text that parses so, section by section)."""
    import tomllib
    try:
        tree = tomllib.loads(text)
    except RecursionError:
        raise too_deep() from None
    except tomllib.TOMLDecodeError:
        raise
    except ValueError:  # int() refuses thousands of digits
        raise TOMLError("an integer of thousands of digits is out of the signed 64-bit range") from None
    return _check_integers(text, tree)


def loads(text: str) -> dict:
    """Parse ``text`` as go-toml v1 reads it; raises :class:`TOMLError` (one line)."""
    import tomllib
    try:
        return loads_strict(text)
    except tomllib.TOMLDecodeError as exc:
        first = exc
    return loads_after(text, first)


def loads_after(text: str, first_error: Exception) -> dict:
    """:func:`loads` for a ``text`` that :func:`loads_strict` refused with ``first_error``: the text with
    go-toml v1's extensions rewritten, parsed strictly; else :class:`TOMLError` with ``first_error``'s
    message (the original text's problem)."""
    import tomllib
    fixed = normalise(text)
    if fixed is not None:
        try:
            return loads_strict(fixed)
        except tomllib.TOMLDecodeError:
            pass
    raise TOMLError(str(first_error)) from None
