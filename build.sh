#!/usr/bin/env bash
# One entry point for every build step of the project.
#
#   ./build.sh            set up .venv (package + test deps), build native/ (fake
#                         libnvidia-container, cffi module) and the frozen hook in dist/
#   ./build.sh venv       only the virtual environment
#   ./build.sh native     only native/ (see native/build.sh)
#   ./build.sh dist       only the frozen single-file hook (see freeze/build.sh)
#   ./build.sh deps       install the Debian packages the tests use (root, apt)
#   ./build.sh test       deps + everything above, then the whole test suite
#   ./build.sh install    install the frozen hook (PREFIX, DESTDIR; see docs/install.md)
#   ./build.sh uninstall  remove exactly what install added
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
PYTHON=${PYTHON:-python3}

# Debian packages the test suite drives for real (runtimes, tools); CI installs them.
APT_PACKAGES=(gcc libc6-dev make runc crun docker.io containerd podman busybox-static
              umoci skopeo iproute2 util-linux procps acl)

step_venv() {
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
    fi
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[test]" --config-settings editable_mode=compat
}

step_native() {
    if [ -x native/build.sh ]; then
        PYTHON="$ROOT/.venv/bin/python" native/build.sh
    fi
}

step_dist() {
    if [ -x freeze/build.sh ]; then
        PYTHON="$ROOT/.venv/bin/python" freeze/build.sh
    fi
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

case "${1:-all}" in
    all)       step_venv; step_native; step_dist ;;
    venv)      step_venv ;;
    native)    step_native ;;
    dist)      step_dist ;;
    deps)      step_deps ;;
    test)      shift; step_deps; step_venv; step_native; step_dist; step_test "$@" ;;
    install|uninstall)
               exec .venv/bin/python -m freeze.install "$@" ;;
    *)         sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
