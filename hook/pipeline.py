"""The hook's one pipeline: config → state → spec → decision → mode → plan → injector choice.

:func:`trace` runs every step up to the choice of the injector and returns a
:class:`Trace` of what each step found, stopping at the first failure.  It
injects nothing and execs nothing: ``prestart`` (:mod:`hook.main`) executes a
trace, ``explain`` (:mod:`hook.explain`) renders one, so what ``explain``
prints is what ``prestart`` does.  A non-GPU container stops after the
decision, and imports nothing of the GPU path (:mod:`hook.mode`,
:mod:`hook.injector`).
"""

from __future__ import annotations

from .values import Value

# The annotations below are strings (PEP 563), never evaluated: the step modules are imported by
# trace() only when their step is reached (Location, HookConfig: hook.config; HookState: hook.state;
# Spec: hook.spec; Decision: hook.decide; ModeResult: hook.mode; Plan: hook.plan; Choice:
# hook.injector).

__all__ = ["STEPS", "Trace", "trace"]

# The steps, in order; Trace.failed names the one that raised.
STEPS = ("config", "state", "spec", "decision", "mode", "plan", "choice")


class Trace(Value, frozen=True):
    """What the pipeline found: the value of each step it reached (None for the others).

    ``mode`` is None when ``skip-mode-detection`` is set, or when the mode step was not reached or
    could not name a mode.  ``lines`` are the plain diagnostic lines ``prestart`` prints on stderr
    before it acts (hook.md §1.7: the mode's line of §9.4, also when resolving the mode crashes);
    this is the one place that decides them.  ``reasons`` are the ``(topic, text)`` reasons of the
    decision (:func:`hook.decide.decide`), then of the options that come from the config
    (:func:`hook.plan.build_plan`), when :func:`trace` was asked for them (``explain``).  ``error``
    is the exception of the step ``failed`` (a :class:`~hook.errors.HookError` for every failure
    the user can cause).
    """

    location: Location
    config: HookConfig | None = None
    state: HookState | None = None
    spec: Spec | None = None
    decision: Decision | None = None
    mode: ModeResult | None = None
    plan: Plan | None = None
    choice: Choice | None = None
    lines: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()
    failed: str = ""  # one of STEPS, "" when every step reached succeeded
    error: BaseException | None = None

    @property
    def is_gpu(self) -> bool:
        return self.decision is not None and self.decision.is_gpu


def trace(location, read_state, *, debug: bool, warn=None, spec_path: str | None = None,
          cwd: str | None = None, reasons: bool = False) -> Trace:
    """Run the pipeline for the config at ``location`` (:class:`~hook.config.Location`).

    ``read_state()`` gives the :class:`~hook.state.HookState` (``prestart`` reads the runtime's from
    stdin, once the config is loaded); the spec is ``spec_path``, by default the state's bundle's
    ``config.json``.  ``warn(message)`` hears each warning of the decision when it is raised.
    ``cwd`` is the directory the plan takes relative paths from (None: the process's own, where the
    runtime runs the hook).  ``debug`` is the ``-debug`` flag.  ``reasons``: record the reasons
    (``explain``); without it no reason is built (``prestart``, where nothing reads them).  Never
    raises ``Exception``: a failing step ends the trace (``failed``, ``error``).
    """
    steps: dict = {"location": location}
    said: list[tuple[str, str]] = []
    why = (lambda topic, text: said.append((topic, text))) if reasons else None
    step = "config"
    try:
        from .config import load

        config = steps["config"] = load(location)
        step = "state"
        state = steps["state"] = read_state()
        step = "spec"
        from .spec import load_spec

        spec = steps["spec"] = load_spec(state.spec_path if spec_path is None else spec_path)
        step = "decision"
        from .decide import decide

        decision = steps["decision"] = decide(config, spec, warn=warn, why=why)
        if not decision.is_gpu:
            return Trace(**steps, reasons=tuple(said))
        step = "mode"
        if not config.skip_mode_detection:
            from . import errors, mode

            try:
                result = steps["mode"] = mode.resolve_mode(config.mode, decision.devices, mode.Platform())
            except errors.CdiNameError:  # the reference prints the auto line with no mode, then crashes
                steps["lines"] = (mode.auto_announcement(""),)
                raise
            steps["lines"] = (result.announcement,)
            mode.check_mode(result)
        step = "plan"
        from .plan import Host, build_plan

        plan = steps["plan"] = build_plan(decision, config, spec, state, debug_flag=debug, host=Host(cwd), why=why)
        step = "choice"
        from .injector import choose

        steps["choice"] = choose(plan)
    except Exception as exc:  # recorded: prestart raises it, explain reports it
        return Trace(**steps, reasons=tuple(said), failed=step, error=exc)
    return Trace(**steps, reasons=tuple(said))
