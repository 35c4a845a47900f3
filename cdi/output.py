"""Saving specs (spec sections 1.2 and 2.6): format from flag or extension, the reference's
extension rules, atomic writes with mode 0644 (parent folders created)."""

from __future__ import annotations

import os

from . import spec as S
from . import errors

__all__ = ["resolve_format", "render", "output_paths", "save"]

_EXT = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}


def resolve_format(output: str, fmt: str, fmt_given: bool, log) -> str:
    """The output format (lower case); raises UsageError for an unknown one."""
    f = fmt.lower()
    if f not in ("json", "yaml"):
        raise errors.UsageError(f"invalid output format: {fmt}")
    ext = _EXT.get(os.path.splitext(output)[1].lower()) if output else None
    if ext and not fmt_given:
        return ext
    if ext and ext != f:
        log.warning("Requested output format %s does not match file extension; using %s", f, f)
    return f


def render(spec: dict, fmt: str) -> str:
    return S.to_json(spec) if fmt == "json" else S.to_yaml(spec)


def output_paths(output: str, fmt: str, count: int, kinds: list[str]) -> list[str]:
    """File names for ``count`` specs: the format's extension appended when missing; split specs
    get ``.<class suffix>`` before the extension (``nvidia.coherent.yaml``)."""
    base, ext = os.path.splitext(output)
    if _EXT.get(ext.lower()) != fmt:
        base, ext = output, "." + fmt
    out = [base + ext]
    for kind in kinds[1:count]:
        suffix = kind.rpartition(".")[2]
        out.append(f"{base}.{suffix}{ext}")
    return out


def save(specs: list[dict], output: str, fmt: str) -> list[str]:
    """Validate every spec, then write them (stdout when ``output`` is empty)."""
    for s in specs:
        try:
            S.validate(s)
        except S.SpecError as exc:
            raise errors.CdiError(f"failed to write spec: invalid CDI Spec: {exc}") from None
    if not output:
        import sys
        for s in specs:
            sys.stdout.write(render(s, fmt))
        sys.stdout.flush()
        return []
    from ctk import fileio
    from ctk import errors as ctk_errors
    paths = output_paths(output, fmt, len(specs), [s["kind"] for s in specs])
    old = os.umask(0o022)
    try:
        for path, s in zip(paths, specs):
            try:
                fileio.write_atomic(path, render(s, fmt).encode())
            except ctk_errors.WriteError as exc:
                raise errors.CdiError(f"failed to write spec: {exc}") from None
    finally:
        os.umask(old)
    return paths
