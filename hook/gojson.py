"""JSON decoding with the rules of Go's ``encoding/json`` that the reference exposes.

* only the first JSON value of the input is decoded; trailing bytes are ignored;
* object keys match struct fields case-insensitively, and for repeated keys the
  last one wins (objects repeated under one key merge, as Go decodes them into
  the same struct);
* numbers keep their literal text, so integer fields reject ``1.0`` and ``1e3``;
* ``NaN``/``Infinity`` are syntax errors, lone UTF-16 surrogates become U+FFFD.

:func:`decode_first` returns a tree of Python values in which objects are
:class:`Obj` (the ordered key/value pairs) and numbers are :class:`Number`.
The typed accessors raise :class:`DecodeError` with Go-like wording.
"""

from __future__ import annotations

_WS = " \t\n\r"


class DecodeError(ValueError):
    """The input is not JSON, or a value has the wrong type for its field."""


class Number(str):
    """A JSON number, kept as its literal text."""

    __slots__ = ()


class Obj(list):
    """A JSON object: the list of its ``(key, value)`` pairs, in input order."""

    __slots__ = ()


def _reject_constant(name: str):
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


class _Context:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``, without importing ``json``."""

    strict = True
    object_hook = None
    object_pairs_hook = Obj
    parse_int = Number
    parse_float = Number
    parse_constant = staticmethod(_reject_constant)


_scan = None


def _scanner():
    """The C scanner of ``_json`` (importing the ``json`` package would import ``re``)."""
    global _scan
    if _scan is None:
        try:
            from _json import make_scanner
            _scan = make_scanner(_Context())
        except ImportError:  # a Python without _json
            import json
            _scan = json.JSONDecoder(object_pairs_hook=Obj, parse_int=Number, parse_float=Number,
                                     parse_constant=_reject_constant).scan_once
    return _scan


def decode_first(data: bytes):
    """Decode the first JSON value of ``data``.

    Raises :class:`DecodeError` with ``EOF`` for empty input, ``unexpected EOF``
    for a truncated value, or a syntax message.
    """
    text = data.decode("utf-8", "replace")
    i = 0
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    if i == n:
        raise DecodeError("EOF")
    try:
        try:
            value, _ = _scanner()(text, i)
        except SystemError:
            # The C scanner reports syntax errors with json.decoder.JSONDecodeError, which it
            # cannot import itself: import it (error path only) and scan again.
            import json.decoder  # noqa: F401
            value, _ = _scanner()(text, i)
    except StopIteration as exc:
        if exc.value >= n:
            raise DecodeError("unexpected EOF") from None
        raise DecodeError(f"invalid character {text[exc.value]!r} looking for beginning of value") from None
    except RecursionError:
        raise DecodeError("exceeded max depth") from None
    except ValueError as exc:  # json.JSONDecodeError (has .pos), or a rejected constant
        pos = getattr(exc, "pos", None)
        if pos is None:
            raise DecodeError(str(exc)) from None
        if pos >= n or text[pos:].strip(_WS) == "" or str(exc).startswith("Unterminated string"):
            raise DecodeError("unexpected EOF") from None
        raise DecodeError(f"invalid character {text[pos]!r} ({getattr(exc, 'msg', exc)})") from None
    return value


def fold(key: str) -> str:
    """Go's simple case folding of a key, enough to compare with ASCII field names."""
    if key.isascii():
        return key.lower()
    return key.lower().replace("\u017f", "s")


def kind(value) -> str:
    """The JSON type name Go uses in unmarshal errors."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "bool"
    if isinstance(value, Number):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Obj):
        return "object"
    return "array"


def type_error(value, where: str, gotype: str) -> DecodeError:
    return DecodeError(f"json: cannot unmarshal {kind(value)} into Go {where} of type {gotype}")


def fields(obj: Obj, names: tuple[str, ...]) -> dict[str, list]:
    """Collect, for each lower-case field name, every value given for it (in order)."""
    found: dict[str, list] = {}
    for key, value in obj:
        k = fold(key)
        if k in names:
            found.setdefault(k, []).append(value)
    return found


def fix_text(s: str) -> str:
    """Replace lone surrogates (from ``\\ud800`` escapes) by U+FFFD, as Go does."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s)


def as_string(values: list, current: str, where: str) -> str:
    """Decode a string field given ``values`` (last wins; ``null`` keeps ``current``)."""
    for v in values:
        if v is None:
            continue
        if type(v) is not str:
            raise type_error(v, where, "string")
        current = fix_text(v)
    return current


def as_string_or_none(values: list, where: str) -> str | None:
    """A nullable string field (a Go ``*string``): ``null`` resets it to None."""
    current: str | None = None
    for v in values:
        if v is None:
            current = None
            continue
        if type(v) is not str:
            raise type_error(v, where, "string")
        current = fix_text(v)
    return current


def as_string_list(value, where: str) -> list[str] | None:
    """Decode a ``[]string``: ``null`` gives None; ``null`` elements give ``""``."""
    if value is None:
        return None
    if not isinstance(value, list) or isinstance(value, Obj):
        raise type_error(value, where, "[]string")
    out = []
    for item in value:
        if item is None:
            out.append("")
        elif type(item) is str:
            out.append(fix_text(item))
        else:
            raise type_error(item, where, "string")
    return out


def as_int(value: Number | object, where: str, gotype: str, lo: int, hi: int) -> int:
    """Decode an integer field from a number literal in ``[lo, hi]``."""
    if not isinstance(value, Number):
        raise type_error(value, where, gotype)
    text = str(value)
    if any(c in text for c in ".eE") or (lo >= 0 and text.startswith("-")):
        raise DecodeError(f"json: cannot unmarshal number {text} into Go {where} of type {gotype}")
    n = int(text)
    if n < lo or n > hi:
        raise DecodeError(f"json: cannot unmarshal number {text} into Go {where} of type {gotype}")
    return n


def as_struct(values: list, where: str, gotype: str) -> Obj | None:
    """Decode a pointer-to-struct field: objects given under one key merge, ``null`` resets."""
    current: Obj | None = None
    for v in values:
        if v is None:
            current = None
        elif isinstance(v, Obj):
            current = Obj((current or []) + v)
        else:
            raise type_error(v, where, gotype)
    return current
