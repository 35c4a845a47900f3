#!/usr/bin/env bash
# Build dist/py3.X/nvidia-container-runtime-hook: one static-libpython executable
# with the programs of freeze/programs.py (the hook, nvidia-ctk, ...) and the
# modules they import frozen in (see docs/performance.md for why this and not
# PyInstaller), and beside it a symbolic link to it for every other program name
# it answers to (argv[0]).
#
#   PYTHON=.venv/bin/python freeze/build.sh [--root DIR] [--out FILE] [--no-ext NAME]...
#                                           [--finalize] [--optimize N]
#
# PYTHON must be CPython 3.11 or later whose base installation ships
# libpython3.X.a (pyenv and python.org builds do; Debian's libpython3.X-dev has it
# too).  It must be able to import the programs' third-party dependencies (cffi,
# tomlkit), whose compiled modules are embedded and loaded from memory at run time.
#   --root DIR    directory holding the programs' packages (default: the repository)
#   --out FILE    output (default: dist/py3.X/nvidia-container-runtime-hook)
#   --no-ext NAME do not embed extension module NAME (the hook then sees ImportError)
#   --extra NAME  freeze module NAME too (one the hook imports dynamically)
#   --finalize    run Py_FinalizeEx at exit (default: atexit + flush, then _exit)
#   --importtime  diagnostics build: print -X importtime to stderr on every run
#   --optimize N  compile frozen code with optimize=N (default 0, like the venv)
#   --build DIR   scratch directory, kept (default: a fresh build/freeze.XXXXXX, removed after)
#   --embed-cffi  embed _cffi_backend's compiled module (memfd at run time) instead of building it in
#
# _cffi_backend (the in-process injector's only compiled dependency) is built into the
# launcher as a built-in module when it can be: cffi's C source (the sdist of the version
# PYTHON has, cached in build/cffi-src/, fetched once with pip) compiled and linked with the
# static libffi (Debian: libffi-dev).  Without either it is embedded like the other
# extensions, with a note on stderr (docs/injector.md "Cost").
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
CC=${CC:-gcc}

src_root=$ROOT
out=
build=
# Every program's package is frozen whole (freeze/programs.py, mkfrozen): nvidia-cdi-hook's
# cdi.hooks.* modules, imported by name at run time, included.
mk_args=()
cflags=()
cffi=auto
while [ $# -gt 0 ]; do
    case $1 in
        --root) src_root=$(cd "$2" && pwd); shift 2 ;;
        --out) out=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --no-ext) mk_args+=(--no-ext "$2"); shift 2 ;;
        --extra) mk_args+=(--extra "$2"); shift 2 ;;
        --optimize) mk_args+=(--optimize "$2"); shift 2 ;;
        --finalize) cflags+=(-DFROZEN_FINALIZE); shift ;;
        --importtime) cflags+=(-DFROZEN_IMPORTTIME); shift ;;
        --embed-cffi) cffi=embed; shift ;;
        *) echo "freeze/build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

command -v "$CC" >/dev/null || { echo "freeze/build.sh: no C compiler ($CC); apt-get install gcc libc6-dev" >&2; exit 1; }

# Where the static libpython and headers are (a failure here stops the build: set -e).
info=$("$PYTHON" - <<'EOF'
import shlex, sys, sysconfig
v = sysconfig.get_config_var
if sys.version_info < (3, 11) or sys.implementation.name != "cpython":
    sys.exit(f"freeze/build.sh: needs CPython 3.11 or later, {sys.executable} is "
             f"{sys.implementation.name} {sys.version.split()[0]}")
for key, val in (("PYVER", "%d.%d" % sys.version_info[:2]), ("LIBPL", v("LIBPL")),
                 ("LIBRARY", v("LIBRARY")), ("INCLUDEPY", v("INCLUDEPY")),
                 # libpython is linked statically: its build's run-time search path (pyenv's -Wl,-rpath)
                 # would only make the loader look for libc there first, on every start of every program.
                 ("PYLIBS", " ".join(w for w in " ".join(filter(None, (v("LIBS"), v("SYSLIBS"), v("MODLIBS")))).split()
                                     if not w.startswith(("-Wl,-rpath", "-Wl,-R", "-Wl,--enable-new-dtags"))))):
    print(f"{key}={shlex.quote(val or '')}")
EOF
)
eval "$info"
LIBA=$LIBPL/$LIBRARY
[ -f "$LIBA" ] || { echo "freeze/build.sh: $LIBA not found (the base Python needs its static library; Debian: apt-get install libpython$PYVER-dev)" >&2; exit 1; }
[ -f "$INCLUDEPY/Python.h" ] || { echo "freeze/build.sh: $INCLUDEPY/Python.h not found (Debian: apt-get install libpython$PYVER-dev)" >&2; exit 1; }
out=${out:-$ROOT/dist/py$PYVER/nvidia-container-runtime-hook}

if [ -z "$build" ]; then
    mkdir -p "$ROOT/build"
    build=$(mktemp -d "$ROOT/build/freeze.XXXXXX")  # concurrent builds do not share scratch files
    trap 'rm -rf "$build"' EXIT
else
    rm -rf "$build"
fi
mkdir -p "$build" "$(dirname "$out")"

# _cffi_backend built in (see above): its object file and libffi.a, or nothing (embedded).
builtin_objs=()
if [ "$cffi" = auto ]; then
    cffi_version=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("cffi"))' 2>/dev/null || true)
    libffi=$("$CC" -print-file-name=libffi.a)
    sdist=$ROOT/build/cffi-src/cffi-$cffi_version.tar.gz
    why=
    if [ -z "$cffi_version" ]; then
        why="$PYTHON has no cffi"
    elif [ "$libffi" = libffi.a ]; then
        why="no static libffi (Debian: apt-get install libffi-dev)"
    elif [ ! -f "$sdist" ] && ! "$PYTHON" -m pip download -q --no-binary :all: --no-deps \
            "cffi==$cffi_version" -d "$ROOT/build/cffi-src" >&2; then
        why="cannot download cffi $cffi_version's source"
    elif [ ! -f "$sdist" ]; then
        why="pip left no $sdist"
    fi
    if [ -z "$why" ]; then
        mkdir -p "$build/cffi"
        tar -xzf "$sdist" -C "$build/cffi" --strip-components=1
        # As cffi's setup.py builds it on Linux, for a static libffi.
        "$CC" -O2 -pipe -fno-plt -DFFI_BUILDING=1 -DUSE__THREAD -DHAVE_SYNC_SYNCHRONIZE -I"$INCLUDEPY" \
            -c -o "$build/cffi_backend.o" "$build/cffi/src/c/_cffi_backend.c"
        builtin_objs=("$build/cffi_backend.o" "$libffi")
        cflags+=(-DFROZEN_BUILTIN_CFFI)
        mk_args+=(--builtin _cffi_backend)
    else
        echo "freeze/build.sh: _cffi_backend embedded, not built in: $why" >&2
    fi
fi
(cd "$ROOT" && "$PYTHON" -m freeze.mkfrozen "$build" --root "$src_root" "${mk_args[@]}")

# -rdynamic: the embedded extension modules resolve the C API from this executable.
# shellcheck disable=SC2086
"$CC" -O2 -pipe -no-pie -fno-plt -I"$INCLUDEPY" -I"$build" \
    -DFROZEN_BLOB_PATH="\"$build/frozen.bin\"" "${cflags[@]}" \
    -o "$build/hook.bin" "$HERE/launcher.c" "${builtin_objs[@]}" "$LIBA" \
    -rdynamic -Wl,-O1 -Wl,--as-needed $PYLIBS -ldl -lm -lpthread -lutil
strip --strip-unneeded "$build/hook.bin"
chmod 0755 "$build/hook.bin"
mv -f "$build/hook.bin" "$out"
# Every other program name it answers to: a symbolic link beside it (and none left from an
# earlier build with other programs).
name=$(basename "$out")
find "$(dirname "$out")" -maxdepth 1 -type l -lname "$name" -delete
while read -r prog; do
    [ "$prog" = "$name" ] || ln -sfn "$name" "$(dirname "$out")/$prog"
done < "$build/programs.txt"
echo "freeze/build.sh: built $out ($(stat -c %s "$out") bytes, CPython $PYVER): $(tr '\n' ' ' < "$build/programs.txt")" >&2
