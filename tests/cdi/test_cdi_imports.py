"""What the generator's two callers import (-X importtime): a GPU ``create`` in the runtime's
``jit-cdi`` mode and ``nvidia-ctk cdi generate`` match paths with cdi.pathmatch, never with ``re``,
``fnmatch`` or ``glob`` (docs/performance.md, "`cdi` and `jit-cdi` create")."""

from __future__ import annotations

import json
import subprocess
import sys

from importtime import importers
from paths import ROOT

PATTERN_MODULES = ("re", "fnmatch", "glob")

NAMES = ["0", "1", "GPU-00000000-0000-0000-0000-000000000001", "GPU-00000000-0000-0000-0000-000000000002", "all"]
RECORDER = "#!/bin/sh\nexit 7\n"


def test_gpu_jit_cdi_create_imports_no_pattern_module(tmp_path, driver_root):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "runc").write_text(RECORDER)
    (tmp_path / "bin" / "runc").chmod(0o755)
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "config.json").write_text(json.dumps(
        {"ociVersion": "1.2.0", "root": {"path": "rootfs"},
         "process": {"env": ["NVIDIA_VISIBLE_DEVICES=all"], "cwd": "/", "user": {"uid": 0, "gid": 0}}}))
    (tmp_path / "config.toml").write_text(f'[nvidia-container-cli]\nroot = "{driver_root}"\n'
                                          '[nvidia-container-runtime]\nmode = "jit-cdi"\n')
    env = {"PATH": f"{tmp_path}/bin:/usr/bin:/bin", "NVIDIA_CTK_CONFIG_FILE_PATH": str(tmp_path / "config.toml")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "shim", "create", "--bundle",
                           str(tmp_path / "bundle"), "ctr"], cwd=tmp_path / "bundle", env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 7, proc.stderr
    mods = importers(proc.stderr)
    assert {"cdi.generate", "cdi.discover", "cdi.nvml", "cdi.pathmatch"} <= set(mods)  # the guard can fail
    assert [m for m in PATTERN_MODULES if m in mods] == []
    written = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert [d["path"] for d in written["linux"]["devices"]][:2] == ["/dev/nvidia0", "/dev/nvidia1"]


def run_generate(driver_root, code):
    args = ["cdi", "generate", "--driver-root", str(driver_root),
            "--nvidia-cdi-hook-path", "/usr/bin/nvidia-cdi-hook", "--format", "json"]
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert [d["name"] for d in json.loads(proc.stdout)["devices"]] == NAMES
    return importers(proc.stderr)


def test_the_generator_imports_no_pattern_module(driver_root):
    """``cdi generate``'s generator (nvml mode, the fake driver's two GPUs) imports none of them."""
    code = ("import sys; from cdi.generate import Options, generate\n"
            "class Log:\n    def info(self, *a): pass\n    warning = debug = info\n"
            f"spec = generate(Options(mode='nvml', driver_root={str(driver_root)!r}), Log())[0]\n"
            "print(' '.join(d['name'] for d in spec['devices']))")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == NAMES
    mods = importers(proc.stderr)
    assert {"cdi.generate", "cdi.discover", "cdi.nvml", "cdi.pathmatch"} <= set(mods)
    assert [m for m in PATTERN_MODULES + ("logging",) if m in mods] == []


def test_nvidia_ctk_cdi_generate_imports_re_only_for_logging(driver_root):
    """``nvidia-ctk``'s logger is the standard ``logging`` module, which imports ``re``; nothing else
    on the path does (nor ``glob`` or ``fnmatch``).  The spec goes to stdout and the hook path is
    given: ``--output`` writes through ``ctk.fileio`` (``tempfile``, hence ``shutil`` and
    ``fnmatch``), and looking the hook up in PATH (``cdi.cli._hook_path``) uses ``shutil.which``."""
    mods = run_generate(driver_root, "import sys; sys.argv[0] = 'nvidia-ctk'; "
                                               "from ctk.cli import main; sys.exit(main())")
    assert "cdi.pathmatch" in mods
    assert mods.get("re") == "logging" and "glob" not in mods and "fnmatch" not in mods
