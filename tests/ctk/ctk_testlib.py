"""Running the ``nvidia-ctk`` console script (built by ./build.sh) as operators do."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from paths import CTK_BIN

__all__ = ["ctk", "ctk_ok"]


def ctk(*args: str, state: Path, umask: int | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """``nvidia-ctk ARGS`` with its state directory ``state`` (``NVIDIA_CTK_STATE_DIR``), stdin
    closed, ``env`` added to ours and, when given, ``umask``."""
    e = dict(os.environ, NVIDIA_CTK_STATE_DIR=str(state))
    e.update(env or {})
    return subprocess.run([str(CTK_BIN), *args], capture_output=True, text=True, env=e,
                          stdin=subprocess.DEVNULL, timeout=120,
                          preexec_fn=None if umask is None else (lambda: os.umask(umask)))


def ctk_ok(*args: str, state: Path, **kw) -> subprocess.CompletedProcess:
    """:func:`ctk`, which must succeed (exit status 0; its stderr otherwise)."""
    r = ctk(*args, state=state, **kw)
    assert r.returncode == 0, r.stderr
    return r
