"""cdi.pathmatch is Go's filepath.Match / filepath.Glob (upstream's matcher everywhere in cdi)."""

import os
import subprocess
import sys

import fnmatch

import pytest
from hypothesis import given, strategies as st

from cdi import pathmatch
from cdi.csv import ignored
from cdi.pathmatch import glob, glob_in, match, matcher

from paths import ROOT

# Go's own table (src/path/filepath/match_test.go); a malformed pattern matches nothing.
GO_MATCH_TESTS = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True), ("a*", "abc", True),
    ("a*", "ab/c", False), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False), ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False), ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True), ("a\\*b", "a*b", True), ("a\\*b", "ab", False),
    ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True), ("a???b", "a☺b", False), ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "α", True), ("*[a-ζ]", "A", False), ("a?b", "a/b", False), ("a*b", "a/b", False),
    ("[\\]a]", "]", True), ("[\\-]", "-", True), ("[x\\-]", "x", True), ("[x\\-]", "-", True),
    ("[x\\-]", "z", False), ("[\\-x]", "x", True), ("[\\-x]", "-", True), ("[\\-x]", "a", False),
    ("[]a]", "]", False), ("[-]", "-", False), ("[x-]", "x", False), ("[x-]", "-", False), ("[x-]", "z", False),
    ("[-x]", "x", False), ("[-x]", "-", False), ("[-x]", "a", False), ("\\", "a", False), ("[a-b-c]", "a", False),
    ("[", "a", False), ("[^", "a", False), ("[^bc", "a", False), ("a[", "a", False), ("a[", "ab", False),
    ("a[", "x", False), ("a/b[", "x", False), ("*x", "xxx", True),
]


@pytest.mark.parametrize("pattern,name,want", GO_MATCH_TESTS)
def test_match_is_gos_filepath_match(pattern, name, want):
    assert match(pattern, name) is want
    assert matcher(pattern)(name) is want


@pytest.mark.parametrize("pattern,name,want", [
    ("*.conf", ".hidden.conf", True),          # Go's * matches a leading dot (Python's glob does not)
    ("*", ".x", True), ("?x", ".x", True), ("[.]x", ".x", True),
    ("*.conf", "a.conf", True), ("*.conf", "a.confx", False),
    ("libcuda.so.*.*", "libcuda.so.1", False), ("libcuda.so.*.*", "libcuda.so.560.28.03", True),
    ("[!a]", "b", False), ("[!a]", "!", True),   # '!' is no negation in Go ('^' is)
    ("*a*b", "xaxxb", True), ("*a*b", "xaxxbc", False), ("", "", True), ("", "a", False),
])
def test_match_differs_from_fnmatch_where_go_does(pattern, name, want):
    assert match(pattern, name) is want


# One pattern token as (Go, fnmatch) text: where both languages have it, they agree on names without '/'.
TOKENS = st.sampled_from([("a", "a"), ("b", "b"), (".", "."), ("*", "*"), ("?", "?"), ("[ab]", "[ab]"),
                          ("[a-b]", "[a-b]"), ("[^a]", "[!a]"), ("\\*", "[*]"), ("\\a", "a")])


@given(st.lists(TOKENS, max_size=6), st.text("ab.*", max_size=8))
def test_match_agrees_with_fnmatch_on_names_without_a_slash(tokens, name):
    go, py = "".join(t[0] for t in tokens), "".join(t[1] for t in tokens)
    assert match(go, name) == matcher(go)(name) == fnmatch.fnmatchcase(name, py)


def test_csv_ignore_patterns_are_upstreams(tmp_path):
    """Upstream's tegra filter test: ``*`` stops at '/', ``**/`` matches the base name."""
    paths = ["/foo/bar/libsomething.so", "libsometing.so", "libsometing.so.1", "libsometing.so.1.2.3"]
    assert [p for p in paths if not ignored(p, ("*.so", "*.so.[0-9]"))] == \
        ["/foo/bar/libsomething.so", "libsometing.so.1.2.3"]
    assert [p for p in paths if not ignored(p, ("**/*.so", "**/*.so.[0-9]"))] == ["libsometing.so.1.2.3"]
    assert not ignored("/usr/lib/libnvidia-ml.so.1", ("libnvidia-ml*",))
    assert ignored("/usr/lib/libnvidia-ml.so.1", ("**/libnvidia-ml*",))


@pytest.fixture
def tree(tmp_path):
    for name in ("a.conf", ".b.conf", "c.txt", "d[1].conf"):
        (tmp_path / name).write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.conf").write_text("")
    os.symlink("missing", tmp_path / "dangling.conf")
    return tmp_path


def test_glob_in_lists_matches_sorted_dotfiles_included(tree):
    assert glob_in(str(tree), "*.conf") == [str(tree / n) for n in (".b.conf", "a.conf", "d[1].conf", "dangling.conf")]
    assert glob_in(str(tree), "d\\[1].conf") == [str(tree / "d[1].conf")]
    assert glob_in(str(tree), "[") == [] and glob_in(str(tree / "missing"), "*") == []
    assert glob_in(str(tree / "a.conf"), "*") == []


def test_glob_in_takes_the_folder_literally(tree):
    weird = tree / "w*["
    weird.mkdir()
    (weird / "lib.so.1").write_text("")
    assert glob_in(str(weird), "*.so.*") == [str(weird / "lib.so.1")]


def test_glob_walks_wildcard_folders(tree):
    assert glob(f"{tree}/*/x.conf") == [str(tree / "sub" / "x.conf")]
    assert glob(f"{tree}/s?b/*") == [str(tree / "sub" / "x.conf")]
    assert glob(f"{tree}/*.txt") == [str(tree / "c.txt")]
    assert glob(f"{tree}/a.conf") == [f"{tree}/a.conf"] and glob(f"{tree}/zz") == []
    assert glob(f"{tree}/[") == []


def test_glob_reads_where_resolve_says_and_answers_in_the_patterns_paths(tree):
    def resolve(path):
        return str(tree) + path

    assert glob("/*/x.conf", resolve) == ["/sub/x.conf"]
    assert glob("/s?b/*", resolve) == ["/sub/x.conf"]
    assert glob("/*.txt", resolve) == ["/c.txt"]
    assert glob("/a.conf", resolve) == ["/a.conf"] and glob("/zz", resolve) == []
    assert glob("/[", resolve) == []

def test_a_literal_pattern_costs_one_lstat_and_no_listing(tree, monkeypatch):
    calls = []
    monkeypatch.setattr(pathmatch.oslite, "listdir", lambda *a: calls.append(("listdir", a)) or [])
    real = os.lstat
    monkeypatch.setattr(pathmatch.oslite, "lstat", lambda p, *a, **k: calls.append(("lstat", p)) or real(p, *a, **k))
    assert glob_in(str(tree), "dangling.conf") == [str(tree / "dangling.conf")]
    assert glob(f"{tree}/c.txt") == [f"{tree}/c.txt"]
    assert glob_in(str(tree), "nope") == []
    assert calls == [("lstat", str(tree / "dangling.conf")), ("lstat", f"{tree}/c.txt"), ("lstat", str(tree / "nope"))]


def test_pathmatch_imports_nothing_but_oslite():
    code = "import sys; before = set(sys.modules); import cdi.pathmatch; print(sorted(set(sys.modules) - before))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "['__future__', 'cdi', 'cdi.pathmatch', 'hook', 'hook.oslite']", out.stderr


def test_within_one_run_each_folder_is_listed_once(tmp_path, monkeypatch):
    (tmp_path / "libcuda.so.1").write_text("")
    listed = []
    real = os.listdir
    monkeypatch.setattr(pathmatch.oslite, "listdir", lambda p: listed.append(p) or real(p))

    def run():
        return [glob_in(str(tmp_path), "libcuda.so.*"), glob_in(str(tmp_path), "lib*.so.1"),
                pathmatch.listing_each_folder_once(lambda: glob_in(str(tmp_path), "libcu*")),
                glob_in(str(tmp_path / "missing"), "*"), glob_in(str(tmp_path / "missing"), "x*")]

    want = [[str(tmp_path / "libcuda.so.1")]] * 3 + [[], []]
    assert pathmatch.listing_each_folder_once(run) == want
    assert listed == [str(tmp_path), str(tmp_path / "missing")]  # nested runs share the outer one's listings
    (tmp_path / "libcuda.so.2").write_text("")
    listed.clear()
    assert glob_in(str(tmp_path), "libcuda.so.*") == [str(tmp_path / "libcuda.so.1"), str(tmp_path / "libcuda.so.2")]
    assert pathmatch.listing_each_folder_once(lambda: glob_in(str(tmp_path), "libcuda.so.2")) == [
        str(tmp_path / "libcuda.so.2")]  # no wildcard: one lstat, no listing
    assert listed == [str(tmp_path)]  # after the run, folders are listed again
