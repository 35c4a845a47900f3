"""Choosing and running the injector: exec ``nvidia-container-cli`` (:mod:`hook.exec_cli`), or
libnvidia-container in-process (:mod:`hook.nvc`).

``[nvidia-container-runtime-hook] injector`` (``Plan.injector``) selects ``cli``
(the reference's way), ``library`` or ``auto`` (docs/injector.md).  ``auto``
uses the library when it loads and the request needs nothing the direct path
cannot reproduce exactly; otherwise, and whenever the library turns out not to
load, it execs the CLI as before.  Both read only the :class:`~hook.plan.Plan`.
"""

from __future__ import annotations

from . import oslite

# ``Plan`` (hook.plan) appears in annotations only (PEP 563, never evaluated): not imported.
from .values import Value


class Choice(Value, frozen=True):
    """Which injector runs (``"cli"`` or ``"library"``) and why.

    ``fallback``: ``auto`` chose the library, after finding no blocker (``hook.nvc.reproduce_blocker``):
    the blocker is not looked for again, and a library that does not load means the CLI."""

    kind: str
    reason: str
    fallback: bool = False


def choose(plan: Plan) -> Choice:
    """Decide the injector (``plan.injector``, validated with the config); the only side effect is
    looking for the library file."""
    setting = plan.injector
    if setting == "cli":
        return Choice("cli", "injector = 'cli'")
    from . import nvc

    if setting == "library":
        return Choice("library", "injector = 'library'")
    # First the library file (a few stat calls): where it is not installed, the usual case on a node
    # driven by the CLI, nothing more is imported; then what only the CLI reproduces.
    found = nvc.find_library(plan.library_path or None, plan.options.root)
    if found is None:
        return Choice("cli", "injector = 'auto': libnvidia-container.so.1 not found")
    blocker = nvc.reproduce_blocker(plan)
    if blocker:
        return Choice("cli", f"injector = 'auto': {blocker}")
    return Choice("library", f"injector = 'auto': {found} found and the request needs nothing the library "
                             "path cannot reproduce (the CLI is exec'd if it does not load)", fallback=True)


def run(plan: Plan, choice: Choice | None = None) -> int:
    """Inject with ``choice`` (default: :func:`choose`): returns 0 after the library did it, or execs
    the CLI.

    Raises :class:`~hook.errors.HookError` subclasses.
    """
    from . import exec_cli

    choice = choice or choose(plan)
    env = exec_cli.environment(plan, exec_cli.raw_environ())
    if choice.kind == "library":
        from . import errors, nvc

        _apply_environment(env)  # the library's helpers (ldconfig, modprobe) see what the CLI would
        try:
            nvc.inject(plan, library_path=plan.library_path or None, root=plan.options.root,
                       checked=choice.fallback)
            return 0
        except nvc.LibraryUnavailable as exc:
            if not choice.fallback:
                raise errors.HookError(str(exc)) from None
        except nvc.InjectionError as exc:
            raise errors.HookError(str(exc)) from None
    exec_cli.execute(exec_cli.command(plan, env))
    return 1  # not reached: execute() raises on failure


def _apply_environment(env: list[str]) -> None:
    """Make the process environment what the CLI's would be (first occurrence wins, as getenv).

    Only what differs is changed (``unsetenv``/``putenv``): the environment is mostly the hook's own."""
    wanted: dict[str, str] = {}
    for entry in env:
        name, sep, value = entry.partition("=")
        if sep and name and name not in wanted:
            wanted[name] = value
    current = dict(oslite.environ_items())
    for name in current:
        if name not in wanted:
            oslite.delenv(name)
    for name, value in wanted.items():
        if current.get(name) != value:
            oslite.setenv(name, value)
