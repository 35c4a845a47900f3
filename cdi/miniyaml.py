"""The block-style YAML that CDI spec generators write, read without PyYAML.

The runtime's ``cdi`` mode reads the spec files on every GPU ``create``; importing PyYAML costs
about 10 ms (it imports ``re`` and compiles its resolvers), parsing a generated spec with libyaml
1.5 ms.  The specs ``nvidia-ctk cdi generate`` writes (go-yaml's layout) and PyYAML's ``safe_dump``
use a small part of YAML: block mappings and sequences (indented or not under their key), plain
scalars, quoted scalars on one line, ``[]`` and ``{}``, comment lines and a leading ``---``.
:func:`loads` reads that part and gives what ``yaml.safe_load`` gives (YAML 1.1 resolution of
plain scalars, later duplicate keys winning); for anything else (anchors, tags, flow collections,
block or multi-line scalars, comments after a value, numbers other than decimal integers, tabs,
characters outside printable ASCII, a second document...) it raises ``Unsupported`` and the
caller parses with PyYAML, which also words every error (``tests/cdi/test_miniyaml.py`` checks
both against PyYAML).
"""

from __future__ import annotations

from hook.values import lazy_exception

__all__ = ["loads", "INDICATORS", "VALUE_AND_MERGE_KEYS"]

__getattr__ = lazy_exception(globals(), "Unsupported", Exception,
                             "Outside the subset (or possibly invalid): parse with PyYAML instead.")

_NULLS = frozenset(("~", "null", "Null", "NULL"))
_BOOLS = {w: v for v, words in ((True, "yes Yes YES true True TRUE on On ON"),
                                (False, "no No NO false False FALSE off Off OFF")) for w in words.split()}
_DIGITS = frozenset("0123456789")
_VERSION_CHARS = frozenset("0123456789.")
# YAML's indicators: a scalar starting with one is not plain (a dash followed by a non-space is).
INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# YAML 1.1's value and merge keys: PyYAML refuses them as plain scalars (cdi.spec quotes them).
VALUE_AND_MERGE_KEYS = frozenset(("=", "<<"))
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
            "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028",
            "P": "\u2029"}
_HEX = {"x": 2, "u": 4, "U": 8}


def _unsupported() -> Exception:
    return __getattr__("Unsupported")()


def loads(text: str):
    """The document ``text`` as ``yaml.safe_load`` reads it; raises ``Unsupported`` outside the subset."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # a lone CR is a line break too: not in the subset
    if not text.isascii() or not text.replace("\n", "").isprintable():
        raise _unsupported()  # tabs, CRs, control characters, non-ASCII: PyYAML's rules (and messages)
    lines = []  # (indent, content) of the lines that hold something
    for raw in text.split("\n"):
        content = raw.lstrip(" ")
        if not content or content[0] == "#":
            continue
        if content.startswith(("---", "...", "%")):
            if content != "---" or lines:  # only a leading document start
                raise _unsupported()
            continue
        lines.append((len(raw) - len(content), content.rstrip(" ")))
    if not lines:
        return None
    try:
        value, end = _block(lines, 0, lines[0][0])
    except RecursionError:  # nested deeper than the interpreter's stack: PyYAML's C parser reads it
        raise _unsupported() from None
    if end != len(lines):
        raise _unsupported()
    return value


def _block(lines: list, i: int, indent: int):
    """The mapping or sequence whose first line is ``lines[i]``, at ``indent``; ``(value, next line)``."""
    content = lines[i][1]
    if _is_item(content):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent, _entry(content))


def _is_item(content: str) -> bool:
    """Whether ``content`` (a line without its indentation) is a sequence item: a dash, alone or then a space."""
    return content == "-" or content.startswith("- ")


def _sequence(lines: list, i: int, indent: int):
    items = []
    while i < len(lines) and lines[i][0] == indent:
        content = lines[i][1]
        if not _is_item(content):
            break
        rest = content[1:].lstrip(" ")
        if not rest:
            value, i = _nested(lines, i + 1, indent)
        elif _is_item(rest):
            raise _unsupported()  # a sequence in a sequence on one line
        elif (entry := _entry(rest)) is not None:  # a mapping that starts on the dash's line
            value, i = _mapping(lines, i, indent + len(content) - len(rest), entry)
        else:
            value = _scalar(rest)
            i = _after_scalar(lines, i + 1, indent)
        items.append(value)
    return items, i


def _mapping(lines: list, i: int, indent: int, entry):
    """A mapping at ``indent``; ``entry`` is its first entry as :func:`_entry` reads ``lines[i]`` (the rest
    of that line after the dash when the mapping starts on a dash's line), None being unsupported."""
    out = {}
    while True:
        if entry is None:
            raise _unsupported()
        key, rest = entry
        if rest:
            out[key] = _scalar(rest)
            i = _after_scalar(lines, i + 1, indent)
        elif i + 1 < len(lines) and lines[i + 1][0] == indent and _is_item(lines[i + 1][1]):
            out[key], i = _sequence(lines, i + 1, indent)  # a sequence not indented under its key
        else:
            out[key], i = _nested(lines, i + 1, indent)
        if i >= len(lines) or lines[i][0] != indent:
            if i < len(lines) and lines[i][0] > indent:
                raise _unsupported()
            return out, i
        entry = _entry(lines[i][1])


def _nested(lines: list, i: int, indent: int):
    """The block under a key or a dash at ``indent`` (more indented), or None when there is none."""
    if i < len(lines) and lines[i][0] > indent:
        return _block(lines, i, lines[i][0])
    return None, i


def _after_scalar(lines: list, i: int, indent: int) -> int:
    """``i``, after checking that no more indented line continues the scalar (a multi-line plain scalar)."""
    if i < len(lines) and lines[i][0] > indent:
        raise _unsupported()
    return i


def _entry(content: str):
    """``(key, rest)`` of a ``key: value`` or ``key:`` line with a plain or quoted string key, or None."""
    if content[0] in "'\"":
        key, end = _quoted(content)
        if content[end:end + 1] != ":" or content[end + 1:end + 2] not in ("", " "):
            return None
        return key, content[end + 1:].lstrip(" ")
    if content.endswith(":"):
        key, rest = content[:-1], ""
        if ": " in key:
            key, _, rest = content.partition(": ")
    else:
        key, sep, rest = content.partition(": ")
        if not sep:
            return None
    if not key or key != key.rstrip(" "):
        raise _unsupported()
    value = _scalar(key)
    if type(value) is not str:
        raise _unsupported()  # a key that is not a string (PyYAML would make it a number, a bool, None)
    return value, rest.lstrip(" ")


def _scalar(text: str):
    """A value written on one line: a quoted or plain scalar, ``[]`` or ``{}``."""
    c = text[0]
    if c in "'\"":
        value, end = _quoted(text)
        if end != len(text):
            raise _unsupported()
        return value
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if c in INDICATORS and not (c == "-" and len(text) > 1 and text[1] != " "):
        raise _unsupported()
    if ": " in text or " #" in text or text.endswith(":") or text in VALUE_AND_MERGE_KEYS:
        raise _unsupported()
    if text in _NULLS:
        return None
    value = _BOOLS.get(text)
    if value is not None:
        return value
    body = text[1:] if c in "+-" else text
    if body[:1] in _DIGITS:
        if body == "0" or (body[0] != "0" and _DIGITS.issuperset(body)):
            return int(text)
        if body is text and text.count(".") > 1 and _VERSION_CHARS.issuperset(text):
            return text  # 0.5.0, 550.54.14: no YAML 1.1 number has two dots, no timestamp is only digits and dots
        raise _unsupported()  # floats, octal and hex integers, timestamps, sexagesimal numbers
    if body[:1] == "." and (body[1:2] in _DIGITS or body[1:2] == "_" or body[1:].lower() in ("inf", "nan")):
        raise _unsupported()  # .5, .inf, .nan
    return text


def _quoted(text: str) -> tuple[str, int]:
    """The quoted scalar at the start of ``text`` and the index after its closing quote."""
    quote = text[0]
    out = []
    i = 1
    while True:
        j = text.find(quote, i) if quote == "'" else _next_special(text, i)
        if j < 0:
            raise _unsupported()  # closed on a later line (folded): not in the subset
        out.append(text[i:j])
        if quote == "'":
            if text[j + 1:j + 2] == "'":
                out.append("'")
                i = j + 2
                continue
            return "".join(out), j + 1
        if text[j] == '"':
            return "".join(out), j + 1
        esc = text[j + 1:j + 2]  # text[j] is a backslash
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i = j + 2
        elif esc in _HEX:
            digits = text[j + 2:j + 2 + _HEX[esc]]
            if len(digits) != _HEX[esc] or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise _unsupported()
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise _unsupported()
            out.append(chr(code))
            i = j + 2 + len(digits)
        else:
            raise _unsupported()


def _next_special(text: str, i: int) -> int:
    """The index of the next double quote or backslash from ``i``, or -1."""
    q, b = text.find('"', i), text.find("\\", i)
    if b < 0:
        return q
    return b if q < 0 or b < q else q
