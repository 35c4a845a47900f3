"""CSV mode (Tegra; spec section 2.2 "csv"): mounts, devices and links from the
``host-files-for-container.d`` CSV files (``type, path`` lines), looked up under the driver root.

With NVML available, GPU 0 is the CSV-described (integrated) device and every further GPU is a
full GPU with its device node and the control nodes in its own edits (unless the feature flag
``disable-multiple-csv-devices`` is given).
"""

from __future__ import annotations

from hook import oslite
from hook.gocompat import under_root

from . import discover, spec as S
from .pathmatch import match

__all__ = ["read_csv", "ignored", "generate_csv"]

MAX_CSV = 1 << 20


def read_csv(paths: tuple[str, ...], ignore: tuple[str, ...], log) -> list[tuple[str, str]]:
    """(type, path) entries of every CSV file, minus those matching an ignore pattern."""
    out: list[tuple[str, str]] = []
    for p in paths:
        try:
            with open(p) as f:
                text = f.read(MAX_CSV)
        except OSError as exc:
            log.warning("Skipping CSV file %s: %s", p, exc.strerror)
            continue
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            typ, _, path = line.partition(",")
            typ, path = typ.strip().lower(), path.strip()
            if not path or ignored(path, ignore):
                continue
            if (typ, path) not in out:
                out.append((typ, path))
    return out


def ignored(path: str, patterns: tuple[str, ...]) -> bool:
    """Whether a CSV entry's path matches an ignore pattern, as upstream's ``tegra`` filter decides:
    Go's ``filepath.Match`` on the whole path (``*`` stops at ``/``), or on its base name for a
    pattern starting with ``**/`` (then taken without that prefix)."""
    for pat in patterns:
        if pat.startswith("**/"):
            if match(pat[3:], path.rstrip("/").rpartition("/")[2] or "/"):  # Go's filepath.Base
                return True
        elif match(pat, path):
            return True
    return False


def generate_csv(opts, kind: str, log) -> list[dict]:
    from .generate import _Hooks, _finish, _gpu_edits
    root, dev_root = opts.driver_root, opts.dev_root
    entries = read_csv(tuple(opts.csv_files), tuple(opts.csv_ignore_patterns), log)
    hooks = _Hooks(opts)
    nodes, mounts, lib_links, sym_links, folders = [], [], [], [], []
    for typ, path in entries:
        host = under_root(root, path)
        if typ == "dev":
            hp = under_root(dev_root, path)
            try:
                if oslite.S_IFMT(oslite.stat(hp).st_mode) == oslite.S_IFCHR:
                    nodes.append(S.device_node(path, hp))
            except OSError:
                log.warning("Could not locate %s", path)
        elif typ == "sym":
            try:
                sym_links.append(f"{oslite.readlink(host)}::{host}")
            except OSError:
                log.warning("Could not locate %s", path)
        elif typ in ("lib", "dir"):
            if not oslite.exists(host):
                log.warning("Could not locate %s", path)
                continue
            mounts.append(S.mount(host, path))
            base = oslite.basename(path)
            if typ == "lib" and ".so" in base:
                d = oslite.dirname(path)
                if d not in folders:
                    folders.append(d)
                from . import elf
                want = [f"libcuda.so.1::{d}/libcuda.so"] if base.startswith("libcuda.so.") else []
                so = elf.soname(host)
                if so and so != base:
                    want.append(f"{base}::{d}/{so}")
                lib_links += [w for w in want if w not in lib_links]
    common: dict = {"env": [], "hooks": hooks.links(lib_links) + hooks.links(sym_links), "mounts": mounts}
    devices: list[dict] = []
    gpus: list = []
    cuda = ""
    try:
        from .generate import _sandboxutils
        from .nvml import open_nvml
        _sandboxutils(opts, log)
        nvml = open_nvml(root, log, opts.library_search_paths)
    except Exception as exc:  # no NVML: CSV only (the Tegra case)
        log.warning("Failed to load NVML: %s", exc)
        nvml = None
    if nvml is not None:
        try:
            cuda = nvml.cuda_version()
            gpus = nvml.gpus()
        finally:
            nvml.close()
    if cuda:
        common["hooks"] += hooks.make("enable-cuda-compat", f"--host-cuda-version={cuda}")
    if folders:
        ld_args = ["--ldconfig-path", opts.ldconfig_path] if opts.ldconfig_path else []
        for f in sorted(folders):
            ld_args += ["--folder", f]
        common["hooks"] += hooks.make("update-ldcache", *ld_args)
    common["env"].append("NVIDIA_VISIBLE_DEVICES=void")
    from .generate import _names
    first = gpus[0] if gpus else None
    for name in (_names(opts.strategies, gpu=first) if first else ["0"]):
        devices.append({"name": name, "containerEdits": {"deviceNodes": [dict(n) for n in nodes]}})
    if "disable-multiple-csv-devices" not in opts.feature_flags:
        control = None
        for g in gpus[1:]:
            if control is None:
                control = discover.control_nodes(dev_root, log)
            edits = _gpu_edits(opts, g, hooks, log)
            edits["deviceNodes"] = edits["deviceNodes"] + [dict(n) for n in control]
            for name in _names(opts.strategies, gpu=g):
                devices.append({"name": name, "containerEdits": {k: list(v) for k, v in edits.items() if v}})
    add_all = not opts.no_all_device and "none" not in opts.device_ids
    return [_finish(kind, devices, common, add_all)]
