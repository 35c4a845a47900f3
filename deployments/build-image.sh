#!/bin/sh
# Build the installer image from the frozen binary alone:
#   deployments/build-image.sh [IMAGE] [BINARY]        (docker; DOCKER="docker -H ..." to choose the daemon)
# IMAGE defaults to nvidia-ctk-installer:latest, BINARY to dist/nvidia-container-runtime-hook.
# The binary is installed as /usr/bin/nvidia-ctk (it answers by argv[0]); `nvidia-ctk install`
# in the container copies it, with its links, into <install-dir>/toolkit on the host.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-nvidia-ctk-installer:latest}
binary=${2:-$here/../dist/nvidia-container-runtime-hook}
[ -f "$binary" ] || { echo "build-image.sh: $binary missing: run ./build.sh dist" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/bin"
cp "$binary" "$ctx/rootfs/usr/bin/nvidia-ctk"
chmod 0755 "$ctx/rootfs/usr/bin/nvidia-ctk"
# the shared libraries the binary links (C library, libm, the dynamic loader) and those its
# embedded extension modules link when they are loaded (libz, libffi, libcrypto, ...): what
# the modules of the Python it was built with (PYTHON, default .venv/bin/python) link, at their paths
python=${PYTHON:-$here/../.venv/bin/python}
exts=$("$python" -c 'import site, sysconfig; print(sysconfig.get_config_var("DESTSHARED")); print(*site.getsitepackages(), sep="\n")' \
       | while read -r d; do [ -d "$d" ] && find "$d" -name '*.so' -type f; done)
for lib in $(for f in "$binary" $exts; do ldd "$f" 2>/dev/null; done \
             | awk '/=> \// {print $3} /^\t\// {print $1}' | sort -u); do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
done
cp "$here/Dockerfile" "$ctx/Dockerfile"
${DOCKER:-docker} build -q -t "$image" "$ctx"
