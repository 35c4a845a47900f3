"""JSON decoding with the rules of Go's ``encoding/json`` that the reference exposes.

* only the first JSON value of the input is decoded; trailing bytes are ignored.
  :func:`read_first` reads as ``json.Decoder.Decode`` does: it stops as soon as
  the first value is complete, without waiting for the end of the stream, and
  reads at most :data:`INPUT_LIMIT` bytes;
* nesting deeper than :data:`MAX_DEPTH` (Go's limit) is a syntax error; Python's
  recursion limit is never the limit;
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

import sys

from .values import lazy_classes

_WS = " \t\n\r"

MAX_DEPTH = 10000
"""Go's ``encoding/json`` ``maxNestingDepth``: 10,000 nested arrays/objects are accepted, 10,001 are not."""

INPUT_LIMIT = 32 << 20
"""The most bytes :func:`read_first` reads before the first value must be complete (32 MiB).

Real OCI specs and states are a few KB (Kubernetes caps a pod's annotations at 256 KB); the
largest spec we benchmark is 18 MB.  Go has no limit: a runtime that keeps the hook's stdin
open, or a ``config.json`` that is ``/dev/zero``, would make it read forever.
"""

_MAIN_THREAD_CHARS = 1 << 16  # smaller inputs are scanned in the calling thread, with the GC running
_THREAD_STACK = 32 << 20   # the C scanner needs ~200 bytes of stack per level: 2 MB for MAX_DEPTH
_PROBE_LIMIT = 100
_LEAF_UNITS = 4
_NUMBER_TAIL = frozenset(".eE+-0123456789")


def _define() -> tuple[type, ...]:
    class DecodeError(ValueError):
        """The input is not JSON, or a value has the wrong type for its field."""

    class InputTooLarge(DecodeError):
        """:func:`read_first` read :data:`INPUT_LIMIT` bytes without completing the first value."""

    class _TooDeep(Exception):
        pass

    return DecodeError, InputTooLarge, _TooDeep


# Created when first named (hook.values.lazy_classes): decoding that succeeds creates no exception class.
__getattr__ = lazy_classes(globals(), ("DecodeError", "InputTooLarge", "_TooDeep"), _define)


def _decode_error(message: str) -> Exception:
    return __getattr__("DecodeError")(message)


class Number(str):
    """A JSON number, kept as its literal text."""

    __slots__ = ()


class Obj(list):
    """A JSON object: the list of its ``(key, value)`` pairs, in input order."""

    __slots__ = ()


def _reject_constant(name: str):
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _context():
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``, without importing ``json``: a
    ``types.SimpleNamespace`` (the type of ``sys.implementation``; no class created, no ``types`` imported)."""
    return type(sys.implementation)(strict=True, object_hook=None, object_pairs_hook=Obj, parse_int=Number,
                                    parse_float=Number, parse_constant=_reject_constant)


_scan = None


def _scanner():
    """The C scanner of ``_json`` (importing the ``json`` package would import ``re``)."""
    global _scan
    if _scan is None:
        try:
            from _json import make_scanner
            _scan = make_scanner(_context())
        except ImportError:  # a Python without _json
            _scan = _py_scanner()
    return _scan


def _scan_at(text: str, i: int):
    """``(value, end)`` of the JSON value at ``text[i]`` (the scanner's own exceptions, or _TooDeep).

    Up to 64 KiB: scanned here (the usual case, nothing more is imported); success means
    it is nested less than the recursion limit (1,000), far below :data:`MAX_DEPTH`.  Larger
    inputs, and those nested deeper than this thread's recursion budget, are scanned in a
    fresh thread (:func:`_deep_scan`).
    """
    if len(text) - i <= _MAIN_THREAD_CHARS:
        try:
            return _scan_once(text, i)
        except RecursionError:
            pass
    return _in_thread(_deep_scan, text, i)


def _scan_once(text: str, i: int):
    try:
        return _scanner()(text, i)
    except SystemError:
        # The C scanner reports syntax errors with json.decoder.JSONDecodeError, which it
        # cannot import itself: import it (error path only) and scan again.
        import json.decoder  # noqa: F401
        return _scanner()(text, i)


def _deep_scan(text: str, i: int):
    """Scan with the recursion limit set so that exactly :data:`MAX_DEPTH` levels fit.

    Runs in a thread of its own (known, small call depth; a stack large enough for the
    C scanner), with the cyclic GC paused: it would otherwise rescan the growing tree
    again and again (7x the scan time on an 18 MB spec).  Each level costs the scanner one
    recursion unit: the overhead of this frame is measured on small probes, then
    ``MAX_DEPTH`` levels are allowed.  (CPython 3.11: ``_json``'s recursion check counts
    against the interpreter's recursion limit; on 3.12+ it counts C frames against a fixed
    limit, and inputs nested deeper than that are scanned by the pure-Python scanner.)
    """
    import gc

    scan = _scanner()
    limit = sys.getrecursionlimit()
    collecting = gc.isenabled()
    gc.disable()
    try:
        sys.setrecursionlimit(_PROBE_LIMIT)
        lo, hi = 0, _PROBE_LIMIT
        while lo < hi:
            mid = (lo + hi + 1) // 2
            try:
                scan("[" * mid + "]" * mid, 0)
                lo = mid
            except RecursionError:
                hi = mid - 1
        allowed = MAX_DEPTH + _PROBE_LIMIT - lo   # empty arrays nested MAX_DEPTH deep fit
        sys.setrecursionlimit(allowed)
        try:
            return _scan_once(text, i)
        except RecursionError:
            pass
        # A leaf costs up to two more units (the Number and Obj calls; _LEAF_UNITS is a margin):
        # MAX_DEPTH levels with such leaves, or one level too many?  Rare (only inputs nested
        # about MAX_DEPTH deep): scan with the margin, then measure the depth of the tree.
        sys.setrecursionlimit(allowed + _LEAF_UNITS)
        try:
            result = _scan_once(text, i)
        except RecursionError:
            # CPython 3.12+: the C scanner's recursion check counts C frames against a limit
            # fixed at build time, not the recursion limit set above.  The pure-Python scanner
            # (same context, same values) recurses in Python frames only, which the limit governs.
            sys.setrecursionlimit(limit + _PY_FRAMES_PER_LEVEL * (MAX_DEPTH + _LEAF_UNITS))
            try:
                result = _py_scanner()(text, i)
            except RecursionError:
                raise __getattr__("_TooDeep")() from None
        if _depth(result[0]) > MAX_DEPTH:
            raise __getattr__("_TooDeep")()
        return result
    finally:
        sys.setrecursionlimit(limit)
        if collecting:
            if gc.get_freeze_count():
                gc.enable()
            else:
                # Re-enabled as is, the GC would at once walk the millions of new objects (about
                # as long as the scan): they join the oldest generation unscanned instead.
                gc.freeze()
                gc.enable()
                gc.unfreeze()


_PY_FRAMES_PER_LEVEL = 2  # json.scanner's _scan_once and parse_array/parse_object per level


def _py_scanner():
    """``json.scanner``'s pure-Python scanner with :func:`_context`'s settings (deep inputs on
    CPython 3.12+, and a Python without ``_json``; imports ``json``)."""
    import json.decoder
    import json.scanner

    decoder = json.decoder.JSONDecoder(object_pairs_hook=Obj, parse_int=Number, parse_float=Number,
                                       parse_constant=_reject_constant)
    return json.scanner.py_make_scanner(decoder)


def _depth(value) -> int:
    """Nesting depth of a decoded value (iterative)."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, list) else []
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        for item in ((v for _, v in node) if isinstance(node, Obj) else node):
            if isinstance(item, list):
                stack.append((item, d + 1))
    return deepest


def _in_thread(fn, *args):
    """``fn(*args)`` in a new thread with a :data:`_THREAD_STACK` stack; its exception is re-raised here.

    Returns once the thread is gone from ``/proc/self/task``: the library injector needs a
    single-threaded process (``setns``), and a thread outlives its last Python code briefly.
    """
    import _thread

    from . import oslite

    box: list = []
    tid: list = []
    done = _thread.allocate_lock()
    done.acquire()

    def work():
        tid.append(_thread.get_native_id())
        try:
            box.append((True, fn(*args)))
        except BaseException as exc:  # handed to the caller
            box.append((False, exc))
        finally:
            done.release()

    previous = _thread.stack_size(_THREAD_STACK)
    try:
        _thread.start_new_thread(work, ())
    finally:
        _thread.stack_size(previous)
    done.acquire()
    import time

    task = f"/proc/self/task/{tid[0]}"
    for attempt in range(10000):  # microseconds in practice; at most about 10 s
        if not oslite.exists(task):
            break
        time.sleep(0.0001 if attempt < 100 else 0.001)
    ok, result = box[0]
    if ok:
        return result
    raise result


INCOMPLETE = object()
"""What :func:`decode_prefix` returns when more input could still complete the first value."""


def _truncated(text: str, pos: int, message: str = "") -> bool:
    """Whether a scan error at ``pos`` is only the end of input arriving too early."""
    rest = text[pos:]
    if not rest.strip(_WS) or message.startswith("Unterminated string"):
        return True
    if len(rest) < 5 and any(lit.startswith(rest) for lit in ("true", "false", "null", "-")):
        return True
    if message.startswith("Invalid \\uXXXX escape") and "\"" not in text[pos:]:
        return True
    return len(rest) <= 2 and all(c in _NUMBER_TAIL for c in rest)


_LITERALS = {"t": "true", "f": "false", "n": "null"}


def _literal_error(text: str, pos: int) -> str | None:
    """Go's message for a misspelt ``true``/``false``/``null`` starting at ``pos`` (``nul!``:
    "invalid character '!' in literal null (expecting 'l')"), else None."""
    lit = _LITERALS.get(text[pos])
    if lit is None:
        return None
    for j in range(1, len(lit)):
        if pos + j >= len(text):
            return None
        if text[pos + j] != lit[j]:
            return f"invalid character {text[pos + j]!r} in literal {lit} (expecting {lit[j]!r})"
    return None


def _decode(data, final: bool):
    text = data.decode("utf-8", "replace")
    i = 0
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    if i == n:
        if final:
            raise _decode_error("EOF")
        return INCOMPLETE
    try:
        value, end = _scan_at(text, i)
    except StopIteration as exc:
        if not _truncated(text, exc.value):
            raise _decode_error(_literal_error(text, exc.value)
                                or f"invalid character {text[exc.value]!r} looking for beginning of value") from None
    except ValueError as exc:  # json.JSONDecodeError (has .pos), or a rejected constant
        pos = getattr(exc, "pos", None)
        if pos is None:
            raise _decode_error(str(exc)) from None
        message = getattr(exc, "msg", str(exc))
        if not _truncated(text, pos, message):
            raise _decode_error(_literal_error(text, pos) or f"invalid character {text[pos]!r} ({message})") from None
    except __getattr__("_TooDeep"):  # after ValueError: naming it creates the family, which a cut prefix must not
        raise _decode_error(f"exceeded max depth (nested deeper than {MAX_DEPTH} levels)") from None
    else:
        # A scalar ends only at the next byte (Go's scanner needs it too): "12" may go on.
        if final or isinstance(value, list) or (end < n and not (isinstance(value, Number)
                                                                  and text[end] in _NUMBER_TAIL)):
            return value
        return INCOMPLETE
    if final:
        raise _decode_error("unexpected EOF")
    return INCOMPLETE


def decode_first(data: bytes):
    """Decode the first JSON value of ``data`` (all of the input: nothing more will come).

    Raises :class:`DecodeError` with ``EOF`` for empty input, ``unexpected EOF``
    for a truncated value, or a syntax message.
    """
    return _decode(data, True)


def decode_prefix(data: bytes):
    """The first JSON value of ``data``, or :data:`INCOMPLETE` if more input could still complete it.

    Raises :class:`DecodeError` when no continuation can make it valid.
    """
    return _decode(data, False)


def read_first(read, *, stream: bool, chunk: int = 1 << 16, limit: int | None = None):
    """Read with ``read(n)`` (``os.read``-like) until the first JSON value is complete.

    As Go's ``json.Decoder.Decode``: a ``stream`` (pipe, terminal, character device) is
    decoded as soon as a read may have completed the value, so a writer that keeps it open
    after the value does not block the reader, and trailing bytes are never read in bulk.  A
    regular file (``stream=False``) ends, so it is decoded once, at its end.  Raises
    :class:`InputTooLarge` after ``limit`` (default :data:`INPUT_LIMIT`) bytes without a complete value, OSError from
    ``read``, :class:`DecodeError`.

    A read that returned less than asked leaves the writer with nothing more to give for now (it
    paused, or it is done): decoding is tried then.  After a full read the writer is ahead, and
    decoding is tried only once the input has doubled since the last try: a large value costs a
    bounded number of decodes (each from the input's start), not one per read (32 MiB of white
    space, or a string full of ``}``, took minutes through a pipe).  The one case where this waits
    where Go's decoder would not: a writer that keeps the pipe open after a value ending exactly at
    the end of a full read (runtimes close the hook's stdin after writing the state: the end of the
    input then decides).
    """
    if limit is None:
        limit = INPUT_LIMIT
    buf = bytearray()
    opener = None
    tried = 0  # the input's length at the last try
    while True:
        want = min(chunk, limit + 1 - len(buf))
        data = read(want)
        if not data:
            return decode_first(buf)
        buf += data
        if len(buf) > limit:
            value = decode_prefix(buf[:limit])
            if value is INCOMPLETE:
                raise __getattr__("InputTooLarge")(f"no complete JSON value in the first {limit} bytes (the limit)")
            return value
        if not stream:
            continue
        if opener is None:
            opener = buf.lstrip(b" \t\n\r")[:1] or None
            if opener is None:  # white space only: no value has begun
                continue
        # An object or array can only have ended in a read holding a closing bracket.
        if opener in (b"{", b"[") and b"}" not in data and b"]" not in data:
            continue
        if len(data) == want and len(buf) < 2 * tried:
            continue
        tried = len(buf)
        value = decode_prefix(buf)
        if value is not INCOMPLETE:
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


def type_error(value, where: str, gotype: str) -> Exception:
    """A :class:`DecodeError` in Go's wording for a value of the wrong type."""
    return _decode_error(f"json: cannot unmarshal {kind(value)} into Go {where} of type {gotype}")


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


def encode_scalar(v) -> str | None:
    """The JSON text of a string, ``true``, ``false`` or ``null``; None for any other value (the
    writers of ``ctk/jsonfmt.py`` and ``shim/ocispec.py`` render containers and numbers their way)."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return encode_string(v)
    return None


_encode_basestring = None


def encode_string(s: str) -> str:
    """``s`` as a JSON string literal, non-ASCII text kept as it is; a lone surrogate (from a
    ``\\udXXX`` escape) is written as that escape, so that it reads back the same.  The one string
    encoder of the JSON writers (``shim.ocispec``, ``ctk.jsonfmt``)."""
    global _encode_basestring
    if _encode_basestring is None:
        from _json import encode_basestring as _encode_basestring
    out = _encode_basestring(s)
    if out.isascii():
        return out
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        out = "".join(f"\\u{ord(c):04x}" if "\ud800" <= c <= "\udfff" else c for c in out)
    return out


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
    # JSON integers have no leading zeros: more than 20 digits is out of any 64-bit range (and
    # int() refuses literals over 4,300 digits).
    if any(c in text for c in ".eE") or (lo >= 0 and text.startswith("-")) or len(text) > 21:
        raise _decode_error(f"json: cannot unmarshal number {text} into Go {where} of type {gotype}")
    n = int(text)
    if n < lo or n > hi:
        raise _decode_error(f"json: cannot unmarshal number {text} into Go {where} of type {gotype}")
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
