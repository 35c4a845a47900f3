"""Reading and writing ``daemon.json`` while keeping the user's key order, indentation and
number spelling.

:func:`loads` returns ``(value, style)``: plain Python values where every number is a
:class:`Number` holding the exact source text, and a :class:`JsonStyle` describing the
layout.  :func:`dumps` writes a value back in that style.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hook.gojson import encode_scalar, encode_string

from . import errors

_MAX_EXACT = 2**53


@dataclass(frozen=True, slots=True)
class Number:
    """A JSON number kept as written (``5.0``, ``1e2``); compares by numeric value."""

    text: str

    @property
    def value(self) -> int | float:
        try:
            return int(self.text)
        except ValueError:
            return float(self.text)

    def render(self) -> str:
        """The text to write: the original, except integers that a float64 reader cannot
        hold exactly (beyond 2**53), which are written as dockerd (Go, float64) reads them."""
        v = self.value
        if isinstance(v, int) and abs(v) > _MAX_EXACT:
            f = float(v)
            if abs(f) < 1e21:
                return format(Decimal(repr(f)), "f")
            return repr(f)
        return self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Number):
            return self.value == other.value
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return self.value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass(frozen=True, slots=True)
class JsonStyle:
    """Layout of a JSON document: ``indent`` is None for a one-line document."""

    indent: str | None = "    "
    trailing_newline: bool = False


DEFAULT_STYLE = JsonStyle()


def _detect_style(text: str, end: int) -> JsonStyle:
    body = text[:end]
    trailing = text[end:].startswith("\n") or text[end:].startswith("\r\n")
    if "\n" not in body.strip():
        return JsonStyle(indent=None, trailing_newline=trailing)
    m = re.search(r"\n([ \t]+)\S", body)
    return JsonStyle(indent=m.group(1) if m else "    ", trailing_newline=trailing)


MAX_DEPTH = 128
"""Objects and arrays nested deeper than this are refused (a daemon.json is a few levels
deep; the bound keeps every recursive step far from Python's recursion limit)."""

_WS = " \t\n\r"
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_LITERALS = (("true", True), ("false", False), ("null", None))


@dataclass(slots=True)
class Member:
    """One ``"key": value`` of an object, with the exact text around it."""

    key: str
    before: str        # between the '{' or ',' and the key
    key_raw: str       # the key as written (escapes included)
    colon: str         # between the key and the value: the ':' and its white space
    span: "Span"
    after: str         # between the value and the ',' or '}'


@dataclass(slots=True)
class Span:
    """Where a value is in the document text; objects also list their members."""

    start: int
    end: int
    members: list[Member] | None = None


@dataclass(slots=True)
class Document:
    """A parsed ``daemon.json``: the text, the value, where the value is, and the layout."""

    text: str
    value: Any
    span: Span
    style: JsonStyle
    trailing_data: bool


class _Parser:
    """A JSON parser (RFC 8259, as strict as Go's encoding/json) that records the span of
    every value and the text around every object member, so an edit can keep the text of
    everything it does not change."""

    def __init__(self, text: str):
        self.s = text
        self.n = len(text)

    def error(self, pos: int, msg: str) -> errors.ConfigLoadError:
        if pos >= self.n:
            return errors.ConfigLoadError("unexpected EOF")
        line = self.s.count("\n", 0, pos) + 1
        col = pos - self.s.rfind("\n", 0, pos)
        return errors.ConfigLoadError(f"invalid JSON at line {line} column {col}: {msg}")

    def ws(self, i: int) -> int:
        s, n = self.s, self.n
        while i < n and s[i] in _WS:
            i += 1
        return i

    def string(self, i: int) -> tuple[str, int]:
        try:
            return json.decoder.scanstring(self.s, i + 1, True)
        except json.JSONDecodeError as exc:
            raise self.error(exc.pos, exc.msg) from None

    def value(self, i: int, depth: int) -> tuple[Any, Span]:
        if i >= self.n:
            raise self.error(i, "Expecting value")
        c = self.s[i]
        if c in "{[":
            if depth >= MAX_DEPTH:
                raise errors.ConfigLoadError(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
            return self.obj(i, depth + 1) if c == "{" else self.arr(i, depth + 1)
        if c == '"':
            v, end = self.string(i)
            return v, Span(i, end)
        m = _NUMBER.match(self.s, i)
        if m:
            return Number(m.group()), Span(i, m.end())
        for word, v in _LITERALS:
            if self.s.startswith(word, i):
                return v, Span(i, i + len(word))
        raise self.error(i, "Expecting value")

    def obj(self, start: int, depth: int) -> tuple[dict, Span]:
        s = self.s
        out: dict = {}
        members: list[Member] = []
        i = start + 1
        j = self.ws(i)
        if j < self.n and s[j] == "}":
            return out, Span(start, j + 1, members)
        while True:
            k = self.ws(i)
            if k >= self.n or s[k] != '"':
                raise self.error(k, "Expecting property name enclosed in double quotes")
            key, kend = self.string(k)
            c = self.ws(kend)
            if c >= self.n or s[c] != ":":
                raise self.error(c, "Expecting ':' delimiter")
            vstart = self.ws(c + 1)
            val, span = self.value(vstart, depth)
            a = self.ws(span.end)
            members.append(Member(key, s[i:k], s[k:kend], s[kend:vstart], span, s[span.end:a]))
            out[key] = val
            if a < self.n and s[a] == ",":
                i = a + 1
                continue
            if a < self.n and s[a] == "}":
                return out, Span(start, a + 1, members)
            raise self.error(a, "Expecting ',' delimiter")

    def arr(self, start: int, depth: int) -> tuple[list, Span]:
        s = self.s
        out: list = []
        i = start + 1
        j = self.ws(i)
        if j < self.n and s[j] == "]":
            return out, Span(start, j + 1)
        while True:
            v, span = self.value(self.ws(i), depth)
            out.append(v)
            a = self.ws(span.end)
            if a < self.n and s[a] == ",":
                i = a + 1
                continue
            if a < self.n and s[a] == "]":
                return out, Span(start, a + 1)
            raise self.error(a, "Expecting ',' delimiter")


def load_document(data: bytes) -> Document:
    """Parse the first JSON value of ``data`` with the spans an edit needs.

    Raises :class:`ConfigLoadError` for empty input (``EOF``), a byte-order mark, invalid
    UTF-8, invalid JSON or nesting deeper than :data:`MAX_DEPTH`.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.ConfigLoadError(f"invalid UTF-8 at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise errors.ConfigLoadError("invalid character 'ï' looking for beginning of value (UTF-8 byte-order mark)")
    p = _Parser(text)
    start = p.ws(0)
    if start >= len(text):
        raise errors.ConfigLoadError("EOF")
    value, span = p.value(start, 0)
    return Document(text, value, span, _detect_style(text, span.end), bool(text[span.end:].strip()))


def loads(data: bytes) -> tuple[Any, JsonStyle, bool]:
    """Parse the first JSON value of ``data``.

    Returns ``(value, style, trailing_data)``; ``trailing_data`` is True when something
    other than whitespace follows the first value (it is ignored, as the reference does).
    Raises :class:`ConfigLoadError` as :func:`load_document` does.
    """
    doc = load_document(data)
    return doc.value, doc.style, doc.trailing_data


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same JSON types (``1`` and ``1.0`` differ; key order does not matter)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, Number):
        return a.text == b.text
    return a == b


def _as_written(v: Any) -> bool:
    """Whether ``v`` may keep its text: no integer in it that dockerd (float64) reads as
    another number (:meth:`Number.render`; the golden corpus records the rewrite)."""
    if isinstance(v, dict):
        return all(_as_written(x) for x in v.values())
    if isinstance(v, list):
        return all(_as_written(x) for x in v)
    return not isinstance(v, Number) or v.render() == v.text


def _line_indent(before: str, parent: str) -> str:
    return before.rsplit("\n", 1)[1] if "\n" in before else parent


def _splice(doc: Document, old: Any, new: Any, span: Span, indent: str, style: JsonStyle) -> str:
    """The text of ``new`` where ``old`` was written at ``span`` (on a line indented with
    ``indent``, in a context laid out in ``style``): the original text for an unchanged value;
    for an object, its unchanged members as written, changed ones spliced in, new ones appended
    in the layout of their neighbours; anything else rendered in ``style``."""
    text = doc.text
    same = _same(old, new)
    if same and _as_written(old):
        return text[span.start:span.end]
    if not (isinstance(old, dict) and isinstance(new, dict) and span.members):
        return new.render() if same and isinstance(new, Number) else _render(new, style, indent)
    members = span.members
    last_of = {m.key: i for i, m in enumerate(members)}
    multiline = "\n" in members[-1].before
    inner = doc.style if multiline else JsonStyle(None)
    parts: list[str] = []
    for i, m in enumerate(members):
        if last_of[m.key] != i or m.key not in new:
            continue
        v = _splice(doc, old[m.key], new[m.key], m.span, _line_indent(m.before, indent), inner)
        before = members[0].before if not parts else m.before
        parts.append(before + m.key_raw + m.colon + v + (m.after if m is not members[-1] else ""))
    sep = members[-1].before if len(members) > 1 or multiline else " "
    child = _line_indent(sep, indent)
    for k, v in new.items():
        if k not in old:
            before = members[0].before if not parts else sep
            parts.append(before + encode_string(k) + members[-1].colon + _render(v, inner, child))
    if not parts:
        return "{}"
    return "{" + ",".join(parts) + members[-1].after + "}"


def _render(v: Any, style: JsonStyle, indent: str) -> str:
    out: list[str] = []
    _dump(v, style, indent, out)
    return "".join(out)


def edit(doc: Document, new: Any) -> str:
    """``doc`` changed to hold ``new``, keeping the exact text of every untouched value, key,
    separator and comment-free white space (data after the first value is dropped)."""
    body = _splice(doc, doc.value, new, doc.span, "", doc.style)
    tail = doc.text[doc.span.end:]
    if doc.trailing_data:
        tail = "\n" if doc.style.trailing_newline else ""
    return doc.text[:doc.span.start] + body + tail


def _dump(v: Any, style: JsonStyle, indent: str, out: list[str]) -> None:
    """Append ``v`` written in ``style`` on a line indented with ``indent``."""
    ind = style.indent
    if isinstance(v, (dict, list)):
        if not v:
            out.append("{}" if isinstance(v, dict) else "[]")
            return
        opening, closing = ("{", "}") if isinstance(v, dict) else ("[", "]")
        items = list(v.items()) if isinstance(v, dict) else [(None, x) for x in v]
        inner = indent + ind if ind is not None else indent
        out.append(opening + ("\n" if ind is not None else ""))
        for i, (k, x) in enumerate(items):
            if ind is not None:
                out.append(inner)
            elif i:
                out.append(", ")
            if k is not None:
                out.append(encode_string(k) + ": ")
            _dump(x, style, inner, out)
            if ind is not None:
                out.append(",\n" if i < len(items) - 1 else "\n")
        out.append((indent if ind is not None else "") + closing)
    elif isinstance(v, Number):
        out.append(v.render())
    elif (text := encode_scalar(v)) is not None:
        out.append(text)
    elif isinstance(v, (int, float)):
        out.append(json.dumps(v))
    else:
        raise TypeError(f"cannot serialise {type(v).__name__}")


def dumps(value: Any, style: JsonStyle = DEFAULT_STYLE) -> str:
    """Serialise ``value`` in ``style`` (with its trailing newline, if any)."""
    return _render(value, style, "") + ("\n" if style.trailing_newline else "")
