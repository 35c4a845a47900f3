"""The whole hook with the library injector on container inputs a C string cannot carry (fake, dry run)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from nvc_testlib import FAKE_LIB, require_build
from paths import HOOK_BIN as HOOK


@pytest.mark.parametrize("injector", ["library", "auto"])
def test_nul_in_root_path_is_a_one_line_error(tmp_path, fake, injector):
    require_build()
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    spec = {"ociVersion": "1.0.2", "process": {"env": ["NVIDIA_VISIBLE_DEVICES=all"]},
            "root": {"path": "roo\0tfs"}}
    (bundle / "config.json").write_text(json.dumps(spec))
    config = tmp_path / "config.toml"
    config.write_text(f'[nvidia-container-runtime-hook]\ninjector = "{injector}"\nlibrary-path = "{FAKE_LIB}"\n'
                      '[nvidia-container-cli]\npath = "/nonexistent/nvidia-container-cli"\n')
    state = {"ociVersion": "1.0.2", "id": "c", "status": "creating", "pid": 4242, "bundle": str(bundle)}
    proc = subprocess.run([str(HOOK), "-config", str(config), "prestart"], input=json.dumps(state).encode(),
                          capture_output=True, env=dict(os.environ), timeout=60)
    assert (proc.returncode, proc.stderr.decode()) == (1, (
        "Auto-detected mode as 'legacy'\n"
        "nvidia-container-cli: input error: invalid rootfs directory: contains a NUL byte\n"))
    assert fake.calls() == []
