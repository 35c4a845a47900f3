"""Generate the out-of-line ABI-mode cffi modules ``hook/nvc/_nvc_ffi_<variant>.py`` and
``hook/_nvml_ffi.py`` (NVML, for the CDI generator and the mode probe of the hook and the runtime).

Run at build time (``native/build.sh``); the generated modules need only
``_cffi_backend`` at run time (no ``cffi``, no pycparser).
Usage: ``python native/build_ffi.py [OUTPUT_ROOT]`` (default: the repository root).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cffi

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nvc_cdef  # noqa: E402
import nvml_cdef  # noqa: E402


def build(root: Path) -> list[Path]:
    """Write one module per variant under ``root``; returns the written paths."""
    written = []
    for variant in nvc_cdef.VARIANTS:
        ffi = cffi.FFI()
        ffi.cdef(nvc_cdef.cdef(variant))
        name = nvc_cdef.module_name(variant)
        ffi.set_source(name, None)
        path = Path(ffi.compile(tmpdir=str(root), verbose=False))
        written.append(path)
    ffi = cffi.FFI()
    ffi.cdef(nvml_cdef.CDEF)
    ffi.set_source(nvml_cdef.MODULE, None)
    written.append(Path(ffi.compile(tmpdir=str(root), verbose=False)))
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    for p in build(out):
        print(f"build_ffi: wrote {p}")
