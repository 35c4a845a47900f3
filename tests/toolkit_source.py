"""The binary the tests give ``nvidia-ctk install --toolkit-source``, and a driver root for it.

The toolkit is the ONE frozen binary, answering by ``argv[0]`` to every program name
(``freeze/programs.py``; the binary names them itself, ``ctk.toolkit.program_names``): ``dist/nvidia-container-runtime-hook``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from paths import BUILD, FAKE_LIB
from paths import DIST_BIN as DIST

FAKE_DRIVER = BUILD / "fake" / "driver"


def toolkit_source() -> Path:
    """The frozen binary (built by ./build.sh); its absence is a broken build."""
    assert DIST.exists(), f"{DIST} missing: run ./build.sh"
    return DIST


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
