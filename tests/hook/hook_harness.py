"""Run the hook's entry point in-process, with exec replaced by a recorder."""

from __future__ import annotations

import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from hook import exec_cli, main as hook_main


class Execed(BaseException):
    """Raised instead of execve: carries the command the hook would have run."""

    def __init__(self, cmd: exec_cli.Command) -> None:
        super().__init__(cmd)
        self.cmd = cmd


@dataclass
class Outcome:
    rc: int | None  # None when the hook exec'd the CLI
    stdout: str
    stderr: str
    cmd: exec_cli.Command | None


def _record(cmd: exec_cli.Command) -> None:
    raise Execed(cmd)


def run(args: list[str], stdin: bytes, monkeypatch, capsys, cwd: Path | None = None) -> Outcome:
    """Call ``hook.main.main(args)`` with ``stdin``; never execs."""
    monkeypatch.setattr(exec_cli, "execute", _record)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    monkeypatch.delenv("NVIDIA_CTK_CONFIG_FILE_PATH", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent-xdg")
    if cwd is not None:
        monkeypatch.chdir(cwd)
        monkeypatch.setenv("PWD", str(cwd))
    capsys.readouterr()
    cmd = None
    try:
        rc = hook_main.main(args)
    except Execed as exc:
        rc, cmd = None, exc.cmd
    out = capsys.readouterr()
    return Outcome(rc, out.out, out.err, cmd)


def write_bundle(bundle: Path, spec: dict | bytes, config: str | None = None) -> list[str]:
    """Write config.json (and the hook config); returns the hook's leading args (-config ...)."""
    bundle.mkdir(parents=True, exist_ok=True)
    data = spec if isinstance(spec, bytes) else json.dumps(spec).encode()
    (bundle / "config.json").write_bytes(data)
    if config is None:
        return []
    (bundle / "hook.toml").write_text(config)
    return ["-config", str(bundle / "hook.toml")]


def state(bundle: Path, pid: int = 42) -> bytes:
    return json.dumps({"ociVersion": "1.0.2", "id": "c", "pid": pid, "bundle": os.fspath(bundle)}).encode()


def gpu_spec(env, root="rootfs", caps=None, mounts=()) -> dict:
    process = {"env": list(env)}
    if caps is not None:
        process["capabilities"] = caps
    return {"ociVersion": "1.0.2", "process": process, "root": {"path": root}, "mounts": list(mounts)}
