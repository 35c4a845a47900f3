/*
 * nvc.h - the public ABI of libnvidia-container.so.1 that the fake implements (the same layouts as
 * native/nvc_cdef.py).  Compile-time layout variant: -DFAKE_NVC_ABI=115 (default) | 105 | 101.
 */
#ifndef FAKE_NVC_ABI_H
#define FAKE_NVC_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifndef FAKE_NVC_ABI
#define FAKE_NVC_ABI 115
#endif

struct nvc_imex_channel { int id; };
struct nvc_imex_info { struct nvc_imex_channel *chans; size_t nchans; };
struct nvc_version { unsigned int major; unsigned int minor; unsigned int patch; const char *string; };
struct nvc_config {
        char *root;
        char *ldcache;
        uid_t uid;
        gid_t gid;
#if FAKE_NVC_ABI >= 115
        struct nvc_imex_info imex;
#endif
};
struct nvc_device_node { char *path; dev_t id; };
struct nvc_driver_info {
        char *nvrm_version;
        char *cuda_version;
        char **bins; size_t nbins;
        char **libs; size_t nlibs;
        char **libs32; size_t nlibs32;
        char **ipcs; size_t nipcs;
        struct nvc_device_node *devs; size_t ndevs;
#if FAKE_NVC_ABI >= 105
        char **firmwares; size_t nfirmwares;
#endif
};
struct nvc_device;
struct nvc_mig_device {
        struct nvc_device *parent;
        char *uuid;
        unsigned int gi;
        unsigned int ci;
        char *gi_caps_path;
        char *ci_caps_path;
};
struct nvc_mig_device_info { struct nvc_mig_device *devices; size_t ndevices; };
struct nvc_device {
        char *model;
        char *uuid;
        char *busid;
        char *arch;
        char *brand;
        struct nvc_device_node node;
        bool mig_capable;
        char *mig_caps_path;
        struct nvc_mig_device_info mig_devices;
};
struct nvc_device_info { struct nvc_device *gpus; size_t ngpus; };
struct nvc_container_config {
        pid_t pid;
        char *rootfs;
        char *bins_dir;
        char *libs_dir;
        char *libs32_dir;
        char *cudart_dir;
        char *ldconfig;
};
struct nvc_context;
struct nvc_container;

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
int nvc_driver_mount(struct nvc_context *, const struct nvc_container *, const struct nvc_driver_info *);
int nvc_device_mount(struct nvc_context *, const struct nvc_container *, const struct nvc_device *);
int nvc_mig_device_access_caps_mount(struct nvc_context *, const struct nvc_container *,
                                     const struct nvc_mig_device *);
int nvc_mig_config_global_caps_mount(struct nvc_context *, const struct nvc_container *);
int nvc_mig_monitor_global_caps_mount(struct nvc_context *, const struct nvc_container *);
int nvc_device_mig_caps_mount(struct nvc_context *, const struct nvc_container *, const struct nvc_device *);
#if FAKE_NVC_ABI >= 115
int nvc_imex_channel_mount(struct nvc_context *, const struct nvc_container *, const struct nvc_imex_channel *);
#endif
int nvc_ldcache_update(struct nvc_context *, const struct nvc_container *);
const char *nvc_error(struct nvc_context *);

#endif
