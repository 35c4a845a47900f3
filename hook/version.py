"""Lenient semantic versions (Masterminds semver v3 "coerce" rules, hook.md §3.1-§3.2).

Used for ``ociVersion`` (capabilities layout) and ``CUDA_VERSION`` (legacy requirement).
"""

from __future__ import annotations

from .values import Value, lazy_exception

_IDENT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")


def _identifiers_ok(text: str) -> bool:
    """One or more dot-separated non-empty identifiers of ``[0-9A-Za-z-]``."""
    return all(ident and _IDENT_CHARS.issuperset(ident) for ident in text.split("."))


__getattr__ = lazy_exception(globals(), "VersionError", ValueError,
                             "A version string that Masterminds semver (coerce mode) rejects; ``str()`` is its "
                             "message.")


def _invalid(message: str = "invalid semantic version") -> Exception:
    return __getattr__("VersionError")(message)


class Version(Value, frozen=True):
    """A lenient semantic version (hook.md §3.1)."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""

    def _key(self):
        return (self.major, self.minor, self.patch)

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 per hook.md §3.2 (metadata ignored)."""
        a, b = self._key(), other._key()
        if a != b:
            return -1 if a < b else 1
        return _compare_prerelease(self.prerelease, other.prerelease)


def parse_version(text: str) -> Version:
    """Parse like Masterminds ``semver.NewVersion``; raises :class:`VersionError`."""
    if len(text.encode("utf-8", "surrogatepass")) > 256:
        raise _invalid("version string is too long (max 256 bytes)")
    # The anchored grammar: v? MAJOR (.MINOR)? (.PATCH)? (-PRERELEASE)? (+METADATA)?, ASCII only
    # (written out by hand: importing ``re`` costs more than the hook's whole start-up budget).
    if not text.isascii():
        raise _invalid()
    rest, plus, meta = text.partition("+")
    core, dash, pre = rest.partition("-")
    if (plus and not _identifiers_ok(meta)) or (dash and not _identifiers_ok(pre)):
        raise _invalid()
    if core.startswith("v"):
        core = core[1:]
    parts = core.split(".")
    if len(parts) > 3 or not all(p.isdigit() for p in parts):
        raise _invalid()
    nums = []
    for part in parts + ["0"] * (3 - len(parts)):
        n = int(part)
        if n > 0xFFFFFFFFFFFFFFFF:
            raise _invalid(f'error parsing version segment: strconv.ParseUint: parsing "{part}": value out of range')
        nums.append(n)
    if pre:
        for ident in pre.split("."):
            if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
                raise _invalid("version segment starts with 0")
    return Version(nums[0], nums[1], nums[2], pre)


def _compare_prerelease(a: str, b: str) -> int:
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    pa, pb = a.split("."), b.split(".")
    for i in range(max(len(pa), len(pb))):
        x = pa[i] if i < len(pa) else ""
        y = pb[i] if i < len(pb) else ""
        c = _compare_ident(x, y)
        if c:
            return c
    return 0


def _compare_ident(x: str, y: str) -> int:
    if x == y:
        return 0
    if not x:  # a missing identifier is the smallest
        return -1
    if not y:
        return 1
    xd, yd = x.isdigit(), y.isdigit()
    if xd and yd:
        return (int(x) > int(y)) - (int(x) < int(y))
    if xd:
        return -1
    if yd:
        return 1
    return (x > y) - (x < y)
