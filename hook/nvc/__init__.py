"""In-process GPU injection through libnvidia-container (issue 3).

The API the hook calls (docs/injector.md):

* :func:`reproduce_blocker` — why the library path cannot reproduce a plan exactly (None if it can);
* :func:`find_library` — where the library would be loaded from, without loading it;
* :func:`inject` — load the library and do what ``nvidia-container-cli configure`` does.

Importing this package loads neither cffi nor the library; :func:`inject` imports two modules,
:mod:`.rules` (what the CLI decides itself, pure) and :mod:`.configure` (loading and the call
sequence), and the generated ``_nvc_ffi_*`` module (``_cffi_backend`` only).
"""

from __future__ import annotations

from ..plan import Plan  # cheap: already imported by the hook (no typing, no dataclasses on this path)

__all__ = ["LibraryUnavailable", "InjectionError", "reproduce_blocker", "candidates", "find_library", "inject"]


MESSAGE_PREFIX = "nvidia-container-cli: "  # the library injector's messages are the CLI's, prefix included


class LibraryUnavailable(Exception):
    """libnvidia-container.so.1 (or its generated cffi module) cannot be loaded, or its version is unsupported."""


class InjectionError(Exception):
    """The injection failed; ``str()`` is the one-line message for the user (exit status 1)."""


def reproduce_blocker(plan: Plan) -> str | None:
    """Why the library path cannot reproduce ``plan`` exactly (e.g. no-pivot), or None.  Raises nothing."""
    from .rules import reproduce_blocker as _blocker
    return _blocker(plan)


LIB_NAME = "libnvidia-container.so.1"
# Directories searched under the driver root (nvidia-container-cli.root), then on the host.
LIB_DIRS: tuple[str, ...] = (
    "usr/lib/x86_64-linux-gnu", "usr/lib64", "lib/x86_64-linux-gnu", "lib64", "usr/lib", "lib",
)


def candidates(library_path: str | None, root: str) -> list[str]:
    """Paths to try, in order: the explicit path only; else under ``root`` (when not ``/``), then the host dirs."""
    import os

    if library_path:
        return [library_path]
    out: list[str] = []
    if root and root.rstrip("/"):
        out += [os.path.join(root, d, LIB_NAME) for d in LIB_DIRS]
    out += [os.path.join("/", d, LIB_NAME) for d in LIB_DIRS]
    return out


def find_library(library_path: str | None, root: str) -> str | None:
    """The library file :func:`inject` would try first (explicit path, else under ``root``, else host
    dirs), or None.  Loads nothing and imports nothing more (``auto`` asks on every GPU container)."""
    import os

    for path in candidates(library_path, root):
        if os.path.isfile(path):
            return path
    return None


def inject(plan: Plan, *, library_path: str | None, root: str, checked: bool = False) -> None:
    """Perform the whole ``configure`` sequence for ``plan`` through the library.

    ``library_path``: explicit library file; else it is searched under ``root``
    (``nvidia-container-cli.root``) first, then by the dynamic loader.  ``checked``: the caller
    has already found no :func:`reproduce_blocker` (``auto``'s choice), so it is not looked for again.
    Raises LibraryUnavailable if it cannot be loaded, InjectionError for
    refused inputs (a blocker among them), library errors (``nvc_error``) and failed requirements.

    The library is closed after, so its destructors run as at the CLI's exit (the hook leaves with
    ``_exit``).
    """
    if not checked:
        blocker = reproduce_blocker(plan)
        if blocker:
            raise InjectionError(f"{MESSAGE_PREFIX}input error: the library injector cannot reproduce "
                                 f"this request exactly: {blocker}")
    from .configure import configure, load

    library = load(library_path, root)
    try:
        configure(plan, library)
    finally:
        library.close()
