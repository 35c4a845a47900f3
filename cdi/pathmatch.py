"""Path patterns as upstream matches them: Go's ``filepath.Match`` and ``filepath.Glob`` (Unix).

Upstream's locators, device-node lookups, CSV ignore patterns and hooks all use these two Go
functions (and containerd its ``imports``: ``ctk.engines.containerd``), so the whole ``cdi`` package
matches with this module and nothing else (no ``re``,
``fnmatch`` or ``glob``: every GPU ``create`` in ``jit-cdi`` mode runs the generator).  Go's rules,
which are not Python's:

* ``*`` matches any run of characters but ``/``, ``?`` one character but ``/``; both match a
  leading dot (``*.conf`` matches ``.hidden.conf``);
* ``[...]`` is a class of characters and ranges ``a-z``, negated by ``^`` (not ``!``); ``\\``
  escapes the next character, also inside a class;
* a malformed pattern (``[``, ``[]``, ``[a-]``, a trailing ``\\``) matches nothing (Go returns
  ``ErrBadPattern``, which upstream's callers drop).

A pattern without ``*``, ``?``, ``[`` or ``\\`` costs one ``lstat``, never a directory listing.
"""

from __future__ import annotations

from hook import oslite

__all__ = ["has_meta", "well_formed", "escape", "match", "matcher", "glob", "glob_in"]

_META = "*?[\\"

# pattern -> (literal prefix, literal suffix, chunks) or None when malformed.  The chunks are Go's
# scanChunk's (star, items) pairs; an item is a literal run (str), None for ``?`` or
# (negated, ((lo, hi), ...)) for a class.  Every match starts with the prefix and ends with the
# suffix: checking them first rejects most names of a long ld.so.cache at the cost of two C calls.
_compiled: dict[str, tuple | None] = {}
_MISSING = object()
# A malformed pattern raises ValueError inside the compiler (nothing else there raises it): a class of
# its own would cost every update-ldcache run its creation (tests/classes.py).


def has_meta(pattern: str) -> bool:
    """Whether ``pattern`` has a character Go's ``Glob`` treats as magic (``* ? [ \\``)."""
    for c in _META:
        if c in pattern:
            return True
    return False


def well_formed(pattern: str) -> bool:
    """Whether Go accepts ``pattern`` (``filepath.Match(pattern, "")`` returns no ``ErrBadPattern``):
    for a caller that, unlike upstream's cdi, must refuse a malformed pattern rather than match
    nothing."""
    return _compile(pattern) is not None


def escape(text: str) -> str:
    """``text`` as a pattern that matches exactly ``text``."""
    if not has_meta(text):
        return text
    return "".join("\\" + c if c in _META else c for c in text)


def _scan_chunk(pattern: str, i: int) -> tuple[bool, int, int]:
    """Go's ``scanChunk`` from ``i``: (leading star, chunk start, chunk end)."""
    n = len(pattern)
    star = False
    while i < n and pattern[i] == "*":
        i += 1
        star = True
    start, inrange = i, False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 < n:
                i += 1
        elif c == "[":
            inrange = True
        elif c == "]":
            inrange = False
        elif c == "*" and not inrange:
            break
        i += 1
    return star, start, i


def _escaped(chunk: str, i: int) -> tuple[str, int]:
    """Go's ``getEsc``: one (possibly escaped) character of a class, which must not end the chunk."""
    n = len(chunk)
    if i >= n or chunk[i] in "-]":
        raise ValueError
    if chunk[i] == "\\":
        i += 1
        if i >= n:
            raise ValueError
    if i + 1 >= n:
        raise ValueError
    return chunk[i], i + 1


def _parse_chunk(chunk: str) -> tuple:
    items: list = []
    lit = ""
    i, n = 0, len(chunk)
    while i < n:
        c = chunk[i]
        if c == "[":
            i += 1
            negated = i < n and chunk[i] == "^"
            i += negated
            ranges: list[tuple[str, str]] = []
            while not (i < n and chunk[i] == "]" and ranges):
                lo, i = _escaped(chunk, i)
                hi = lo
                if chunk[i] == "-":
                    hi, i = _escaped(chunk, i + 1)
                ranges.append((lo, hi))
            i += 1
            if lit:
                items.append(lit)
                lit = ""
            items.append((negated, tuple(ranges)))
            continue
        if c == "?":
            if lit:
                items.append(lit)
                lit = ""
            items.append(None)
        else:
            if c == "\\":
                i += 1
                if i >= n:
                    raise ValueError
                c = chunk[i]
            lit += c
        i += 1
    if lit:
        items.append(lit)
    return tuple(items)


def _compile(pattern: str) -> tuple | None:
    prog = _compiled.get(pattern, _MISSING)
    if prog is not _MISSING:
        return prog
    chunks = []
    i = 0
    try:
        while i < len(pattern):
            star, start, i = _scan_chunk(pattern, i)
            chunks.append((star, _parse_chunk(pattern[start:i])))
    except ValueError:
        prog = None
    else:
        first, last = chunks[0] if chunks else (True, ()), chunks[-1] if chunks else (True, ())
        prefix = first[1][0] if not first[0] and first[1] and first[1][0].__class__ is str else ""
        suffix = last[1][-1] if last[1] and last[1][-1].__class__ is str else ""
        prog = (prefix, suffix, tuple(chunks))
    if len(_compiled) < 256:
        _compiled[pattern] = prog
    return prog


def _match_chunk(items: tuple, name: str, pos: int) -> int:
    """Where ``items`` stop matching ``name`` from ``pos``; -1 if they do not match there."""
    for item in items:
        if item.__class__ is str:
            if not name.startswith(item, pos):
                return -1
            pos += len(item)
        elif pos >= len(name):
            return -1
        elif item is None:
            if name[pos] == "/":
                return -1
            pos += 1
        else:
            negated, ranges = item
            c = name[pos]
            hit = False
            for lo, hi in ranges:
                if lo <= c <= hi:
                    hit = True
                    break
            if hit is negated:
                return -1
            pos += 1
    return pos


def match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match(pattern, name)`` (the whole of ``name``); False for a malformed pattern."""
    prog = _compile(pattern)
    if prog is None:
        return False
    prefix, suffix, chunks = prog
    return name.startswith(prefix) and name.endswith(suffix) and _run(chunks, name)


def matcher(pattern: str):
    """``match`` with ``pattern`` bound (a one-argument callable returning a bool), for matching
    many names (an ld.so.cache's)."""
    prog = _compile(pattern)
    if prog is None:
        return lambda name: False
    prefix, suffix, chunks = prog
    if len(chunks) == 1 and not chunks[0][0] and chunks[0][1] == (prefix,):
        return prefix.__eq__  # no wildcard
    return lambda name: name.startswith(prefix) and name.endswith(suffix) and _run(chunks, name)


def _run(chunks: tuple, name: str) -> bool:
    """Go's ``Match`` loop over the chunks of a well-formed pattern."""
    pos, n, last = 0, len(name), len(chunks) - 1
    for k, (star, items) in enumerate(chunks):
        if star and not items:  # a trailing star: the rest, unless it has a '/'
            return name.find("/", pos) < 0
        t = _match_chunk(items, name, pos)
        if t >= 0 and (t == n or k < last):
            pos = t
            continue
        if not star:
            return False
        j = pos
        while j < n and name[j] != "/":
            t = _match_chunk(items, name, j + 1)
            if t >= 0 and (t == n or k < last):
                pos = t
                break
            j += 1
        else:
            return False
    return pos == n


# folder -> its sorted entries, while listings are kept (:func:`listing_each_folder_once`).
_listings: dict[str, list[str]] | None = None


def listing_each_folder_once(run):
    """``run()``, with every folder it globs in listed once: a generator looks a dozen library
    patterns up in the same 11 library folders, and on a real host such a folder has thousands of
    entries.  For the span of one run only (the tree it reads does not change under it)."""
    global _listings
    outer = _listings
    if outer is None:
        _listings = {}
    try:
        return run()
    finally:
        _listings = outer


def _names_matching(folder: str, pattern: str, listed: str | None = None) -> list[str]:
    """Go's ``glob(dir, pattern)``: ``folder``'s entries matching ``pattern``, sorted, joined to
    ``folder``; the entries listed are those of ``listed`` (``folder``'s host path) when given."""
    if listed is None:
        listed = folder
    names = _listings.get(listed) if _listings is not None else None
    if names is None:
        try:
            names = sorted(oslite.listdir(listed))
        except OSError:  # missing, not a folder, unreadable: Go ignores I/O errors
            names = []
        if _listings is not None:
            _listings[listed] = names
    return [oslite.join(folder, n) if folder != "." else n for n in names if match(pattern, n)]


def glob_in(folder: str, pattern: str) -> list[str]:
    """The sorted paths of ``folder``'s entries matching the one-component ``pattern``, ``folder``
    taken literally (never a pattern); a ``pattern`` without wildcards is one ``lstat``."""
    if not has_meta(pattern):
        path = oslite.join(folder, pattern)
        return [path] if oslite.lexists(path) else []
    if _compile(pattern) is None:
        return []
    return _names_matching(folder, pattern)


def glob(pattern: str, resolve=None) -> list[str]:
    """Go's ``filepath.Glob(pattern)``: the paths matching ``pattern`` (folders may have wildcards
    too), sorted per folder; [] for a malformed pattern or where nothing matches.

    ``resolve`` (a path of the pattern -> the host path to read, e.g. inside a container root):
    the folders are listed, and a pattern without wildcards looked up, at the host paths it gives;
    the paths returned are still the pattern's."""
    if _compile(pattern) is None:
        return []
    if not has_meta(pattern):
        return [pattern] if oslite.lexists(pattern if resolve is None else resolve(pattern)) else []
    cut = pattern.rfind("/") + 1
    folder, name = pattern[:cut], pattern[cut:]
    folder = "." if not folder else folder if folder == "/" else folder[:-1]
    folders = glob(folder, resolve) if has_meta(folder) else [folder]
    out: list[str] = []
    for d in folders:
        out += _names_matching(d, name, None if resolve is None else resolve(d))
    return out
