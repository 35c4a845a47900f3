"""Entry point of ``nvidia-container-runtime`` (and its ``.legacy`` / ``.cdi`` names).

runc's argv is scanned, never parsed (runtime.md §3); the config file is read for every command
(§2 step 2, with the hook's loader); a command other than ``create`` goes straight to the exec
of the low-level runtime (in an installed toolkit, after writing the exec record the launcher
replays: :mod:`shim.execrecord`); ``create`` first modifies the bundle's spec (:mod:`shim.create`).
"""

from __future__ import annotations

import sys

from hook import oslite

SPEC_VERSION = "1.3.0"


def main(argv: list[str] | None = None) -> int:
    """Run the shim; returns the exit status on failure (on success the process is the runtime)."""
    from .argv import scan
    from . import errors
    from .logger import Logger

    argv = list(sys.argv if argv is None else argv)
    inv = scan(argv)
    if inv.version:
        from hook import VERSION
        sys.stdout.write(f"NVIDIA Container Runtime version {VERSION}\nspec: {SPEC_VERSION}\n")
    log = Logger()
    environ = dict(oslite.environ_items())
    try:
        config, probes = load_config(environ, argv[0] if argv else "")  # step 2: errors reach stderr only
        log.setup([] if inv.version else [config.runtime_debug, inv.log_path], inv.log_json, inv.debug,
                  config.runtime_log_level)
        path_env = environ.get("PATH", "")
        from .lookup import find_runtime
        runtime = find_runtime(config.runtimes, path_env, probes)
        log.trace(f"Using low-level runtime {runtime}")
        if inv.create and config.no_driver_fallback and not driver_loaded(config.driver_modules_file):
            log.warning(f"nvidia driver modules are not yet loaded, invoking {runtime} directly")
            sys.stderr.write(f"nvidia driver modules are not yet loaded, invoking {runtime} directly\n")
        elif inv.create:
            log.debug("Create command detected; applying OCI specification modifications")
            from .create import modify_bundle
            modify_bundle(inv.bundle(), config, variant_mode(argv) or config.mode, path_env, log)
    except errors.ShimError as exc:
        return log.fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug of ours: one line, never a traceback
        return log.fail(f"internal error: {type(exc).__name__}: {exc}")
    if inv.version:
        sys.stdout.write("\n")
    log.debug(f"Forwarding command to runtime {runtime}")
    # The exec record (a create looks the runtime up as a pass-through call does): see shim.execrecord.
    if probes is not None and not inv.version and log.silent(inv.log_path):
        from . import execrecord
        execrecord.save(probes, environ, runtime)
    return exec_runtime(runtime, argv, log)


def variant_mode(argv: list[str]) -> str | None:
    """The mode forced by the program name (§1): ``….legacy`` or ``….cdi``."""
    name = oslite.basename(argv[0]) if argv else ""
    if name.endswith(".legacy"):
        return "legacy"
    if name.endswith(".cdi"):
        return "cdi"
    return None


def driver_loaded(modules_file: str) -> bool:
    """Whether ``modules_file`` (``/proc/modules``) lists the ``nvidia`` kernel module, as upstream's
    toolkit wrapper greps it (``^nvidia ``); an unreadable file counts as not loaded."""
    try:
        with open(modules_file, "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return False
    return data.startswith(b"nvidia ") or b"\nnvidia " in data


def load_config(environ, program: str = ""):
    """The config file of §4.1 (a missing file is never an error; an installed toolkit's config is
    found beside ``program``, see :func:`hook.config.locate`) and, for the frozen binary of an
    installed toolkit, the probes of its exec record (:mod:`shim.execrecord`; None otherwise): the
    config file's ``stat``, taken before it is read.  Raises ConfigLoadError."""
    from hook import config
    from hook import errors as hook_errors

    from . import errors

    location = config.locate("", environ, config.program_path(program)).replace(required=False)
    probes = None
    if location.source == "toolkit" and "_hookexec" in sys.builtin_module_names:  # the frozen launcher
        from .lookup import stat_probe
        probes = []
        stat_probe(location.path, probes)
    try:
        return config.load(location, hook_checks=False), probes
    except hook_errors.ConfigError as exc:
        raise errors.ConfigLoadError(exc.detail) from None


def exec_runtime(runtime: str, argv: list[str], log) -> int:
    """§2 step 10: ``execve`` the runtime with argv[1:] verbatim and the environment the shim was given:
    the kernel's copy (``/proc/self/environ``), not ``os.environ``, to which the interpreter's C-locale
    coercion (PEP 538) adds ``LC_CTYPE=C.UTF-8`` when the caller set no locale."""
    from hook.exec_cli import default_signals, execve_raw, raw_environ
    from hook.gocompat import errno_text

    sys.stdout.flush()
    sys.stderr.flush()
    default_signals()
    err = execve_raw(runtime, [runtime, *argv[1:]], raw_environ())
    return log.fail(f"could not exec '{runtime}': {errno_text(err)}")
