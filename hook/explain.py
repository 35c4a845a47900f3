"""``explain``: what ``prestart`` would do for a bundle, and why.  Never execs anything.

Usage: ``nvidia-container-runtime-hook [-config FILE] explain [--bundle DIR | CONFIG_JSON] [--json] [--pid N]``

It runs the same pipeline as ``prestart`` (:func:`hook.pipeline.trace`) and renders its trace.
"""

from __future__ import annotations

import os
import sys

from . import errors
from .values import Value


class ExplainArgs(Value, frozen=True):
    """The parsed ``explain`` arguments."""

    spec_path: str
    as_json: bool
    pid: int | None  # None: not given (prestart gets it from the runtime's state)


USAGE = "explain [--bundle DIR | CONFIG_JSON] [--json] [--pid N]"
HELP = """
Print what prestart would do for a bundle, and why; never execs anything.  Exit status 0 when
prestart would succeed, 1 when it would fail.
  --bundle DIR   the bundle directory (default: the current directory)
  CONFIG_JSON    a config.json file, or a bundle directory
  --json         the report as JSON
  --pid N        the container's pid, which prestart reads from the runtime's state
                 (without it the command shows --pid=PID)
"""

# The pid the plan is built with when --pid is not given: any valid pid makes the same decisions
# (the library injector needs one in 1..2^31-1, as a real container has); it is shown as PID.
_STAND_IN_PID = 1


def parse_args(args: tuple[str, ...]) -> ExplainArgs:
    """Raises :class:`UsageError` for unknown or malformed arguments."""
    from .flags import command_options

    opts, positional = command_options("explain", args, USAGE, valued=("--bundle", "--pid"),
                                       switches=("--json",), help_text=HELP)
    if len(positional) > 1 or (positional and "--bundle" in opts):
        raise errors.UsageError(f"explain: unexpected argument {positional[-1]!r} (usage: {USAGE})")
    if "--bundle" in opts:
        spec_path = os.path.join(opts["--bundle"], "config.json")
    elif positional:
        spec_path = positional[0] if not os.path.isdir(positional[0]) else os.path.join(positional[0], "config.json")
    else:
        spec_path = "config.json"
    pid = None
    if "--pid" in opts:
        try:
            pid = int(opts["--pid"])
        except ValueError:
            raise errors.UsageError(f"explain: --pid must be an integer, not {opts['--pid']!r}") from None
    return ExplainArgs(spec_path, bool(opts.get("--json")), pid)


def run(inv) -> int:
    """Print the explanation; exit 0 when prestart would succeed, 1 when it would fail."""
    req = parse_args(inv.args[1:])
    report = build_report(inv, req)
    if req.as_json:
        import json
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report))
    return 0 if report["outcome"] in ("noop", "inject") else 1


def build_report(inv, req: ExplainArgs) -> dict:
    """The explanation as a JSON-able dict (``outcome``: noop, inject, refuse or error)."""
    from .config import locate, program_path
    from .pipeline import trace
    from .state import HookState

    report: dict = {"spec": req.spec_path, "warnings": [], "reasons": []}
    location = locate(inv.config, os.environ, program_path(sys.argv[0] if sys.argv else ""))
    report["config"] = {"path": location.path, "source": location.source,
                        "present": os.path.exists(location.path)}
    try:
        bundle = os.path.dirname(os.path.abspath(req.spec_path))
    except OSError:  # the working directory is gone: load_spec() says the spec cannot be read
        bundle = os.path.dirname(req.spec_path) or "."
    pid = _STAND_IN_PID if req.pid is None else req.pid
    t = trace(location, lambda: HookState(pid=pid, bundle=bundle), debug=inv.debug,
              warn=report["warnings"].append, spec_path=req.spec_path, cwd=bundle,  # runc runs hooks in the bundle
              reasons=True)
    if t.error is not None and not isinstance(t.error, errors.HookError):
        raise t.error  # a bug of ours: main's one-line internal error
    if t.config is not None:
        report["config"]["keys_set"] = sorted(t.config.sources)
    d = t.decision
    if d is None:
        report.update(outcome="error", error=str(t.error))
        return report
    report["privileged"] = d.privileged
    report["legacy_image"] = d.legacy
    report["reasons"] = [{"topic": topic, "why": why} for topic, why in t.reasons]
    if not d.is_gpu:
        report["outcome"] = "noop"
        if d.ignored:
            report["ignored"] = d.ignored
        return report
    report.update(devices=list(d.devices), mig_config=d.mig_config, mig_monitor=d.mig_monitor,
                  imex_channels=list(d.imex_channels), capabilities=list(d.capabilities),
                  requirements=list(d.requirements))
    if t.config.skip_mode_detection:
        report["mode"] = {"mode": None, "why": "skipped: skip-mode-detection = true"}
    elif t.mode is not None:
        report["mode"] = {"mode": t.mode.mode, "why": t.mode.reason}
    report["lines"] = list(t.lines)  # what prestart prints on stderr before it acts
    try:
        if t.error is not None:
            raise t.error
        report["injector"] = {"kind": t.choice.kind, "why": t.choice.reason}
        plan = t.plan
        report["pid"] = req.pid
        report["cli_args"] = _show_pid(plan.cli_args(), req.pid)
        if t.choice.kind == "cli":
            from . import exec_cli

            env = exec_cli.environment(plan, exec_cli.raw_environ())
            cmd = exec_cli.command(plan, env)
            report["command"] = _show_pid(list(cmd.argv), req.pid)
            hook_env = set(exec_cli.go_environ(exec_cli.raw_environ()))
            report["env_added"] = [e for e in cmd.env if e not in hook_env]
    except errors.HookError as exc:
        report.update(outcome="refuse" if isinstance(exc, errors.ModeError) else "error", error=str(exc))
        return report
    report["outcome"] = "inject"
    return report


def _show_pid(args: list[str], pid: int | None) -> list[str]:
    """The argv with ``--pid=PID`` when no pid was given (``--pid`` is always second to last)."""
    if pid is None:
        assert args[-2].startswith("--pid=")
        args[-2] = "--pid=PID"
    return args


def render_text(r: dict) -> str:
    lines = []
    cfg = r["config"]
    state = "present" if cfg["present"] else "absent: built-in defaults"
    lines.append(f"config:        {cfg['path']} (from {cfg['source']}; {state})")
    if cfg.get("keys_set"):
        lines.append(f"               keys set: {', '.join(cfg['keys_set'])}")
    lines.append(f"spec:          {r['spec']}")
    for w in r["warnings"]:
        lines.append(f"warning:       {w}")
    if "privileged" in r:
        lines.append(f"privileged:    {'yes' if r['privileged'] else 'no'}")
        lines.append(f"legacy image:  {'yes' if r['legacy_image'] else 'no'}")
    if r["reasons"]:
        lines.append("why:")
        lines.extend(f"  - {reason['topic']}: {reason['why']}" for reason in r["reasons"])
    outcome = r["outcome"]
    if outcome == "noop":
        if r.get("ignored"):
            lines.append(f"outcome:       GPU request ignored ({r['ignored']}): prestart exits 0 and "
                         "injects nothing")
        else:
            lines.append("outcome:       not a GPU container: prestart exits 0 and changes nothing")
        return "\n".join(lines) + "\n"
    if "devices" in r:
        lines.append(f"devices:       {','.join(r['devices']) or '(none: driver only)'}")
        lines.append(f"capabilities:  {','.join(r['capabilities']) or '(none)'}")
        lines.append(f"requirements:  {'; '.join(r['requirements']) or '(none)'}")
        if r["mig_config"] or r["mig_monitor"]:
            lines.append(f"MIG:           config={r['mig_config']!r} monitor={r['mig_monitor']!r}")
        lines.append(f"IMEX channels: {','.join(r['imex_channels']) or '(none)'}")
    if "mode" in r:
        lines.append(f"mode:          {r['mode']['mode'] or '-'} ({r['mode']['why']})")
    lines.extend(f"prints:        {text}" for text in r.get("lines", ()))
    if "injector" in r:
        lines.append(f"injector:      {r['injector']['kind']} ({r['injector']['why']})")
    if "command" in r:
        lines.append("command:       " + " ".join(_shell_quote(a) for a in r["command"]))
        if r.get("env_added"):
            lines.append(f"env added:     {' '.join(r['env_added'])}")
    elif "cli_args" in r:
        lines.append("request:       " + " ".join(_shell_quote(a) for a in r["cli_args"]))
    if "cli_args" in r and r.get("pid") is None:
        lines.append("               (PID: the container's pid, from the runtime's state; --pid N fills it in)")
    if outcome in ("error", "refuse"):
        lines.append(f"outcome:       prestart fails (exit 1): {r['error']}")
    else:
        lines.append("outcome:       prestart injects the GPUs above")
    return "\n".join(lines) + "\n"


def _shell_quote(s: str) -> str:
    import shlex
    return shlex.quote(s)
