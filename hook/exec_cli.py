"""The CLI injector: locating and executing ``nvidia-container-cli`` exactly as the reference does
(hook.md §7.6-§7.8).

:func:`command` is pure given the hook's environment and a file probe; it
returns the :class:`Command` (path, argv, raw environment list) for a
:class:`~hook.plan.Plan`, which says the CLI's path and extra environment.
:func:`execute` replaces the process with it.
"""

from __future__ import annotations

from . import errors, gocompat, oslite
from .gocompat import DEFAULT_PATH_DIRS
from .values import Value

# ``Plan`` (hook.plan) appears in annotations only (PEP 563, never evaluated): not imported, so the
# shim's pass-through exec (shim.main.exec_runtime → default_signals) does not load hook.plan.

CLI_NAME = "nvidia-container-cli"


class Command(Value, frozen=True):
    """What gets exec'd: ``path`` with ``argv`` (``argv[0] == path``) and the raw ``env`` list."""

    path: str
    argv: tuple[str, ...]
    env: tuple[str, ...]


def raw_environ() -> list[str]:
    """The hook's own environment as the kernel gave it (entries without ``=`` included)."""
    try:
        with open("/proc/self/environ", "rb") as f:
            data = f.read()
        return [e.decode("utf-8", "surrogateescape") for e in data.split(b"\0") if e]
    except OSError:
        return [f"{k}={v}" for k, v in oslite.environ_items()]


def go_environ(raw: list[str]) -> list[str]:
    """Go's ``os.Environ()``: the first occurrence of each name wins."""
    seen: set[str] = set()
    out = []
    for entry in raw:
        name, sep, _ = entry.partition("=")
        if sep:
            if name in seen:
                continue
            seen.add(name)
        out.append(entry)
    return out


def _getenv(env: list[str], name: str) -> str | None:
    prefix = name + "="
    for entry in env:
        if entry.startswith(prefix):
            return entry[len(prefix):]
    return None


def _setenv(env: list[str], name: str, value: str) -> None:
    prefix = name + "="
    for i, entry in enumerate(env):
        if entry.startswith(prefix):
            env[i] = prefix + value
            return
    env.append(prefix + value)


def search_path(hook_path: str | None, root: str) -> list[str]:
    """The PATH the CLI is looked up in (and inherits): hook.md §7.7 step 1."""
    dirs = hook_path.split(":") if hook_path else []
    for d in DEFAULT_PATH_DIRS:
        if d not in dirs:
            dirs.append(d)
    if root and root != "/":
        dirs = [gocompat.join(root, d) for d in dirs] + dirs
    return dirs


def _is_executable(path: str) -> bool:
    try:
        st = oslite.stat(path)
    except (OSError, ValueError):
        return False
    if oslite.S_IFMT(st.st_mode) == oslite.S_IFDIR:
        return False
    try:
        return oslite.access(path, oslite.X_OK, effective_ids=oslite.EFFECTIVE_IDS)
    except (OSError, ValueError):
        return bool(st.st_mode & 0o111)


def look_path(dirs: list[str], is_executable=_is_executable) -> str:
    """Go ``exec.LookPath`` over ``dirs``; raises :class:`CliError`."""
    prefix = f'couldn\'t find binary {CLI_NAME} in PATH: exec: "{CLI_NAME}": '
    for d in dirs:
        candidate = gocompat.clean((d or ".") + "/" + CLI_NAME)
        if is_executable(candidate):
            if not candidate.startswith("/"):
                raise errors.CliError(prefix + "cannot run executable found relative to current directory")
            return candidate
    raise errors.CliError(prefix + "executable file not found in $PATH")


def environment(plan: Plan, hook_env: list[str]) -> list[str]:
    """The CLI's raw environment (hook.md §7.6): the hook's (first occurrence wins), ``PATH``
    rewritten in place when the CLI is looked up (no ``plan.cli_path``), then the configured
    entries (``plan.cli_environment``) verbatim."""
    env = go_environ(hook_env)
    if not plan.cli_path:
        _setenv(env, "PATH", ":".join(search_path(_getenv(env, "PATH"), plan.options.root)))
    env.extend(plan.cli_environment)
    return env


def command(plan: Plan, env: list[str], is_executable=_is_executable) -> Command:
    """The exec request for ``plan`` with ``env`` from :func:`environment`.

    Raises :class:`CliError` when the CLI cannot be found.
    """
    if plan.cli_path:
        path = plan.cli_path
    else:
        path = look_path(_getenv(env, "PATH").split(":"), is_executable)
    return Command(path=path, argv=(path, *plan.cli_args()), env=tuple(env))


def execute(cmd: Command) -> None:
    """``execve`` the command with its raw environment list; returns only by raising :class:`CliError`."""
    import sys

    default_signals()
    sys.stdout.flush()
    sys.stderr.flush()
    err = execve_raw(cmd.path, cmd.argv, cmd.env)
    raise errors.CliError(f"exec failed: {gocompat.errno_text(err)}")


def default_signals() -> None:
    """Undo CPython's SIG_IGN of SIGPIPE and SIGXFSZ before an exec: the program must not inherit it."""
    import _signal  # not ``signal``: it imports ``enum`` (docs/performance.md)

    for name in ("SIGPIPE", "SIGXFSZ"):
        sig = getattr(_signal, name, None)
        if sig is not None:
            _signal.signal(sig, _signal.SIG_DFL)


def _encode(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def execve_raw(path: str, argv: tuple[str, ...] | list[str], env: tuple[str, ...] | list[str]) -> int:
    """Call execve(2) with a raw environment list (order, duplicates and entries without ``=`` kept);
    returns errno on failure (EINVAL for an embedded NUL byte)."""
    try:
        from _hookexec import execve as native_execve  # provided by the frozen binary
    except ImportError:
        native_execve = None
    if native_execve is not None:
        return native_execve(_encode(path), [_encode(a) for a in argv], [_encode(e) for e in env])
    if any("\0" in s for s in (path, *argv, *env)):
        import errno
        return errno.EINVAL
    entries = [e.partition("=") for e in env]
    if all(name and sep for name, sep, _ in entries) and len({name for name, _, _ in entries}) == len(entries):
        try:  # a mapping says it all (the usual case): no ctypes
            oslite.execve(path, list(argv), {name: value for name, _, value in entries})
        except OSError as exc:
            return exc.errno
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    argv_c = (ctypes.c_char_p * (len(argv) + 1))(*[_encode(a) for a in argv], None)
    env_c = (ctypes.c_char_p * (len(env) + 1))(*[_encode(e) for e in env], None)
    libc.execve(_encode(path), argv_c, env_c)
    return ctypes.get_errno()
