"""hook.md §1, §7: flag parsing, the CLI's argv, PATH composition, environment and lookup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from paths import ROOT

from hook import exec_cli, flags
from hook.errors import CliError, UsageError
from hook.plan import GlobalOptions, Plan


@pytest.mark.parametrize("argv,expected", [
    (["prestart"], (False, False, "", ("prestart",))),
    (["-debug", "prestart"], (True, False, "", ("prestart",))),
    (["--debug", "prestart"], (True, False, "", ("prestart",))),
    (["-debug=false", "prestart"], (False, False, "", ("prestart",))),
    (["-debug=T", "-debug=0", "prestart"], (False, False, "", ("prestart",))),
    (["-config", "/c.toml", "prestart"], (False, False, "/c.toml", ("prestart",))),
    (["-config=/c.toml", "prestart"], (False, False, "/c.toml", ("prestart",))),
    (["-config", "-debug", "poststart"], (False, False, "-debug", ("poststart",))),
    (["-config=", "prestart"], (False, False, "", ("prestart",))),
    (["prestart", "-debug"], (False, False, "", ("prestart", "-debug"))),
    (["--", "-debug"], (False, False, "", ("-debug",))),
    (["-", "prestart"], (False, False, "", ("-", "prestart"))),
    (["-version", "foo"], (False, True, "", ("foo",))),
    (["-debug", "false"], (True, False, "", ("false",))),
    ([], (False, False, "", ())),
])
def test_flag_parsing(argv, expected):
    inv = flags.parse(argv)
    assert (inv.debug, inv.version, inv.config, inv.args) == expected


@pytest.mark.parametrize("argv,message", [
    (["---debug"], "bad flag syntax: ---debug"),
    (["-=x"], "bad flag syntax: -=x"),
    (["-x"], "flag provided but not defined: -x"),
    (["-config"], "flag needs an argument: -config"),
    (["-debug=yes"], 'invalid boolean value "yes" for -debug: parse error'),
    (["-debug="], 'invalid boolean value "" for -debug: parse error'),
])
def test_flag_errors(argv, message):
    with pytest.raises(UsageError) as exc:
        flags.parse(argv)
    assert str(exc.value) == message


@pytest.mark.parametrize("argv", [["-h"], ["-help"], ["--help"], ["-debug", "-h", "prestart"]])
def test_help(argv):
    with pytest.raises(flags.HelpRequested):
        flags.parse(argv)


def test_usage_text_starts_with_the_reference_bytes():
    assert flags.USAGE.startswith(
        "Usage of nvidia-container-runtime-hook:\n  -config string\n    \tconfiguration file\n"
        "  -debug\n    \tenable debug output\n  -version\n    \tenable version output\n\nCommands:\n"
        "  prestart\n        run the prestart hook\n  poststart\n        no-op\n  poststop\n        no-op\n")


def plan(**kw) -> Plan:
    base = dict(options=GlobalOptions(), cuda_compat_mode="ldconfig", ldconfig="@/sbin/ldconfig",
                no_cgroups=False, devices=("all",), mig_config="", mig_monitor="", imex_channels=(),
                capabilities=("compute", "utility"), requirements=(), pid=1234, rootfs="/b/rootfs")
    base.update(kw)
    return Plan(**base)


def test_argv_with_defaults():
    assert plan().cli_args() == ["--load-kmods", "configure", "--cuda-compat-mode=ldconfig",
                                 "--ldconfig=@/sbin/ldconfig", "--device=all", "--compute", "--utility",
                                 "--pid=1234", "/b/rootfs"]


def test_argv_with_every_option_B87():
    p = plan(options=GlobalOptions(root="/drv", load_kmods=True, no_create_imex_channels=True, no_pivot=True,
                                   debug="/tmp/x.log", ldcache="/etc/ld.so.cache", user="root:video"),
             no_cgroups=True, devices=("0",), mig_config="all", mig_monitor="0", imex_channels=("1", "2"),
             requirements=("cuda>=12.0", "brand=tesla"), pid=42, rootfs="/r")
    assert p.cli_args() == [
        "--root=/drv", "--load-kmods", "--no-create-imex-channels", "--no-pivot", "--debug=/tmp/x.log",
        "--ldcache=/etc/ld.so.cache", "--user=root:video", "configure", "--cuda-compat-mode=ldconfig",
        "--ldconfig=@/sbin/ldconfig", "--no-cgroups", "--device=0", "--mig-config=all", "--mig-monitor=0",
        "--imex-channel=1,2", "--compute", "--utility", "--require=cuda>=12.0", "--require=brand=tesla",
        "--pid=42", "/r"]


def test_none_request_has_no_device_flag_B05():
    args = plan(devices=("",), options=GlobalOptions(load_kmods=False), cuda_compat_mode=None, ldconfig="").cli_args()
    assert args == ["configure", "--compute", "--utility", "--pid=1234", "/b/rootfs"]


def test_path_composition_with_driver_root():
    dirs = exec_cli.search_path("/usr/bin:/x:/usr/bin", "/drvroot")
    assert ":".join(dirs) == (
        "/drvroot/usr/bin:/drvroot/x:/drvroot/usr/bin:/drvroot/usr/local/sbin:/drvroot/usr/local/bin:"
        "/drvroot/usr/sbin:/drvroot/sbin:/drvroot/bin:/usr/bin:/x:/usr/bin:/usr/local/sbin:/usr/local/bin:"
        "/usr/sbin:/sbin:/bin")


@pytest.mark.parametrize("hook_path,root,expected", [
    ("", "", list(exec_cli.DEFAULT_PATH_DIRS)),
    (None, "/", list(exec_cli.DEFAULT_PATH_DIRS)),
    ("/a::/b", "", ["/a", "", "/b", *exec_cli.DEFAULT_PATH_DIRS]),
    ("", "/r", [f"/r{d}" for d in exec_cli.DEFAULT_PATH_DIRS] + list(exec_cli.DEFAULT_PATH_DIRS)),
    (":", "/r", ["/r", "/r", *[f"/r{d}" for d in exec_cli.DEFAULT_PATH_DIRS], "", "", *exec_cli.DEFAULT_PATH_DIRS]),
])
def test_search_path(hook_path, root, expected):
    assert exec_cli.search_path(hook_path, root) == expected


def test_environment_for_the_cli_B108():
    raw = ["FOO=fromhook", "NOEQ", "PATH=/usr/bin", "FOO=second", "BAR=1"]
    p = plan(cli_path="/opt/cli", cli_environment=("PATH=/override", "FOO=x", "NOEQUALS"))
    env = exec_cli.environment(p, raw)
    cmd = exec_cli.command(p, env)
    assert cmd.env == ("FOO=fromhook", "NOEQ", "PATH=/usr/bin", "BAR=1", "PATH=/override", "FOO=x", "NOEQUALS")
    assert cmd.path == "/opt/cli" and cmd.argv[0] == "/opt/cli"


def test_looked_up_cli_rewrites_path_in_place_B104():
    found = {"/drv/usr/bin/nvidia-container-cli"}
    p = plan(options=GlobalOptions(root="/drv"))
    cmd = exec_cli.command(p, exec_cli.environment(p, ["A=1", "PATH=/usr/bin", "B=2"]),
                           is_executable=found.__contains__)
    assert cmd.path == "/drv/usr/bin/nvidia-container-cli"
    assert cmd.env[0] == "A=1" and cmd.env[2] == "B=2"
    assert cmd.env[1] == "PATH=" + ":".join(exec_cli.search_path("/usr/bin", "/drv"))


def test_path_appended_when_absent():
    cmd = exec_cli.command(plan(), exec_cli.environment(plan(), ["A=1"]),
                           is_executable={"/usr/bin/nvidia-container-cli"}.__contains__)
    assert cmd.env == ("A=1", "PATH=" + ":".join(exec_cli.DEFAULT_PATH_DIRS))


def test_lookup_errors_B105_B106():
    with pytest.raises(CliError) as exc:
        exec_cli.look_path(["/nonexistent"], lambda p: False)
    assert str(exc.value) == ('couldn\'t find binary nvidia-container-cli in PATH: exec: "nvidia-container-cli": '
                              "executable file not found in $PATH")
    with pytest.raises(CliError) as exc:
        exec_cli.look_path(["."], lambda p: True)
    assert str(exc.value).endswith("cannot run executable found relative to current directory")
    assert exec_cli.look_path(["", "/usr/bin"], lambda p: p.startswith("/")) == "/usr/bin/nvidia-container-cli"


def test_lookup_real_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "nvidia-container-cli").mkdir()  # a directory is skipped
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "nvidia-container-cli").write_text("#!/bin/sh\n")  # not executable: skipped
    (tmp_path / "c").mkdir()
    exe = tmp_path / "c" / "nvidia-container-cli"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert exec_cli.look_path([str(tmp_path / d) for d in "abc"]) == str(exe)


def test_go_environ_first_wins():
    assert exec_cli.go_environ(["A=1", "A=2", "X", "X", "B="]) == ["A=1", "X", "X", "B="]


@pytest.mark.parametrize("content,mode,message", [
    (None, None, "exec failed: no such file or directory"),
    ("#!/bin/sh\n", 0o644, "exec failed: permission denied"),
    ("dir", None, "exec failed: permission denied"),
    ("garbage\x00\x01", 0o755, "exec failed: exec format error"),
])
def test_exec_failures_B103(tmp_path, content, mode, message):
    target = tmp_path / "cli"
    if content == "dir":
        target.mkdir()
    elif content is not None:
        target.write_text(content)
        target.chmod(mode)
    cmd = exec_cli.Command(path=str(target), argv=(str(target),), env=("A=1",))
    err = exec_cli.execve_raw(cmd.path, cmd.argv, cmd.env)
    from hook.gocompat import errno_text
    assert f"exec failed: {errno_text(err)}" == message


@pytest.mark.parametrize("env", [["B=2", "A=1", "EMPTY="], ["A=1", "A=2", "NOEQ", "=v"]])
def test_execve_raw_passes_the_environment_entry_for_entry(env):
    """Without the frozen binary's _hookexec: os.execve when a mapping says it all, else execve(2)
    itself (repeated names, entries without a name or without "=")."""
    code = ("import sys; from hook import exec_cli; "
            "sys.exit(exec_cli.execve_raw('/bin/sh', ['sh', '-c', 'cat /proc/$$/environ'], sys.argv[1:]))")
    out = subprocess.run([sys.executable, "-c", code, *env], cwd=ROOT, capture_output=True, check=True).stdout
    assert out.split(b"\0")[:-1] == [e.encode() for e in env]


def test_command_options():
    opts, pos = flags.command_options("x", ("--a=1", "--b", "2", "p", "--s"), "x ...", valued=("--a", "--b"),
                                      switches=("--s",))
    assert (opts, pos) == ({"--a": "1", "--b": "2", "--s": True}, ["p"])
    with pytest.raises(UsageError) as exc:
        flags.command_options("x", ("--b",), "x ...", valued=("--b",))
    assert str(exc.value) == "x: --b needs a value"
    with pytest.raises(UsageError) as exc:
        flags.command_options("x", ("--zz",), "x [--b V]", valued=("--b",))
    assert str(exc.value) == "x: unknown option '--zz' (usage: x [--b V])"
