"""nvidia-ctk's file safety (issue 11): trusted private state records, backups no more
readable than their file, serialised writers, unconfigure back to the state before the first
configure, symlinks/xattrs/ACLs/setuid kept, no leftovers, one-line errors."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ctk import state as statemod
from hook.atomicfile import sha256
from faults import KILL_BEFORE_RENAME
from ctk_testlib import ctk


DAEMON_JSON = """\
{
  "default-runtime": "crun",
  "runtimes": {
    "crun": {"path": "/usr/bin/crun"}
  }
}
"""

V2_CONFIG = """\
version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "crun"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
    runtime_type = "io.containerd.runc.v2"
"""

CRIO_CONF = """\
[crio.runtime]
default_runtime = "crun"

[crio.runtime.runtimes.crun]
runtime_path = "/usr/bin/crun"
"""


def one_error(r: subprocess.CompletedProcess) -> str:
    """The single error line of a failed run (exit 1, no traceback)."""
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if "level=error" in line]
    assert len(errors) == 1, r.stderr
    return errors[0]


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def record_file(state: Path) -> Path:
    (rec,) = (state / "runtime").iterdir()
    return rec


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def docker_cfg(tmp_path: Path) -> Path:
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    return cfg


# --------------------------------------------------------------------------- item 1: trusted state

def test_state_is_private_whatever_the_umask(tmp_path, state, docker_cfg):
    r = ctk("runtime", "configure", "--runtime=docker", f"--config={docker_cfg}", state=state, umask=0)
    assert r.returncode == 0, r.stderr
    assert {str(p.relative_to(state)): oct(mode(p)) for p in [state, *state.rglob("*")]
            if not p.name.endswith(".lock")} == {
        ".": "0o700", "runtime": "0o700", record_file(state).relative_to(state).as_posix(): "0o600",
        "backups": "0o700", f"backups/{str(docker_cfg).strip('/').replace('/', '%2F')}": "0o600",
        "locks": "0o700"}
    assert all(mode(p) == 0o600 for p in (state / "locks").iterdir())


def _forge(rec_path: Path, edit) -> None:
    raw = json.loads(rec_path.read_text())
    edit(raw)
    rec_path.write_text(json.dumps(raw))


def test_forged_record_naming_another_file_is_refused(tmp_path, state, docker_cfg):
    victim = tmp_path / "passwd"
    victim.write_text("root:x:0:0::/root:/bin/sh\n")
    assert ctk("runtime", "configure", "--runtime=docker", f"--config={docker_cfg}", state=state).returncode == 0
    rec = record_file(state)
    _forge(rec, lambda raw: raw["files"].append({
        "path": str(victim), "role": "config", "before": base64.b64encode(b"pwned\n").decode(),
        "after_sha256": hashlib.sha256(victim.read_bytes()).hexdigest()}))
    configured = docker_cfg.read_text()
    err = one_error(ctk("runtime", "unconfigure", "--runtime=docker", f"--config={docker_cfg}", state=state))
    assert f"refusing state record {rec}: it lists {victim}, which this command was not asked to change" in err
    assert victim.read_text() == "root:x:0:0::/root:/bin/sh\n"
    assert docker_cfg.read_text() == configured


def test_forged_record_calling_the_config_a_drop_in_is_refused(tmp_path, state, docker_cfg):
    assert ctk("runtime", "configure", "--runtime=docker", f"--config={docker_cfg}", state=state).returncode == 0
    _forge(record_file(state), lambda raw: raw["files"][0].update(role="drop-in", after_sha256="0" * 64))
    err = one_error(ctk("runtime", "unconfigure", "--runtime=docker", f"--config={docker_cfg}", state=state))
    assert f"it lists {docker_cfg} as the drop-in file, which is not --drop-in-config" in err
    assert "nvidia" in docker_cfg.read_text()


def test_forged_record_naming_a_foreign_directory_is_refused(tmp_path, state, docker_cfg):
    other = tmp_path / "elsewhere" / "empty"
    other.mkdir(parents=True)
    assert ctk("runtime", "configure", "--runtime=docker", f"--config={docker_cfg}", state=state).returncode == 0
    _forge(record_file(state), lambda raw: raw.update(created_dirs=[str(other)]))
    err = one_error(ctk("runtime", "unconfigure", "--runtime=docker", f"--config={docker_cfg}", state=state))
    assert f"it lists directory {other}, which is not a parent" in err
    assert other.is_dir()


@pytest.mark.parametrize("tamper,needle", [
    (lambda rec, st: os.chmod(rec, 0o666), "is writable by group or others (mode 0666)"),
    (lambda rec, st: os.chmod(rec, 0o620), "is writable by group or others (mode 0620)"),
    (lambda rec, st: os.chown(rec, 65534, 65534), "is owned by uid 65534, not 0"),
    (lambda rec, st: os.chmod(rec.parent, 0o777), "refusing state directory"),
    (lambda rec, st: os.chmod(st, 0o757), "refusing state directory"),
    (lambda rec, st: _forge(rec, lambda raw: raw.update(names=[""])), "names must be a list of non-empty strings"),
    (lambda rec, st: _forge(rec, lambda raw: raw["files"][0].update(before="%%%")), "is not base64"),
    (lambda rec, st: _forge(rec, lambda raw: raw.update(files="x")), "files has the wrong type"),
], ids=["world-writable", "group-writable", "foreign-owner", "open-dir", "open-state-dir",
        "empty-name", "bad-base64", "bad-type"])
def test_untrusted_or_malformed_record_is_refused(tmp_path, state, docker_cfg, tamper, needle):
    assert ctk("runtime", "configure", "--runtime=docker", f"--config={docker_cfg}",
               "--set-as-default", state=state).returncode == 0
    configured = docker_cfg.read_bytes()
    tamper(record_file(state), state)
    err = one_error(ctk("runtime", "unconfigure", "--runtime=docker", f"--config={docker_cfg}", state=state))
    assert needle in err
    assert docker_cfg.read_bytes() == configured


def test_configure_refuses_a_world_writable_state_dir(tmp_path, state, docker_cfg):
    state.mkdir(mode=0o700)
    os.chmod(state, 0o777)
    err = one_error(ctk("runtime", "configure", "--runtime=docker", f"--config={docker_cfg}", state=state))
    assert f"refusing state directory {state}: it is writable by group or others (mode 0777)" in err
    assert docker_cfg.read_text() == DAEMON_JSON


def test_record_for_another_drop_in_is_refused_until_asked_about(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text(V2_CONFIG)
    drop = tmp_path / "conf.d" / "99-nvidia.toml"
    base = ["--runtime=containerd", f"--config={top}"]
    assert ctk("runtime", "configure", *base, f"--drop-in-config={drop}", state=state).returncode == 0
    other = tmp_path / "other.toml"
    err = one_error(ctk("runtime", "unconfigure", *base, f"--drop-in-config={other}", state=state))
    assert f"it lists {drop}, which this command was not asked to change" in err
    assert drop.exists()
    r = ctk("runtime", "unconfigure", *base, f"--drop-in-config={drop}", state=state)
    assert r.returncode == 0, r.stderr
    assert top.read_text() == V2_CONFIG and not drop.parent.exists()


# --------------------------------------------------------------------------- item 2: no leaks

@pytest.mark.parametrize("cfg_mode,want", [(0o600, 0o600), (0o640, 0o600), (0o644, 0o600), (0o400, 0o400)])
def test_backups_and_records_no_more_readable_than_the_config(tmp_path, state, cfg_mode, want):
    top = tmp_path / "config.toml"
    top.write_text(V2_CONFIG)
    os.chmod(top, cfg_mode)
    r = ctk("runtime", "configure", "--runtime=containerd", f"--config={top}", "--drop-in-config=",
            state=state, umask=0o022)
    assert r.returncode == 0, r.stderr
    (backup,) = (state / "backups").iterdir()
    assert backup.read_text() == V2_CONFIG
    assert oct(mode(backup)) == oct(want)
    assert oct(mode(record_file(state))) == oct(want)
    assert oct(mode(top)) == oct(cfg_mode)


# --------------------------------------------------------------------------- item 3: lost updates

def test_parallel_configures_all_keep_their_change(tmp_path, state, docker_cfg):
    names = [f"rt{i}" for i in range(20)]

    def run(name: str) -> subprocess.CompletedProcess:
        return ctk("runtime", "configure", "--runtime=docker", f"--config={docker_cfg}",
                   f"--nvidia-runtime-name={name}", f"--nvidia-runtime-path=/opt/{name}", state=state)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(run, names))
    assert [r.returncode for r in results] == [0] * 20, [r.stderr for r in results if r.returncode]
    runtimes = json.loads(docker_cfg.read_text())["runtimes"]
    assert sorted(runtimes) == sorted(names + ["crun"])
    assert all(runtimes[n] == {"args": [], "path": f"/opt/{n}"} for n in names)
    assert sorted(json.loads(record_file(state).read_text())["names"]) == sorted(names)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    r = ctk("runtime", "unconfigure", "--runtime=docker", f"--config={docker_cfg}", state=state)
    assert r.returncode == 0, r.stderr
    assert docker_cfg.read_text() == DAEMON_JSON


# --------------------------------------------------------------------------- item 4: the first configure

def _docker_sequence(tmp_path, state):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    return cfg, ["--runtime=docker", f"--config={cfg}"], None, \
        lambda: cfg.write_text(cfg.read_text().replace('"runtimes"', '"debug": true,\n  "runtimes"', 1)), \
        lambda: json.loads(cfg.read_text()), dict(json.loads(DAEMON_JSON), debug=True)


def _toml_sequence(runtime, text, drop_in):
    def make(tmp_path, state):
        cfg = tmp_path / ("config.toml" if runtime == "containerd" else "crio.conf")
        cfg.write_text(text)
        drop = tmp_path / "conf.d" / "99-nvidia.toml"
        args = [f"--runtime={runtime}", f"--config={cfg}", f"--drop-in-config={drop if drop_in else ''}"]
        return cfg, args, drop if drop_in else None, \
            lambda: cfg.write_text("# edited by hand\n" + cfg.read_text() + "\n[extra]\n  note = 1\n"), \
            lambda: tomllib.loads(cfg.read_text()), dict(tomllib.loads(text), extra={"note": 1})
    return make


@pytest.mark.parametrize("make", [
    _docker_sequence,
    _toml_sequence("containerd", V2_CONFIG, drop_in=False),
    _toml_sequence("containerd", V2_CONFIG, drop_in=True),
    _toml_sequence("crio", CRIO_CONF, drop_in=False),
    _toml_sequence("crio", CRIO_CONF, drop_in=True),
], ids=["docker", "containerd-in-place", "containerd-drop-in", "crio-in-place", "crio-drop-in"])
def test_unconfigure_returns_to_before_the_first_configure(tmp_path, state, make):
    cfg, args, drop, hand_edit, parsed, expected = make(tmp_path, state)
    r = ctk("runtime", "configure", *args, "--set-as-default", state=state)
    assert r.returncode == 0, r.stderr
    hand_edit()
    # CRI-O ignores --cdi.enabled (with a warning); its second run changes nothing else
    r = ctk("runtime", "configure", *args, "--cdi.enabled", state=state)
    assert r.returncode == 0, r.stderr
    r = ctk("runtime", "unconfigure", *args, state=state)
    assert r.returncode == 0, r.stderr
    assert parsed() == expected
    assert cfg.read_text().count("nvidia") == 0
    if drop is not None:
        assert not drop.exists() and not drop.parent.exists()


# --------------------------------------------------------------------------- item 5: links, xattrs

def test_dangling_symlink_config_is_undone_exactly(tmp_path, state):
    link = tmp_path / "etc" / "daemon.json"
    link.parent.mkdir()
    target = tmp_path / "real" / "docker" / "daemon.json"
    link.symlink_to(target)
    r = ctk("runtime", "configure", "--runtime=docker", f"--config={link}", "--set-as-default", state=state)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and json.loads(target.read_text())["default-runtime"] == "nvidia"
    assert mode(tmp_path / "real") == mode(tmp_path / "real" / "docker") == 0o755
    r = ctk("runtime", "unconfigure", "--runtime=docker", f"--config={link}", state=state)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert not target.exists() and not (tmp_path / "real").exists()


def test_symlink_to_existing_config_keeps_the_link(tmp_path, state, docker_cfg):
    link = tmp_path / "link.json"
    link.symlink_to(docker_cfg)
    assert ctk("runtime", "configure", "--runtime=docker", f"--config={link}", state=state).returncode == 0
    assert link.is_symlink() and "nvidia" in docker_cfg.read_text()
    assert ctk("runtime", "unconfigure", "--runtime=docker", f"--config={link}", state=state).returncode == 0
    assert link.is_symlink() and docker_cfg.read_text() == DAEMON_JSON


def test_rewrite_keeps_xattrs_acl_setuid_and_owner(tmp_path, state, docker_cfg):
    os.chown(docker_cfg, 65534, 65534)
    subprocess.run(["setfacl", "-m", "u:daemon:r,g:adm:r", str(docker_cfg)], check=True)
    os.setxattr(docker_cfg, "user.origin", b"ansible")
    os.setxattr(docker_cfg, "security.nvidia-ctk-test", b"label")
    os.chmod(docker_cfg, 0o6640 | stat.S_ISVTX)
    acl = subprocess.run(["getfacl", "-c", str(docker_cfg)], capture_output=True, text=True, check=True).stdout
    before = {n: os.getxattr(docker_cfg, n) for n in os.listxattr(docker_cfg)}
    assert "system.posix_acl_access" in before
    for action in ("configure", "unconfigure"):
        r = ctk("runtime", action, "--runtime=docker", f"--config={docker_cfg}", state=state)
        assert r.returncode == 0, r.stderr
        st = os.stat(docker_cfg)
        assert (st.st_uid, st.st_gid, oct(stat.S_IMODE(st.st_mode))) == (65534, 65534, oct(0o7640))
        assert {n: os.getxattr(docker_cfg, n) for n in os.listxattr(docker_cfg)} == before
        assert subprocess.run(["getfacl", "-c", str(docker_cfg)], capture_output=True, text=True,
                              check=True).stdout == acl
    assert docker_cfg.read_text() == DAEMON_JSON


# --------------------------------------------------------------------------- item 6: leftovers

def test_next_run_removes_temp_files_a_killed_run_left(tmp_path, state):
    crio_d = tmp_path / "crio.conf.d"
    crio_d.mkdir()
    conf = tmp_path / "crio.conf"
    conf.write_text(CRIO_CONF)
    args = ["--runtime=crio", f"--config={conf}", f"--drop-in-config={crio_d}/99-nvidia.toml"]
    r = ctk("runtime", "configure", *args, state=state, env=KILL_BEFORE_RENAME)
    assert r.returncode == -9
    (left,) = crio_d.iterdir()
    assert left.name.startswith(".99-nvidia.toml.") and left.name.endswith(".tmp")
    r = ctk("runtime", "configure", *args, state=state)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in crio_d.iterdir()) == ["99-nvidia.toml"]
    assert f"Removed stale temporary file {left}" in r.stderr


def test_temp_files_of_other_names_are_kept(tmp_path, state):
    crio_d = tmp_path / "crio.conf.d"
    crio_d.mkdir()
    keep = [crio_d / ".10-other.toml.abcdefgh.tmp", crio_d / ".99-nvidia.toml.short.tmp"]
    for p in keep:
        p.write_text("x")
    conf = tmp_path / "crio.conf"
    conf.write_text(CRIO_CONF)
    r = ctk("runtime", "configure", "--runtime=crio", f"--config={conf}",
            f"--drop-in-config={crio_d}/99-nvidia.toml", state=state)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in crio_d.iterdir()) == sorted([p.name for p in keep] + ["99-nvidia.toml"])


def test_unconfigure_removes_only_a_conf_d_it_created_and_left_empty(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text(V2_CONFIG)
    conf_d = tmp_path / "conf.d"
    args = ["--runtime=containerd", f"--config={top}", f"--drop-in-config={conf_d}/99-nvidia.toml"]
    assert ctk("runtime", "configure", *args, state=state).returncode == 0
    assert ctk("runtime", "unconfigure", *args, state=state).returncode == 0
    assert not conf_d.exists()
    # created by us but holding someone else's file: kept
    assert ctk("runtime", "configure", *args, state=state).returncode == 0
    (conf_d / "50-other.toml").write_text("")
    assert ctk("runtime", "unconfigure", *args, state=state).returncode == 0
    assert sorted(p.name for p in conf_d.iterdir()) == ["50-other.toml"]
    # not created by us: kept even when empty
    (conf_d / "50-other.toml").unlink()
    assert ctk("runtime", "configure", *args, state=state).returncode == 0
    assert ctk("runtime", "unconfigure", *args, state=state).returncode == 0
    assert conf_d.is_dir() and not list(conf_d.iterdir())
    assert top.read_text() == V2_CONFIG


@pytest.mark.parametrize("umask", [0o002, 0o000])
def test_missing_parent_dirs_are_at_most_0755(tmp_path, state, umask):
    cfg = tmp_path / "a" / "b" / "daemon.json"
    r = ctk("runtime", "configure", "--runtime=docker", f"--config={cfg}", state=state, umask=umask)
    assert r.returncode == 0, r.stderr
    assert [oct(mode(p)) for p in (tmp_path / "a", tmp_path / "a" / "b")] == ["0o755", "0o755"]
    assert oct(mode(cfg)) == "0o644"
    assert ctk("runtime", "unconfigure", "--runtime=docker", f"--config={cfg}", state=state).returncode == 0
    assert not (tmp_path / "a").exists()


def test_install_with_read_only_config_fails_first_and_leaves_nothing(tmp_path, state):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "daemon.json").write_text(DAEMON_JSON)
    subprocess.run(["mount", "--bind", str(ro), str(ro)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        r = ctk("install", "--runtime=docker", f"--config={ro}/daemon.json",
                f"--toolkit-install-dir={tmp_path}/nv", "--restart-mode=none", state=state)
        err = one_error(r)
        assert f"unable to write {ro}/daemon.json: directory {ro} is not writable" in err
        assert not (tmp_path / "nv").exists()
        assert (ro / "daemon.json").read_text() == DAEMON_JSON
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def test_install_under_umask_000_creates_nothing_writable_by_others(tmp_path, state, docker_cfg):
    r = ctk("install", "--runtime=docker", f"--config={docker_cfg}", f"--toolkit-install-dir={tmp_path}/a/nv",
            "--restart-mode=none", state=state, umask=0)
    assert r.returncode == 0, r.stderr
    loose = [str(p) for p in [tmp_path / "a", *(tmp_path / "a").rglob("*"), state, *state.rglob("*")]
             if not p.is_symlink() and mode(p) & 0o022]
    assert loose == []
    r = ctk("uninstall", "--runtime=docker", f"--config={docker_cfg}", f"--toolkit-install-dir={tmp_path}/a/nv",
            "--restart-mode=none", state=state)
    assert r.returncode == 0, r.stderr
    assert docker_cfg.read_text() == DAEMON_JSON and not (tmp_path / "a" / "nv" / "toolkit").exists()


# --------------------------------------------------------------------------- item 10: one line

def test_unconfigure_with_empty_runtime_name_is_a_usage_error(tmp_path, state, docker_cfg):
    err = one_error(ctk("runtime", "unconfigure", "--runtime=docker", f"--config={docker_cfg}",
                        "--nvidia-runtime-name=", state=state))
    assert err.endswith('msg="the --nvidia-runtime-name flag must not be empty"')
    assert docker_cfg.read_text() == DAEMON_JSON


# --------------------------------------------------------------------------- units

def test_merge_keeps_the_first_original_only_for_untouched_files():
    a, b = sha256(b"A"), sha256(b"B")
    first = statemod.Record("docker", "/c", "", ["nvidia"], "crun", False, None, None,
                            [statemod.FileRecord("/c", "config", statemod.b64(b"orig"), a)])
    second = statemod.Record("docker", "/c", "", ["nvidia"], "nvidia", True, None, None,
                             [statemod.FileRecord("/c", "config", statemod.b64(b"H"), b)])
    kept = statemod.merge(first, second, {"/c": b"A"})
    assert (kept.files[0].original(), kept.files[0].exact) == (b"orig", True)
    edited = statemod.merge(first, second, {"/c": b"H"})
    assert (edited.files[0].original(), edited.files[0].exact) == (b"H", False)
    assert (edited.previous_default, edited.cdi_added) == ("crun", True)
    third = statemod.Record("docker", "/c", "", ["nvidia"], "runc", False, None, None, [])
    assert statemod.merge(first, third, {}).previous_default == "runc"   # chosen by hand since
