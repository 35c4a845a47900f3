"""Fully-qualified CDI device names (``vendor/class=name``), as the reference validates them."""

from __future__ import annotations

from . import errors

_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ALNUM = _LETTERS | frozenset("0123456789")
_QUAL_MID = _ALNUM | frozenset("_-.")
_NAME_MID = _ALNUM | frozenset("_-.:")

# The reference's validator slices name[1:len-1] and panics on one-letter vendors/classes.
UPSTREAM_PANIC = "runtime error: slice bounds out of range [1:0]"


def split_qualified(device: str) -> tuple[str, str, str] | None:
    """Split ``vendor/class=name``; None when the shape is not qualified at all."""
    if not device or device[0] == "/":
        return None
    left, sep, name = device.partition("=")
    if not sep or not left or not name:
        return None
    vendor, sep, cls = left.partition("/")
    if not sep or not vendor or not cls:
        return None
    return vendor, cls, name


def _qualifier_ok(text: str, what: str, device: str) -> bool:
    if text[0] not in _LETTERS:
        return False
    if len(text) == 1:
        raise errors.CdiNameError(
            f"invalid CDI device name {device!r}: one-character {what} {text!r} "
            f"(the reference hook crashes here: {UPSTREAM_PANIC})")
    return all(c in _QUAL_MID for c in text[1:-1]) and text[-1] in _ALNUM


def _name_ok(name: str) -> bool:
    if name[0] not in _ALNUM:
        return False
    if len(name) == 1:
        return True
    return all(c in _NAME_MID for c in name[1:-1]) and name[-1] in _ALNUM


def is_qualified(device: str) -> bool:
    """True for a valid fully-qualified CDI device name (hook.md §5.2).

    Raises :class:`~hook.errors.CdiNameError` for a one-letter vendor or class, which the
    reference cannot validate (it panics); we refuse such a request cleanly.
    """
    parts = split_qualified(device)
    if parts is None:
        return False
    vendor, cls, name = parts
    return _qualifier_ok(vendor, "vendor", device) and _qualifier_ok(cls, "class", device) and _name_ok(name)
