"""Entry point of ``nvidia-container-runtime-hook`` (alias ``nvidia-container-toolkit``).

Only what the chosen path needs is imported: ``poststart``/``-version`` touch
nothing else, a non-GPU ``prestart`` stops after the spec and image model, and
the GPU path alone imports the CLI/library injectors.
"""

from __future__ import annotations

import sys

from . import VERSION, oslite


def main(argv: list[str] | None = None) -> int:
    """Run the hook; returns the exit status (or never returns, after exec)."""
    from . import errors, flags

    args = sys.argv[1:] if argv is None else argv
    try:
        inv = flags.parse(args)
    except flags.HelpRequested:
        sys.stderr.write(flags.USAGE)
        return 0
    except errors.UsageError as exc:
        sys.stderr.write(f"{exc}\n{flags.USAGE}")
        return 2
    if inv.version:
        sys.stdout.write(f"NVIDIA Container Runtime Hook version {VERSION}\n")
        return 0
    command = inv.command
    try:
        if command == "prestart":
            return prestart(inv)
        if command in ("poststart", "poststop"):
            return 0
        if command == "explain":
            from . import explain
            return explain.run(inv)
        if command == "hooks-json":
            return hooks_json(inv.args[1:])
    except errors.HookError as exc:
        _fail(str(exc), inv.debug)
        return 1
    except errors.UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    except flags.HelpRequested as exc:
        sys.stdout.write(exc.text)
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug of ours: one line, never a traceback unless -debug
        _fail(f"internal error: {type(exc).__name__}: {exc}", inv.debug)
        return 1
    sys.stderr.write(flags.USAGE)
    return 2


def entry() -> None:
    """Console-script entry: :func:`main`, then leave as the frozen launcher does (and as an exec of
    the CLI does): atexit callbacks, flushed standard streams, no interpreter finalisation (2 to 3 ms,
    which the in-process injector would otherwise pay on top of the CLI path; docs/injector.md)."""
    rc = main()
    atexit = sys.modules.get("atexit")  # nothing registered unless something imported it
    if atexit is not None:
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing more to say
            pass
    oslite._exit(rc & 0xFF)


def _fail(message: str, debug: bool) -> None:
    sys.stderr.write(message + "\n")
    if debug:
        import traceback
        traceback.print_exc(file=sys.stderr)


def prestart(inv) -> int:
    """hook.md §2.3: returns 0 for a non-GPU container; execs (or injects) for a GPU one.

    Runs the pipeline (:func:`hook.pipeline.trace`, no reasons: nothing reads them here), then
    executes its trace: its lines on stderr, the first failure raised, the plan handed to the
    chosen injector.
    """
    from . import log
    from .config import locate, program_path
    from .pipeline import trace
    from .state import read_state

    where = locate(inv.config, dict(oslite.environ_items()), program_path(sys.argv[0] if sys.argv else ""))
    t = trace(where, lambda: read_state(getattr(sys.stdin, "buffer", None)),
              debug=inv.debug, warn=log.warning)
    for text in t.lines:
        log.line(text)
    if t.error is not None:
        raise t.error
    if not t.is_gpu:
        return 0
    from . import injector
    return injector.run(t.plan, t.choice)


def hooks_json(args: tuple[str, ...]) -> int:
    """``hooks-json [--hook-path PATH]``: print the hooks.d registration."""
    from . import errors, flags, hooksd

    usage = "hooks-json [--hook-path PATH]"
    opts, positional = flags.command_options(
        "hooks-json", args, usage, valued=("--hook-path",),
        help_text="\nPrint the OCI hooks.d JSON (podman, CRI-O) that registers this hook as a prestart hook.\n"
                  f"  --hook-path PATH   the hook's absolute path (default {hooksd.DEFAULT_HOOK_PATH})\n")
    if positional:
        raise errors.UsageError(f"hooks-json: unexpected argument {positional[0]!r} (usage: {usage})")
    path = opts.get("--hook-path", hooksd.DEFAULT_HOOK_PATH)
    try:
        sys.stdout.write(hooksd.render(path))
    except hooksd.HooksdError as exc:
        raise errors.UsageError(f"hooks-json: {exc}") from None
    return 0
