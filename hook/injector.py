"""Choosing and running the injector: exec ``nvidia-container-cli``, or libnvidia-container in-process.

``[nvidia-container-runtime-hook] injector`` selects ``cli`` (the reference's
way), ``library`` or ``auto`` (docs/injector.md).
"""

from __future__ import annotations

from .config import HookConfig
from .errors import ConfigError
from .plan import Plan
from .values import REQUIRED, Value


class Choice(Value):
    """Which injector runs (``"cli"`` or ``"library"``) and why."""

    kind: str
    reason: str
    _defaults = {
        "kind": REQUIRED,
        "reason": REQUIRED,
    }
    __slots__ = tuple(_defaults)


def choose(plan: Plan, cfg: HookConfig) -> Choice:
    """Decide the injector without side effects beyond probing for the library file.

    Raises :class:`ConfigError` for an unknown ``injector`` value.
    """
    setting = cfg.injector
    if setting == "cli":
        return Choice("cli", "injector = 'cli'")
    if setting not in ("auto", "library"):
        raise ConfigError(f"invalid value for nvidia-container-runtime-hook.injector: {setting!r} "
                          "(expected 'auto', 'library' or 'cli')")
    try:
        from . import nvc
    except ImportError:
        if setting == "library":
            return Choice("library", "injector = 'library'")
        return Choice("cli", "injector = 'auto': the library binding is not available in this build")
    if setting == "library":
        return Choice("library", "injector = 'library'")
    blocker = nvc.reproduce_blocker(plan)
    if blocker:
        return Choice("cli", f"injector = 'auto': {blocker}")
    found = nvc.find_library(cfg.library_path or None, plan.options.root)
    if found is None:
        return Choice("cli", "injector = 'auto': libnvidia-container.so.1 not found")
    return Choice("library", f"injector = 'auto': {found} found and the request needs nothing the library "
                             "path cannot reproduce")


def run(plan: Plan, cfg: HookConfig) -> int:
    """Inject with the chosen injector.  Execs (no return) or returns 0; raises HookError subclasses."""
    choice = choose(plan, cfg)
    if choice.kind == "library":
        from . import nvc
        from .errors import HookError
        try:
            nvc.inject(plan, library_path=cfg.library_path or None, root=plan.options.root)
        except (nvc.LibraryUnavailable, nvc.InjectionError) as exc:
            raise HookError(str(exc)) from None
        return 0
    from . import cli
    cmd = cli.command(plan, cfg.cli_path, cfg.cli_environment, cli.raw_environ())
    cli.execute(cmd)
    return 1  # not reached: execute() raises on failure
