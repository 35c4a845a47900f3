"""The exec record of an installed toolkit's runtime (shim/execrecord.py, freeze/launcher.c).

The interpreter writes what it decided a pass-through call on, the launcher replays it.  To tell the
two apart, a test rewrites the record's exec target to a marker program: the marker runs only when
the launcher replayed the record, the configured runtime only when the interpreter decided.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ctk.toolkit import CONFIG, lay_down
from paths import SHIM_BIN
from shim import execrecord

RECORDER = '#!/bin/sh\nprintf "%s\\n" "$(basename "$0")" "$@" > "{out}"\n'


class Toolkit:
    """A toolkit as ``nvidia-ctk install`` lays it down (``ctk.toolkit.lay_down``): the frozen ``binary``,
    a link to it for each of its other names, the config beside."""

    def __init__(self, root: Path, binary: Path, config: str = '[nvidia-container-runtime]\nruntimes = ["runc"]\n'):
        self.root = root
        self.dir = root / "toolkit"
        self.dir.mkdir()
        lay_down(str(self.dir), str(binary), config.encode())
        self.config = self.dir / CONFIG
        self.conf_dir = self.config.parent
        self.record = self.dir / execrecord.RECORD
        self.out = root / "ran.txt"
        (root / "bin").mkdir()
        for name in ("runc", "marker"):
            prog = root / "bin" / name
            prog.write_text(RECORDER.format(out=self.out))
            prog.chmod(0o755)
        self.env = {"PATH": f"{root}/bin:/usr/bin:/bin"}
        (root / "bundle").mkdir()
        (root / "bundle" / "config.json").write_text('{"ociVersion": "1.2.0", "process": {"env": []}, '
                                                     '"root": {"path": "rootfs"}}')

    def run(self, *args: str, env: dict | None = None) -> list[str]:
        """Run the runtime; returns what ran: the program's name, then its arguments."""
        if self.out.exists():
            self.out.unlink()
        proc = subprocess.run([str(self.dir / "nvidia-container-runtime"), *args], cwd=self.root / "bundle",
                              env=self.env if env is None else env, capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        return self.out.read_text().splitlines()

    def point_record_at_marker(self) -> None:
        fields = self.record.read_bytes().split(b"\0")
        assert fields[-3:] == [b"exec", str(self.root / "bin" / "runc").encode(), b""]
        fields[-2] = str(self.root / "bin" / "marker").encode()
        self.record.write_bytes(b"\0".join(fields))


@pytest.fixture
def toolkit(tmp_path, frozen_bin):
    return Toolkit(tmp_path, frozen_bin)


def test_a_pass_through_call_writes_what_it_decided_on(toolkit):
    assert toolkit.run("--root", "/r", "state", "ctr") == ["runc", "--root", "/r", "state", "ctr"]
    st = os.stat(toolkit.record)
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == os.geteuid()
    runc = toolkit.root / "bin" / "runc"
    c, r = os.stat(toolkit.config), os.stat(runc)
    assert toolkit.record.read_bytes().split(b"\0") == [s.encode() for s in [
        "nvidia-container-runtime exec record 1",
        "unset", "NVIDIA_CTK_CONFIG_FILE_PATH", "env", "PATH", toolkit.env["PATH"],
        "stat", str(toolkit.config), *map(str, (c.st_dev, c.st_ino, c.st_mode, c.st_size, c.st_mtime_ns,
                                                c.st_ctime_ns)),
        "stat", str(runc), *map(str, (r.st_dev, r.st_ino, r.st_mode, r.st_size, r.st_mtime_ns, r.st_ctime_ns)),
        "exec", str(runc), ""]]


def test_the_launcher_replays_the_record(toolkit):
    toolkit.run("state", "ctr")
    toolkit.point_record_at_marker()
    for args in (["state", "ctr"], ["--root", "/r", "--log", "/dev/null", "delete", "--force", "ctr"], ["start", "x"]):
        assert toolkit.run(*args) == ["marker", *args]


def test_a_create_writes_the_record_too(toolkit):
    toolkit.run("create", "--bundle", str(toolkit.root / "bundle"), "ctr")
    toolkit.point_record_at_marker()
    assert toolkit.run("start", "ctr") == ["marker", "start", "ctr"]


@pytest.mark.parametrize("args", [["create", "ctr"], ["--debug", "state", "ctr"], ["state", "--version"],
                                  ["-version"]])
def test_calls_the_interpreter_decides_are_never_replayed(toolkit, args):
    toolkit.run("state", "ctr")
    toolkit.point_record_at_marker()
    ran = toolkit.run(*args)
    assert ran[0] == "runc"


def _touch_config(t):
    t.config.write_text(t.config.read_text() + "# edited\n")


def _replace_runtime(t):
    runc = t.root / "bin" / "runc"
    data = runc.read_bytes()
    runc.unlink()
    runc.write_bytes(data)
    runc.chmod(0o755)


def _shadow_runtime(t):
    (t.root / "bin2").mkdir()
    shutil.copy2(t.root / "bin" / "runc", t.root / "bin2" / "runc")
    t.env = {"PATH": f"{t.root}/bin2:{t.root}/bin:/usr/bin:/bin"}


def _loose_mode(t):
    t.record.chmod(0o644)


def _group_writable_dir(t):
    t.conf_dir.chmod(0o775)


def _foreign_owner(t):
    os.chown(t.record, 65534, 65534)


def _symlink(t):
    other = t.root / "elsewhere.record"
    t.record.rename(other)
    t.record.symlink_to(other)


def _bad_magic(t):
    t.record.write_bytes(b"nvidia-container-runtime exec record 2" + t.record.read_bytes()[38:])
    t.record.chmod(0o600)


def _truncated(t):
    t.record.write_bytes(t.record.read_bytes()[:-1])


def _empty_fields(t):
    t.record.write_bytes(b"\0" * (64 << 10))  # more fields than a record can have


def _config_env(t):
    t.env = {**t.env, "NVIDIA_CTK_CONFIG_FILE_PATH": str(t.config)}


@pytest.mark.parametrize("change", [_touch_config, _replace_runtime, _shadow_runtime, _loose_mode,
                                    _group_writable_dir, _foreign_owner, _symlink, _bad_magic, _truncated,
                                    _empty_fields, _config_env])
def test_anything_else_leaves_the_call_to_the_interpreter(toolkit, change):
    toolkit.run("state", "ctr")
    toolkit.point_record_at_marker()
    change(toolkit)
    ran = toolkit.run("state", "ctr")
    assert ran[0] == "runc"


@pytest.mark.parametrize("config", [
    '[nvidia-container-runtime]\nruntimes = ["runc"]\nlog-level = "debug"\n',
    '[nvidia-container-runtime]\nruntimes = ["runc"]\ndebug = "{root}/runtime.log"\n',
])
def test_no_record_when_a_pass_through_would_log(tmp_path, frozen_bin, config):
    toolkit = Toolkit(tmp_path, frozen_bin, config.format(root=tmp_path))
    toolkit.run("--log", str(tmp_path / "log.json"), "state", "ctr")
    toolkit.run("--debug", "state", "ctr")
    toolkit.run("state", "ctr")  # no log file at all: a later call with --log would still log
    assert not toolkit.record.exists()


def test_no_record_for_a_config_found_elsewhere_or_the_venv(toolkit):
    """Only the frozen binary, whose launcher reads it, writes it; and only beside the toolkit's config."""
    toolkit.run("state", "ctr", env={**toolkit.env, "NVIDIA_CTK_CONFIG_FILE_PATH": str(toolkit.config)})
    assert not toolkit.record.exists()
    script = toolkit.dir / "nvidia-container-runtime.venv"
    script.symlink_to(SHIM_BIN)  # the console script, beside the config: it finds the toolkit's
    subprocess.run([str(script), "state", "ctr"], env=toolkit.env, check=True)
    assert toolkit.out.read_text().splitlines() == ["runc", "state", "ctr"]
    assert not toolkit.record.exists()


def test_render_refuses_what_a_field_cannot_carry():
    assert execrecord.render([], {"PATH": "/bin"}, "/bin/run\0c") is None
    assert execrecord.render([], {"PATH": "/b" * execrecord.MAX_SIZE}, "/bin/runc") is None


def test_a_glob_candidate_records_the_directories_it_listed(tmp_path, frozen_bin):
    """``runtimes = ["r?nc"]`` lists each PATH directory: a runtime that appears in one (here one that
    sorts first) is found by the interpreter, not missed by a replay."""
    toolkit = Toolkit(tmp_path, frozen_bin, '[nvidia-container-runtime]\nruntimes = ["r?nc"]\n')
    assert toolkit.run("state", "ctr") == ["runc", "state", "ctr"]
    toolkit.point_record_at_marker()
    assert toolkit.run("state", "ctr") == ["marker", "state", "ctr"]
    shutil.copy2(toolkit.root / "bin" / "runc", toolkit.root / "bin" / "ranc")
    assert toolkit.run("state", "ctr") == ["ranc", "state", "ctr"]


def test_the_record_lists_every_variable_the_decision_reads(tmp_path):
    """Where there is a record (the toolkit's config found beside the program), the config lookup
    (hook.config.locate) reads only the variables the record checks (execrecord.ENVIRONMENT; the runtime
    lookup reads PATH): one read elsewhere would make a replay miss a change."""
    from hook import config

    class Recording(dict):
        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            read.add(key)
            return super().__getitem__(key)

    read: set[str] = set()
    program = tmp_path / "nvidia-container-runtime"
    (tmp_path / ".config" / "nvidia-container-runtime").mkdir(parents=True)
    (tmp_path / config.TOOLKIT_CONFIG).write_text("")
    found = config.locate("", Recording(PATH="/bin", HOME="/root", XDG_CONFIG_HOME="/x"), str(program))
    assert found.source == "toolkit" and read <= set(execrecord.ENVIRONMENT)


@pytest.mark.parametrize("change", [lambda r: r.chmod(0o644), lambda r: (r.unlink(), r.symlink_to("elsewhere"))])
def test_a_record_the_launcher_refuses_is_written_again(toolkit, change):
    """The interpreter rewrites a record the launcher would not read (a mode for others, a link), even
    when its bytes are those it would write: else no later call would be replayed until an input changed."""
    toolkit.run("state", "ctr")
    content = toolkit.record.read_bytes()
    (toolkit.record.parent / "elsewhere").write_bytes(content)
    change(toolkit.record)
    assert toolkit.run("state", "ctr")[0] == "runc"  # the interpreter decided
    st = os.lstat(toolkit.record)
    assert (st.st_mode, toolkit.record.read_bytes()) == (0o100600, content)
    toolkit.point_record_at_marker()
    assert toolkit.run("state", "ctr") == ["marker", "state", "ctr"]
