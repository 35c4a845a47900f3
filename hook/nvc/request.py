"""From a :class:`~hook.plan.Plan` to the library's inputs (pure, no library needed).

Option strings are assembled exactly as ``nvidia-container-cli`` assembles
them from the argv that :meth:`Plan.cli_args` renders (libnvidia-container.md
§2): init options in flag order, container options as capability/flag tokens
in argv order followed by ``supervised``, driver options NULL.
"""

from __future__ import annotations

import os

from ..plan import Plan
from ..values import REQUIRED, Value

PID_MAX = (1 << 31) - 1
MAX_REQUIREMENTS = 32
COMPAT_MODE_VERSION = (1, 17, 7)
NO_CREATE_IMEX_VERSION = (1, 17, 0)


class RequestError(Exception):
    """The plan cannot be turned into library inputs; ``str()`` is ``<stage> error: <detail>``-style."""


class Request(Value):
    """Everything the library calls need, derived from a plan for one library version."""

    root: str | None
    ldcache: str | None
    uid: int | None
    gid: int | None
    init_opts: str | None
    container_opts: str
    driver_opts: str | None
    pid: int
    rootfs: str
    ldconfig: str | None
    debug_file: str | None
    _defaults = dict.fromkeys(("root", "ldcache", "uid", "gid", "init_opts", "container_opts", "driver_opts",
                               "pid", "rootfs", "ldconfig", "debug_file"), REQUIRED)
    __slots__ = tuple(_defaults)


def compat_libraries(rootfs: str, cudart_dir: str = "/usr/local/cuda") -> list[str]:
    """Container CUDA forward-compat libraries the library would discover (``/usr/local/cuda/compat/lib*.so.*``
    of the image, its symlinks resolved inside the rootfs as the library resolves them)."""
    from ..rootfs import listdir

    try:
        directory, names = listdir(rootfs, cudart_dir + "/compat")
    except (OSError, ValueError):  # ValueError: a NUL in the path (build() refuses it)
        return []
    return sorted(os.path.join(directory, n) for n in names if n.startswith("lib") and ".so." in n)


def reproduce_blocker(plan: Plan) -> str | None:
    """Why the library path cannot do exactly what ``nvidia-container-cli`` would, or None.

    * ``no-pivot`` lives in the CLI's private ``nvc_context`` struct;
    * a pid outside 1..2^31-1 makes the CLI run in standalone mode (its own parent as the container);
    * CUDA forward-compat libraries in the rootfs are filtered by the CLI itself (``update_compat_libraries``)
      unless ``cuda-compat-mode=disabled``.
    """
    if plan.options.no_pivot:
        return "no-pivot is set (the CLI implements it through a private library struct field)"
    if not 0 < plan.pid <= PID_MAX:
        return f"pid {plan.pid} is not a positive 32-bit pid (the CLI would run in standalone mode)"
    if plan.cuda_compat_mode != "disabled" and plan.rootfs.startswith("/") and plan.rootfs != "/":
        libs = compat_libraries(plan.rootfs)
        if libs:
            mode = plan.cuda_compat_mode or "default"
            return (f"the container has CUDA forward-compat libraries ({os.path.basename(libs[0])}) that only "
                    f"the CLI filters (cuda-compat-mode={mode})")
    return None


def parse_user(spec: str) -> tuple[int | None, int | None]:
    """``--user`` value ``UID[:GID]`` (names or numbers) as ``(uid, gid)``; "" → ``(None, None)``.

    A UID alone takes the gid of its passwd entry.  Raises RequestError
    (``input error: parse user/group failed: ...``).
    """
    if not spec:
        return None, None
    import grp
    import pwd

    user, sep, group = spec.partition(":")
    try:
        if user.isdigit():
            uid = int(user)
        else:
            uid = pwd.getpwnam(user).pw_uid
        if sep:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        else:
            gid = pwd.getpwuid(uid).pw_gid
    except (KeyError, ValueError) as exc:
        raise RequestError(f"input error: parse user/group failed: {spec}: {exc}") from None
    if uid >= 1 << 32 or gid >= 1 << 32:
        raise RequestError(f"input error: parse user/group failed: {spec}: out of range")
    return uid, gid


def compat_token(mode: str | None, version: tuple[int, int, int]) -> str | None:
    """Container token for the plan's cuda-compat mode on this library version.

    >= 1.17.7: ``cuda-compat-mode=<mode>`` (an explicit ``mount`` when the plan has none, which
    avoids the 1.17.7 flag-wipe bug and equals the library default).  Older: ``no-cntlibs`` for
    ``disabled``; nothing otherwise (the library then filters compat libraries itself).
    """
    if version >= COMPAT_MODE_VERSION:
        return f"cuda-compat-mode={mode or 'mount'}"
    if mode == "disabled":
        return "no-cntlibs"
    return None


def build(plan: Plan, version: tuple[int, int, int]) -> Request:
    """The library inputs for ``plan`` on a library of ``version``.

    Raises RequestError for inputs the CLI would refuse before calling the
    library (rootfs, too many requirements, bad user), strings a C string
    cannot carry (a NUL byte) or that this library
    version cannot express (``no-create-imex-channels`` before 1.17.0).
    """
    if not plan.rootfs.startswith("/") or plan.rootfs == "/":
        raise RequestError("input error: invalid rootfs directory")
    for what, text in (("rootfs directory", plan.rootfs), ("root", plan.options.root),
                       ("ldcache", plan.options.ldcache), ("ldconfig", plan.ldconfig),
                       ("debug file", plan.options.debug)):
        if "\0" in text:  # a C string would end there: the library would see another path
            raise RequestError(f"input error: invalid {what}: contains a NUL byte")
    if len(plan.requirements) > MAX_REQUIREMENTS:
        raise RequestError("input error: too many requirements")
    uid, gid = parse_user(plan.options.user)
    init = []
    if plan.options.load_kmods:
        init.append("load-kmods")
    if plan.options.no_create_imex_channels:
        if version < NO_CREATE_IMEX_VERSION:
            raise RequestError("initialization error: no-create-imex-channels needs libnvidia-container >= 1.17.0")
        init.append("no-create-imex-channels")
    tokens: list[str] = []
    compat = compat_token(plan.cuda_compat_mode, version)
    if compat:
        tokens.append(compat)
    if plan.no_cgroups:
        tokens.append("no-cgroups")
    tokens.extend(plan.capabilities)
    tokens.append("supervised")
    return Request(
        root=plan.options.root or None,
        ldcache=plan.options.ldcache or None,
        uid=uid,
        gid=gid,
        init_opts=" ".join(init) or None,
        container_opts=" ".join(tokens),
        driver_opts=None,
        pid=plan.pid,
        rootfs=plan.rootfs,
        ldconfig=plan.ldconfig or None,
        debug_file=plan.options.debug or None,
    )
