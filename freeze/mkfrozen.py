"""Generate the frozen-module table for the single-file hook launcher.

Run with the interpreter whose libpython3.11.a is linked in (the project's
venv Python)::

    python -m freeze.mkfrozen OUTDIR [--entry hook.main:main] [--no-ext NAME ...]

It finds every module the entry package can import (statically, with
:mod:`modulefinder`, over all modules of the entry package, plus the whole
``encodings`` package that interpreter start-up needs), then writes to OUTDIR:

``frozen.bin``
    the marshalled code objects and embedded extension-module images, end to end;
``frozen_table.h``
    the ``PyImport_FrozenModules`` table, the inittab entries of the embedded
    extension modules, pointing into ``frozen.bin`` (``.incbin``);
``manifest.txt``
    one line per module: kind, name, size, source.

Modules that CPython 3.11 already freezes (``os``, ``codecs``, ``io``, ...)
are left to its deep-frozen copies.  Modules built into libpython are skipped.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import marshal
import modulefinder
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

# Never frozen: tools and test-only modules that static analysis drags in
# through optional imports but the hook never reaches.
DEFAULT_EXCLUDES = (
    "__main__", "tkinter", "_tkinter", "turtle", "turtledemo", "idlelib", "test", "unittest",
    "doctest", "pydoc", "pydoc_data", "lib2to3", "distutils", "setuptools", "pip", "ensurepip",
    "pdb", "ctypes.macholib", "ctypes.test", "_ctypes_test", "_testcapi", "_testinternalcapi",
    "_testbuffer", "_testmultiphase", "_scproxy", "msvcrt", "winreg", "_winapi", "_overlapped",
    "nt", "vms_lib", "java", "_winreg", "_frozen_importlib", "_frozen_importlib_external",
    "__builtin__", "copy_reg", "cPickle", "StringIO",
)

# Modules that compiled extensions import from C at initialisation, invisible
# to modulefinder.  orjson dereferences the result without checking: missing
# one of these is a segmentation fault, not an ImportError.
EXT_RUNTIME_IMPORTS = {
    "orjson.orjson": ("datetime", "uuid", "dataclasses", "json", "enum"),
    "orjson": ("datetime", "uuid", "dataclasses", "json", "enum"),
}

# Names CPython 3.11 freezes itself (deep-frozen, faster than a marshalled copy).
try:
    import _imp
    CPYTHON_FROZEN = frozenset(_imp._frozen_module_names())  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - other CPython versions
    CPYTHON_FROZEN = frozenset()


@dataclass
class Frozen:
    name: str
    code: bytes
    is_package: bool
    source: str


@dataclass
class Extension:
    name: str
    data: bytes
    source: str

    @property
    def init_symbol(self) -> str:
        return "PyInit_" + self.name.rpartition(".")[2]


@dataclass
class Plan:
    frozen: list[Frozen] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _package_modules(root: Path, package: str) -> list[str]:
    names = []
    base = root / package.replace(".", "/")
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if any(p.startswith(".") or p == "__pycache__" for p in parts):
            continue
        names.append(".".join(parts))
    return names


def _compile(name: str, path: str, optimize: int) -> bytes:
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, f"<frozen {name}>", "exec", dont_inherit=True, optimize=optimize)
    return marshal.dumps(code)


def _is_extension(path: str) -> bool:
    return any(path.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)


def build_plan(root: Path, entry_package: str, extra: list[str], excludes: list[str],
               no_ext: list[str], optimize: int) -> Plan:
    search = [str(root)] + [p for p in sys.path if p and Path(p).resolve() != root.resolve()]
    finder = modulefinder.ModuleFinder(path=search, excludes=list(excludes))
    wanted = _package_modules(root, entry_package) + list(extra)
    for name in wanted:
        finder.import_hook(name)
    # Start-up needs the codec registry; freeze every codec so any locale works.
    enc_dir = Path(sysconfig.get_path("stdlib")) / "encodings"
    for path in sorted(enc_dir.glob("*.py")):
        if path.stem in ("mbcs", "oem", "cp65001"):  # Windows only
            continue
        name = "encodings" if path.stem == "__init__" else f"encodings.{path.stem}"
        try:
            finder.import_hook(name)
        except ImportError:
            pass

    for name, needs in EXT_RUNTIME_IMPORTS.items():
        if name in finder.modules and name not in no_ext:
            for need in needs:
                finder.import_hook(need)

    plan = Plan()
    no_ext_set = set(no_ext)
    for name in sorted(finder.modules):
        mod = finder.modules[name]
        path = mod.__file__
        if name in CPYTHON_FROZEN or path is None:
            continue  # deep-frozen by CPython, or built into libpython
        if _is_extension(path):
            if name in no_ext_set or name.split(".")[0] in no_ext_set:
                continue
            plan.extensions.append(Extension(name, Path(path).read_bytes(), path))
        elif path.endswith(".py"):
            if name.split(".")[0] in no_ext_set:
                continue  # the package of an extension left out: leave it all out
            plan.frozen.append(Frozen(name, _compile(name, path, optimize),
                                      mod.__path__ is not None, path))
    builtin = set(sys.builtin_module_names)
    for name in sorted(finder.badmodules):
        if name.split(".")[0] in builtin or name in CPYTHON_FROZEN:
            continue
        plan.missing.append(name)
    return plan


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_outputs(plan: Plan, outdir: Path, entry: str) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    blob = bytearray()
    offsets: list[tuple[int, int]] = []

    def add(data: bytes) -> tuple[int, int]:
        while len(blob) % 16:
            blob.append(0)
        off = len(blob)
        blob.extend(data)
        return off, len(data)

    for f in plan.frozen:
        offsets.append(add(f.code))
    ext_offsets = [add(e.data) for e in plan.extensions]
    (outdir / "frozen.bin").write_bytes(bytes(blob))

    module, _, func = entry.partition(":")
    lines = [
        "/* Generated by freeze/mkfrozen.py: do not edit. */",
        f"#define FROZEN_ENTRY_MODULE {_c_string(module)}",
        f"#define FROZEN_ENTRY_FUNC {_c_string(func or 'main')}",
        "extern const unsigned char frozen_blob[];",
        '__asm__(".section .rodata.frozen_blob,\\"a\\",@progbits\\n"',
        '        ".balign 64\\n.globl frozen_blob\\n.type frozen_blob, @object\\n"',
        '        "frozen_blob:\\n.incbin \\"" FROZEN_BLOB_PATH "\\"\\n.previous\\n");',
        "",
        "static const struct _frozen frozen_modules[] = {",
    ]
    for f, (off, size) in zip(plan.frozen, offsets):
        lines.append(f"    {{{_c_string(f.name)}, frozen_blob + {off}, {size}, "
                     f"{1 if f.is_package else 0}, NULL}},")
    lines += ["    {NULL, NULL, 0, 0, NULL},", "};", ""]
    lines.append("static const struct embedded_ext embedded_exts[] = {")
    for e, (off, size) in zip(plan.extensions, ext_offsets):
        lines.append(f"    {{{_c_string(e.name)}, {_c_string(e.init_symbol)}, "
                     f"frozen_blob + {off}, {size}}},")
    lines += ["    {NULL, NULL, NULL, 0},", "};", ""]
    for i, _ in enumerate(plan.extensions):
        lines.append(f"static PyObject *ext_init_{i}(void) {{ return load_embedded(&embedded_exts[{i}]); }}")
    lines.append("static struct _inittab embedded_inittab[] = {")
    for i, e in enumerate(plan.extensions):
        lines.append(f"    {{{_c_string(e.name)}, ext_init_{i}}},")
    lines += ["    {NULL, NULL},", "};", ""]
    (outdir / "frozen_table.h").write_text("\n".join(lines))

    manifest = [f"frozen {f.name} {len(f.code)} {f.source}" for f in plan.frozen]
    manifest += [f"extension {e.name} {len(e.data)} {e.source}" for e in plan.extensions]
    manifest += [f"missing {name} - -" for name in plan.missing]
    (outdir / "manifest.txt").write_text("\n".join(manifest) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="directory holding the entry package (default: the repository)")
    parser.add_argument("--entry", default="hook.main:main", help="module:function to run")
    parser.add_argument("--extra", action="append", default=[],
                        help="another module to freeze (repeatable)")
    parser.add_argument("--exclude", action="append", default=[],
                        help="a module never to freeze (repeatable)")
    parser.add_argument("--no-ext", action="append", default=[],
                        help="an extension module not to embed (repeatable)")
    parser.add_argument("--optimize", type=int, default=0, choices=(0, 1, 2))
    args = parser.parse_args(argv)

    if sys.version_info[:2] != (3, 11):
        parser.error(f"needs CPython 3.11 (the launcher links libpython3.11.a), not {sys.version}")
    entry_package = args.entry.partition(":")[0].split(".")[0]
    if not (args.root / entry_package).is_dir():
        parser.error(f"no package {entry_package!r} under {args.root}")
    plan = build_plan(args.root, entry_package, args.extra,
                      list(DEFAULT_EXCLUDES) + args.exclude, args.no_ext, args.optimize)
    entry_module = args.entry.partition(":")[0]
    if entry_module not in {f.name for f in plan.frozen}:
        parser.error(f"entry module {entry_module!r} was not found under {args.root}")
    write_outputs(plan, args.outdir, args.entry)
    total = sum(len(f.code) for f in plan.frozen)
    print(f"mkfrozen: {len(plan.frozen)} frozen modules ({total} bytes), "
          f"{len(plan.extensions)} embedded extensions: "
          f"{', '.join(e.name for e in plan.extensions) or '-'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
