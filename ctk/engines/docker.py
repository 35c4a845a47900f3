"""Docker: ``daemon.json`` (one JSON object; key order, indentation and numbers kept)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .. import jsonfmt
from ..common import RuntimeOptions, log
from .. import errors
from ..plan import FileChange, Plan
from .base import ConfigurePlan, ConfigureRequest, Engine, read_config

DEFAULT_CONFIG = "/etc/docker/daemon.json"


class DockerConfig:
    """A ``daemon.json`` (or its absence) read for editing."""

    def __init__(self, path: str, data: bytes | None):
        self.path = path
        self.before = data
        self.style = jsonfmt.JsonStyle()
        self.doc: jsonfmt.Document | None = None
        if data is None:
            log.info("Config file does not exist; using empty config")
            self.tree: dict = {}
            return
        doc = jsonfmt.load_document(data)
        log.info("Loading config from %s", path)
        value, style, trailing = doc.value, doc.style, doc.trailing_data
        if value is None:
            raise errors.ConfigLoadError("the top-level value is null, not an object")
        if not isinstance(value, dict):
            kind = "array" if isinstance(value, list) else type(value).__name__
            raise errors.ConfigLoadError(f"json: cannot unmarshal {kind} into Go value of type "
                                         "map[string]interface {}")
        if trailing:
            log.warning("Ignoring data after the first JSON value in %s", path)
        self.tree = value
        self.style = style
        self.doc = doc

    def render(self, tree: dict) -> bytes:
        """The file for ``tree``: the user's text with only the changed values replaced
        (:func:`ctk.jsonfmt.edit`); a new file in the reference's layout (4-space indent, keys
        sorted, no trailing newline)."""
        if self.doc is None:
            return jsonfmt.dumps(_sorted(tree), self.style).encode()
        return jsonfmt.edit(self.doc, tree).encode()


def _sorted(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _sorted(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sorted(x) for x in v]
    return v


def default_runtime(tree: dict) -> str:
    v = tree.get("default-runtime")
    return v if isinstance(v, str) else ""


def runtimes_table(tree: dict, path: str) -> dict | None:
    """The ``runtimes`` object, None when absent; raises :class:`ConfigContentError` when it
    is of another type (upstream crashes)."""
    if "runtimes" not in tree:
        return None
    r = tree["runtimes"]
    if not isinstance(r, dict):
        kind = {type(None): "null", list: "an array", str: "a string", bool: "a boolean"}.get(
            type(r), "a number" if isinstance(r, jsonfmt.Number) else type(r).__name__)
        raise errors.ConfigContentError(f'"runtimes" in {path} is {kind}, not an object')
    return r


def binary_path(tree: dict, name: str) -> str:
    r = tree.get("runtimes")
    if isinstance(r, dict) and isinstance(r.get(name), dict):
        p = r[name].get("path")
        return p if isinstance(p, str) else ""
    return ""


def low_level_runtimes(tree: dict) -> list[str]:
    """Binary paths of the default/runc/crun handlers, de-duplicated, in order."""
    from ..common import low_level_runtimes as _low
    return _low(default_runtime(tree), lambda c: binary_path(tree, c))


def add_runtimes(tree: dict, opts: RuntimeOptions, path: str) -> dict:
    """A copy of ``tree`` with the handlers (``{"args": [], "path": ...}``), the default and
    ``features.cdi``.  Other features are kept (upstream replaced the whole object)."""
    out = copy.deepcopy(tree)
    runtimes = runtimes_table(out, path)
    if runtimes is None:
        runtimes = out["runtimes"] = {}
    for h in opts.handlers:
        runtimes[h.name] = {"args": [], "path": h.path}
        if opts.is_default(h):
            out["default-runtime"] = h.name
    if opts.enable_cdi:
        features = out.get("features")
        if isinstance(features, dict):
            features["cdi"] = True
        else:
            out["features"] = {"cdi": True}
    return out


def remove_runtimes(tree: dict, names: list[str], previous_default: str | None,
                    cdi_added: bool, path: str) -> dict:
    """A copy of ``tree`` without the handlers; a default naming one of them is restored to
    ``previous_default`` (or removed, so dockerd uses its built-in ``runc``)."""
    out = copy.deepcopy(tree)
    runtimes = runtimes_table(out, path)
    if runtimes is not None:
        for n in names:
            runtimes.pop(n, None)
        if not runtimes:
            del out["runtimes"]
    if "default-runtime" in out and default_runtime(out) in names:
        if previous_default and previous_default not in names:
            out["default-runtime"] = previous_default
        else:
            del out["default-runtime"]
    if cdi_added and isinstance(out.get("features"), dict):
        out["features"].pop("cdi", None)
        if not out["features"]:
            del out["features"]
    return out


@dataclass(slots=True)
class DockerResult:
    plan: Plan
    previous_default: str
    cdi_added: bool


def plan_configure(cfg: DockerConfig, opts: RuntimeOptions) -> DockerResult:
    from ..tomledit import same
    new = add_runtimes(cfg.tree, opts, cfg.path)
    data = cfg.before if cfg.before is not None and same(new, cfg.tree) else cfg.render(new)
    plan = Plan()
    plan.documents.append(("", data.decode().rstrip("\n")))
    plan.changes.append(FileChange(cfg.path, cfg.before, data, "config"))
    features: Any = cfg.tree.get("features")
    cdi_added = opts.enable_cdi and not (isinstance(features, dict) and features.get("cdi") is True)
    return DockerResult(plan, default_runtime(cfg.tree), cdi_added)


@dataclass(frozen=True, slots=True)
class DaemonJsonSource:
    """``daemon.json`` as a config source (Docker has no drop-ins and no dump command).

    The snapshot's ``document`` is the :class:`DockerConfig` the tree came from, so planning
    edits what was loaded instead of reading and parsing the file again."""

    path: str

    def load(self):
        from hook.atomicfile import sha256

        from ..sources import Snapshot
        raw = read_config(self.path, "docker")
        try:
            cfg = DockerConfig(self.path, raw)
        except errors.ConfigLoadError as exc:
            raise errors.ConfigLoadError(f"unable to load config for runtime docker: {exc}") from None
        return Snapshot.make(_plain(cfg.tree), f"file {self.path}", [(f"file:{self.path}", sha256(raw))],
                             document=cfg)

    def describe(self) -> str:
        return f"file {self.path}"


def _plain(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _plain(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_plain(v) for v in tree]
    if isinstance(tree, jsonfmt.Number):
        return tree.text
    return tree


class Docker(Engine):
    name = "docker"
    default_config = DEFAULT_CONFIG
    default_socket = "/var/run/docker.sock"
    service = "docker"
    config_options = ("--config-file",)
    config_role = "config"
    absolute_runtime_path = False

    def executable_flag(self, executable: str) -> str:
        if executable:
            log.warning('Ignoring executable-path="%s" flag for %s', executable, self.name)
        return ""

    def check_source_spec(self, spec: str) -> None:
        for item in spec.split(","):
            if item.strip().partition("=")[0].strip() not in ("file", "command", "effective"):
                raise errors.UsageError(f"unrecognized Config Source: {item.strip()}")
        if spec != "file":
            log.warning("A %s Config Source is not supported for %s; using file", spec, self.name)

    def source(self, spec: str, config: str, executable: str = "", host_root: str = "",
               drop_in: str = "", command_reads_config: bool = False) -> DaemonJsonSource:
        """Always ``daemon.json`` (Docker has no drop-ins and no dump command)."""
        return DaemonJsonSource(config)

    def load(self, source, config: str = ""):
        return source.load()          # DaemonJsonSource words its own errors

    def plan_configure(self, req: ConfigureRequest, snapshot=None) -> ConfigurePlan:
        snap = snapshot
        if snap is None or not (isinstance(snap.document, DockerConfig) and snap.document.path == req.config):
            snap = DaemonJsonSource(req.config).load()
        try:
            res = plan_configure(snap.document, req.opts)
        except errors.ConfigContentError as exc:
            raise errors.ConfigContentError(f"unable to update config: {exc}") from None
        return ConfigurePlan(res.plan, snap, res.previous_default, res.cdi_added)

    def remove(self, path: str, cur: bytes, names: list[str], rec: Any) -> bytes | None:
        from ..tomledit import same
        cfg = DockerConfig(path, cur)
        new = remove_runtimes(cfg.tree, names, rec.previous_default if rec else None,
                              rec.cdi_added if rec else False, path)
        return cur if same(new, cfg.tree) else cfg.render(new)

    def default_runtime(self, tree: dict) -> str:
        return default_runtime(tree)

    def low_level_runtimes(self, tree: dict) -> list[str]:
        return low_level_runtimes(tree)


ENGINE = Docker()
