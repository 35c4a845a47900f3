"""A busybox OCI bundle for runc, with an optional prestart hook.

Shared by the runc end-to-end test of the installed binary
(``tests/freeze/test_freeze_runc_e2e.py``) and the runc overhead benchmark
(``bench/runc_overhead.py``).  Needs root, ``runc`` and ``busybox-static``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
APPLETS = ("sh", "echo", "cat", "true", "ls")


def busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        if Path(candidate).exists():
            return Path(candidate)
    raise FileNotFoundError("busybox missing: apt-get install busybox-static (./build.sh deps)")


def make_rootfs(path: Path) -> Path:
    """A minimal busybox root file system."""
    for d in ("bin", "dev", "proc", "sys", "tmp", "etc"):
        (path / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox(), path / "bin" / "busybox")
    for applet in APPLETS:
        (path / "bin" / applet).symlink_to("busybox")
    (path / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n")
    return path


def make_bundle(directory: Path, args: list[str], env: list[str] | None = None,
                hook: list[str] | None = None, hook_env: list[str] | None = None) -> Path:
    """``runc spec`` + busybox rootfs running ``args``; ``hook`` = [path, argv0, arg...] as prestart."""
    directory.mkdir(parents=True, exist_ok=True)
    make_rootfs(directory / "rootfs")
    subprocess.run(["runc", "spec"], cwd=directory, check=True, capture_output=True)
    config_path = directory / "config.json"
    spec = json.loads(config_path.read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = list(args)
    spec["process"]["env"] = ["PATH=/bin"] + list(env or [])
    spec["root"]["readonly"] = False
    if hook:
        entry = {"path": hook[0], "args": list(hook[1:]) or [Path(hook[0]).name]}
        entry["env"] = list(hook_env if hook_env is not None else
                            ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        spec["hooks"] = {"prestart": [entry]}
    config_path.write_text(json.dumps(spec, indent=2))
    return directory


def runc_run(bundle: Path, container_id: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``runc run`` to completion (output captured); the container is deleted afterwards."""
    try:
        return subprocess.run(["runc", "run", "--bundle", str(bundle), container_id],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        subprocess.run(["runc", "delete", "-f", container_id], capture_output=True)
