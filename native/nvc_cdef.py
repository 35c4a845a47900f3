"""cdef text of libnvidia-container's public ABI, one variant per struct layout.

Variants (keys of :data:`VARIANTS`), named after the first layout they describe:

* ``115``: >= 1.15.0 (``nvc_config.imex``, ``nvc_imex_channel_mount``, firmwares)
* ``105``: 1.5.0 - 1.14.x (no IMEX; ``nvc_driver_info.firmwares`` present)
* ``101``: 1.1.0 - 1.4.x (no IMEX, no firmwares)

Versions before 1.1.0 (no MIG members in ``nvc_device``) are not supported.
Only build-time code imports this module (``native/build_ffi.py`` and tests).
"""

from __future__ import annotations

VARIANTS: tuple[int, ...] = (115, 105, 101)

_TYPES = """
typedef uint32_t uid_t;
typedef uint32_t gid_t;
typedef int32_t pid_t;
typedef uint64_t dev_t;
struct nvc_context;
struct nvc_container;
"""

_IMEX = """
struct nvc_imex_channel { int id; };
struct nvc_imex_info { struct nvc_imex_channel *chans; size_t nchans; };
"""

_STRUCTS = """
struct nvc_version { unsigned int major; unsigned int minor; unsigned int patch; const char *string; };
struct nvc_config { char *root; char *ldcache; uid_t uid; gid_t gid;@IMEX_MEMBER@ };
struct nvc_device_node { char *path; dev_t id; };
struct nvc_driver_info {
    char *nvrm_version; char *cuda_version;
    char **bins; size_t nbins; char **libs; size_t nlibs; char **libs32; size_t nlibs32;
    char **ipcs; size_t nipcs; struct nvc_device_node *devs; size_t ndevs;@FIRMWARES@
};
struct nvc_device;
struct nvc_mig_device {
    struct nvc_device *parent; char *uuid; unsigned int gi; unsigned int ci;
    char *gi_caps_path; char *ci_caps_path;
};
struct nvc_mig_device_info { struct nvc_mig_device *devices; size_t ndevices; };
struct nvc_device {
    char *model; char *uuid; char *busid; char *arch; char *brand;
    struct nvc_device_node node; bool mig_capable; char *mig_caps_path;
    struct nvc_mig_device_info mig_devices;
};
struct nvc_device_info { struct nvc_device *gpus; size_t ngpus; };
struct nvc_container_config {
    pid_t pid; char *rootfs; char *bins_dir; char *libs_dir; char *libs32_dir; char *cudart_dir; char *ldconfig;
};
"""

_FUNCTIONS = """
const struct nvc_version *nvc_version(void);
struct nvc_context *nvc_context_new(void);
void nvc_context_free(struct nvc_context *);
struct nvc_config *nvc_config_new(void);
void nvc_config_free(struct nvc_config *);
int nvc_init(struct nvc_context *, const struct nvc_config *, const char *);
int nvc_shutdown(struct nvc_context *);
struct nvc_container_config *nvc_container_config_new(pid_t, const char *);
void nvc_container_config_free(struct nvc_container_config *);
struct nvc_container *nvc_container_new(struct nvc_context *, const struct nvc_container_config *, const char *);
void nvc_container_free(struct nvc_container *);
struct nvc_driver_info *nvc_driver_info_new(struct nvc_context *, const char *);
void nvc_driver_info_free(struct nvc_driver_info *);
struct nvc_device_info *nvc_device_info_new(struct nvc_context *, const char *);
void nvc_device_info_free(struct nvc_device_info *);
int nvc_nvcaps_style(void);
int nvc_nvcaps_device_from_proc_path(struct nvc_context *, const char *, struct nvc_device_node *);
int nvc_driver_mount(struct nvc_context *, const struct nvc_container *, const struct nvc_driver_info *);
int nvc_device_mount(struct nvc_context *, const struct nvc_container *, const struct nvc_device *);
int nvc_mig_device_access_caps_mount(struct nvc_context *, const struct nvc_container *, const struct nvc_mig_device *);
int nvc_mig_config_global_caps_mount(struct nvc_context *, const struct nvc_container *);
int nvc_mig_monitor_global_caps_mount(struct nvc_context *, const struct nvc_container *);
int nvc_device_mig_caps_mount(struct nvc_context *, const struct nvc_container *, const struct nvc_device *);
int nvc_ldcache_update(struct nvc_context *, const struct nvc_container *);
const char *nvc_error(struct nvc_context *);
void free(void *);
"""

_IMEX_FUNCTION = """
int nvc_imex_channel_mount(struct nvc_context *, const struct nvc_container *, const struct nvc_imex_channel *);
"""


def cdef(variant: int) -> str:
    """The cdef text for one layout variant (raises ``ValueError`` for an unknown one)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ABI variant {variant!r}; known: {VARIANTS}")
    imex = variant >= 115
    structs = (_STRUCTS
               .replace("@IMEX_MEMBER@", " struct nvc_imex_info imex;" if imex else "")
               .replace("@FIRMWARES@", " char **firmwares; size_t nfirmwares;" if variant >= 105 else ""))
    return _TYPES + (_IMEX if imex else "") + structs + _FUNCTIONS + (_IMEX_FUNCTION if imex else "")


def module_name(variant: int) -> str:
    """Dotted name of the generated module for ``variant``."""
    return f"hook.nvc._nvc_ffi_{variant}"
