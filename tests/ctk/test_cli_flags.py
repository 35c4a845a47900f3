"""ctk.cli_flags' ``list`` kind: urfave/cli's StringSliceFlag (repeatable, comma-separated values,
items trimmed, the environment's list replaced by the command line), with Go flag's wording for
errors; and the CDI commands that use it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import importtime
from ctk.cli_flags import Flag, parse_flags, split_slice_flag, usage
from ctk.errors import UsageError
from paths import CTK_BIN

DIRS = Flag(("spec-dir", "spec-dirs"), "list", ("/etc/cdi", "/var/run/cdi"), "folders", ("SPEC_DIRS",))
MODE = Flag(("mode",), "string", "auto")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("SPEC_DIRS", raising=False)


def parse(*args: str):
    return parse_flags([DIRS, MODE], list(args))


def test_repeated_values_are_kept_in_order_across_aliases():
    p = parse("--spec-dir", "/b", "--spec-dirs=/a", "-spec-dir", "/b", "--mode", "nvml")
    assert p.values == {"spec-dir": ("/b", "/a", "/b"), "mode": "nvml"}
    assert p.given == {"spec-dir", "mode"}


def test_a_value_is_split_at_commas_and_each_item_trimmed_empty_items_kept():
    assert parse("--spec-dir", " /a , /b\t,,/c").values["spec-dir"] == ("/a", "/b", "", "/c")
    assert parse("--spec-dir=").values["spec-dir"] == ("",)
    assert split_slice_flag("x") == ("x",)


def test_absent_list_is_its_default_and_not_given():
    p = parse()
    assert p.values["spec-dir"] == ("/etc/cdi", "/var/run/cdi") and p.given == set()


def test_environment_list_is_split_and_replaced_by_the_command_line(monkeypatch):
    monkeypatch.setenv("SPEC_DIRS", "/e1, /e2")
    p = parse()
    assert p.values["spec-dir"] == ("/e1", "/e2") and p.given == {"spec-dir"}
    assert parse("--spec-dir", "/c1", "--spec-dir", "/c2").values["spec-dir"] == ("/c1", "/c2")


def test_empty_environment_variable_leaves_the_default(monkeypatch):
    monkeypatch.setenv("SPEC_DIRS", "")
    p = parse()
    assert p.values["spec-dir"] == ("/etc/cdi", "/var/run/cdi") and p.given == set()


@pytest.mark.parametrize("args,message", [
    (["--spec-dir"], "flag needs an argument: -spec-dir"),
    (["--mode", "x", "-spec-dirs"], "flag needs an argument: -spec-dirs"),
    (["--spec-directory", "/a"], "flag provided but not defined: -spec-directory"),
])
def test_errors_in_go_flags_wording(args, message):
    with pytest.raises(UsageError) as exc:
        parse(*args)
    assert str(exc.value) == message


def test_help_marks_a_list_flag_repeatable_and_shows_its_default():
    text = usage("NAME:\n   x", [DIRS])
    line = next(ln for ln in text.splitlines() if "--spec-dir string" in ln)
    assert line.split() == ["--spec-dir", "string,", "--spec-dirs", "string", "[", "--spec-dir", "string", "]",
                            "folders", "(default:", '"/etc/cdi",', '"/var/run/cdi")', "[$SPEC_DIRS]"]


def test_cli_flags_imports_neither_dataclasses_nor_logging():
    """The CDI hooks parse their flags here: every container pays for this module's imports."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-c", "import ctk.cli_flags"], capture_output=True,
                       text=True, check=True)
    imported = importtime.imported(p.stderr)
    assert "ctk.cli_flags" in imported
    assert not {"dataclasses", "logging", "re", "typing", "inspect"} & imported


# --------------------------------------------------------------------------- the CDI commands

def _spec(kind: str, name: str) -> str:
    return ('{"cdiVersion": "0.5.0", "kind": "%s", "devices": [{"name": "%s", '
            '"containerEdits": {"env": ["N=1"]}}]}' % (kind, name))


def test_cdi_list_spec_dir_takes_a_comma_separated_list(tmp_path):
    for d, name in (("a", "gpu0"), ("b", "gpu1")):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.json").write_text(_spec("example.com/dev", name))
    p = subprocess.run([str(CTK_BIN), "cdi", "list", "--spec-dir", f"{tmp_path}/a, {tmp_path}/b"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "example.com/dev=gpu0\nexample.com/dev=gpu1\n"


def test_cdi_generate_list_flag_without_value_is_one_error_line():
    p = subprocess.run([str(CTK_BIN), "cdi", "generate", "--device-name-strategy"], capture_output=True,
                       text=True)
    assert (p.returncode, p.stdout) == (1, "")
    assert p.stderr.splitlines()[-1].endswith('level=error msg="flag needs an argument: -device-name-strategy"')
    assert len(p.stderr.splitlines()) == 1
