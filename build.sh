#!/usr/bin/env bash
# One entry point for every build step of the project.
#
#   ./build.sh            check the prerequisites, set up .venv (package + test deps), build
#                         native/ (fake libnvidia-container, cffi module) and the frozen binary
#                         dist/nvidia-container-runtime-hook with its other program names
#   ./build.sh venv       only the virtual environment
#   ./build.sh native     only native/ (see native/build.sh)
#   ./build.sh dist       only the frozen binary, with the venv's Python (see freeze/build.sh)
#   ./build.sh pythons    the frozen binary with each CPython of $PYTHONS, into dist/py3.X/
#   ./build.sh python     the CPython found for each supported version, and the best one
#   ./build.sh deps       install the Debian packages the build and the tests use (root, apt)
#   ./build.sh test       deps + everything above + pythons, then the whole test suite
#   ./build.sh install    install the frozen binary (PREFIX, DESTDIR, ...; see docs/install.md)
#   ./build.sh uninstall  remove exactly what install added
#
# Python: $PYTHON if set, else the one .venv was made with, else the best CPython found
# (3.11, then 3.12, then 3.13: fastest start-up of the frozen hook first, docs/performance.md)
# that has venv and its static libpython3.X.a.  $PYTHONS: the versions `pythons` builds
# (default: every supported one found); each one named must build, or the step fails.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD

# Supported CPython versions, best first (start-up of the frozen hook, docs/performance.md).
PY_VERSIONS=(3.11 3.12 3.13)
# Debian packages a fresh machine needs to build (python3 is CPython 3.11 on Debian 12; libffi-dev:
# the static libffi that the frozen binary's built-in _cffi_backend links, docs/performance.md).
BUILD_PACKAGES=(gcc libc6-dev binutils python3 python3-venv python3-dev libffi-dev)
# Debian packages the test suite drives for real (runtimes, tools); CI installs them.
APT_PACKAGES=("${BUILD_PACKAGES[@]}" make runc crun docker.io containerd podman busybox-static
              umoci skopeo iproute2 util-linux procps acl)

die() { echo "build.sh: $*" >&2; exit 1; }

# Why the interpreter $1 cannot build the project; no output: it can.
python_problem() {
    "$1" - "${PY_VERSIONS[@]}" 2>/dev/null <<'EOF' || echo "does not run"
import importlib.util, os, sys, sysconfig
v, var = "%d.%d" % sys.version_info[:2], sysconfig.get_config_var
if sys.implementation.name != "cpython" or v not in sys.argv[1:]:
    print(f"is {sys.implementation.name} {v}, not CPython {' or '.join(sys.argv[1:])}")
elif var("Py_GIL_DISABLED"):
    print(f"is a free-threaded build (CPython {v}t), not supported")
elif importlib.util.find_spec("ensurepip") is None:
    print(f"has no venv/ensurepip (Debian: python{v}-venv)")
elif not os.path.isfile(os.path.join(var("LIBPL") or "", var("LIBRARY") or "-")):
    print(f"has no static {var('LIBRARY')} (Debian: libpython{v}-dev)")
elif not os.path.isfile(os.path.join(var("INCLUDEPY") or "", "Python.h")):
    print(f"has no Python.h (Debian: libpython{v}-dev)")
EOF
}

# The first usable interpreter of version $1 (pyenv's, then PATH's, then the system's), or nothing.
find_python() {
    local v=$1 cand
    for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v" \
                "$(command -v "python$v" || true)" /usr/local/bin/python"$v" /usr/bin/python"$v"; do
        if [ -x "$cand" ] && [ -z "$(python_problem "$cand")" ]; then
            echo "$cand"
            return
        fi
    done
}

# The interpreter for a new .venv: $PYTHON (which must be usable), else the best one found.
pick_python() {
    local v py
    if [ -n "${PYTHON:-}" ]; then
        py=$(python_problem "$PYTHON")
        [ -z "$py" ] || die "PYTHON=$PYTHON $py"
        echo "$PYTHON"
        return
    fi
    for v in "${PY_VERSIONS[@]}"; do
        py=$(find_python "$v")
        [ -z "$py" ] || { echo "$py"; return; }
    done
    die "no usable CPython ${PY_VERSIONS[*]} (with venv and its static libpython3.X.a);" \
        "a fresh Debian machine needs: apt-get install ${BUILD_PACKAGES[*]} (or set PYTHON=/path/to/python3.X)"
}

# What the build steps need, checked before any of them starts.
step_prereqs() {
    local missing=() tool cc=${CC:-gcc}
    for tool in "$cc" strip; do command -v "$tool" >/dev/null || missing+=("$tool"); done
    if [ ${#missing[@]} -eq 0 ] && ! printf '#include <stdio.h>\nint main(void){return 0;}\n' \
            | "$cc" -x c -o /dev/null - 2>/dev/null; then
        missing+=("the C library headers")
    fi
    [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]};" \
        "a fresh Debian machine needs: apt-get install ${BUILD_PACKAGES[*]}"
    if [ ! -x .venv/bin/python ] || [ -n "${PYTHON:-}" ]; then
        pick_python >/dev/null
    fi
}

step_python() {
    local v py
    for v in "${PY_VERSIONS[@]}"; do
        py=$(find_python "$v")
        echo "$v: ${py:-none}"
    done
    py=$(pick_python)
    echo "best: $(pyver "$py") $py"
}

base_prefix() { "$1" -c 'import sys; print(sys.base_prefix)' 2>/dev/null || true; }
pyver() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }

step_venv() {
    if [ -x .venv/bin/python ] && [ -n "${PYTHON:-}" ] \
            && [ "$(base_prefix .venv/bin/python)" != "$(base_prefix "$PYTHON")" ]; then
        echo "build.sh: .venv was made with another Python than PYTHON=$PYTHON: making it again" >&2
        rm -rf .venv
    fi
    if [ ! -x .venv/bin/python ] || [ -n "$(python_problem .venv/bin/python)" ]; then
        local py
        py=$(pick_python)
        echo "build.sh: making .venv with $py (CPython $(pyver "$py"))" >&2
        rm -rf .venv
        "$py" -m venv .venv
    fi
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[test]" --config-settings editable_mode=compat
}

step_native() {
    PYTHON="$ROOT/.venv/bin/python" native/build.sh
}

# dist/py3.X/ with the venv's Python, and dist/nvidia-container-runtime-hook and its other
# program names as links into it.
step_dist() {
    local v name
    v=$(pyver .venv/bin/python)
    PYTHON="$ROOT/.venv/bin/python" freeze/build.sh --out "dist/py$v/nvidia-container-runtime-hook"
    find dist -maxdepth 1 -type l -delete
    rm -f dist/nvidia-container-runtime-hook
    for name in dist/py"$v"/*; do
        name=$(basename "$name")
        ln -s "py$v/$name" "dist/$name"
    done
    echo "build.sh: dist/nvidia-container-runtime-hook -> py$v/nvidia-container-runtime-hook" >&2
}

# dist/py3.X/ for each version of $PYTHONS (default: every supported one found), all of them
# found before any is built.  A version other than the venv's builds from build/venv-3.X,
# which has the run-time dependencies only.
step_pythons() {
    local versions=() bases=() v i py venv_v
    venv_v=$(pyver .venv/bin/python)
    if [ -n "${PYTHONS:-}" ]; then
        read -r -a versions <<< "$PYTHONS"
    else
        for v in "${PY_VERSIONS[@]}"; do
            if [ "$v" = "$venv_v" ] || [ -n "$(find_python "$v")" ]; then versions+=("$v"); fi
        done
    fi
    for v in "${versions[@]}"; do
        [[ " ${PY_VERSIONS[*]} " == *" $v "* ]] || die "PYTHONS: $v is not a supported version (${PY_VERSIONS[*]})"
        py=
        if [ "$v" != "$venv_v" ] && { [ ! -x "build/venv-$v/bin/python" ] \
                || [ -n "$(python_problem "build/venv-$v/bin/python")" ]; }; then
            py=$(find_python "$v")
            [ -n "$py" ] || die "PYTHONS names $v, but no usable CPython $v (with venv and libpython$v.a) is here;" \
                "run ./build.sh python to see what was found"
        fi
        bases+=("$py")
    done
    for i in "${!versions[@]}"; do
        v=${versions[$i]}
        py=$ROOT/.venv/bin/python
        if [ "$v" != "$venv_v" ]; then
            if [ -n "${bases[$i]}" ]; then
                rm -rf "build/venv-$v"
                "${bases[$i]}" -m venv "build/venv-$v"
            fi
            py=$ROOT/build/venv-$v/bin/python
            "$py" -m pip install -q -e . --config-settings editable_mode=compat
        fi
        PYTHON=$py freeze/build.sh --out "dist/py$v/nvidia-container-runtime-hook"
    done
}

step_deps() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "build.sh: missing Debian packages (run as root to install): ${missing[*]}" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # The real components the tests drive must be there: fail, never skip.
    local cmd
    for cmd in gcc runc crun dockerd containerd ctr podman busybox umoci; do
        command -v "$cmd" >/dev/null || { echo "build.sh: $cmd is missing after the install" >&2; exit 1; }
    done
}

step_test() {
    .venv/bin/python -m pytest "$@"
}

usage() { sed -n '2,20p' "$0"; }

case "${1:-all}" in
    all)       step_prereqs; step_venv; step_native; step_dist ;;
    venv)      step_prereqs; step_venv ;;
    native)    step_prereqs; step_native ;;
    dist)      step_prereqs; step_dist ;;
    pythons)   step_prereqs; step_pythons ;;
    python)    step_python ;;
    deps)      step_deps ;;
    test)      shift; step_deps; step_prereqs; step_venv; step_native; step_dist; step_pythons; step_test "$@" ;;
    install|uninstall)
               [ -x .venv/bin/python ] || die "no .venv: run ./build.sh first"
               exec .venv/bin/python -m freeze.install "$@" ;;
    help|-h|--help) usage ;;
    *)         usage >&2; exit 2 ;;
esac
