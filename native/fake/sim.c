/*
 * sim.c - the simulated driver and GPUs: built-in defaults or a key = value file (FAKE_NVC_CONFIG), and
 * the nvc_driver_info / nvc_device_info structs built from them (with the live device infos that the
 * strict pointer checks consult).
 */
#include "fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#define MAX_GPUS 16
#define MAX_MIGS 8

struct sim_mig { char uuid[128]; unsigned int gi, ci; };
struct sim_gpu {
        char uuid[128], busid[64], arch[32], brand[64], model[128];
        unsigned int minor;
        int mig_capable;
        size_t nmig;
        struct sim_mig migs[MAX_MIGS];
};
struct sim {
        char driver_version[64];
        char cuda_version[64];
        bool cuda_null;
        size_t ngpus;
        struct sim_gpu gpus[MAX_GPUS];
        char libs[4096], libs32[4096], bins[4096], ipcs[4096], firmwares[4096], devs[4096];
        char compat_libs[4096];
};

static struct sim sim;
static bool sim_loaded;

static void sim_defaults(void)
{
        memset(&sim, 0, sizeof(sim));
        copyn(sim.driver_version, sizeof(sim.driver_version), "550.54.14");
        copyn(sim.cuda_version, sizeof(sim.cuda_version), "12.4");
        sim.ngpus = 2;
        for (size_t i = 0; i < MAX_GPUS; ++i) {
                struct sim_gpu *g = &sim.gpus[i];
                snprintf(g->uuid, sizeof(g->uuid), "GPU-00000000-0000-0000-0000-%012zu", i);
                snprintf(g->busid, sizeof(g->busid), "00000000:%02zX:00.0", i + 1);
                copyn(g->arch, sizeof(g->arch), "9.0");
                copyn(g->brand, sizeof(g->brand), "Tesla");
                copyn(g->model, sizeof(g->model), "NVIDIA H100 80GB HBM3");
                g->minor = (unsigned int)i;
        }
        copyn(sim.libs, sizeof(sim.libs),
              "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14,/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14");
        copyn(sim.bins, sizeof(sim.bins), "/usr/bin/nvidia-smi");
        copyn(sim.devs, sizeof(sim.devs),
              "/dev/nvidiactl:195:255,/dev/nvidia-uvm:510:0,/dev/nvidia-uvm-tools:510:1,/dev/nvidia-modeset:195:254");
}

static void sim_gpu_key(struct sim_gpu *g, const char *key, const char *v)
{
        if (!strcmp(key, "uuid")) copyn(g->uuid, sizeof(g->uuid), v);
        else if (!strcmp(key, "busid")) copyn(g->busid, sizeof(g->busid), v);
        else if (!strcmp(key, "arch")) copyn(g->arch, sizeof(g->arch), v);
        else if (!strcmp(key, "brand")) copyn(g->brand, sizeof(g->brand), v);
        else if (!strcmp(key, "model")) copyn(g->model, sizeof(g->model), v);
        else if (!strcmp(key, "minor")) g->minor = (unsigned int)strtoul(v, NULL, 10);
        else if (!strcmp(key, "mig_capable")) g->mig_capable = atoi(v);
        else if (!strcmp(key, "mig.count")) {
                unsigned long n = strtoul(v, NULL, 10);
                g->nmig = n > MAX_MIGS ? MAX_MIGS : n;
        }
}

static void sim_key(const char *k, const char *v)
{
        static const struct { const char *key; size_t offset, size; } strings[] = {
                {"driver.version", offsetof(struct sim, driver_version), sizeof(sim.driver_version)},
                {"driver.libs", offsetof(struct sim, libs), sizeof(sim.libs)},
                {"driver.libs32", offsetof(struct sim, libs32), sizeof(sim.libs32)},
                {"driver.bins", offsetof(struct sim, bins), sizeof(sim.bins)},
                {"driver.ipcs", offsetof(struct sim, ipcs), sizeof(sim.ipcs)},
                {"driver.firmwares", offsetof(struct sim, firmwares), sizeof(sim.firmwares)},
                {"driver.devs", offsetof(struct sim, devs), sizeof(sim.devs)},
                {"container.compat_libs", offsetof(struct sim, compat_libs), sizeof(sim.compat_libs)},
        };
        for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); ++i) {
                if (!strcmp(k, strings[i].key)) {
                        copyn((char *)&sim + strings[i].offset, strings[i].size, v);
                        return;
                }
        }
        unsigned int gi, mi;
        char rest[64];
        if (!strcmp(k, "driver.cuda_version")) {
                copyn(sim.cuda_version, sizeof(sim.cuda_version), v);
                sim.cuda_null = *v == '\0';
        } else if (!strcmp(k, "gpu.count")) {
                unsigned long n = strtoul(v, NULL, 10);
                sim.ngpus = n > MAX_GPUS ? MAX_GPUS : n;
        } else if (sscanf(k, "gpu.%u.mig.%u.%63s", &gi, &mi, rest) == 3 && gi < MAX_GPUS && mi < MAX_MIGS) {
                struct sim_mig *m = &sim.gpus[gi].migs[mi];
                if (!strcmp(rest, "uuid")) copyn(m->uuid, sizeof(m->uuid), v);
                else if (!strcmp(rest, "gi")) m->gi = (unsigned int)strtoul(v, NULL, 10);
                else if (!strcmp(rest, "ci")) m->ci = (unsigned int)strtoul(v, NULL, 10);
        } else if (sscanf(k, "gpu.%u.%63s", &gi, rest) == 2 && gi < MAX_GPUS) {
                sim_gpu_key(&sim.gpus[gi], rest, v);
        }
}

/* Loads the simulation once (until the library is unloaded): defaults, then FAKE_NVC_CONFIG's lines. */
void sim_load(void)
{
        if (sim_loaded)
                return;
        sim_loaded = true;
        sim_defaults();
        const char *path = getenv("FAKE_NVC_CONFIG");
        if (path == NULL || *path == '\0')
                return;
        FILE *f = fopen(path, "re");
        if (f == NULL)
                return;
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
                char *hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';
                char *eq = strchr(line, '=');
                if (eq == NULL)
                        continue;
                *eq = '\0';
                sim_key(trim(line), trim(eq + 1));
        }
        fclose(f);
}

const char *sim_compat_libs(void) { return sim.compat_libs; }

/* Splits a comma list into a fresh array of trimmed, non-empty strings; returns the count. */
static size_t split_list(const char *list, char ***out)
{
        *out = NULL;
        if (list == NULL || *list == '\0')
                return 0;
        size_t n = 1;
        for (const char *c = list; *c; ++c)
                n += *c == ',';
        char **arr = calloc(n, sizeof(*arr));
        char *copy = strdup(list), *save = NULL;
        size_t i = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                tok = trim(tok);
                if (*tok)
                        arr[i++] = strdup(tok);
        }
        free(copy);
        *out = arr;
        return i;
}

static void free_list(char **arr, size_t n)
{
        for (size_t i = 0; i < n; ++i)
                free(arr[i]);
        free(arr);
}

/* ---------------------------------------------------------------- driver info */

/* The driver as nvc_driver_info_new reports it with driver options flags (D_*). */
struct nvc_driver_info *sim_driver_info(unsigned int flags)
{
        struct nvc_driver_info *drv = calloc(1, sizeof(*drv));
        drv->nvrm_version = strdup(sim.driver_version);
        drv->cuda_version = sim.cuda_null ? NULL : strdup(sim.cuda_version);
        drv->nbins = split_list(sim.bins, &drv->bins);
        drv->nlibs = split_list(sim.libs, &drv->libs);
        drv->nlibs32 = split_list(sim.libs32, &drv->libs32);
        drv->nipcs = split_list(sim.ipcs, &drv->ipcs);
#if FAKE_NVC_ABI >= 105
        if (!(flags & D_NO_GSP_FIRMWARE))
                drv->nfirmwares = split_list(sim.firmwares, &drv->firmwares);
#endif
        char **devs;
        size_t n = split_list(sim.devs, &devs);
        drv->devs = calloc(n ? n : 1, sizeof(*drv->devs));
        for (size_t i = 0; i < n; ++i) {
                char *c2 = strrchr(devs[i], ':');
                if (c2 == NULL)
                        continue;
                *c2 = '\0';
                char *c1 = strrchr(devs[i], ':');
                if (c1 == NULL)
                        continue;
                *c1 = '\0';
                if ((flags & D_NO_UVM) && strstr(devs[i], "nvidia-uvm"))
                        continue;
                if ((flags & D_NO_MODESET) && strstr(devs[i], "nvidia-modeset"))
                        continue;
                drv->devs[drv->ndevs].path = strdup(devs[i]);
                drv->devs[drv->ndevs].id = makedev(strtoul(c1 + 1, NULL, 10), strtoul(c2 + 1, NULL, 10));
                ++drv->ndevs;
        }
        free_list(devs, n);
        return drv;
}

void sim_driver_info_free(struct nvc_driver_info *drv)
{
        free(drv->nvrm_version);
        free(drv->cuda_version);
        free_list(drv->bins, drv->nbins);
        free_list(drv->libs, drv->nlibs);
        free_list(drv->libs32, drv->nlibs32);
        free_list(drv->ipcs, drv->nipcs);
#if FAKE_NVC_ABI >= 105
        free_list(drv->firmwares, drv->nfirmwares);
#endif
        for (size_t i = 0; i < drv->ndevs; ++i)
                free(drv->devs[i].path);
        free(drv->devs);
        free(drv);
}

/* ---------------------------------------------------------------- device info */

static struct nvc_device_info *live_infos[256];
static size_t nlive_infos;

/* The GPUs as nvc_device_info_new reports them; derived like the real library (node, caps paths). */
struct nvc_device_info *sim_device_info(void)
{
        struct nvc_device_info *info = calloc(1, sizeof(*info));
        info->ngpus = sim.ngpus;
        info->gpus = calloc(sim.ngpus ? sim.ngpus : 1, sizeof(*info->gpus));
        for (size_t i = 0; i < sim.ngpus; ++i) {
                struct sim_gpu *s = &sim.gpus[i];
                struct nvc_device *d = &info->gpus[i];
                d->model = strdup(s->model);
                d->uuid = strdup(s->uuid);
                d->busid = strdup(s->busid);
                d->arch = strdup(s->arch);
                d->brand = strdup(s->brand);
                if (asprintf(&d->node.path, "/dev/nvidia%u", s->minor) < 0)
                        d->node.path = NULL;
                d->node.id = makedev(195, s->minor);
                d->mig_capable = s->mig_capable != 0;
                if (d->mig_capable && asprintf(&d->mig_caps_path, "/proc/driver/nvidia/capabilities/gpu%u",
                                               s->minor) < 0)
                        d->mig_caps_path = NULL;
                if (s->nmig == 0)
                        continue;
                d->mig_devices.ndevices = s->nmig;
                d->mig_devices.devices = calloc(s->nmig, sizeof(struct nvc_mig_device));
                for (size_t j = 0; j < s->nmig; ++j) {
                        struct nvc_mig_device *m = &d->mig_devices.devices[j];
                        m->parent = d;
                        m->uuid = strdup(s->migs[j].uuid);
                        m->gi = s->migs[j].gi;
                        m->ci = s->migs[j].ci;
                        if (asprintf(&m->gi_caps_path, "/proc/driver/nvidia/capabilities/gpu%u/mig/gi%u",
                                     s->minor, m->gi) < 0)
                                m->gi_caps_path = NULL;
                        if (asprintf(&m->ci_caps_path, "%s/ci%u", m->gi_caps_path, m->ci) < 0)
                                m->ci_caps_path = NULL;
                }
        }
        if (nlive_infos < 256)
                live_infos[nlive_infos++] = info;
        return info;
}

void sim_device_info_free(struct nvc_device_info *info)
{
        for (size_t i = 0; i < nlive_infos; ++i)
                if (live_infos[i] == info)
                        live_infos[i] = NULL;
        for (size_t i = 0; i < info->ngpus; ++i) {
                struct nvc_device *d = &info->gpus[i];
                free(d->model);
                free(d->uuid);
                free(d->busid);
                free(d->arch);
                free(d->brand);
                free(d->node.path);
                free(d->mig_caps_path);
                for (size_t j = 0; j < d->mig_devices.ndevices; ++j) {
                        free(d->mig_devices.devices[j].uuid);
                        free(d->mig_devices.devices[j].gi_caps_path);
                        free(d->mig_devices.devices[j].ci_caps_path);
                }
                free(d->mig_devices.devices);
        }
        free(info->gpus);
        free(info);
}

/* Whether d is an element of a live device info (its index there). */
bool device_is_live(const struct nvc_device *d, long *index)
{
        for (size_t i = 0; i < nlive_infos; ++i) {
                struct nvc_device_info *info = live_infos[i];
                if (info && d >= info->gpus && d < info->gpus + info->ngpus) {
                        *index = d - info->gpus;
                        return true;
                }
        }
        return false;
}

/* Whether m is a MIG device of a live device info (its GPU and index there). */
bool mig_is_live(const struct nvc_mig_device *m, long *gpu, long *index)
{
        for (size_t i = 0; i < nlive_infos; ++i) {
                struct nvc_device_info *info = live_infos[i];
                for (size_t g = 0; info && g < info->ngpus; ++g) {
                        struct nvc_mig_device_info *mi = &info->gpus[g].mig_devices;
                        if (m >= mi->devices && m < mi->devices + mi->ndevices) {
                                *gpu = (long)g;
                                *index = m - mi->devices;
                                return true;
                        }
                }
        }
        return false;
}
