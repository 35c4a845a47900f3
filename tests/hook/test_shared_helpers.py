"""The helpers every program shares (hook.gocompat, hook.rootfs, hook.atomicfile): one home each."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from cdi.errors import HookError
from cdi.rootfs import mkdirs_in, secure_join
from hook import atomicfile, gocompat, rootfs


# --- gocompat -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, want", [
    ("1", True), ("t", True), ("T", True), ("TRUE", True), ("true", True), ("True", True),
    ("0", False), ("f", False), ("F", False), ("FALSE", False), ("false", False), ("False", False),
    ("tRue", None), ("yes", None), ("", None), (" true", None),
])
def test_parse_bool_is_go_strconv_parsebool(text, want):
    assert gocompat.parse_bool(text) is want


def test_hook_and_ctk_flags_word_a_bad_boolean_alike():
    from ctk.cli_flags import parse_bool as ctk_parse_bool
    from ctk.errors import UsageError as CtkUsage
    from hook import flags
    from hook.errors import UsageError as HookUsage

    with pytest.raises(HookUsage) as hook_err:
        flags.parse(["-debug=yes", "prestart"])
    with pytest.raises(CtkUsage) as ctk_err:
        ctk_parse_bool("debug", "yes")
    assert str(hook_err.value) == str(ctk_err.value) == 'invalid boolean value "yes" for -debug: parse error'


def test_quote_is_go_percent_q():
    assert gocompat.quote('a"b\\c\n\t\x01\x7f\u200b\U0001f600é') == '"a\\"b\\\\c\\n\\t\\x01\\x7f\\u200b\U0001f600é"'


def test_trim_keeps_what_go_does_not_call_space():
    assert gocompat.trim("\u3000\t x \x1c") == "x \x1c"


@pytest.mark.parametrize("root, path, want", [
    ("", "/dev/nvidia0", "/dev/nvidia0"), ("/", "/dev/nvidia0", "/dev/nvidia0"),
    ("//", "/dev/nvidia0", "/dev/nvidia0"), ("///", "dev/nvidia0", "dev/nvidia0"),   # any all-slash root is /
    ("/run/nvidia/driver", "/dev/nvidia0", "/run/nvidia/driver/dev/nvidia0"),
    ("/run/nvidia/driver//", "//dev/nvidia0", "/run/nvidia/driver/dev/nvidia0"),
    ("/r", "usr/lib", "/r/usr/lib"), ("driver", "/etc", "driver/etc"), ("/r", "", "/r/"),
])
def test_under_root_joins_one_slash_and_takes_an_all_slash_root_as_the_host(root, path, want):
    assert gocompat.under_root(root, path) == want


@pytest.mark.parametrize("root, path, want", [
    ("", "/r/a", "/r/a"), ("/", "/r/a", "/r/a"), ("//", "/r/a", "/r/a"),
    ("/r", "/r/a/b", "/a/b"), ("/r/", "/r//a", "/a"), ("/r", "/r", "/"),
    ("/r", "/other/a", "/other/a"), ("/r", "/r/../x", "/r/../x"), ("/r", "/r/..hidden", "/..hidden"),
])
def test_strip_root_inverts_under_root(root, path, want):
    assert gocompat.strip_root(root, path) == want
    if want != path and root.rstrip("/"):
        assert os.path.normpath(gocompat.under_root(root, want)) == os.path.normpath(path)


# --- rootfs: strict (the hook) and keeping missing components (the CDI hooks) ---------------------

@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "a" / "b").mkdir(parents=True)
    (r / "f").write_text("")
    (r / "abs").symlink_to("/a")
    (r / "a" / "up").symlink_to("../../..")
    (r / "loop").symlink_to("loop")
    return r


@pytest.mark.parametrize("path, inside", [
    ("/abs/b/new/x", "/a/b/new/x"), ("/missing/../abs", "/a"), ("abs/../a/up/a", "/a"),
    ("/f/x", "/f/x"), ("/", ""), ("x/../..", ""), ("/a/up", ""),
])
def test_secure_join_keeps_missing_components(root, path, inside):
    assert secure_join(str(root), path) == f"{root}{inside}"


def test_strict_resolve_refuses_what_secure_join_keeps(root):
    with pytest.raises(FileNotFoundError):
        rootfs.resolve(str(root), "/abs/b/new")
    assert rootfs.resolve(str(root), "/abs/b/new", missing_ok=True) == f"{root}/a/b/new"


def test_link_limits_kernel_for_the_hook_securejoin_for_cdi(root):
    with pytest.raises(OSError) as exc:
        rootfs.resolve(str(root), "/loop")
    assert exc.value.errno == errno.ELOOP
    with pytest.raises(HookError, match="^too many symlinks resolving /loop$"):
        secure_join(str(root), "/loop")


def test_mkdirs_in_creates_inside_the_root_with_the_mode(root):
    old = os.umask(0o077)
    try:
        assert mkdirs_in(str(root), "/abs/b/c/d", 0o755) == f"{root}/a/b/c/d"
    finally:
        os.umask(old)
    assert stat.S_IMODE((root / "a" / "b" / "c").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "a" / "b" / "c" / "d").stat().st_mode) == 0o755


def test_mkdirs_in_refuses_a_file_on_the_way(root):
    with pytest.raises(HookError, match=f"^{root}/f exists and is not a directory$"):
        mkdirs_in(str(root), "/f/x")
    assert not os.path.exists(root / "f" / "x") and (root / "f").is_file()


# --- atomicfile -----------------------------------------------------------------------------------

def test_write_keeps_mode_and_xattrs_and_leaves_no_temporary_file(tmp_path):
    p = tmp_path / "config.json"
    p.write_bytes(b"old")
    p.chmod(0o640)
    os.setxattr(p, "user.keep", b"1")
    atomicfile.write(str(p), b"new", atomicfile.meta_of(str(p), os.stat(p)))
    assert p.read_bytes() == b"new"
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert os.getxattr(p, "user.keep") == b"1"
    assert os.listdir(tmp_path) == ["config.json"]


def test_failed_write_leaves_the_original(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"old")

    def boom():
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomicfile.write(str(p), b"new", atomicfile.Meta(0o600), before_rename=boom)
    assert p.read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]


def test_symlink_replaces_atomically_and_reports_no_change(tmp_path):
    link = tmp_path / "l"
    link.write_text("a file")
    assert atomicfile.symlink("target", str(link)) is True
    assert os.readlink(link) == "target"
    assert atomicfile.symlink("target", str(link)) is False
    assert sorted(os.listdir(tmp_path)) == ["l"]


def test_sha256():
    assert atomicfile.sha256(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert atomicfile.sha256(None) is None
