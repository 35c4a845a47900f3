"""``nvidia-ctk runtime configure`` and ``runtime unconfigure``: flags -> engine -> writer.

The flags are parsed here; what they mean for a runtime is the engine's decision
(:mod:`ctk.engines`); planning, checking and writing are :mod:`ctk.configure`'s.
"""

from __future__ import annotations

import sys

from . import configure as cfgmod
from . import engines, state
from .cli_flags import Flag, parse_command, usage
from .common import DEFAULT_RUNTIME_NAME, DEFAULT_RUNTIME_PATH, RuntimeOptions, log
from . import errors
from .plan import unified_diff

# --------------------------------------------------------------------------- runtime configure

CONFIGURE_FLAGS = [
    Flag(("dry-run",), "bool", False, "update the runtime configuration as required but don't write changes to disk"),
    Flag(("diff",), "bool", False, "print a unified diff of the changes instead of writing them"),
    Flag(("runtime",), "string", "docker", "the target runtime engine; one of [containerd, crio, docker]"),
    Flag(("config",), "string", "", "path to the config file for the target runtime"),
    Flag(("drop-in-config",), "string", "", "path to the drop-in config file ('' edits the config file in place)"),
    Flag(("executable-path",), "string", "", "the path to the runtime executable (command config source)"),
    Flag(("config-mode",), "string", "", "the config mode for runtimes that support multiple configuration mechanisms"),
    Flag(("config-source",), "string", "file", "where the current config is read from: file, command, effective, or a comma-separated list (first that loads)"),
    Flag(("oci-hook-path",), "string", "", "the path to the OCI runtime hook to create if --config-mode=oci-hook is specified"),
    Flag(("nvidia-runtime-name",), "string", DEFAULT_RUNTIME_NAME, "specify the name of the NVIDIA runtime that will be added"),
    Flag(("nvidia-runtime-path", "runtime-path"), "string", DEFAULT_RUNTIME_PATH, "specify the path to the NVIDIA runtime executable"),
    Flag(("nvidia-runtime-hook-path",), "string", "/usr/bin/nvidia-container-runtime-hook", "the path to the NVIDIA Container Runtime hook executable"),
    Flag(("nvidia-set-as-default", "set-as-default"), "bool", False, "set the NVIDIA runtime as the default runtime"),
    Flag(("cdi.enabled", "cdi.enable", "enable-cdi"), "bool", False, "enable CDI in the configured runtime"),
    Flag(("state-dir",), "string", "", f"where configure records what it changed (default ${state.STATE_DIR_ENV} or {state.DEFAULT_STATE_DIR})"),
]

UNCONFIGURE_FLAGS = [
    Flag(("dry-run",), "bool", False, "print the resulting files instead of writing them"),
    Flag(("diff",), "bool", False, "print a unified diff of the changes instead of writing them"),
    Flag(("runtime",), "string", "docker", "the target runtime engine; one of [containerd, crio, docker]"),
    Flag(("config",), "string", "", "path to the config file for the target runtime",
         shown_default="/etc/docker/daemon.json, /etc/containerd/config.toml or /etc/crio/crio.conf"),
    Flag(("drop-in-config",), "string", "", "path to the drop-in config file",
         shown_default="conf.d/99-nvidia.toml (containerd) or crio.conf.d/99-nvidia.toml (crio) next to --config"),
    Flag(("nvidia-runtime-name",), "string", DEFAULT_RUNTIME_NAME, "name of the NVIDIA runtime to remove (when no record exists)"),
    Flag(("config-mode",), "string", "", "config-file or oci-hook", shown_default='"config-file"'),
    Flag(("oci-hook-path",), "string", "", "the OCI hook file to remove with --config-mode=oci-hook"),
    Flag(("state-dir",), "string", "", "where configure recorded what it changed",
         shown_default=f"${state.STATE_DIR_ENV}, else {state.DEFAULT_STATE_DIR} for root"),
]


def _engine(runtime: str):
    engine = engines.find(runtime)
    if engine is None:
        raise errors.UsageError(f"unrecognized runtime '{runtime}'")
    return engine


def _check_drop_in(drop_in: str) -> None:
    if drop_in and not drop_in.startswith("/"):
        raise errors.UsageError(f'the drop-in-config path "{drop_in}" is not an absolute path')


def _write_hook(path: str, hook_path: str) -> int:
    from hook.hooksd import HooksdError, render
    try:
        text = render(hook_path)
    except HooksdError as exc:
        raise errors.UsageError(str(exc)) from None
    if not path:
        sys.stdout.write(text)
        return 0
    from . import fileio
    fileio.write_atomic(path, text.encode())
    log.info("Wrote OCI hook to %s", path)
    return 0


def cmd_configure(args: list[str]) -> int:
    from .helptext import CONFIGURE_FULL_HELP, CONFIGURE_HELP
    p = parse_command(CONFIGURE_FLAGS, args, CONFIGURE_FULL_HELP, help_on_error=True,
                      error_help_text=CONFIGURE_HELP)
    if p is None:
        return 0
    v = p.values
    runtime = v["runtime"]
    mode = v["config-mode"]
    if mode in ("oci-hook", "hook"):
        log.warning('The "%s" config-mode is deprecated', mode)
        if not v["nvidia-runtime-hook-path"].startswith("/"):
            raise errors.UsageError(f'the NVIDIA runtime hook path "{v["nvidia-runtime-hook-path"]}" '
                                    "is not an absolute path")
        return _write_hook(v["oci-hook-path"], v["nvidia-runtime-hook-path"])
    if mode not in ("", "config-file", "config"):
        log.warning('Ignoring unsupported config mode for %s: "%s"', runtime, mode)
    engine = _engine(runtime)
    name = v["nvidia-runtime-name"]
    if not name:
        raise errors.UsageError("the --nvidia-runtime-name flag must not be empty")
    path = engine.runtime_path(v["nvidia-runtime-path"], DEFAULT_RUNTIME_PATH)
    enable_cdi = engine.cdi_flag(v["cdi.enabled"])
    executable = engine.executable_flag(v["executable-path"])
    source_spec = v["config-source"]
    engine.check_source_spec(source_spec)
    config = v["config"] or engine.default_config
    drop_in = v["drop-in-config"] if "drop-in-config" in p.given else engine.drop_in_for(config)
    if drop_in and not engine.default_drop_in:
        raise errors.UsageError(f"runtime {runtime} does not support drop-in configs")
    _check_drop_in(drop_in)
    source = engine.source(source_spec, config, executable, drop_in=drop_in)
    opts = RuntimeOptions.single(name, path, v["nvidia-set-as-default"], enable_cdi)
    req = cfgmod.ConfigureRequest(runtime, config, drop_in, source, opts)
    if v["diff"] or v["dry-run"]:
        prep = cfgmod.prepare_configure(req)
        cfgmod.check_problem(prep)          # dry run, diff and write refuse alike
        if v["diff"]:
            sys.stdout.write(unified_diff(prep.plan))
            return 0
        for label, text in prep.plan.documents:
            if label:
                log.info("%s", label)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        return 0
    sdir = state.state_dir(v["state-dir"])
    with cfgmod.locked(sdir, config, drop_in):
        changed = cfgmod.commit(cfgmod.prepare_configure(req), sdir)
    if not changed:
        log.info("%s is already configured; nothing changed", runtime)
        return 0
    log.info("It is recommended that %s daemon be restarted.", runtime)
    return 0


def cmd_unconfigure(args: list[str]) -> int:
    p = parse_command(UNCONFIGURE_FLAGS, args, usage(
        "NAME:\n   NVIDIA Container Toolkit CLI runtime unconfigure - Remove what configure added",
        UNCONFIGURE_FLAGS, "NVIDIA Container Toolkit CLI runtime unconfigure [command options]"))
    if p is None:
        return 0
    v = p.values
    if v["config-mode"] in ("oci-hook", "hook"):
        from . import fileio
        if not v["oci-hook-path"]:
            raise errors.UsageError("--oci-hook-path is required with --config-mode=oci-hook")
        if not (v["dry-run"] or v["diff"]):
            fileio.remove(v["oci-hook-path"])
        return 0
    runtime = v["runtime"]
    engine = _engine(runtime)
    config = v["config"] or engine.default_config
    drop_in = v["drop-in-config"] if "drop-in-config" in p.given else engine.drop_in_for(config)
    _check_drop_in(drop_in)
    if not v["nvidia-runtime-name"]:
        raise errors.UsageError("the --nvidia-runtime-name flag must not be empty")
    sdir = state.state_dir(v["state-dir"])
    if v["diff"] or v["dry-run"]:
        prep = cfgmod.prepare_unconfigure(runtime, config, drop_in, [v["nvidia-runtime-name"]], sdir)
        if v["diff"]:
            sys.stdout.write(unified_diff(prep.plan))
            return 0
        for c in prep.plan.changes:
            sys.stderr.write(f"{c.path}:\n")
            sys.stdout.write((c.after or b"").decode() + ("\n" if c.after and not c.after.endswith(b"\n") else ""))
        return 0
    with cfgmod.locked(sdir, config, drop_in):
        prep = cfgmod.prepare_unconfigure(runtime, config, drop_in, [v["nvidia-runtime-name"]], sdir)
        changed = cfgmod.commit_unconfigure(prep, sdir)
    if changed:
        log.info("It is recommended that %s daemon be restarted.", runtime)
    else:
        log.info("Nothing to remove for %s", runtime)
    return 0


__all__ = ["cmd_configure", "cmd_unconfigure", "CONFIGURE_FLAGS", "UNCONFIGURE_FLAGS"]
