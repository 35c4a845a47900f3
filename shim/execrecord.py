"""The exec record: a pass-through call of an installed toolkit's runtime, replayed without the interpreter.

A runtime call other than ``create`` only finds the low-level runtime and execs it.  After such a
call has been decided here, the decision and everything it was read from are written to
:data:`RECORD`, beside the toolkit's own config (``<toolkit>/.config/nvidia-container-runtime/``,
the directory ``nvidia-ctk install`` lays down).  The frozen binary's launcher (``freeze/launcher.c``,
``replay_exec_record``) reads it before starting the interpreter: when every input is as recorded,
it makes the same ``execve`` itself, so that ``start``, ``state``, ``kill`` and ``delete`` cost an exec
instead of a Python start (docs/performance.md, "The runtime's exec record").  The launcher replays,
it does not decide: it compares environment values and ``stat`` results, nothing else.

The record is written after a call (``create`` included: it looks the runtime up the same way) whose
log setup means a pass-through would log nothing (``shim.logger.Logger.silent``): no version flag, no
``--debug``, a log level below ``debug``, no log-setup warning and no ``debug`` log file in the config.
The launcher sends any call with ``create``, a ``version`` or a ``debug`` flag to the interpreter.  It
is written (atomically, mode 0600) only when the launcher would not take the one there (another
content, mode or owner), and only where the config was found beside the program (an installed
toolkit), so that ``nvidia-ctk uninstall``, which removes the toolkit, removes it too.

Format (every field ends with a NUL byte; numbers in decimal)::

    nvidia-container-runtime exec record 1
    env NAME VALUE          (or ``unset NAME``): the value of an environment variable read
    stat PATH DEV INO MODE SIZE MTIME_NS CTIME_NS   (or ``fail PATH``): a stat(2) made, symlinks followed
    exec PATH               last: the runtime to exec, with argv[1:] and the environment unchanged

The launcher uses a record only if it is a regular file (not a link) owned by the caller's effective
user with no permission for group or others, in directories owned by that user or root and writable by
neither group nor others.  Its copies of
:data:`RECORD`, :data:`MAGIC` and :data:`MAX_SIZE` are generated from this module at build time
(``freeze/mkfrozen.py``), and the programs that replay a record are ``freeze/programs.py``'s
``REPLAYING``.
"""

from __future__ import annotations

from hook import oslite
from hook.config import TOOLKIT_CONFIG

#: Beside the toolkit's config (the launcher's copy is generated from this value).
RECORD = oslite.join(oslite.dirname(TOOLKIT_CONFIG), "runtime-exec.record")
MAGIC = "nvidia-container-runtime exec record 1"
#: The environment variables the pass-through decision reads when the config is the toolkit's (the
#: only case with a record): the one variable that would take precedence over that file, and the
#: runtime lookup's PATH (``XDG_CONFIG_HOME`` is looked at only when there is no toolkit config).
ENVIRONMENT = ("NVIDIA_CTK_CONFIG_FILE_PATH", "PATH")
MAX_SIZE = 64 << 10  # the launcher reads no more


def render(probes: list[tuple[str, oslite.stat_result | None]], environ, runtime: str) -> bytes | None:
    """The record's bytes, or None when something cannot be written in it (a NUL byte, too long).

    ``probes``: the ``stat`` results the decision was made on, in order (``shim.lookup.stat_probe``):
    the config file's, taken before it was read, then the runtime lookup's."""
    fields = [MAGIC]
    for name in ENVIRONMENT:
        value = environ.get(name)
        fields += ["unset", name] if value is None else ["env", name, value]
    for path, st in probes:
        if st is None:
            fields += ["fail", path]
        else:
            fields += ["stat", path, *(str(v) for v in (st.st_dev, st.st_ino, st.st_mode, st.st_size,
                                                        st.st_mtime_ns, st.st_ctime_ns))]
    fields += ["exec", runtime]
    data = b"".join(oslite.fsencode(f) + b"\0" for f in fields)
    if any("\0" in f for f in fields) or len(data) > MAX_SIZE:
        return None
    return data


def save(probes: list[tuple[str, oslite.stat_result | None]], environ, runtime: str) -> None:
    """Write the record of a pass-through call (see :func:`render`) beside the toolkit's config, the
    first probe, unless the launcher would take the one there.  Raises nothing: the record is an
    optimisation, and a call that cannot write it has still done its work."""
    data = render(probes, environ, runtime)
    if data is None:
        return
    path = oslite.join(oslite.dirname(probes[0][0]), oslite.basename(RECORD))
    if _usable(path) == data:
        return
    from hook import atomicfile

    try:
        atomicfile.write(path, data, atomicfile.Meta(mode=0o600), sync_dir=False)
    except OSError:
        pass


def _usable(path: str) -> bytes | None:
    """The bytes of the record at ``path`` if the launcher would read it (the file's own checks of
    ``freeze/launcher.c``), else None."""
    try:
        fd = oslite.open(path, oslite.O_RDONLY | oslite.O_NOFOLLOW | oslite.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = oslite.fstat(fd)
        if (oslite.S_IFMT(st.st_mode) != oslite.S_IFREG or st.st_uid != oslite.geteuid() or st.st_mode & 0o077
                or st.st_size > MAX_SIZE):
            return None
        return oslite.read(fd, MAX_SIZE + 1)
    except OSError:
        return None
    finally:
        oslite.close(fd)
