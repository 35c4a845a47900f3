"""Small re-implementations of Go standard-library behaviour the reference relies on.

The one home of these for every program (hook, ctk, shim, cdi).  Pure functions but for
:func:`getwd`/:func:`abspath`/:func:`strip_root` (they ask the file system where the working directory
is) and cheap to import (the hook's prestart path imports it; no ``os``): Go's whitespace trimming
(``strings.TrimSpace``), lexical path cleaning (``path.Clean``), boolean parsing
(``strconv.ParseBool``), ``%q`` quoting (``strconv.Quote``), the wording of Go's ``flag``
package errors, the default ``PATH`` of the reference's programs, errno spelling, and a path under
a host root (:func:`under_root`, :func:`strip_root`: the hook's library lookup, ``cdi`` and ``ctk``).
"""

from __future__ import annotations

import errno as _errno

from . import oslite

# unicode.IsSpace: note U+001C..U+001F are NOT spaces in Go (they are for str.strip()).
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))

#: The directories of the ``PATH`` the reference's programs search when ``PATH`` is unset or
#: lacks them (and that ``nvidia-container-cli`` is run with).
DEFAULT_PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
DEFAULT_PATH = ":".join(DEFAULT_PATH_DIRS)


def trim(s: str) -> str:
    """Go ``strings.TrimSpace``."""
    return s.strip(GO_SPACE)


def split_list(value: str) -> list[str]:
    """Split on ``,``, Go-trim each piece, drop empty pieces."""
    out = []
    for piece in value.split(","):
        piece = trim(piece)
        if piece:
            out.append(piece)
    return out


def parse_bool(value: str) -> bool | None:
    """Go ``strconv.ParseBool``: True/False, or None when the text is not a boolean."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def invalid_bool(name: str, value: str) -> str:
    """Go ``flag``'s message for a boolean flag ``-name=value`` that :func:`parse_bool` rejects."""
    return f'invalid boolean value "{value}" for -{name}: parse error'


def undefined_flag(name: str) -> str:
    """Go ``flag``'s message for an unknown flag."""
    return f"flag provided but not defined: -{name}"


def flag_needs_argument(name: str) -> str:
    """Go ``flag``'s message for a valued flag given last, without its value."""
    return f"flag needs an argument: -{name}"


_QUOTE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a",
                  "\b": "\\b", "\f": "\\f", "\v": "\\v"}


def quote(s: str) -> str:
    """Go ``%q`` (``strconv.Quote``) for printable text and the usual escapes."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        esc = _QUOTE_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def clean(path: str) -> str:
    """Go ``path.Clean``: lexical cleaning; ``//x`` becomes ``/x``; empty becomes ``.``."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def join(*elems: str) -> str:
    """Go ``path.Join``: join the non-empty elements with ``/`` and clean; all empty gives ``""``."""
    nonempty = [e for e in elems if e]
    if not nonempty:
        return ""
    return clean("/".join(nonempty))


def getwd(directory: str | None = None) -> str:
    """Go ``os.Getwd`` (run in ``directory`` when given, else in the current one): ``$PWD`` when it
    names that directory, else its path as the kernel gives it (symbolic links resolved).

    Raises OSError when the working directory cannot be determined.
    """
    here = "." if directory is None else directory
    pwd = oslite.getenv("PWD", "")
    if pwd.startswith("/"):
        try:
            a = oslite.stat(pwd)
            b = oslite.stat(here)
            if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
                return pwd
        except OSError:
            pass
    return oslite.getcwd() if directory is None else oslite.realpath(directory)


def abspath(path: str, directory: str | None = None) -> str:
    """Go ``filepath.Abs`` (run in ``directory`` when given): clean if absolute, else clean(cwd + "/" + path)."""
    if path.startswith("/"):
        return clean(path)
    return clean(getwd(directory) + "/" + path)


def under_root(root: str, path: str) -> str:
    """``path`` (as seen from inside ``root``) as a host path: ``root`` and ``path`` joined with one
    ``/``, lexically (the driver and device roots the reference joins with ``filepath.Join``; a
    container's root file system, whose symlinks are untrusted, is :mod:`hook.rootfs`'s).  A root of
    ``""`` or of slashes only (``/``, ``//``) is the host's: ``path`` as it is."""
    base = root.rstrip("/")
    return base + "/" + path.lstrip("/") if base else path


def strip_root(root: str, path: str) -> str:
    """The inverse of :func:`under_root`: the host ``path`` as seen from inside ``root`` (``/`` and its
    path relative to ``root``, both made absolute and cleaned lexically first: :func:`abspath`); ``path``
    as it is when ``root`` is the host's or ``path`` is not under it."""
    if not root.rstrip("/"):
        return path
    base, full = abspath(root), abspath(path)
    if full == base:
        return "/"
    if base == "/":
        return full
    return full[len(base):] if full.startswith(base + "/") else path


_ERRNO_TEXT = {
    _errno.ENOENT: "no such file or directory",
    _errno.EACCES: "permission denied",
    _errno.EPERM: "operation not permitted",
    _errno.ENOTDIR: "not a directory",
    _errno.EISDIR: "is a directory",
    _errno.ENOEXEC: "exec format error",
    _errno.ELOOP: "too many levels of symbolic links",
    _errno.ENAMETOOLONG: "file name too long",
    _errno.ETXTBSY: "text file busy",
    _errno.E2BIG: "argument list too long",
    _errno.ENOMEM: "cannot allocate memory",
    _errno.EIO: "input/output error",
    _errno.EINVAL: "invalid argument",
}


def errno_text(err: int | None) -> str:
    """Go's spelling of an errno: the C text with a lower-case first letter."""
    if err is None:
        return "invalid argument"
    text = _ERRNO_TEXT.get(err)
    if text is None:
        text = oslite.strerror(err)
        text = text[:1].lower() + text[1:]
    return text
