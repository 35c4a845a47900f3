"""./build.sh install / uninstall into a DESTDIR: what lands where, and uninstall removes exactly that."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from freeze_testlib import ROOT, VENV_PYTHON

from ctk.toolkitconfig import DEFAULT
from freeze.programs import PROGRAMS
from hook import hooksd

#: Every program name of the one binary, the hook's first (./build.sh install lays down each).
NAMES = list(PROGRAMS)

DEFAULT_CONFIG = DEFAULT.encode()  # nvidia-ctk config default


def tree(root: Path) -> dict[str, str]:
    """Every path under root with what it is (file digest, link target, dir)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = "/" + str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = f"{stat.S_IMODE(p.stat().st_mode):o} {p.read_bytes()!r}"[:200]
    return out


LAYOUT_VARS = ("PREFIX", "DESTDIR", "SYSCONFDIR", "LOCALSTATEDIR", "DATADIR")


def installer(action, destdir, *args, prefix=None, binary=None, via_build_sh=False, **dirs):
    env = {k: v for k, v in os.environ.items() if k not in LAYOUT_VARS}
    env["DESTDIR"] = str(destdir)
    if prefix:
        env["PREFIX"] = prefix
    env.update({k.upper(): v for k, v in dirs.items()})
    extra = ["--binary", str(binary)] if binary else []
    cmd = ["./build.sh", action] if via_build_sh else [str(VENV_PYTHON), "-m", "freeze.install", action]
    return subprocess.run(cmd + extra + list(args), cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.fixture
def binary(tmp_path, frozen_bin):
    return frozen_bin


def test_install_into_destdir_then_uninstall_restores_the_tree(tmp_path, binary):
    dest = tmp_path / "dest"
    res = installer("install", dest, binary=binary, via_build_sh=True)
    assert res.returncode == 0, res.stderr
    hook = dest / "usr/bin/nvidia-container-runtime-hook"
    assert hook.read_bytes() == binary.read_bytes()
    assert stat.S_IMODE(hook.stat().st_mode) == 0o755
    alias = dest / "usr/bin/nvidia-container-toolkit"
    assert alias.is_symlink() and os.readlink(alias) == "nvidia-container-runtime-hook"
    ctk = dest / "usr/bin/nvidia-ctk"
    assert ctk.is_symlink() and os.readlink(ctk) == "nvidia-container-runtime-hook"
    assert (dest / "etc/nvidia-container-runtime/config.toml").read_bytes() == DEFAULT_CONFIG
    hooks_json = dest / "usr/share/containers/oci/hooks.d/oci-nvidia-hook.json"
    assert hooks_json.read_text() == hooksd.render("/usr/bin/nvidia-container-runtime-hook")
    assert json.loads(hooks_json.read_text())["hook"]["path"] == "/usr/bin/nvidia-container-runtime-hook"
    # The paths as written, DESTDIR included.
    assert res.stdout.splitlines() == [
        *(f"installed {dest}/usr/bin/{name}" for name in NAMES),
        f"installed {dest}/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json",
        f"installed {dest}/etc/nvidia-container-runtime/config.toml (default)",
    ]
    # The installed names run their programs (argv[0] nvidia-container-toolkit, nvidia-ctk).
    ver = subprocess.run([str(alias), "-version"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert ver.returncode == 0 and ver.stdout.startswith("NVIDIA Container Runtime Hook version ")
    ver = subprocess.run([str(ctk), "--version"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert ver.returncode == 0 and ver.stdout.startswith("NVIDIA Container Toolkit CLI version ")
    manifest = json.loads((dest / "var/lib/nvidia-container-hook-py/install-manifest.json").read_text())
    assert str(dest) not in json.dumps(manifest)  # the manifest names installed paths

    res = installer("uninstall", dest, via_build_sh=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        f"removed {dest}/etc/nvidia-container-runtime/config.toml",
        f"removed {dest}/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json",
        *(f"removed {dest}/usr/bin/{name}" for name in reversed(NAMES)),
    ]
    assert tree(dest) == {}


def test_prefix_alone_puts_config_state_and_hooksd_under_it(tmp_path, binary):
    """PREFIX=/opt/nv: nothing in /etc, /usr or /var (GNU and meson: only the prefix /usr means /etc, /var)."""
    dest = tmp_path / "dest"
    res = installer("install", dest, prefix="/opt/nv", binary=binary)
    assert res.returncode == 0, res.stderr
    files = {k for k, v in tree(dest).items() if v != "dir"}
    assert files == {*(f"/opt/nv/bin/{name}" for name in NAMES), "/opt/nv/etc/nvidia-container-runtime/config.toml",
                     "/opt/nv/share/containers/oci/hooks.d/oci-nvidia-hook.json",
                     "/opt/nv/var/lib/nvidia-container-hook-py/install-manifest.json"}
    cfg = "/opt/nv/etc/nvidia-container-runtime/config.toml"
    assert res.stdout.splitlines()[-1] == (
        "note: the hook reads /etc/nvidia-container-runtime/config.toml unless told otherwise: "
        f"pass -config {cfg} or set NVIDIA_CTK_CONFIG_FILE_PATH={cfg} (docs/install.md)")
    res = installer("uninstall", dest, prefix="/opt/nv")
    assert res.returncode == 0, res.stderr
    assert tree(dest) == {}


def test_sysconfdir_localstatedir_datadir_override_the_prefix(tmp_path, binary):
    dest = tmp_path / "dest"
    dirs = dict(sysconfdir="/etc", localstatedir="/var", datadir="/usr/share")
    res = installer("install", dest, prefix="/usr/local", binary=binary, **dirs)
    assert res.returncode == 0, res.stderr
    files = {k for k, v in tree(dest).items() if v != "dir"}
    assert files == {*(f"/usr/local/bin/{name}" for name in NAMES), "/etc/nvidia-container-runtime/config.toml",
                     "/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json",
                     "/var/lib/nvidia-container-hook-py/install-manifest.json"}
    assert "note:" not in res.stdout  # the hook's own config path
    # The options take precedence over the environment.
    res = installer("uninstall", dest, "--sysconfdir=/etc", "--localstatedir=/var", "--datadir=/usr/share",
                    prefix="/usr/local", sysconfdir="/nope", localstatedir="/nope")
    assert res.returncode == 0, res.stderr
    assert tree(dest) == {}


def test_help_shows_the_defaults_as_they_are(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in LAYOUT_VARS}
    res = subprocess.run(["./build.sh", "install", "--help"], cwd=ROOT, capture_output=True, text=True,
                         env=dict(env, COLUMNS="300"))
    assert res.returncode == 0, res.stderr
    text = " ".join(res.stdout.split())
    assert "dist//" not in text
    assert f"the frozen binary to install (default: {ROOT}/dist/nvidia-container-runtime-hook)" in text
    assert "where bin/ goes (default: $PREFIX, else /usr)" in text
    assert "else /etc for the prefix /usr, else PREFIX/etc" in text


def test_relative_directories_are_refused(tmp_path):
    res = installer("install", tmp_path / "dest", sysconfdir="etc")
    assert res.returncode == 2
    assert res.stderr.splitlines()[-1] == "./build.sh: error: SYSCONFDIR must be absolute: 'etc'"
    assert not (tmp_path / "dest").exists()


def test_prefix_and_existing_config_is_never_overwritten(tmp_path, binary):
    dest = tmp_path / "dest"
    user_cfg = dest / "opt/nv/etc/nvidia-container-runtime/config.toml"
    user_cfg.parent.mkdir(parents=True)
    user_cfg.write_text("# mine\n")
    before = tree(dest)
    res = installer("install", dest, prefix="/opt/nv", binary=binary)
    assert res.returncode == 0, res.stderr
    assert f"kept existing {user_cfg}" in res.stdout
    assert user_cfg.read_text() == "# mine\n"
    assert (dest / "opt/nv/bin/nvidia-container-runtime-hook").exists()
    hooks_json = dest / "opt/nv/share/containers/oci/hooks.d/oci-nvidia-hook.json"
    assert hooks_json.read_text() == hooksd.render("/opt/nv/bin/nvidia-container-runtime-hook")
    # Installing twice is fine and changes nothing of the user's.
    assert installer("install", dest, prefix="/opt/nv", binary=binary).returncode == 0
    res = installer("uninstall", dest, prefix="/opt/nv")
    assert res.returncode == 0, res.stderr
    assert tree(dest) == before


def test_refuses_to_replace_foreign_files_unless_forced_then_restores_them(tmp_path, binary):
    dest = tmp_path / "dest"
    go_hook = dest / "usr/bin/nvidia-container-runtime-hook"
    go_hook.parent.mkdir(parents=True)
    go_hook.write_bytes(b"the Go hook")
    go_hook.chmod(0o755)
    before = tree(dest)
    res = installer("install", dest, binary=binary)
    assert res.returncode == 1
    assert "refusing to replace files this installer did not add: /usr/bin/nvidia-container-runtime-hook" in res.stderr
    assert tree(dest) == before
    res = installer("install", dest, "--force", binary=binary)
    assert res.returncode == 0, res.stderr
    assert go_hook.read_bytes() == binary.read_bytes()
    res = installer("uninstall", dest)
    assert res.returncode == 0, res.stderr
    assert f"restored {go_hook}" in res.stdout
    assert tree(dest) == before


def test_uninstall_keeps_a_config_edited_since(tmp_path, binary):
    dest = tmp_path / "dest"
    assert installer("install", dest, binary=binary).returncode == 0
    cfg = dest / "etc/nvidia-container-runtime/config.toml"
    cfg.write_text(cfg.read_text() + "\n# edited\n")
    res = installer("uninstall", dest)
    assert res.returncode == 0, res.stderr
    assert f"kept {cfg} (edited since install)" in res.stdout
    assert tree(dest) == {"/etc": "dir", "/etc/nvidia-container-runtime": "dir",
                          "/etc/nvidia-container-runtime/config.toml": tree(dest)["/etc/nvidia-container-runtime/config.toml"]}


def test_errors(tmp_path):
    dest = tmp_path / "dest"
    res = installer("uninstall", dest)
    assert res.returncode == 1
    assert res.stderr == f"uninstall: nothing to uninstall: no {dest}/var/lib/nvidia-container-hook-py/install-manifest.json\n"
    res = installer("install", dest, binary=tmp_path / "missing")
    assert res.returncode == 1
    assert res.stderr == f"install: {tmp_path / 'missing'}: no executable hook binary (run ./build.sh dist first)\n"
    assert not dest.exists()
