"""CRI-O: ``crio.conf`` and ``crio.conf.d`` drop-ins (pure decision logic on plain trees)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from . import gotoml
from .common import Handler, RuntimeOptions, go_list, log, template_candidates
from .gotoml import delete_path, get_path, get_str, prune_empty, set_path
from .plan import FileChange, Plan
from .sources import Snapshot
from .tomledit import TomlFile

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
    from .common import low_level_runtimes as _low
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
