"""CRI-O: ``crio.conf`` and ``crio.conf.d`` drop-ins.

Pure decision logic on plain trees, the CRI-O config sources (``crio status config``,
``crio.conf`` with its drop-in directory) and :data:`ENGINE`.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

from hook.atomicfile import sha256

from .. import gotoml
from ..common import Handler, RuntimeOptions, go_list, log, template_candidates
from .. import errors
from ..gotoml import delete_path, get_path, get_str, prune_empty, set_path
from ..plan import FileChange, Plan
from ..sources import CommandSource, FirstOf, Snapshot, chroot_argv, deep_merge, read_file
from ..sources import _parse_toml as parse_toml
from ..tomledit import TomlFile
from .base import ConfigurePlan, ConfigureRequest, Engine

DEFAULT_CONFIG = "/etc/crio/crio.conf"
DEFAULT_DROP_IN = "/etc/crio/crio.conf.d/99-nvidia.toml"


def load_error(detail: str, config: str) -> str:
    """The reference's wording for a config that cannot be loaded (after the shared
    ``unable to load config for runtime crio: ``): the parser's message alone, without the
    ``--config`` file's name (a drop-in or command that fails is still named)."""
    return detail[len(config) + 2:] if config and detail.startswith(config + ": ") else detail


RUNTIMES = ["crio", "runtime", "runtimes"]
DEFAULT_KEY = ["crio", "runtime", "default_runtime"]


def default_runtime(tree: dict) -> str:
    return get_str(tree, DEFAULT_KEY)


def find_template(source: dict) -> tuple[dict | None, list[str]]:
    cands = template_candidates(default_runtime(source))
    for c in cands:
        t = get_path(source, RUNTIMES + [c])
        if isinstance(t, dict):
            return copy.deepcopy(t), cands
    return None, cands


def binary_path(tree: dict, name: str) -> str:
    return get_str(tree, RUNTIMES + [name, "runtime_path"])


def low_level_runtimes(tree: dict) -> list[str]:
    """Binary paths of the default/runc/crun handlers, de-duplicated, in order."""
    from ..common import low_level_runtimes as _low
    return _low(default_runtime(tree), lambda c: binary_path(tree, c))


def add_runtime(dest: dict, source: dict, handler: Handler, opts: RuntimeOptions) -> None:
    """Add ``handler`` to ``dest``, inheriting the whole default/runc/crun handler table."""
    tmpl, cands = find_template(source)
    if tmpl is None:
        log.warning("Could not infer options from runtimes %s", go_list(cands))
        tmpl = {}
    tmpl["runtime_path"] = handler.path
    tmpl["runtime_type"] = "oci"
    set_path(dest, RUNTIMES + [handler.name], tmpl)
    if opts.is_default(handler):
        set_path(dest, DEFAULT_KEY, handler.name)
    elif get_str(dest, DEFAULT_KEY) == handler.name:
        delete_path(dest, DEFAULT_KEY)


def remove_runtime(tree: dict, name: str) -> None:
    if get_str(tree, DEFAULT_KEY) == name:
        delete_path(tree, DEFAULT_KEY)
    delete_path(tree, RUNTIMES + [name])
    prune_empty(tree, RUNTIMES)


@dataclass(slots=True)
class CrioResult:
    plan: Plan
    previous_default: str
    problem: str | None = None


def plan_configure(source: Snapshot, top: TomlFile, drop_in: str, opts: RuntimeOptions,
                   existing_drop_in: bytes | None = None) -> CrioResult:
    """The drop-in (a fresh tree with only our handlers) or, with ``drop_in == ""``, the
    user's ``crio.conf`` edited in place (upstream overwrote it with the handlers alone)."""
    src = source.tree
    plan = Plan()
    di: dict = {}
    for h in opts.handlers:
        add_runtime(di, src, h, opts)
    di_text = gotoml.dumps(di)
    plan.documents.append(("", di_text))
    previous_default = default_runtime(src)
    if drop_in:
        plan.changes.append(FileChange(drop_in, existing_drop_in, di_text.encode() or None, "drop-in"))
    else:
        new_top = top.copy_tree()
        for h in opts.handlers:
            add_runtime(new_top, src, h, opts)
        plan.changes.append(FileChange(top.path, top.before, top.render(new_top), "top-level"))
    problem = None
    for h in opts.handlers:
        for tree, where in ((src, source.origin), (top.tree, top.path)):
            why = gotoml.obstruction(tree, RUNTIMES + [h.name])
            if why and problem is None:
                problem = f"cannot add runtime {h.name}: {why} in {where}"
    return CrioResult(plan, previous_default, problem)


def unconfigure_tree(tree: dict, names: list[str], previous_default: str | None,
                     default_cleared: bool = False) -> dict:
    """``default_cleared``: a configure removed our default, so an absent one is restored too."""
    out = copy.deepcopy(tree)
    was_ours = get_str(out, DEFAULT_KEY) in names or (default_cleared and not get_str(out, DEFAULT_KEY))
    for n in names:
        remove_runtime(out, n)
    if was_ours and previous_default and previous_default not in names:
        set_path(out, DEFAULT_KEY, previous_default)
    return out


# --------------------------------------------------------------------------- sources

def merge_crio(base: dict, overlay: dict) -> dict:
    """CRI-O drop-in semantics: keys override, ``crio.runtime.runtimes.<h>`` replaced whole."""
    out = deep_merge(base, {k: v for k, v in overlay.items()})
    handlers = (overlay.get("crio", {}) or {}).get("runtime", {}) if isinstance(overlay.get("crio"), dict) else {}
    if isinstance(handlers, dict) and isinstance(handlers.get("runtimes"), dict):
        for name, h in handlers["runtimes"].items():
            out["crio"]["runtime"]["runtimes"][name] = h
    return out


@dataclass(frozen=True, slots=True)
class CrioDropInSource:
    """``crio.conf`` plus the files of its drop-in directory in lexical order."""

    path: str
    dropin_dir: str
    exclude: tuple[str, ...] = field(default=())

    def load(self) -> Snapshot:
        inputs: list[tuple[str, str | None]] = []
        data = read_file(self.path)
        inputs.append((f"file:{self.path}", sha256(data)))
        tree = parse_toml(data, self.path) if data is not None else {}
        excluded = {os.path.realpath(p) for p in self.exclude}
        try:
            names = sorted(os.listdir(self.dropin_dir))
        except FileNotFoundError:
            names = []
        except OSError as exc:
            raise errors.ConfigLoadError(f"unable to list {self.dropin_dir}: {exc.strerror}") from None
        for name in names:
            p = os.path.join(self.dropin_dir, name)
            if not os.path.isfile(p) or os.path.realpath(p) in excluded:
                continue
            raw = read_file(p)
            inputs.append((f"file:{p}", sha256(raw)))
            if raw is not None:
                tree = merge_crio(tree, parse_toml(raw, p))
        return Snapshot.make(tree, self.describe(), inputs)

    def describe(self) -> str:
        return f"file {self.path} with drop-ins in {self.dropin_dir}"


def crio_command(executable: str = "", host_root: str = "") -> FirstOf:
    """``crio status config``, falling back to ``crio-status config`` (exact upstream order)."""
    return FirstOf((CommandSource(chroot_argv(host_root, [executable or "crio", "status", "config"])),
                    CommandSource(chroot_argv(host_root, ["crio-status", "config"]))))


# --------------------------------------------------------------------------- the engine

class Crio(Engine):
    name = "crio"
    default_config = DEFAULT_CONFIG
    default_drop_in = DEFAULT_DROP_IN
    default_socket = "/var/run/crio/crio.sock"
    service = "crio"
    default_restart = "systemd"
    signal_restart = False
    fallback_runtime = "crun"
    has_oci_hook_mode = True

    def cdi_flag(self, enabled: bool) -> bool:
        if enabled:
            log.warning("Ignoring cdi.enabled flag for %s", self.name)
        return False

    def command_source(self, executable: str, host_root: str, config: str) -> FirstOf:
        return crio_command(executable, host_root)

    def effective_source(self, config: str, drop_in: str) -> CrioDropInSource:
        d = os.path.dirname(drop_in) if drop_in else os.path.join(os.path.dirname(config), "crio.conf.d")
        return CrioDropInSource(config, d, exclude=(drop_in,) if drop_in else ())

    load_error = staticmethod(load_error)

    def plan_configure(self, req: ConfigureRequest, snapshot: Snapshot | None = None) -> ConfigurePlan:
        snap, top, existing = self.read_toml(req, snapshot)
        res = plan_configure(snap, top, req.drop_in, req.opts, existing)
        return ConfigurePlan(res.plan, snap, res.previous_default, problem=res.problem)

    def remove(self, path: str, cur: bytes, names: list[str], rec: Any) -> bytes | None:
        top = TomlFile(path, cur)
        return top.render(unconfigure_tree(top.tree, names, rec.previous_default if rec else None,
                                           rec.default_cleared if rec else False))

    def default_runtime(self, tree: dict) -> str:
        return default_runtime(tree)

    def low_level_runtimes(self, tree: dict) -> list[str]:
        return low_level_runtimes(tree)


ENGINE = Crio()
