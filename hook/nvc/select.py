"""Device, MIG-config/monitor and IMEX selection of ``nvidia-container-cli configure`` (pure).

Follows libnvidia-container.md §4: tokens of the joined ``--device`` list are
matched in this order, first match wins: ``all`` (stops parsing), GPU UUID,
PCI bus id, index, MIG UUID, MIG ``gpu:mig`` index; anything else is an
unknown device.  Selecting a MIG device also selects its parent GPU.
"""

from __future__ import annotations

from ..values import Value

_C_SPACE = " \t\n\v\f\r"
_UINTMAX = 1 << 64
_IMEX_LIMIT = 1 << 20


class SelectionError(Exception):
    """A device/MIG/IMEX list cannot be satisfied; ``stage`` is the CLI's error stage word."""

    def __init__(self, stage: str, detail: str):
        super().__init__(f"{stage}: {detail}")
        self.stage = stage
        self.detail = detail


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

    Raises SelectionError("device error", "<token>: unknown device").  With no
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
            raise SelectionError("device error", f"{token}: unknown device")
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

    Raises SelectionError(f"{kind} error", ...) for a token other than ``all``
    or for ``all`` with specific MIG devices selected.
    """
    active = False
    for token in spec.split(","):
        if not token:
            continue
        if token.lower() != "all":
            raise SelectionError(f"{kind} error", f"{token}: only 'all' devices are currently supported")
        active = True
    if not active:
        return False, ()
    if not selection.all and selection.migs:
        raise SelectionError(f"{kind} error", f"cannot enable {kind} with specific MIG devices selected")
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

    Raises SelectionError("error parsing IMEX info", "unsupported IMEX channel value: <token>").
    """
    ids: list[int] = []
    for token in channels.split(","):
        if not token:
            continue
        value = _strtoumax_whole(token)
        if value is None or value >= _IMEX_LIMIT:
            raise SelectionError("error parsing IMEX info", f"unsupported IMEX channel value: {token}")
        ids.append(value)
    return tuple(ids)
