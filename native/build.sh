#!/usr/bin/env bash
# Builds everything under native/ (called by the top-level ./build.sh native):
#   build/fake/libnvidia-container.so.1          fake library, ABI >= 1.15 (default version 1.17.8)
#   build/fake/abi105/libnvidia-container.so.1   fake library, ABI 1.5-1.14 (default version 1.14.0)
#   build/fake/abi101/libnvidia-container.so.1   fake library, ABI 1.1-1.4  (default version 1.4.0)
#   build/fake/driver/                           fake driver tree (device nodes, libcuda.so.1,
#                                                libnvidia-ml.so.1, nvidia-smi)
#   hook/nvc/_nvc_ffi_*.py                       out-of-line ABI-mode cffi modules (build_ffi.py)
# Env: PYTHON (python with cffi, default .venv/bin/python), CC (default gcc).
# Device nodes need root (mknod); without root the tree is built without them and a warning is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
CC=${CC:-gcc}
OUT=$ROOT/build/fake
DRV=$OUT/driver
DRIVER_VERSION=550.54.14
CFLAGS=(-std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror -fPIC -fvisibility=hidden)

exports() {  # $1 = ABI
    local syms=(nvc_version nvc_context_new nvc_context_free nvc_config_new nvc_config_free nvc_init
                nvc_shutdown nvc_error nvc_ldcache_update nvc_container_config_new nvc_container_config_free
                nvc_container_new nvc_container_free nvc_driver_info_new nvc_driver_info_free
                nvc_device_info_new nvc_device_info_free nvc_driver_mount nvc_device_mount
                nvc_mig_device_access_caps_mount nvc_mig_config_global_caps_mount
                nvc_mig_monitor_global_caps_mount nvc_device_mig_caps_mount)
    [ "$1" -ge 115 ] && syms+=(nvc_imex_channel_mount)
    printf 'NVC_1.0 {\n  global:\n'
    printf '    %s;\n' "${syms[@]}"
    printf '  local:\n    *;\n};\n'
}

build_fake() {  # $1 = ABI, $2 = output dir
    mkdir -p "$2"
    exports "$1" > "$2/fake_nvc.ver"
    "$CC" "${CFLAGS[@]}" -shared -DFAKE_NVC_ABI="$1" -DFAKE_NVC_DEFAULT_ROOT="\"$DRV\"" \
        -o "$2/libnvidia-container.so.1" native/fake/*.c \
        -Wl,-soname,libnvidia-container.so.1 -Wl,--version-script="$2/fake_nvc.ver" -lpthread
}

build_fake 115 "$OUT"
build_fake 105 "$OUT/abi105"
build_fake 101 "$OUT/abi101"

# Fake driver tree.
LIBDIR=$DRV/usr/lib/x86_64-linux-gnu
mkdir -p "$LIBDIR" "$DRV/usr/bin" "$DRV/dev"
for name in libcuda libnvidia-ml; do
    "$CC" "${CFLAGS[@]}" -shared -DFAKE_LIB_NAME="\"$name\"" -DFAKE_DRIVER_VERSION="\"$DRIVER_VERSION\"" \
        -Wl,-soname,$name.so.1 -o "$LIBDIR/$name.so.$DRIVER_VERSION" native/fake_driver_lib.c
done
cat > "$DRV/usr/bin/nvidia-smi" <<SMI
#!/bin/sh
echo "fake nvidia-smi (driver $DRIVER_VERSION)"
SMI
chmod 0755 "$DRV/usr/bin/nvidia-smi"

mknode() {  # path major minor
    if [ -c "$1" ] && [ "$(stat -c '%t:%T' "$1")" = "$(printf '%x:%x' "$2" "$3")" ]; then
        return 0
    fi
    rm -f "$1"
    mknod -m 0666 "$1" c "$2" "$3"
}
if [ "$(id -u)" = 0 ]; then
    mknode "$DRV/dev/nvidia0" 195 0
    mknode "$DRV/dev/nvidia1" 195 1
    mknode "$DRV/dev/nvidiactl" 195 255
    mknode "$DRV/dev/nvidia-modeset" 195 254
    mknode "$DRV/dev/nvidia-uvm" 510 0
    mknode "$DRV/dev/nvidia-uvm-tools" 510 1
else
    echo "native/build.sh: not root: fake device nodes under $DRV/dev not created" >&2
fi

# Out-of-line ABI-mode cffi modules.
"$PYTHON" native/build_ffi.py
