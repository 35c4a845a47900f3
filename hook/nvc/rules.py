"""What ``nvidia-container-cli configure`` decides itself, around the library calls (pure).

* the library's inputs from a :class:`~hook.plan.Plan`: option strings assembled exactly as the
  CLI assembles them from the argv :meth:`Plan.cli_args` renders (libnvidia-container.md §2: init
  options in flag order, container options as capability/flag tokens in argv order followed by
  ``supervised``, driver options NULL), and what only the CLI reproduces (:func:`reproduce_blocker`);
* device, MIG-config/monitor and IMEX selection (§4): tokens of the joined ``--device`` list are
  matched in this order, first match wins: ``all`` (stops parsing), GPU UUID, PCI bus id, index,
  MIG UUID, MIG ``gpu:mig`` index; anything else is an unknown device.  Selecting a MIG device also
  selects its parent GPU;
* the ``--require`` DSL (§5.1): a requirement is space-separated alternatives (OR) of
  comma-separated terms (AND); a term is ``NAME OP VALUE`` with NAME one of ``cuda``, ``driver``,
  ``arch``, ``brand`` (case-insensitive) and OP one of ``= != < <= > >=``.  Evaluation is
  left-to-right with short-circuit, exactly like the CLI, so syntax errors after the deciding term
  go unnoticed there too.  A property whose value is unknown (``None``) makes its term true without
  looking at the value.

What the CLI refuses raises :class:`~hook.nvc.InjectionError` with the CLI's line
(``nvidia-container-cli: <stage> error: <detail>``).  One module and no exception class of its own:
this is the in-process injector's path, where every module imported and every class created is
start-up time of a GPU container (docs/injector.md "Cost").
"""

from __future__ import annotations

# ``Plan`` (hook.plan) appears in annotations only (PEP 563, never evaluated): not imported.
from .. import oslite
from ..values import Value
from . import failure


# --- the library's inputs ---

PID_MAX = (1 << 31) - 1
MAX_REQUIREMENTS = 32
COMPAT_MODE_VERSION = (1, 17, 7)
NO_CREATE_IMEX_VERSION = (1, 17, 0)


class Request(Value, frozen=True):
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


def compat_libraries(rootfs: str) -> list[str]:
    """Container CUDA forward-compat libraries the library would discover (``/usr/local/cuda/compat/lib*.so.*``
    of the image, its symlinks resolved inside the rootfs as the library resolves them)."""
    from ..rootfs import listdir

    try:
        directory, names = listdir(rootfs, "/usr/local/cuda/compat")
    except (OSError, ValueError):  # ValueError: a NUL in the path (build() refuses it)
        return []
    return sorted(oslite.join(directory, n) for n in names if n.startswith("lib") and ".so." in n)


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
            return (f"the container has CUDA forward-compat libraries ({oslite.basename(libs[0])}) that only "
                    f"the CLI filters (cuda-compat-mode={mode})")
    return None


def parse_user(spec: str) -> tuple[int | None, int | None]:
    """``--user`` value ``UID[:GID]`` (names or numbers) as ``(uid, gid)``; "" → ``(None, None)``.

    A UID alone takes the gid of its passwd entry.  Raises InjectionError
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
        raise failure(f"input error: parse user/group failed: {spec}: {exc}") from None
    if uid >= 1 << 32 or gid >= 1 << 32:
        raise failure(f"input error: parse user/group failed: {spec}: out of range")
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

    Raises InjectionError for inputs the CLI would refuse before calling the
    library (rootfs, too many requirements, bad user), strings a C string
    cannot carry (a NUL byte) or that this library
    version cannot express (``no-create-imex-channels`` before 1.17.0).
    """
    if not plan.rootfs.startswith("/") or plan.rootfs == "/":
        raise failure("input error: invalid rootfs directory")
    for what, text in (("rootfs directory", plan.rootfs), ("root", plan.options.root),
                       ("ldcache", plan.options.ldcache), ("ldconfig", plan.ldconfig),
                       ("debug file", plan.options.debug)):
        if "\0" in text:  # a C string would end there: the library would see another path
            raise failure(f"input error: invalid {what}: contains a NUL byte")
    if len(plan.requirements) > MAX_REQUIREMENTS:
        raise failure("input error: too many requirements")
    uid, gid = parse_user(plan.options.user)
    init = []
    if plan.options.load_kmods:
        init.append("load-kmods")
    if plan.options.no_create_imex_channels:
        if version < NO_CREATE_IMEX_VERSION:
            raise failure("initialization error: no-create-imex-channels needs libnvidia-container >= 1.17.0")
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


# --- selection ---

_C_SPACE = " \t\n\v\f\r"
_UINTMAX = 1 << 64
_IMEX_LIMIT = 1 << 20


class Mig(Value, frozen=True):
    """One MIG device: parent GPU index, position in that GPU's MIG list, UUID."""

    gpu: int
    index: int
    uuid: str


class Gpu(Value, frozen=True):
    """One GPU as reported by ``nvc_device_info_new`` (index = NVML order)."""

    index: int
    uuid: str
    busid: str
    arch: str | None = None
    brand: str | None = None
    mig_capable: bool = False
    migs: tuple[Mig, ...] = ()

    def label(self) -> str:
        return f"GPU {self.index} ({self.uuid})"


class Selection(Value, frozen=True):
    """Selected GPUs (indices, in order of first selection, MIG parents included) and MIG devices."""

    gpus: tuple[int, ...] = ()
    migs: tuple[Mig, ...] = ()
    all: bool = False


_HEXDIGITS = "0123456789abcdefABCDEF"
_DECDIGITS = "0123456789"


def _strtoumax_whole(token: str) -> int | None:
    """Value of ``strtoumax(token, &end, 10)`` when it consumes the whole non-empty token, else None."""
    i = 0
    while i < len(token) and token[i] in _C_SPACE:
        i += 1
    neg = i < len(token) and token[i] == "-"
    if i < len(token) and token[i] in "+-":
        i += 1
    digits = token[i:]
    if not digits or any(ch not in _DECDIGITS for ch in digits):
        return None
    value = int(digits)
    if value >= _UINTMAX:
        return _UINTMAX - 1  # ERANGE: UINTMAX_MAX whatever the sign
    return (_UINTMAX - value) % _UINTMAX if neg else value


def _scan(text: str, pos: int, base: int, bits: int) -> tuple[int, int] | None:
    """One ``sscanf`` ``%x``/``%u`` conversion at ``pos``: (value modulo 2**bits, end) or None."""
    n = len(text)
    while pos < n and text[pos] in _C_SPACE:
        pos += 1
    neg = pos < n and text[pos] == "-"
    if pos < n and text[pos] in "+-":
        pos += 1
    digits = _HEXDIGITS if base == 16 else _DECDIGITS
    if base == 16 and text[pos:pos + 2] in ("0x", "0X") and pos + 2 < n and text[pos + 2] in digits:
        pos += 2
    start = pos
    while pos < n and text[pos] in digits:
        pos += 1
    if pos == start:
        return None
    value = int(text[start:pos], base)
    return (-value if neg else value) % (1 << bits), pos


def _fields(token: str, specs: tuple[tuple[int, int], ...]) -> list[int] | None:
    """``sscanf`` of ``:``-separated conversions (base, bits); trailing text ignored."""
    values: list[int] = []
    pos = 0
    for k, (base, bits) in enumerate(specs):
        if k:
            if pos >= len(token) or token[pos] != ":":
                return None
            pos += 1
        scanned = _scan(token, pos, base, bits)
        if scanned is None:
            return None
        value, pos = scanned
        values.append(value)
    return values


def _pci(token: str) -> str | None:
    """``sscanf("%x:%hhx:%hhx")`` normalised to ``%08x:%02x:%02x.0``, or None."""
    f = _fields(token, ((16, 32), (16, 8), (16, 8)))
    return None if f is None else f"{f[0]:08x}:{f[1]:02x}:{f[2]:02x}.0"


def _mig_index(token: str) -> tuple[int, int] | None:
    f = _fields(token, ((10, 32), (10, 32)))
    return None if f is None else (f[0], f[1])


def _find(token: str, gpus: tuple[Gpu, ...]) -> Gpu | Mig | None:
    low = token.lower()
    if low.startswith("gpu-") and len(token) > 4:
        for gpu in gpus:
            if gpu.uuid.lower() == low:
                return gpu
    pci = _pci(token)
    if pci is not None:
        for gpu in gpus:
            if gpu.busid.lower().startswith(pci):
                return gpu
    index = _strtoumax_whole(token)
    if index is not None and index < len(gpus):
        return gpus[index]
    if low.startswith("mig-"):
        for gpu in gpus:
            for mig in gpu.migs:
                if mig.uuid.lower() == low:
                    return mig
    pair = _mig_index(token)
    if pair is not None and pair[0] < len(gpus) and pair[1] < len(gpus[pair[0]].migs):
        return gpus[pair[0]].migs[pair[1]]
    return None


def select_devices(devices: str | None, gpus: tuple[Gpu, ...]) -> Selection:
    """Select from ``devices`` (the joined ``--device`` value; None or "" = no flag).

    Raises InjectionError (``device error: <token>: unknown device``).  With no
    GPU on the host nothing is selected and every string is accepted (CLI).
    """
    if not devices or not gpus:
        return Selection()
    chosen: list[int] = []
    migs: list[Mig] = []
    for token in devices.split(","):
        if not token:
            continue
        if token.lower() == "all":
            for gpu in gpus:
                if gpu.index not in chosen:
                    chosen.append(gpu.index)
            for gpu in gpus:
                for mig in gpu.migs:
                    if mig not in migs:
                        migs.append(mig)
            return Selection(tuple(chosen), tuple(migs), True)
        found = _find(token, gpus)
        if found is None:
            raise failure(f"device error: {token}: unknown device")
        if isinstance(found, Mig):
            if found not in migs:
                migs.append(found)
            index = found.gpu
        else:
            index = found.index
        if index not in chosen:
            chosen.append(index)
    return Selection(tuple(chosen), tuple(migs), False)


def select_mig_caps(kind: str, spec: str, selection: Selection, gpus: tuple[Gpu, ...]) -> tuple[bool, tuple[int, ...]]:
    """``(all_active, gpu indices)`` for ``--mig-config`` / ``--mig-monitor`` (``kind``).

    Raises InjectionError (``<kind> error: ...``) for a token other than ``all``
    or for ``all`` with specific MIG devices selected.
    """
    active = False
    for token in spec.split(","):
        if not token:
            continue
        if token.lower() != "all":
            raise failure(f"{kind} error: {token}: only 'all' devices are currently supported")
        active = True
    if not active:
        return False, ()
    if not selection.all and selection.migs:
        raise failure(f"{kind} error: cannot enable {kind} with specific MIG devices selected")
    chosen: list[int] = []
    for index in selection.gpus:
        if gpus[index].mig_capable and index not in chosen:
            chosen.append(index)
    for mig in selection.migs:
        if gpus[mig.gpu].mig_capable and mig.gpu not in chosen:
            chosen.append(mig.gpu)
    return True, tuple(chosen)


def parse_imex(channels: str) -> tuple[int, ...]:
    """Channel ids of the joined ``--imex-channel`` value, in order, duplicates kept.

    Raises InjectionError (``error parsing IMEX info: unsupported IMEX channel value: <token>``).
    """
    ids: list[int] = []
    for token in channels.split(","):
        if not token:
            continue
        value = _strtoumax_whole(token)
        if value is None or value >= _IMEX_LIMIT:
            raise failure(f"error parsing IMEX info: unsupported IMEX channel value: {token}")
        ids.append(value)
    return tuple(ids)


# --- requirements ---

NAMES: tuple[str, ...] = ("cuda", "driver", "arch", "brand")
_OPERATORS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=")
_OP_CHARS = "<>=!"
_CUDA_HINT = ", please update your driver to a newer version, or use an earlier cuda container"


# A requirement is checked against ``props``, a dict: ``cuda``, ``driver``, ``arch``, ``brand`` (None or
# absent = unknown: the term is true), and ``device``, the GPU's label in messages ("GPU 0 (GPU-...)"),
# absent when no device is evaluated.
_INVALID = "requirement error: invalid expression"


def _split(text: str, sep: str) -> list[str]:
    return [part for part in text.split(sep) if part]


def _term(term: str) -> tuple[str, str, str] | None:
    """``(name, op, value)`` of one term, or None when it is not a valid term."""
    pos = next((i for i, ch in enumerate(term) if ch in _OP_CHARS), -1)
    if pos <= 0:
        return None
    end = pos
    while end < len(term) and term[end] in _OP_CHARS:
        end += 1
    name, run, value = term[:pos].lower(), term[pos:end], term[end:]
    op = next((o for o in _OPERATORS if o.startswith(run)), None)
    if name not in NAMES or op is None or not value:
        return None
    return name, op, value


def _version_cmp(a: str, b: str) -> int:
    """Compare dotted numeric versions like the CLI (``12`` == ``12.0``); -1, 0 or 1."""
    pa, pb = a.split("."), b.split(".")
    for x, y in zip(pa, pb):
        ix, iy = int(x or "0"), int(y or "0")
        if ix != iy:
            return -1 if ix < iy else 1
    rest_a, rest_b = ".".join(pa[len(pb):]), ".".join(pb[len(pa):])
    if rest_a.lstrip(".0"):
        return 1
    if rest_b.lstrip(".0"):
        return -1
    return 0


def _is_version(text: str) -> bool:
    return all(ch.isdigit() or ch == "." for ch in text) and text.isascii()


def evaluate_term(term: str, props: dict[str, str | None]) -> bool:
    """Evaluate one term; raises InjectionError (``requirement error: invalid expression``)."""
    parsed = _term(term)
    if parsed is None:
        raise failure(_INVALID)
    name, op, value = parsed
    have = props.get(name)
    if have is None:
        return True
    if name == "brand":
        if op not in ("=", "!="):
            raise failure(_INVALID)
        return (have.lower() == value.lower()) == (op == "=")
    if not _is_version(have) or not _is_version(value):
        raise failure(_INVALID)
    c = _version_cmp(have, value)
    return {"=": c == 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]


def referenced(requirement: str) -> list[str]:
    """Property names the requirement mentions, in order of first use (for messages)."""
    seen: list[str] = []
    for alt in _split(requirement, " "):
        for term in _split(alt, ","):
            parsed = _term(term)
            if parsed is None:
                continue
            name = parsed[0]
            if name not in seen:
                seen.append(name)
    return seen


def unsatisfied_message(requirement: str, props: dict[str, str | None]) -> str:
    """``unsatisfied condition: REQ (found cuda=12.4[ on GPU 0 (...)])[, please update ...]``."""
    names = referenced(requirement)
    detail = ", ".join(f"{n}={props.get(n) if props.get(n) is not None else 'unknown'}" for n in names)
    device = props.get("device")
    if device and any(n in ("arch", "brand") for n in names):
        detail += f" on {device}"
    text = requirement.strip(" ")
    msg = f"unsatisfied condition: {text}" + (f" (found {detail})" if detail else "")
    first = requirement.split(" ", 1)[0]
    if first.startswith("cuda>="):
        msg += _CUDA_HINT
    return msg


def evaluate(requirement: str, props: dict[str, str | None]) -> None:
    """Check one requirement; returns when it holds.

    Raises InjectionError: ``requirement error: invalid expression`` for a malformed term that is
    reached, else ``requirement error: `` and the :func:`unsatisfied_message` when no
    alternative holds.
    As in the CLI's ``dsl_evaluate`` the result starts true and carries over:
    an empty requirement (a legacy image's ``NVIDIA_REQUIRE_CUDA=`` becomes
    ``--require=``) holds, and so does a first alternative of commas only,
    while one after a failed alternative keeps that failure.
    """
    holds = True
    for alt in _split(requirement, " "):
        for term in _split(alt, ","):
            holds = evaluate_term(term, props)
            if not holds:
                break
        if holds:
            return
    if not holds:
        raise failure(f"requirement error: {unsatisfied_message(requirement, props)}")
