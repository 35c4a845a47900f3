"""The binary the tests give ``nvidia-ctk install --toolkit-source``, and a driver root for it.

The toolkit is the ONE frozen binary, answering by ``argv[0]`` to every program name
(``ctk.toolkit.PROGRAMS``).  Until the build branch's dispatching binary is merged
(``freeze/programs.py``), ``dist/nvidia-container-runtime-hook`` answers only as the hook; the
tests then install a stand-in with the same contract: a script run by the venv's Python that
runs the function of the venv console script named like ``argv[0]``'s base name.  TODO(merge): once
``freeze/programs.py`` is on the branch, :func:`toolkit_source` returns the real binary (it
already does when that file exists).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist" / "nvidia-container-runtime-hook"
FAKE_LIB = ROOT / "build" / "fake" / "libnvidia-container.so.1"
FAKE_DRIVER = ROOT / "build" / "fake" / "driver"

STAND_IN = """#!{python}
import os, sys
bindir = {bindir!r}
name = os.path.basename(sys.argv[0])
if not os.path.exists(os.path.join(bindir, name)):
    name = "nvidia-container-runtime-hook"
with open(os.path.join(bindir, name)) as f:   # the console script: "from MODULE import FUNCTION"
    module, function = next(ln.split()[1::2] for ln in f if ln.startswith("from "))
sys.exit(getattr(__import__(module, fromlist=[function]), function)())
"""


def toolkit_source(tmp: Path) -> Path:
    """The frozen binary when it dispatches by name, else the stand-in (written under ``tmp``)."""
    if (ROOT / "freeze" / "programs.py").exists():
        assert DIST.exists(), f"{DIST} missing: run ./build.sh"
        return DIST
    path = tmp / "toolkit-source" / "nvidia-container-runtime-hook"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STAND_IN.format(python=ROOT / ".venv" / "bin" / "python", bindir=str(ROOT / ".venv" / "bin")))
    path.chmod(0o755)
    return path


def driver_root(tmp: Path) -> Path:
    """A driver root as a host with the NVIDIA driver and libnvidia-container has it: the fake
    driver tree (device nodes, libraries, nvidia-smi), the fake ``libnvidia-container.so.1`` in
    its library directory and ``/sbin/ldconfig`` (a link to the host's)."""
    assert FAKE_LIB.exists() and FAKE_DRIVER.exists(), "the fake driver is missing: run ./build.sh"
    root = tmp / "driver-root"
    subprocess.run(["cp", "-a", str(FAKE_DRIVER), str(root)], check=True)   # device nodes as nodes
    shutil.copy2(FAKE_LIB, root / "usr" / "lib" / "x86_64-linux-gnu" / "libnvidia-container.so.1")
    (root / "sbin").mkdir()
    for name in ("ldconfig", "ldconfig.real"):
        if os.path.exists(f"/sbin/{name}"):
            (root / "sbin" / name).symlink_to(f"/sbin/{name}")
    return root
