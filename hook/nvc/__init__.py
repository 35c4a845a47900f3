"""In-process GPU injection through libnvidia-container (issue 3).

The API the hook calls (docs/injector.md):

* :func:`reproduce_blocker` — why the library path cannot reproduce a plan exactly (None if it can);
* :func:`find_library` — where the library would be loaded from, without loading it;
* :func:`library_in` — the library under a root, in :data:`LIB_DIRS` order (shared with ``nvidia-ctk install``);
* :func:`inject` — load the library and do what ``nvidia-container-cli configure`` does.

Importing this package loads neither cffi nor the library; :func:`inject` imports two modules,
:mod:`.rules` (what the CLI decides itself, pure) and :mod:`.configure` (loading and the call
sequence), and the generated ``_nvc_ffi_*`` module (``_cffi_backend`` only).
"""

from __future__ import annotations

# ``Plan`` (hook.plan) appears in annotations only (PEP 563, never evaluated): not imported.
from ..values import lazy_classes

__all__ = ["LibraryUnavailable", "InjectionError", "failure", "unavailable", "reproduce_blocker", "candidates",
           "find_library", "library_in", "inject"]


MESSAGE_PREFIX = "nvidia-container-cli: "  # the library injector's messages are the CLI's, prefix included


def _define() -> tuple[type, ...]:
    class LibraryUnavailable(Exception):
        """libnvidia-container.so.1 (or its generated cffi module) cannot be loaded, or its version is unsupported."""

    class InjectionError(Exception):
        """The injection failed; ``str()`` is the one-line message for the user (exit status 1)."""

    return LibraryUnavailable, InjectionError


# Created when first named (hook.values.lazy_classes): an injection that succeeds creates neither.
__getattr__ = lazy_classes(globals(), ("LibraryUnavailable", "InjectionError"), _define)


def failure(message: str) -> Exception:
    """An :class:`InjectionError` worded as the CLI's: ``nvidia-container-cli: <message>``."""
    return __getattr__("InjectionError")(MESSAGE_PREFIX + message)


def unavailable(message: str) -> Exception:
    """A :class:`LibraryUnavailable`."""
    return __getattr__("LibraryUnavailable")(message)


def reproduce_blocker(plan: Plan) -> str | None:
    """Why the library path cannot reproduce ``plan`` exactly (e.g. no-pivot), or None.  Raises nothing."""
    from .rules import reproduce_blocker as _blocker
    return _blocker(plan)


LIB_NAME = "libnvidia-container.so.1"
#: The directories ``libnvidia-container.so.1`` is looked for in, in order, under a root: the
#: multiarch directories of Debian/Ubuntu (x86_64, then aarch64) with the RPM distributions' ``lib64``
#: between them, ``/usr`` before ``/``, then the plain ``lib`` directories.  The one list of the hook
#: (:func:`find_library`, :func:`candidates`) and of ``nvidia-ctk install`` (:func:`ctk.toolkit.find_backend`).
LIB_DIRS: tuple[str, ...] = (
    "usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/lib/aarch64-linux-gnu",
    "lib/x86_64-linux-gnu", "lib64", "lib/aarch64-linux-gnu",
    "usr/lib", "lib",
)


def _under(root: str) -> list[str]:
    from ..gocompat import under_root

    return [under_root(root, f"/{d}/{LIB_NAME}") for d in LIB_DIRS]


def candidates(library_path: str | None, root: str) -> list[str]:
    """Paths to try, in order: the explicit path only; else under ``root`` (when not ``/``), then the host dirs."""
    if library_path:
        return [library_path]
    return list(dict.fromkeys(_under(root) + _under("/")))


def library_in(root: str) -> str | None:
    """The first :data:`LIB_DIRS` entry under ``root`` that holds the library file (a path as found:
    a link stays a link), or None.  One ``stat`` per directory, nothing imported."""
    from ..oslite import isfile

    for path in _under(root):
        if isfile(path):
            return path
    return None


def find_library(library_path: str | None, root: str) -> str | None:
    """The first of :func:`candidates` that is a file (what :func:`inject` tries first), or None.
    Loads nothing and imports nothing more (``auto`` asks on every GPU container)."""
    from ..oslite import isfile

    return next((p for p in candidates(library_path, root) if isfile(p)), None)


def inject(plan: Plan, *, library_path: str | None, root: str, checked: bool = False) -> None:
    """Perform the whole ``configure`` sequence for ``plan`` through the library.

    ``library_path``: explicit library file; else it is searched under ``root``
    (``nvidia-container-cli.root``), then in the host's :data:`LIB_DIRS`, then by the dynamic loader.
    ``checked``: the caller has already found no :func:`reproduce_blocker` (``auto``'s choice), so it is
    not looked for again.
    Raises LibraryUnavailable if it cannot be loaded, InjectionError for
    refused inputs (a blocker among them), library errors (``nvc_error``) and failed requirements.

    The library is closed after, so its destructors run as at the CLI's exit (the hook leaves with
    ``_exit``).
    """
    if not checked:
        blocker = reproduce_blocker(plan)
        if blocker:
            raise failure(f"input error: the library injector cannot reproduce this request exactly: {blocker}")
    from .configure import configure, load

    library = load(library_path, root)
    try:
        configure(plan, library)
    finally:
        library.close()
