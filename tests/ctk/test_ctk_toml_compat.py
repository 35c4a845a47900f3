"""nvidia-ctk reads containerd/CRI-O TOML as the reference (go-toml v1) does (issue 11, items 21, 22, 10, 11).

Configs written for containerd 1.x (go-toml v1) are configured and unconfigured with go-toml v1's
values; an edit rewrites only the offending tokens, every other byte stays; empty keys are kept
and written quoted; nesting and integers beyond what a parser can hold are one-line errors.
The fast path of an edit (only the text before the first table header) gives exactly the bytes
of the whole-document edit (property).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctk import tomledit
from ctk.errors import ConfigLoadError
from ctk_testlib import ctk


# go-toml v1 extensions after the first table header: a drop-in edit never touches them
GO_TOML_V1 = """\
# containerd 1.x config, written for go-toml v1
version = 2
oom_score = 0

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io\\/pause:3.9"
  max_concurrent_downloads = 03
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
  snapshotter = "overlayfs"   # keep me
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    options = { BinaryName = "\\/usr\\/bin\\/runc",
                SystemdCgroup = true }
# a DEL \x7f in a comment
"""

# and in the first header line and before it: the whole document is edited
GO_TOML_V1_HEAD = """\
# written for go-toml v1
version = 2
oom_score = 00

[plugins."io.containerd.grpc.v1.cri"]sandbox_image = "registry.k8s.io/pause:3.9"
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
  snapshotter = "overlayfs"   # keep me
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    options = { BinaryName = "\\/usr\\/bin\\/runc",
                SystemdCgroup = true }
"""


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_containerd_drop_in_configure_keeps_go_toml_v1_text_byte_for_byte(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text(GO_TOML_V1)
    drop = tmp_path / "conf.d" / "99-nvidia.toml"
    args = ["runtime", "configure", "--runtime=containerd", f"--config={top}", f"--drop-in-config={drop}",
            "--set-as-default"]
    r = ctk(*args, state=state)
    assert r.returncode == 0, r.stderr
    assert top.read_text() == GO_TOML_V1.replace(
        "oom_score = 0\n", f'oom_score = 0\nimports = ["{tmp_path}/conf.d/*.toml"]\n', 1)
    cri = tomllib.loads(drop.read_text())["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.9" and cri["max_concurrent_downloads"] == 3
    assert cri["containerd"]["runtimes"]["runc"]["options"] == {"BinaryName": "/usr/bin/runc", "SystemdCgroup": True}
    assert cri["containerd"]["default_runtime_name"] == "nvidia"

    r = ctk("runtime", "unconfigure", "--runtime=containerd", f"--config={top}", f"--drop-in-config={drop}",
            state=state)
    assert r.returncode == 0, r.stderr
    assert top.read_text() == GO_TOML_V1 and not drop.exists()


def test_containerd_in_place_configure_rewrites_only_the_offending_tokens(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text(GO_TOML_V1_HEAD)
    r = ctk("runtime", "configure", "--runtime=containerd", f"--config={top}", "--drop-in-config=",
            "--set-as-default", state=state)
    assert r.returncode == 0, r.stderr
    assert top.read_text() == """\
# written for go-toml v1
version = 2
oom_score = 0

[plugins."io.containerd.grpc.v1.cri"]
sandbox_image = "registry.k8s.io/pause:3.9"
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "nvidia"
  snapshotter = "overlayfs"   # keep me
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    options = { BinaryName = "/usr/bin/runc", SystemdCgroup = true }
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
      BinaryName = "/usr/bin/nvidia-container-runtime"
      SystemdCgroup = true
"""


def test_containerd_dotted_key_with_its_own_header(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text('version = 2\n[plugins]\n"io.containerd.grpc.v1.cri".containerd.snapshotter = "overlayfs"\n'
                   '[plugins."io.containerd.grpc.v1.cri".containerd]\ndefault_runtime_name = "runc"\n')
    r = ctk("runtime", "configure", "--runtime=containerd", f"--config={top}", "--drop-in-config=", state=state)
    assert r.returncode == 0, r.stderr
    # go-toml v1 merges both into one table: the dotted key moves under its header
    assert top.read_text() == """\
version = 2
[plugins]
[plugins."io.containerd.grpc.v1.cri".containerd]
default_runtime_name = "runc"
snapshotter = "overlayfs"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
privileged_without_host_devices = false
runtime_engine = ""
runtime_root = ""
runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
BinaryName = "/usr/bin/nvidia-container-runtime"
"""


def test_crio_configure_reads_go_toml_v1(tmp_path, state):
    conf = tmp_path / "crio.conf"
    conf.write_text('[crio.runtime]default_runtime = "crun"\nlog_size_max = -01\n'
                    '[crio.runtime.runtimes.crun]\nruntime_path = "\\/usr\\/bin\\/crun"\n')
    drop = tmp_path / "crio.conf.d" / "99-nvidia.conf"
    r = ctk("runtime", "configure", "--runtime=crio", f"--config={conf}", f"--drop-in-config={drop}", state=state)
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(drop.read_text())["crio"]["runtime"]["runtimes"]["nvidia"]["runtime_path"] == \
        "/usr/bin/nvidia-container-runtime"


# --------------------------------------------------------------------------- item 22: empty keys

def test_empty_keys_are_kept_and_written_quoted(tmp_path, state):
    # The reference writes `= 1` (invalid TOML); we keep the key and write it as `""`.
    top = tmp_path / "config.toml"
    top.write_text('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n"" = 1\n[plugins."io.containerd.grpc.v1.cri"'
                   '.containerd.runtimes.runc.""]\nx = 1\n')
    drop = tmp_path / "conf.d" / "99-nvidia.toml"
    r = ctk("runtime", "configure", "--runtime=containerd", f"--config={top}", f"--drop-in-config={drop}",
            state=state)
    assert r.returncode == 0, r.stderr
    text = drop.read_text()
    assert '\n    "" = 1\n' in text and '.containerd.runtimes.runc.""]\n' in text
    cri = tomllib.loads(text)["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri[""] == 1 and cri["containerd"]["runtimes"]["runc"][""] == {"x": 1}


# --------------------------------------------------------------------------- item 10: one-line errors

@pytest.mark.parametrize("body,message", [
    ("x = " + "[" * 3000 + "]" * 3000 + "\n", "arrays or inline tables nested too deeply"),
    ("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "arrays or inline tables nested too deeply"),
    ("x = " + "9" * 5000 + "\n", "an integer of thousands of digits is out of the signed 64-bit range"),
    ("x = 18446744073709551615\n", "integer 18446744073709551615 is out of the signed 64-bit range"),
])
@pytest.mark.parametrize("runtime", ["containerd", "crio"])
def test_unparseable_sizes_are_one_line_errors(tmp_path, state, runtime, body, message):
    conf = tmp_path / "config.toml"
    conf.write_text("version = 2\n" + body)
    r = ctk("runtime", "configure", f"--runtime={runtime}", f"--config={conf}", "--dry-run", state=state)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    # CRI-O's load errors name no file, as the reference's (docs/compatibility.md, log wording)
    where = f"{conf}: " if runtime == "containerd" else "unable to load config for runtime crio: "
    assert len(lines) == 1 and lines[0].endswith(f"{where}{message}\""), r.stderr


def test_top_level_file_read_apart_from_the_source_reports_depth(tmp_path):
    with pytest.raises(ConfigLoadError) as exc:
        tomledit.TomlFile("/x", ("x = " + "[" * 3000 + "]" * 3000 + "\n").encode())
    assert str(exc.value) == "arrays or inline tables nested too deeply"


def test_go_toml_v1_text_is_parsed_strictly_once(monkeypatch):
    """A file that TOML 1.0 refuses is parsed strictly once as it stands, then once rewritten."""
    seen = []
    real = tomllib.loads
    monkeypatch.setattr(tomllib, "loads", lambda text: (seen.append(text), real(text))[1])
    f = tomledit.TomlFile("/x", b"a = 01\nb = 'x'\n")
    assert (f.tree, f.strict) == ({"a": 1, "b": "x"}, False)
    assert seen == ["a = 01\nb = 'x'\n", "a = 1\nb = 'x'\n"]


# --------------------------------------------------------------------------- item 11: the head-only edit

HEAD_LINES = st.sampled_from(["version = 2", "# a comment", "", "imports = ['/a']", 'root = "/var/lib/x"',
                              "oom_score = 0  # c", "a.b = 1", "t = { x = 1 }", "   ", "k = [\n  1,\n]"])
REST = st.sampled_from(["[plugins]\nx = 1\n", "\n[plugins.a]\n  y = 2\n", "[[aot]]\nz = 1\n", "# c\n[t2]\n",
                        "  [indented]  # c\n  k = 1\n", "[plugins]\n"])
CHANGES = st.sampled_from([("imports", ["/a", "/b"]), ("imports", None), ("version", 3), ("version", None),
                           ("new_key", "v"), ("root", None), ("oom_score", 5)])


@settings(max_examples=400, deadline=None)
@given(st.lists(HEAD_LINES, min_size=1, max_size=5), REST, st.lists(CHANGES, min_size=1, max_size=3))
def test_head_only_edit_gives_the_whole_document_edit(head, rest, changes):
    text = "\n".join(head) + "\n" + rest
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    new = dict(tree)
    for key, value in changes:
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    f = tomledit.TomlFile("/x", text.encode())
    fast = f.render(new)
    doc = tomledit.parse(text)
    tomledit.apply(doc, tree, new)
    whole = tomledit.render(doc)
    if text.endswith("\n") and not whole.endswith("\n"):
        whole += "\n"
    assert fast == (None if not new and not whole.strip() else whole.encode())
