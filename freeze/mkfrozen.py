"""Generate the frozen-module table for the single-file hook launcher.

Run with the interpreter whose ``libpython3.X.a`` is linked in (CPython 3.11 or
later: the project's venv Python, or a build venv of another version)::

    python -m freeze.mkfrozen OUTDIR [--root DIR] [--no-ext NAME ...] [--builtin NAME ...]

The programs are the rows of :data:`freeze.programs.PROGRAMS` whose package is
under ``--root``.  It finds every module those packages can import (statically,
with :mod:`modulefinder`, over all modules of each package, plus the whole
``encodings`` package that interpreter start-up needs), then writes to OUTDIR:

``frozen.bin``
    the marshalled code objects and embedded extension-module images, end to end;
``frozen_table.h``
    the ``PyImport_FrozenModules`` table, the inittab entries of the embedded
    extension modules, pointing into ``frozen.bin`` (``.incbin``), the
    program table (argv[0] name → module, function, keeps the cyclic GC, replays
    the exec record) with its note for the installer, and the exec record's name,
    magic line and size limit (:mod:`shim.execrecord`'s);
``programs.txt``
    the names the binary answers to, one a line;
``manifest.txt``
    one line per module: kind, name, size, source.

Modules that the interpreter already freezes (``os``, ``codecs``, ``io``, ...)
are left to its own (deep-frozen up to 3.12) copies.  Modules built into
libpython are skipped, and so are the extension modules named ``--builtin``,
which the launcher links in itself (``_cffi_backend``, see freeze/build.sh).
"""

from __future__ import annotations

import __future__
import argparse
import ast
import importlib.machinery
import marshal
import modulefinder
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from freeze.programs import COLLECTING, PROGRAMS, PROGRAMS_NOTE, REPLAYING, package_of

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

# Names the interpreter freezes itself (deep-frozen in 3.11 and 3.12: faster than a
# marshalled copy).
try:
    import _imp
    CPYTHON_FROZEN = frozenset(_imp._frozen_module_names())  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - not CPython >= 3.11
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
    builtin: list[str] = field(default_factory=list)
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
    """The module's code, marshalled.  A ``from __future__ import ...`` statement becomes the compiler
    flags it stands for: the statement would import the ``__future__`` module at run time (a class
    and a dozen instances, in every program: each of our modules starts with one), for no effect
    the flags do not already have (the name it binds, ``annotations``, is read by nothing)."""
    with open(path, "rb") as f:
        source = f.read()
    tree = ast.parse(source, path)
    flags = 0
    body = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                flags |= getattr(__future__, alias.name).compiler_flag
        else:
            body.append(node)
    tree.body = body
    code = compile(tree, f"<frozen {name}>", "exec", flags=flags, dont_inherit=True, optimize=optimize)
    return marshal.dumps(code)


def _is_extension(path: str) -> bool:
    return any(path.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)


def present_programs(root: Path) -> dict[str, str]:
    """The rows of :data:`PROGRAMS` whose package is under ``root`` (built in)."""
    return {name: entry for name, entry in PROGRAMS.items() if (root / package_of(entry)).is_dir()}


def build_plan(root: Path, packages: list[str], extra: list[str], excludes: list[str],
               no_ext: list[str], optimize: int, builtin: list[str] = ()) -> Plan:
    search = [str(root)] + [p for p in sys.path if p and Path(p).resolve() != root.resolve()]
    finder = modulefinder.ModuleFinder(path=search, excludes=list(excludes))
    wanted = [m for package in packages for m in _package_modules(root, package)] + list(extra)
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

    plan = Plan()
    no_ext_set = set(no_ext)
    for name in sorted(finder.modules):
        mod = finder.modules[name]
        path = mod.__file__
        if name in CPYTHON_FROZEN or path is None:
            continue  # deep-frozen by CPython, or built into libpython
        if _is_extension(path):
            if name in builtin:
                plan.builtin.append(name)  # linked into the launcher
                continue
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
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def exec_record_defines() -> list[str]:
    """The launcher's constants of the exec record (``replay_exec_record``), from :mod:`shim.execrecord`:
    the record's path under the program's folder, its first field and the most it reads."""
    from shim import execrecord

    return ["/* The exec record (shim/execrecord.py RECORD, MAGIC, MAX_SIZE). */",
            f"#define RECORD_NAME {_c_string('/' + execrecord.RECORD)}",
            f"#define RECORD_MAGIC {_c_string(execrecord.MAGIC)}",
            f"#define RECORD_MAX {int(execrecord.MAX_SIZE)}", ""]


def write_outputs(plan: Plan, outdir: Path, programs: dict[str, str]) -> None:
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

    lines = [
        "/* Generated by freeze/mkfrozen.py: do not edit. */",
        "extern const unsigned char frozen_blob[];",
        '__asm__(".section .rodata.frozen_blob,\\"a\\",@progbits\\n"',
        '        ".balign 64\\n.globl frozen_blob\\n.type frozen_blob, @object\\n"',
        '        "frozen_blob:\\n.incbin \\"" FROZEN_BLOB_PATH "\\"\\n.previous\\n");',
        "",
        "static const struct _frozen frozen_modules[] = {",
    ]
    for f, (off, size) in zip(plan.frozen, offsets):
        lines.append(f"    {{{_c_string(f.name)}, frozen_blob + {off}, {size}, "
                     f"{1 if f.is_package else 0}}},")  # get_code (< 3.13): NULL
    lines += ["    {NULL, NULL, 0, 0},", "};", ""]
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
    # argv[0] name -> entry, whether it keeps the cyclic GC and whether it replays the exec record;
    # rows of packages not built in have no module (the launcher says so).
    lines.append("static const struct program programs[] = {")
    for name, entry in PROGRAMS.items():
        module, _, func = entry.partition(":")
        flags = f"{int(name in COLLECTING)}, {int(name in REPLAYING)}"
        if name in programs:
            lines.append(f"    {{{_c_string(name)}, {_c_string(module)}, {_c_string(func or 'main')}, {flags}}},")
        else:
            lines.append(f"    {{{_c_string(name)}, NULL, NULL, {flags}}},")
    lines += ["    {NULL, NULL, NULL, 0, 0},", "};", ""]
    lines += exec_record_defines()
    note = f"{PROGRAMS_NOTE} {' '.join(programs)}\n"
    lines.append(f"__attribute__((used)) static const char programs_note[] = {_c_string(note)};")
    (outdir / "frozen_table.h").write_text("\n".join(lines) + "\n")
    (outdir / "programs.txt").write_text("".join(f"{name}\n" for name in programs))

    manifest = [f"frozen {f.name} {len(f.code)} {f.source}" for f in plan.frozen]
    manifest += [f"extension {e.name} {len(e.data)} {e.source}" for e in plan.extensions]
    manifest += [f"builtin {name} - -" for name in plan.builtin]
    manifest += [f"missing {name} - -" for name in plan.missing]
    (outdir / "manifest.txt").write_text("\n".join(manifest) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="directory holding the entry package (default: the repository)")
    parser.add_argument("--extra", action="append", default=[],
                        help="another module to freeze (repeatable)")
    parser.add_argument("--exclude", action="append", default=[],
                        help="a module never to freeze (repeatable)")
    parser.add_argument("--no-ext", action="append", default=[],
                        help="an extension module not to embed (repeatable)")
    parser.add_argument("--builtin", action="append", default=[],
                        help="an extension module the launcher links in itself: not embedded (repeatable)")
    parser.add_argument("--optimize", type=int, default=0, choices=(0, 1, 2))
    args = parser.parse_args(argv)

    if sys.implementation.name != "cpython" or sys.version_info < (3, 11):
        parser.error(f"needs CPython 3.11 or later (its static libpython is linked in), not {sys.version}")
    programs = present_programs(args.root)
    if not programs:
        parser.error(f"none of the programs' packages is under {args.root}: "
                     + ", ".join(sorted({package_of(e) for e in PROGRAMS.values()})))
    packages = list(dict.fromkeys(package_of(e) for e in programs.values()))
    plan = build_plan(args.root, packages, args.extra,
                      list(DEFAULT_EXCLUDES) + args.exclude, args.no_ext, args.optimize, args.builtin)
    frozen = {f.name for f in plan.frozen}
    for name, entry in programs.items():
        if entry.partition(":")[0] not in frozen:
            parser.error(f"{name}: entry module {entry.partition(':')[0]!r} was not found under {args.root}")
    write_outputs(plan, args.outdir, programs)
    total = sum(len(f.code) for f in plan.frozen)
    print(f"mkfrozen: programs {', '.join(programs)}; "
          f"{len(plan.frozen)} frozen modules ({total} bytes), "
          f"{len(plan.extensions)} embedded extensions: "
          f"{', '.join(e.name for e in plan.extensions) or '-'}; "
          f"built into the launcher: {', '.join(plan.builtin) or '-'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
