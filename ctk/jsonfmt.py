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

from .errors import ConfigLoadError

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


def loads(data: bytes) -> tuple[Any, JsonStyle, bool]:
    """Parse the first JSON value of ``data``.

    Returns ``(value, style, trailing_data)``; ``trailing_data`` is True when something
    other than whitespace follows the first value (it is ignored, as the reference does).
    Raises :class:`ConfigLoadError` for empty input (``EOF``), a byte-order mark, invalid
    UTF-8 or invalid JSON.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigLoadError(f"invalid UTF-8 at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise ConfigLoadError("invalid character 'ï' looking for beginning of value (UTF-8 byte-order mark)")
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        raise ConfigLoadError("EOF")
    offset = len(text) - len(stripped)
    decoder = json.JSONDecoder(parse_float=Number, parse_int=Number,
                               parse_constant=_reject_constant)
    try:
        value, end = decoder.raw_decode(stripped)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(stripped):
            raise ConfigLoadError("unexpected EOF") from None
        raise ConfigLoadError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise ConfigLoadError(str(exc)) from None
    rest = stripped[end:]
    return value, _detect_style(text, offset + end), bool(rest.strip())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _enc_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _dump(v: Any, style: JsonStyle, level: int, out: list[str]) -> None:
    ind = style.indent
    if isinstance(v, dict):
        if not v:
            out.append("{}")
            return
        if ind is None:
            out.append("{")
            for i, (k, x) in enumerate(v.items()):
                if i:
                    out.append(", ")
                out.append(_enc_str(k) + ": ")
                _dump(x, style, level + 1, out)
            out.append("}")
            return
        out.append("{\n")
        items = list(v.items())
        for i, (k, x) in enumerate(items):
            out.append(ind * (level + 1) + _enc_str(k) + ": ")
            _dump(x, style, level + 1, out)
            out.append(",\n" if i < len(items) - 1 else "\n")
        out.append(ind * level + "}")
    elif isinstance(v, list):
        if not v:
            out.append("[]")
            return
        if ind is None:
            out.append("[")
            for i, x in enumerate(v):
                if i:
                    out.append(", ")
                _dump(x, style, level + 1, out)
            out.append("]")
            return
        out.append("[\n")
        for i, x in enumerate(v):
            out.append(ind * (level + 1))
            _dump(x, style, level + 1, out)
            out.append(",\n" if i < len(v) - 1 else "\n")
        out.append(ind * level + "]")
    elif isinstance(v, Number):
        out.append(v.render())
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif v is None:
        out.append("null")
    elif isinstance(v, str):
        out.append(_enc_str(v))
    elif isinstance(v, (int, float)):
        out.append(json.dumps(v))
    else:
        raise TypeError(f"cannot serialise {type(v).__name__}")


def dumps(value: Any, style: JsonStyle = DEFAULT_STYLE) -> str:
    """Serialise ``value`` in ``style`` (with its trailing newline, if any)."""
    out: list[str] = []
    _dump(value, style, 0, out)
    return "".join(out) + ("\n" if style.trailing_newline else "")
