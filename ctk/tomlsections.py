"""A TOML file cut at its table headers, for edits that parse only the sections they touch.

tomlkit parses about 0.5 MB/s, and super-linearly beyond a few MB; ``tomllib`` about 8 MB/s.  An
edit of a large file (a containerd config with thousands of runtime handlers) changes a few
tables, so :func:`edit` hands tomlkit a *reduced* document instead of the file: the sections the
edit reads or writes, verbatim, with every run of other sections replaced by one empty marker
table (``[<where the run nests>.<token>_N]``) that nests exactly where the run's first header
nests, so tomlkit builds the same tables along every edited path.  After the edit, each marker
line is replaced by the text it stands for.  The result is byte for byte the whole-document edit
(property-tested in tests/ctk/test_tomlsections.py).

:func:`scan` is exact or declines (returns None), like :mod:`hook.minitoml`: it finds the header
lines of a text ``tomllib`` accepts, and declines on what it cannot tell apart cheaply (multi-line
strings, a line that could be a header or an array element, arrays of tables, CR, no final
newline), on tables split across the file (tomlkit makes those out-of-order proxies), and on
everything else outside the shape it handles; the caller then edits the whole document.
"""

from __future__ import annotations

import re
from typing import Any, Callable

__all__ = ["Sections", "scan", "edit", "HEADER_CANDIDATE"]

_KEY = r'''[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*\''''
_HEADER = re.compile(r"[ \t]*(\[\[?)[ \t]*((?:%s)(?:[ \t]*\.[ \t]*(?:%s))*)[ \t]*(\]\]?)[ \t]*(?:#[^\n]*)?\n"
                     % (_KEY, _KEY))
_PART = re.compile(_KEY)
# where a line could start a table header (or be a line of a multi-line array)
HEADER_CANDIDATE = re.compile(r"(?m)^[ \t]*\[")
_VALUE_WORDS = frozenset(("true", "false", "inf", "nan"))


class Sections:
    """``starts[i]``: where section ``i`` begins (section 0: the text before the first header,
    possibly empty); ``paths[i]``: the table its header names (``()`` for section 0)."""

    __slots__ = ("text", "starts", "paths")

    def __init__(self, text: str, starts: list[int], paths: list[tuple[str, ...]]) -> None:
        self.text, self.starts, self.paths = text, starts, paths

    def span(self, i: int) -> str:
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[i]:end]


def _part(raw: str) -> str | None:
    if raw[0] == "'":
        return raw[1:-1]
    if raw[0] == '"':
        if "\\" not in raw:
            return raw[1:-1]
        import tomllib
        try:
            return tomllib.loads("k = " + raw)["k"]
        except tomllib.TOMLDecodeError:
            return None
    return raw


def _could_be_value(parts: list[str]) -> bool:
    """Whether ``[parts]`` could also be an array holding one value (``[1.5]``, ``["a"]``,
    ``[true]``): such a line inside a multi-line array is not a header."""
    if len(parts) > 2:
        return False
    return all(p[0] in "\"'0123456789+-" or p in _VALUE_WORDS for p in parts)


def scan(text: str) -> Sections | None:
    """The sections of ``text`` (which ``tomllib`` accepts), or None (see the module docstring)."""
    if '"""' in text or "'''" in text or "\r" in text or not text.endswith("\n"):
        return None
    starts, paths = [0], [()]
    cache: dict[str, tuple[str, ...] | None] = {}
    for m in HEADER_CANDIDATE.finditer(text):
        h = _HEADER.match(text, m.start())
        if h is None:
            continue  # not header syntax: a line of a multi-line array
        if h.group(1) == "[[" or h.group(3) == "]]":
            return None
        raw = h.group(2)
        path = cache.get(raw, ())
        if path == ():
            parts = _PART.findall(raw)
            if _could_be_value(parts):
                return None
            decoded = [_part(p) for p in parts]
            path = None if None in decoded else tuple(decoded)
            cache[raw] = path
        if path is None:
            return None
        starts.append(m.start())
        paths.append(path)
    return Sections(text, starts, paths)


def _ops(old: dict, new: dict, path: tuple, touched: set, replaced: list, same: Callable) -> bool:
    """The containers in which ``tomledit.apply`` changes keys directly (``touched``) and the
    keys it deletes or replaces (``replaced``), following its recursion.  False: arrays of
    tables are involved (not handled here)."""
    for k, v in old.items():
        if k not in new:
            touched.add(path)
            replaced.append(path + (k,))
            if _has_aot(v):
                return False
    for k, v in new.items():
        if k not in old:
            touched.add(path)
            if _has_aot(v):
                return False
            continue
        ov = old[k]
        if same(ov, v):
            continue
        if isinstance(ov, dict) and isinstance(v, dict):
            if not _ops(ov, v, path + (k,), touched, replaced, same):
                return False
        else:
            if _has_aot(ov) or _has_aot(v):
                return False
            touched.add(path)
            replaced.append(path + (k,))
    return True


def _has_aot(v: Any) -> bool:
    if isinstance(v, dict):
        return any(_has_aot(x) for x in v.values())
    return isinstance(v, list) and any(isinstance(x, dict) for x in v)


def _prefixes(path: tuple) -> list[tuple]:
    return [path[:k] for k in range(len(path) + 1)]


def _target(rold: dict, old: dict, new: dict, is_marker: Callable[[str], bool],
            same: Callable) -> dict | None:
    """The reduced document's new value: ``new`` where the edit changes something, the reduced
    document's own value elsewhere, keys in ``new``'s order (the order ``apply`` edits in).  None
    when the reduced document lacks something the edit reads."""
    out: dict = {}
    for k, v in new.items():
        if k not in old:
            out[k] = v
        elif k in rold:
            ov, rv = old[k], rold[k]
            if same(ov, v):
                out[k] = rv
            elif isinstance(ov, dict) and isinstance(v, dict):
                if not isinstance(rv, dict):
                    return None
                sub = _target(rv, ov, v, is_marker, same)
                if sub is None:
                    return None
                out[k] = sub
            elif same(rv, ov):
                out[k] = v
            else:
                return None
        elif not same(old[k], v):
            return None
    for k in old:
        if k not in new and k not in rold:
            return None
    for k, v in rold.items():
        if k not in old:
            if not is_marker(k):
                return None
            out[k] = v
        elif k not in new:
            if not same(rold[k], old[k]):
                return None
    return out


def _within(rold: Any, old: Any, is_marker: Callable[[str], bool], same: Callable) -> bool:
    """Every value of the reduced document is the file's value at the same place."""
    if isinstance(rold, dict):
        if not isinstance(old, dict):
            return False
        for k, v in rold.items():
            if k not in old:
                if not (is_marker(k) and v == {}):
                    return False
            elif not _within(v, old[k], is_marker, same):
                return False
        return True
    return same(rold, old)


def edit(text: str, old: dict, new: dict) -> str | None:
    """The text of :func:`ctk.tomledit.apply`'s edit from ``old`` to ``new`` of the whole
    document ``text``, computed on the sections it touches only; None when :func:`scan` or the
    shape checks decline.  ``old`` is ``text``'s tree (as ``tomllib`` reads it, the text being
    TOML 1.0 as it stands)."""
    import tomlkit
    from .tomledit import apply, plain, render, same
    touched: set = set()
    replaced: list = []
    if not _ops(old, new, (), touched, replaced, same):
        return None
    sec = scan(text)
    if sec is None:
        return None
    paths = sec.paths
    n = len(paths)
    # for each table named by a header (and each prefix of one): its first and last section and
    # how many sections it has; own: the section of its own header
    first: dict[tuple, int] = {}
    last: dict[tuple, int] = {}
    count: dict[tuple, int] = {}
    own: dict[tuple, int] = {}
    for i in range(1, n):
        p = paths[i]
        if p in own:
            return None  # defined twice: not for us
        own[p] = i
        for k in range(1, len(p) + 1):
            q = p[:k]
            if q not in first:
                first[q] = i
            last[q] = i
            count[q] = count.get(q, 0) + 1

    def contiguous(q: tuple) -> bool:
        return q not in first or last[q] - first[q] + 1 == count[q]

    keep = {0}
    for c in touched:
        for q in _prefixes(c):
            if not contiguous(q):
                return None
            if q in own:
                keep.add(own[q])
        # the first section below c (its first child: the indentation of what is added) and
        # the last (what an appended table follows)
        lo, hi = (1, n - 1) if c == () else (first.get(c, n), last.get(c, 0))
        if lo < n and paths[lo] == c:
            lo += 1
        if lo <= hi:
            keep.update((lo, hi))
            # tomlkit indents what it adds like the first child that stays: past removed ones
            k = lo
            while k <= hi and any(paths[k][:len(r)] == r for r in replaced):
                k += 1
            if k <= hi:
                keep.add(k)
    for r in replaced:
        if r in first:
            if not contiguous(r):
                return None
            keep.update(range(first[r], last[r] + 1))
    for i in list(keep):
        for q in _prefixes(paths[i])[1:-1]:
            if not contiguous(q):
                return None
            if q in own:
                keep.add(own[q])
    token = "__tomlspeed_0__"
    t = 0
    while token in text:
        t += 1
        token = f"__tomlspeed_{t}__"

    def is_marker(k: str) -> bool:
        return k.startswith(token)

    pieces: list[str] = []
    markers: list[tuple[str, str]] = []
    i = 0
    while i < n:
        if i in keep:
            pieces.append(sec.span(i))
            i += 1
            continue
        j = i
        while j + 1 < n and j + 1 not in keep:
            j += 1
        h = _HEADER.match(text, sec.starts[i])
        # the run's first header with one more key: it opens the same tables as that header
        line = f"{text[h.start():h.end(2)]}.{token}{len(markers)}{text[h.end(2):h.end()]}"
        end = sec.starts[j + 1] if j + 1 < n else len(text)
        markers.append((line, text[sec.starts[i]:end]))
        pieces.append(line)
        i = j + 1
    if not markers:
        return None  # the edit reads every section: nothing to save
    reduced = "".join(pieces)
    try:
        doc = tomlkit.parse(reduced)
    except Exception:  # noqa: BLE001 - tomlkit's errors are many; the whole document decides
        return None
    rold = plain(doc)
    if not _within(rold, old, is_marker, same):
        return None
    rnew = _target(rold, old, new, is_marker, same)
    if rnew is None:
        return None
    apply(doc, rold, rnew)
    out = render(doc)
    import tomllib
    try:
        if not same(tomllib.loads(out), rnew):
            return None
    except tomllib.TOMLDecodeError:
        return None
    parts = []
    pos = 0
    for line, elided in markers:
        at = out.find(line, pos)
        if at == -1 or (at > 0 and out[at - 1] != "\n"):
            return None
        parts.append(out[pos:at])
        parts.append(elided)
        pos = at + len(line)
    parts.append(out[pos:])
    result = "".join(parts)
    return None if token in result else result
