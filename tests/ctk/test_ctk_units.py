"""Pure pieces: config sources and their merge rules, the reference-layout TOML writer,
style-preserving TOML/JSON edits, flag parsing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ctk import gotoml, jsonfmt, sources, tomledit
from ctk.engines import containerd, crio
from ctk.cli_flags import Flag, parse_flags
from ctk.errors import ConfigLoadError, SourceError, UsageError

MAIN = """\
version = 2
imports = ["{dir}/conf.d/*.toml"]
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.internal.v1.opt"]
  path = "/opt/containerd"
"""
OTHER = """\
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
"""


@pytest.fixture
def tree_files(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "config.toml").write_text(MAIN.replace("{dir}", str(tmp_path)))
    (tmp_path / "conf.d" / "10-registry.toml").write_text(OTHER)
    (tmp_path / "conf.d" / "99-nvidia.toml").write_text('[plugins."x"]\na = 1\n')
    return tmp_path


def test_containerd_16_import_replaces_whole_plugin_table(tree_files):
    snap = containerd.ContainerdImportsSource(str(tree_files / "config.toml"),
                                           exclude=(str(tree_files / "conf.d" / "99-nvidia.toml"),)).load()
    cri = snap.tree["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri == {"registry": {"config_path": "/etc/containerd/certs.d"}}
    assert snap.tree["plugins"]["io.containerd.internal.v1.opt"] == {"path": "/opt/containerd"}
    assert "x" not in snap.tree["plugins"]
    assert [k for k, _ in snap.inputs] == [f"file:{tree_files}/config.toml",
                                          f"file:{tree_files}/conf.d/10-registry.toml"]


def test_containerd_21_import_merges_deeply(tree_files):
    snap = containerd.ContainerdImportsSource(str(tree_files / "config.toml"), mode="deep").load()
    cri = snap.tree["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["containerd"]["default_runtime_name"] == "runc"
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"


def test_drop_in_from_effective_config_keeps_every_cri_setting(tree_files):
    """The drop-in replaces the CRI table on containerd 1.6: it must carry the effective one."""
    from ctk.common import RuntimeOptions
    snap = containerd.ContainerdImportsSource(str(tree_files / "config.toml"), mode="replace").load()
    top = tomledit.TomlFile(str(tree_files / "config.toml"), (tree_files / "config.toml").read_bytes())
    res = containerd.plan_configure(snap, top, str(tree_files / "conf.d" / "99-nvidia.toml"),
                                    RuntimeOptions.single("nvidia", "/usr/bin/nvidia-container-runtime"))
    di = tomllib.loads(res.plan.changes[0].after.decode())
    cri = di["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["registry"] == {"config_path": "/etc/containerd/certs.d"}
    assert list(cri["containerd"]["runtimes"]) == ["nvidia"]
    # re-merging main + drop-ins the containerd 1.6 way keeps the registry setting
    merged = containerd.merge_containerd(snap.tree, di, "replace")
    assert merged["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["config_path"] == "/etc/containerd/certs.d"


def imported(config: Path) -> list[str]:
    """The files the effective source read besides ``config``, in order."""
    snap = containerd.ContainerdImportsSource(str(config)).load()
    return [k.removeprefix("file:") for k, _ in snap.inputs][1:]


def test_containerd_import_pattern_star_matches_dotfiles(tmp_path):
    """containerd globs with Go's filepath.Glob: ``*`` matches a leading dot (Python's glob skips it)."""
    (tmp_path / "conf.d").mkdir()
    for name in (".x.toml", "a.toml"):
        (tmp_path / "conf.d" / name).write_text("")
    (tmp_path / "config.toml").write_text(f'version = 2\nimports = ["{tmp_path}/conf.d/*.toml"]\n')
    assert imported(tmp_path / "config.toml") == [f"{tmp_path}/conf.d/.x.toml", f"{tmp_path}/conf.d/a.toml"]


def test_containerd_import_is_a_pattern_only_with_a_star(tmp_path):
    """``[!a]`` is Go's class of ``!`` and ``a`` (``^`` negates), and an entry without ``*`` is a plain
    path, even with ``[`` or ``?`` in it (containerd's ``strings.Contains(path, "*")``)."""
    d = tmp_path / "conf.d"
    d.mkdir()
    for name in ("!x.toml", "a.toml", "b.toml", "[!a].toml", "b?.toml"):
        (d / name).write_text("")
    (tmp_path / "config.toml").write_text(
        f'version = 2\nimports = ["{d}/[!a]*.toml", "conf.d/[!a].toml", "{d}/b?.toml"]\n')
    assert imported(tmp_path / "config.toml") == [f"{d}/!x.toml", f"{d}/a.toml", f"{d}/[!a].toml", f"{d}/b?.toml"]


def test_containerd_relative_import_entries_are_relative_to_the_config_folder(tmp_path, monkeypatch):
    """Every relative entry, pattern or not, is relative to the importing file's folder (cleaned first,
    as containerd 2.x's resolveImports), never to the working directory."""
    etc, cwd = tmp_path / "etc", tmp_path / "cwd"
    for top in (etc, cwd):
        (top / "conf.d").mkdir(parents=True)
        (top / "conf.d" / "a.toml").write_text("")
    (etc / "sub").mkdir()
    (etc / "config.toml").write_text('version = 2\nimports = ["conf.d/*.toml", "./sub/../conf.d//a.toml"]\n')
    monkeypatch.chdir(cwd)
    snap = containerd.ContainerdImportsSource(str(etc / "config.toml")).load()
    assert [k for k, _ in snap.inputs] == [f"file:{etc}/config.toml", f"file:{etc}/conf.d/a.toml"]
    assert containerd.expand_imports(["conf.d/*.toml", "./sub/../conf.d//a.toml"], str(etc / "config.toml")) == [
        f"{etc}/conf.d/a.toml", f"{etc}/conf.d/a.toml"]


def test_containerd_malformed_import_pattern_is_a_load_error(tmp_path):
    """Go's filepath.Glob returns ErrBadPattern and containerd does not load the config: one line."""
    (tmp_path / "config.toml").write_text(f'version = 2\nimports = ["{tmp_path}/[*.toml"]\n')
    with pytest.raises(ConfigLoadError) as exc:
        containerd.ContainerdImportsSource(str(tmp_path / "config.toml")).load()
    assert str(exc.value) == f'{tmp_path}/config.toml: imports entry "{tmp_path}/[*.toml": syntax error in pattern'


def test_crio_drop_ins_lexical_order_and_handler_replacement(tmp_path):
    (tmp_path / "crio.conf").write_text('[crio.runtime]\ndefault_runtime = "runc"\n'
                                        '[crio.runtime.runtimes.runc]\nruntime_path = "/a"\nruntime_root = "/r"\n')
    d = tmp_path / "crio.conf.d"
    d.mkdir()
    (d / "20-b.conf").write_text('[crio.runtime]\ndefault_runtime = "crun"\n')
    (d / "10-a.conf").write_text('[crio.runtime.runtimes.runc]\nruntime_path = "/b"\n')
    snap = crio.CrioDropInSource(str(tmp_path / "crio.conf"), str(d)).load()
    assert snap.tree == {"crio": {"runtime": {"default_runtime": "crun",
                                              "runtimes": {"runc": {"runtime_path": "/b"}}}}}


def test_command_source_and_first_of(tmp_path):
    ok = tmp_path / "ok"
    ok.write_text("#!/bin/sh\necho 'version = 3'\n")
    ok.chmod(0o755)
    bad = tmp_path / "bad"
    bad.write_text("#!/bin/sh\nexit 3\n")
    bad.chmod(0o755)
    assert sources.CommandSource((str(ok), "config", "dump")).load().tree == {"version": 3}
    with pytest.raises(SourceError) as exc:
        sources.CommandSource((str(bad), "config", "dump")).load()
    assert str(exc.value) == f"failed to run command {bad} [config dump]: exit status 3"
    snap = sources.FirstOf((sources.CommandSource((str(bad),)), sources.FileSource(str(tmp_path / "none")))).load()
    assert snap.tree == {} and snap.origin == f"file {tmp_path}/none"
    assert crio.crio_command("/x/crio", "/host").sources[0].argv == ("chroot", "/host", "/x/crio", "status", "config")
    assert crio.crio_command("/x/crio").sources[1].argv == ("crio-status", "config")
    assert containerd.containerd_command().argv == ("containerd", "config", "dump")


def test_fingerprint_reports_what_changed(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("version = 2\n")
    a = sources.FileSource(str(f)).load()
    assert a.changes(sources.FileSource(str(f)).load()) == []
    f.write_text("version = 3\n")
    assert a.changes(sources.FileSource(str(f)).load()) == [f"{f} was modified"]
    f.unlink()
    assert a.changes(sources.FileSource(str(f)).load()) == [f"{f} was removed"]


def test_reference_layout_writer():
    tree = {"version": 2, "plugins": {"io.containerd.grpc.v1.cri": {"enable_cdi": True, "containerd": {
        "runtimes": {"nvidia": {"runtime_type": "io.containerd.runc.v2",
                                "options": {"BinaryName": "/usr/bin/x"}}}}}}}
    assert gotoml.dumps(tree) == """\
version = 2

[plugins]

  [plugins."io.containerd.grpc.v1.cri"]
    enable_cdi = true

    [plugins."io.containerd.grpc.v1.cri".containerd]

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
          runtime_type = "io.containerd.runc.v2"

          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
            BinaryName = "/usr/bin/x"
"""
    assert tomllib.loads(gotoml.dumps({"a": 'q"\\\n', "b": [1, 2.5, "x"], "c": {}})) == \
        {"a": 'q"\\\n', "b": [1, 2.5, "x"], "c": {}}


def test_go_set_path_skips_non_table_intermediate():
    t = {"a": {"b": "string"}}
    gotoml.set_path(t, ["a", "b", "c"], 1)
    assert t == {"a": {"b": "string", "c": 1}}


def test_tomledit_keeps_comments_and_quoting():
    text = "# top\nversion = 2  # v\nimports = ['/a/*.toml']\n\n[x]\n  k = 'v'  # keep\n"
    f = tomledit.TomlFile("t", text.encode())
    new = f.copy_tree()
    new["imports"].append("/b/*.toml")
    new["x"]["n"] = 1
    out = f.render(new).decode()
    assert out == "# top\nversion = 2  # v\nimports = ['/a/*.toml', \"/b/*.toml\"]\n\n[x]\n  k = 'v'  # keep\n  n = 1\n"
    back = tomledit.TomlFile("t", out.encode())
    assert back.render(f.tree).decode() == text


def test_json_numbers_style_and_errors():
    v, style, trailing = jsonfmt.loads(b'{\n\t"a": 1e2,\n\t"b": 12345678901234567890, "c": [1.50]\n}\n')
    assert style.indent == "\t" and style.trailing_newline and not trailing
    assert jsonfmt.dumps(v, style) == '{\n\t"a": 1e2,\n\t"b": 12345678901234567000,\n\t"c": [\n\t\t1.50\n\t]\n}\n'
    for bad, msg in [(b"", "EOF"), (b"  \n", "EOF"), (b'{"a":', "unexpected EOF"),
                     (b"\xef\xbb\xbf{}", "byte-order mark"), (b"{'a': 1}", "invalid JSON at line 1 column 2")]:
        with pytest.raises(ConfigLoadError, match=msg):
            jsonfmt.loads(bad)
    v, style, trailing = jsonfmt.loads(b'{"a": "<&>"} {"b": 1}')
    assert trailing and style.indent is None and jsonfmt.dumps(v, style) == '{"a": "<&>"}'


def test_flag_parsing_like_the_reference():
    flags = [Flag(("dry-run",), "bool", False), Flag(("runtime",), "string", "docker"),
             Flag(("set-as-default", "nvidia-set-as-default"), "bool", False)]
    p = parse_flags(flags, ["-runtime", "crio", "--dry-run=false", "--nvidia-set-as-default"])
    assert p.values == {"dry-run": False, "runtime": "crio", "set-as-default": True}
    with pytest.raises(UsageError, match="^flag provided but not defined: -nope$"):
        parse_flags(flags, ["--nope"])
    with pytest.raises(UsageError, match="^flag needs an argument: -runtime$"):
        parse_flags(flags, ["--runtime"])
    with pytest.raises(UsageError, match='invalid boolean value "maybe"'):
        parse_flags(flags, ["--dry-run=maybe"])


def test_a_set_flag_given_last_without_its_value_is_go_flags_message():
    from ctk import toolkitconfig
    assert toolkitconfig._take_sets(["--set=a=1", "-set", "b=2", "x"]) == (["a=1", "b=2"], ["x"])
    with pytest.raises(UsageError) as exc:
        toolkitconfig._take_sets(["--set=a=1", "--set"])
    assert str(exc.value) == "flag needs an argument: -set"
