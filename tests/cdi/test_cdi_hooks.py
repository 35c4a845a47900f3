"""nvidia-cdi-hook: start-up imports, paths confined to the container root, pure decisions."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

import classes
import importtime
from cdi.hook import HOOKS
from cdi.hooks import compat, devnode

HEAVY = ("re", "json", "yaml", "cffi", "_cffi_backend", "ctypes", "subprocess", "typing", "dataclasses", "glob",
         "fnmatch", "enum", "logging", "cdi.spec", "cdi.generate", "struct", *importtime.OS)
IMPORTTIME = importtime.command("cdi.hook:main")
CTK_ALLOWED = {"ctk", "ctk.errors", "ctk.cli_flags"}  # the flag parser (ctk.cli_flags), nothing of configuration


def bundle(tmp_path, entries=()):
    b = tmp_path / "bundle"
    (b / "rootfs" / "etc").mkdir(parents=True)
    (b / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}}))
    for rel, target in entries:
        p = b / "rootfs" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)
    return b


def run_hook(b, *args, importtime=False):
    """``nvidia-cdi-hook ARGS`` with the OCI state of bundle ``b`` on stdin; ``importtime``: under
    ``-X importtime`` as the frozen launcher starts it (``-I -S``: ``site`` imports ``os``)."""
    cmd = IMPORTTIME if importtime else [sys.executable, "-c", "import sys; from cdi.hook import main; sys.exit(main())"]
    state = json.dumps({"ociVersion": "1.0.2", "id": "x", "pid": 1, "bundle": str(b)})
    return subprocess.run([*cmd, *args], input=state.encode(), capture_output=True)


@pytest.mark.parametrize("args", [
    ["create-symlinks", "--link", "a::/usr/lib/x"],
    ["update-application-profile"],
    ["enable-cuda-compat", "--host-driver-version=550.54.14"],
    ["chmod", "--mode", "755", "--path", "/etc"],
    ["disable-device-node-modification"],
    ["update-ldcache", "--folder", "/usr/lib/x86_64-linux-gnu"],
    ["noop"],
    ["frobnicate"],
    [],
])
def test_hooks_import_only_what_they_need(tmp_path, args):
    """Every CDI container runs these hooks: no YAML, no cffi, no re/json/typing, no ``os`` (-X importtime; the
    hooks use ``hook.oslite``)."""
    p = run_hook(bundle(tmp_path), *args, importtime=True)
    assert p.returncode == 0, p.stderr
    imported = importtime.imported(p.stderr)
    assert "cdi.hook" in imported  # the measurement works
    if args and args[0] in HOOKS:
        assert HOOKS[args[0]] in imported
    for heavy in HEAVY:
        assert heavy not in imported, heavy
    assert {m for m in imported if m.split(".")[0] == "ctk"} <= CTK_ALLOWED


@pytest.mark.parametrize("args", [["create-symlinks", "--link", "a::/usr/lib/x"],
                                  ["chmod", "--mode", "755", "--path", "/etc"],
                                  ["update-ldcache", "--folder", "/usr/lib"]])
def test_a_hook_that_succeeds_creates_no_exception_class(tmp_path, args):
    """Every CDI container runs these hooks: no exception class is created unless one fails
    (hook.values.lazy_classes)."""
    b = bundle(tmp_path)
    state = json.dumps({"ociVersion": "1.0.2", "id": "x", "pid": 1, "bundle": str(b)}).encode()
    p = subprocess.run([*classes.command("cdi.hook:main"), *args], input=state, capture_output=True)
    assert p.returncode == 0, p.stderr
    assert classes.created(p.stderr) == []
    failed = subprocess.run([*classes.command("cdi.hook:main"), *args], input=b"{", capture_output=True)
    assert failed.returncode == 1 and "cdi.errors.HookError" in classes.created(failed.stderr)


def test_update_ldcache_imports_no_re(tmp_path):
    b = bundle(tmp_path)
    p = run_hook(b, "update-ldcache", "--folder", "/usr/lib/x86_64-linux-gnu", importtime=True)
    assert p.returncode == 0, p.stderr
    imported = importtime.imported(p.stderr)
    assert "cdi.hooks.ldcache" in imported and not {"re", "glob", "json", "subprocess"} & imported


def test_create_symlinks_never_follows_an_image_symlink_out_of_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    b = bundle(tmp_path, [("usr/lib", str(outside)), ("lib64", "../../../../" + str(outside))])
    p = run_hook(b, "create-symlinks", "--link", "t::/usr/lib/l1", "--link", "t::/lib64/l2")
    assert p.returncode == 0, p.stderr
    assert list(outside.iterdir()) == []
    assert os.readlink(b / "rootfs" / str(outside).lstrip("/") / "l1") == "t"
    assert os.readlink(b / "rootfs" / str(outside).lstrip("/") / "l2") == "t"


def test_application_profile_written_inside_the_root_through_an_absolute_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    b = bundle(tmp_path, [("etc/nvidia", str(outside))])
    (b / "rootfs" / "dev").mkdir()
    os.mknod(b / "rootfs" / "dev" / "nvidia0", 0o666 | 0o020000, os.makedev(195, 0))
    p = run_hook(b, "update-application-profile")
    assert p.returncode == 0, p.stderr
    assert list(outside.iterdir()) == []
    conf = b / "rootfs" / str(outside).lstrip("/") / "nvidia-application-profiles-rc.d" / "10-container.conf"
    assert conf.read_text().endswith('"EGLVisibleDGPUDevices",0x1]}],"rules":[{"pattern":[],"profile":"_container_"}]}')


def test_chmod_through_a_symlink_stays_in_the_root(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("x")
    victim.chmod(0o600)
    b = bundle(tmp_path, [("etc/link", str(victim))])
    p = run_hook(b, "chmod", "--mode", "777", "--path", "/etc/link")
    assert p.returncode == 0, p.stderr
    assert victim.stat().st_mode & 0o777 == 0o600


def test_unknown_and_missing_hook_warn_and_exit_0(tmp_path):
    b = bundle(tmp_path)
    p = run_hook(b, "frobnicate", "--x")
    assert p.returncode == 0 and b'level=warning msg="Unsupported CDI hook: frobnicate"' in p.stderr
    p = run_hook(b)
    assert p.returncode == 0 and b'msg="No CDI hook specified"' in p.stderr


def test_bad_state_is_one_error_line(tmp_path):
    p = subprocess.run([sys.executable, "-c", "import sys; from cdi.hook import main; sys.exit(main())",
                        "create-symlinks"], input=b"not json", capture_output=True)
    assert p.returncode == 1
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and "failed to load container state: failed to decode container state:" in lines[0]



@pytest.mark.parametrize("args,made", [(["create-symlinks", "--link", "a::/usr/lib/x"], "/usr/lib"),
                                       (["update-ldcache", "--folder", "/usr/lib"], "/proc")])
def test_a_missing_container_root_is_one_error_line(tmp_path, args, made):
    """root.path naming a missing folder: one error line, exit 1, no traceback (nothing is created)."""
    b = tmp_path / "bundle"
    b.mkdir()
    (b / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": str(tmp_path / "gone")}}))
    p = run_hook(b, *args)
    assert p.returncode == 1
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1, p.stderr
    assert f'level=error msg="failed to create directory {made} in {tmp_path}/gone: no such file or directory"' \
        in lines[0]
    assert not (tmp_path / "gone").exists()


def test_a_root_error_names_the_host_file_that_failed(tmp_path, monkeypatch):
    from cdi import errors, rootfs
    from hook import rootfs as hook_rootfs

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", f"{tmp_path}/etc")

    monkeypatch.setattr(hook_rootfs, "resolve", refuse)
    with pytest.raises(errors.HookError) as exc:
        rootfs.secure_join(str(tmp_path), "/etc/x")
    assert str(exc.value) == f"failed to resolve /etc/x in {tmp_path}: {tmp_path}/etc: permission denied"


@pytest.mark.parametrize("compat_v,driver,cuda,note,want", [
    ("560.28.03", "550.54.14", "", None, True),
    ("550.90.07", "550.54.14", "", None, False),
    ("560.28.03", "550.54.14", "12.4", None, False),
    ("560.28.03", "550.54.14", "", {"CUDA Version": "12.6", "Driver": [550]}, True),
    ("560.28.03", "550.54.14", "", {"CUDA Version": "12.6", "Driver": [535]}, False),
    ("560.28.03", "", "12.4", {"CUDA Version": "12.6", "Driver": [550]}, True),
    ("560.28.03", "", "12.8", {"CUDA Version": "12.6", "Driver": [550]}, False),
])
def test_cuda_compat_decision(compat_v, driver, cuda, note, want):
    assert compat.use_compat(compat_v, driver, cuda, note, logging.getLogger("t")) is want


def test_params_rewrite():
    assert devnode.modified("ModifyDeviceFiles: 1\nDeviceFileMode: 438") == "ModifyDeviceFiles: 0\nDeviceFileMode: 438\n"
    assert devnode.modified("ModifyDeviceFiles: 0\n") is None
    assert devnode.modified("ModifyDeviceFiles: 2\n") is None


def test_ld_so_conf_includes_match_dotfiles_as_go_does(tmp_path):
    """Go's filepath.Glob: ``*.conf`` includes ``.hidden.conf``, with or without a ``[...]`` class."""
    from cdi.hooks.ldcache import configured_dirs
    root = tmp_path / "root"
    (root / "etc" / "ld.so.conf.d").mkdir(parents=True)
    (root / "etc" / "ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\ninclude /etc/ld.so.conf.d/[.]*.txt\n")
    (root / "etc" / "ld.so.conf.d" / ".hidden.conf").write_text("/opt/hidden\n")
    (root / "etc" / "ld.so.conf.d" / "a.conf").write_text("/opt/a\n")
    (root / "etc" / "ld.so.conf.d" / ".dot.txt").write_text("/opt/dot\n")
    assert configured_dirs(str(root)) == ["/opt/hidden", "/opt/a", "/opt/dot"]


def test_ld_so_conf_include_wildcards_in_folders_stay_inside_the_root(tmp_path):
    """Go's filepath.Glob expands wildcards in every component; each folder is resolved in the root."""
    from cdi.hooks.ldcache import configured_dirs
    root = tmp_path / "root"
    for d in ("etc/a.d", "etc/b.d", "etc/c.x"):
        (root / d).mkdir(parents=True)
    (root / "etc" / "ld.so.conf").write_text("include /etc/*.d/*.conf /etc/escape/*.conf\n")
    (root / "etc" / "a.d" / "1.conf").write_text("/opt/a1\n")
    (root / "etc" / "b.d" / "2.conf").write_text("/opt/b2\n")
    (root / "etc" / "c.x" / "3.conf").write_text("/opt/c3\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "4.conf").write_text("/opt/outside\n")
    os.symlink(str(outside), root / "etc" / "escape")
    assert configured_dirs(str(root)) == ["/opt/a1", "/opt/b2"]


def test_ld_so_conf_include_names_only_listed_entries_under_a_wildcard(tmp_path):
    """Go's filepath.Glob lists each folder a wildcard matched: ``.`` or ``..`` after one names no entry
    (``/etc/*.d/1.conf/.`` is not ``/etc/a.d/1.conf``); a trailing ``/`` is dropped first."""
    from cdi.hooks.ldcache import configured_dirs
    root = tmp_path / "root"
    (root / "etc" / "a.d").mkdir(parents=True)
    (root / "etc" / "a.d" / "1.conf").write_text("/opt/a1\n")
    (root / "etc" / "ld.so.conf").write_text("include /etc/*.d/1.conf/. /etc/*.d/x/../1.conf\n")
    assert configured_dirs(str(root)) == []
    (root / "etc" / "ld.so.conf").write_text("include /etc/*.d/*.conf/\n")
    assert configured_dirs(str(root)) == ["/opt/a1"]

def test_hook_flags_follow_urfave_cli_list_rules(tmp_path):
    """The hooks parse their flags with ctk.cli_flags: a list value is split at commas, items trimmed."""
    b = bundle(tmp_path)
    p = run_hook(b, "create-symlinks", "--link", "t1::/usr/lib/l1, t2::/usr/lib/l2", "--link=t3::/usr/lib/l3")
    assert p.returncode == 0, p.stderr
    links = {n: os.readlink(b / "rootfs/usr/lib" / n) for n in ("l1", "l2", "l3")}
    assert links == {"l1": "t1", "l2": "t2", "l3": "t3"}


@pytest.mark.parametrize("args,message", [
    (["chmod", "--mode", "755", "--bogus"], "flag provided but not defined: -bogus"),
    (["create-symlinks", "--link"], "flag needs an argument: -link"),
])
def test_hook_flag_errors_are_one_line_in_go_flags_wording(tmp_path, args, message):
    p = run_hook(bundle(tmp_path), *args)
    assert p.returncode == 1
    assert p.stderr.decode().splitlines() == [p.stderr.decode().splitlines()[0]]
    assert p.stderr.decode().rstrip().endswith(f'level=error msg="{message}"')


def test_hook_help_prints_the_subcommands_flags(tmp_path):
    p = run_hook(bundle(tmp_path), "create-symlinks", "--help")
    assert p.returncode == 0 and p.stderr == b""
    out = p.stdout.decode()
    assert out.startswith("NAME:\n   nvidia-cdi-hook create-symlinks\n\nOPTIONS:\n")
    assert "--link string [ --link string ]" in out


def test_top_level_help_lists_the_subcommands_and_global_flags(tmp_path):
    p = run_hook(bundle(tmp_path), "--help")
    assert p.returncode == 0 and p.stderr == b""
    out = p.stdout.decode()
    assert out.startswith("NAME:\n   nvidia-cdi-hook - ") and "``" not in out  # a usage text, not the docstring
    assert all(f"\n   {name}\n" in out for name in HOOKS)
    assert "--debug, -d" in out and "--config string" in out


def test_device_node_modification_is_hidden_by_a_read_only_bind_mount(tmp_path):
    """A host whose driver modifies device files (``ModifyDeviceFiles: 1``; a params file put over
    ``/proc/driver`` in a private mount namespace): the container's params file reads 0 afterwards, read-only,
    and the file itself is not changed.  ``mount(2)`` is called through ``_ctypes``: neither ``ctypes`` nor
    ``os`` is imported (-X importtime, as the launcher runs the hook)."""
    b = bundle(tmp_path)
    params = b / "rootfs" / "proc" / "driver" / "nvidia" / "params"
    params.parent.mkdir(parents=True)
    params.write_text("ModifyDeviceFiles: 1\nDeviceFileMode: 438\n")
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"ociVersion": "1.0.2", "id": "x", "pid": 1, "bundle": str(b)}))
    script = ('mount -t tmpfs none /proc/driver && mkdir /proc/driver/nvidia'
              ' && printf "ModifyDeviceFiles: 1\\nDeviceFileMode: 438\\n" > /proc/driver/nvidia/params'
              ' && "$@" < "$STATE" && cat "$PARAMS" && if (: >> "$PARAMS") 2>/dev/null; then echo writable; fi')
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *IMPORTTIME,
                        "disable-device-node-modification"], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "STATE": str(state), "PARAMS": str(params)})
    assert p.returncode == 0, p.stderr
    assert p.stdout == "ModifyDeviceFiles: 0\nDeviceFileMode: 438\n"
    assert params.read_text() == "ModifyDeviceFiles: 1\nDeviceFileMode: 438\n"
    imported = importtime.imported(p.stderr)
    assert "cdi.hooks.devnode" in imported
    for heavy in HEAVY:
        assert heavy not in imported, heavy
